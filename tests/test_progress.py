"""Progress of long driver-side loops: throttled log lines, the last one always."""
from __future__ import annotations

import logging

from coldstart.progress import Progress


def test_progress_logs_at_most_every_interval_and_at_the_end(caplog):
    caplog.set_level(logging.INFO, logger="coldstart")
    slow = Progress("lists", total=10, every_s=3600.0)
    for _ in range(5):
        slow.advance(2)
    # an hour never passes here: only the end (10/10) is logged
    assert [r.getMessage().split(" in ")[0] for r in caplog.records] == ["  lists: 10/10 (100%)"]

    caplog.clear()
    every = Progress("lists", total=4, every_s=0.0)
    every.advance(1)
    every.advance(3)
    assert [r.getMessage().split(" in ")[0] for r in caplog.records] == ["  lists: 1/4 (25%)", "  lists: 4/4 (100%)"]
