"""Stage timings and row counts, logged as they happen and kept for the run report."""
from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator

log = logging.getLogger("coldstart")
# a long loop on the driver says how far it is at most this often
PROGRESS_EVERY_S = 30.0


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


@dataclass
class Progress:
    """`done/total` of a long driver-side loop, logged at most every `every_s` seconds, and once at the end."""

    what: str
    total: int
    every_s: float = PROGRESS_EVERY_S
    done: int = 0
    started: float = field(default_factory=time.perf_counter)
    logged: float = field(default_factory=time.perf_counter)

    def advance(self, n: int = 1) -> None:
        self.done += n
        now = time.perf_counter()
        if self.done >= self.total or now - self.logged >= self.every_s:
            self.logged = now
            log.info("  %s: %d/%d (%.0f%%) in %.0f s", self.what, self.done, self.total,
                     100.0 * self.done / max(self.total, 1), now - self.started)
