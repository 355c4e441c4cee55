"""Stage timings and row counts, logged as they happen and kept for the run report."""
from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator

log = logging.getLogger("coldstart")


@dataclass
class Stages:
    timings: dict[str, float] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[Stages]:
        log.info("stage %s: started", name)
        start = time.perf_counter()
        yield self
        seconds = time.perf_counter() - start
        self.timings[name] = round(self.timings.get(name, 0.0) + seconds, 3)
        log.info("stage %s: done in %.1f s", name, seconds)

    def count(self, name: str, rows: int) -> int:
        self.rows[name] = rows
        log.info("  %s: %d rows", name, rows)
        return rows
