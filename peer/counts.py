"""The accepted events up to as_of (SPEC §4) and the counts of §3: per workout over all users, and per
(age|level, workout) over the users whose preferred types hold the workout's type (its segment)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from peer.common import CHUNK, OK


@dataclass
class Events:
    """the accepted events up to as_of: (user code, workout code, flag[, timestamp]) per row;
    a step that is the last to need an array sets it to None"""
    su: np.ndarray | None
    sw: np.ndarray | None
    sc: np.ndarray | None  # completed
    sts: np.ndarray | None
    fu: np.ndarray | None
    fw: np.ndarray | None
    fl: np.ndarray | None  # liked


def _accepted(ev: dict, as_of_explicit: int | None, report: dict, name: str) -> np.ndarray | None:
    ok = ev["reason"] == OK
    if as_of_explicit is not None:
        after = ok & (ev["ts"] > as_of_explicit)
        report["events_after_as_of"][name] = int(after.sum())
        ok &= ~after
    return None if ok.all() else ok


def accepted_events(sess: dict, fb: dict, as_of_explicit: int | None, report: dict) -> tuple[int | None, Events]:
    """-> (as_of, the accepted events up to it). The dicts' arrays are handed over (popped): the
    unfiltered copies are freed as soon as the filtered ones exist."""
    report["events_after_as_of"] = {"sessions": 0, "feedback": 0}
    s_ok = _accepted(sess, as_of_explicit, report, "sessions")
    f_ok = _accepted(fb, as_of_explicit, report, "feedback")
    if as_of_explicit is not None:
        as_of = as_of_explicit
    else:
        any_s = len(sess["ts"]) > 0 if s_ok is None else bool(s_ok.any())
        as_of = (int(sess["ts"].max()) if s_ok is None else int(sess["ts"][s_ok].max())) if any_s else None

    def take(d: dict, key: str, ok):
        a = d.pop(key)
        return a if ok is None else a[ok]

    ev = Events(*(take(sess, k, s_ok) for k in ("u", "w", "flag", "ts")),
                *(take(fb, k, f_ok) for k in ("u", "w", "flag")))
    fb.pop("ts")
    return as_of, ev


@dataclass
class GlobalCounts:
    V: np.ndarray  # sessions per workout code
    C: np.ndarray  # completed
    N: np.ndarray  # feedback rows
    S: np.ndarray  # liked
    last: np.ndarray  # the latest accepted session (<= as_of); int64 min when never played


def global_counts(ev: Events, W: int) -> GlobalCounts:
    V = np.zeros(W, np.int64)
    C = np.zeros(W, np.int64)
    N = np.zeros(W, np.int64)
    S = np.zeros(W, np.int64)
    last = np.full(W, np.iinfo(np.int64).min, np.int64)
    for lo in range(0, len(ev.sw), CHUNK):
        w_ = ev.sw[lo:lo + CHUNK]
        V += np.bincount(w_, minlength=W)
        C += np.bincount(w_[ev.sc[lo:lo + CHUNK] == 1], minlength=W)
        np.maximum.at(last, w_, ev.sts[lo:lo + CHUNK])
    for lo in range(0, len(ev.fw), CHUNK):
        w_ = ev.fw[lo:lo + CHUNK]
        N += np.bincount(w_, minlength=W)
        S += np.bincount(w_[ev.fl[lo:lo + CHUNK] == 1], minlength=W)
    return GlobalCounts(V, C, N, S, last)


def segment_counts(uu: np.ndarray, ww: np.ndarray, flag: np.ndarray, u_member: np.ndarray, u_al: np.ndarray,
                   w_type: np.ndarray, AL: int, W: int) -> tuple[np.ndarray, np.ndarray]:
    """per (age|level, workout): events of the users whose preferred types hold the workout's type,
    and those with flag 1; u_member (accepted users, types): does the user prefer type t"""
    cnt = np.zeros(AL * W, np.int64)
    pos = np.zeros(AL * W, np.int64)
    for lo in range(0, len(uu), CHUNK):
        u_, w_ = uu[lo:lo + CHUNK], ww[lo:lo + CHUNK]
        inseg = u_member[u_, w_type[w_]]
        key = u_al[u_[inseg]] * W + w_[inseg]
        cnt += np.bincount(key, minlength=AL * W)
        pos += np.bincount(key[flag[lo:lo + CHUNK][inseg] == 1], minlength=AL * W)
    return cnt.reshape(AL, W), pos.reshape(AL, W)


def count_segments(ev: Events, u_member: np.ndarray, u_al: np.ndarray, w_type: np.ndarray, AL: int, W: int):
    """-> (v, c, n, s) per (age|level, workout): sessions, completed, feedback rows, liked; the events
    are dropped as soon as they are counted"""
    v, c = segment_counts(ev.su, ev.sw, ev.sc, u_member, u_al, w_type, AL, W)
    ev.su = ev.sw = ev.sc = None
    n, s = segment_counts(ev.fu, ev.fw, ev.fl, u_member, u_al, w_type, AL, W)
    ev.fu = ev.fw = ev.fl = None
    return v, c, n, s
