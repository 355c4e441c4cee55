"""What every step shares: the reject reasons, exiting on bad input, the step timer, JSON and time text."""
from __future__ import annotations

import json
import sys
import time
from datetime import datetime, timedelta

import numpy as np

import peer

REASONS = ["malformed_line", "null_key", "bad_id", "null_field", "bad_flag", "bad_timestamp",
           "duplicate", "unknown_user", "unknown_workout"]
R_MALFORMED, R_NULL_KEY, R_BAD_ID, R_NULL_FIELD, R_BAD_FLAG, R_BAD_TS, R_DUP, R_UNK_USER, R_UNK_WORKOUT = range(9)
OK = 99  # reason code of an accepted row; a row's reason is the minimum code that applies

CHUNK = 1 << 23  # rows per step of the per-event array work (bounds the temporaries at large sizes)


class InputError(Exception):
    pass


def die(status: int, msg: str):
    print(msg, file=sys.stderr)
    sys.exit(status)


def mark(reason: np.ndarray, mask: np.ndarray, code: int):
    """give the rows of `mask` the reason `code` unless an earlier reason (a lower code) applies"""
    if mask is not None and mask.any():
        np.minimum(reason, code, out=reason, where=mask)


class Timer:
    def __init__(self):
        self.t0 = peer.T_PROCESS
        self.last = self.t0
        self.steps: dict[str, float] = {}
        self.step("imports (numpy, pandas, pyarrow)")

    def step(self, name: str):
        now = time.perf_counter()
        self.steps[name] = round(self.steps.get(name, 0.0) + now - self.last, 4)
        print(f"[peer] {name:<34s} {now - self.last:8.3f} s", file=sys.stderr, flush=True)
        self.last = now

    def total(self) -> float:
        return time.perf_counter() - self.t0


def iso(us: int) -> str:
    return (datetime(1970, 1, 1) + timedelta(microseconds=int(us))).isoformat()


def write_json(path: str, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2, default=str)
        f.write("\n")


def sorted_unique(a: np.ndarray) -> np.ndarray:
    """np.unique for large int arrays: a stable sort (timsort: fast on the nearly sorted keys of events
    grouped by user) and a mask; np.unique itself takes ~10 s per 8M int64 with numpy 2.4"""
    if len(a) == 0:
        return a
    s = np.sort(a, kind="stable")
    keep = np.empty(len(s), bool)
    keep[0] = True
    np.not_equal(s[1:], s[:-1], out=keep[1:])
    return s[keep]
