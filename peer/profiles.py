"""SPEC §10, the profiles and their engagement: which profiles there are (sources: the distinct profiles
of the accepted users; targets: those plus every single-type profile of the segment universe), and
sum_{v in the source profile} e(v, w) / d(v)**degree_power per (source profile, workout).

A profile is coded (al, s): al = age code * L + level code (as the segments), s = a row of the table of
distinct type sets (the users' sets and the single types).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from peer.common import sorted_unique
from peer.counts import Events
from peer.universe import Catalog, Users

# events / pairs per step: 2M (16 MB per int64 temporary) rather than common.CHUNK (8M, 64 MB): temporaries
# above glibc's largest mmap threshold (32 MB) are fresh mappings each time, whose page faults cost more
# than the work here (the step's CPU time at 1M users: 0.54-0.92 s against 1.0-1.2 s with 8M)
PAIR_CHUNK = 1 << 21


@dataclass
class ProfileSet:
    sets: np.ndarray  # (distinct type sets, T) bool
    set_names: list[str]  # per type set: its types sorted by code point, joined by ','
    user_src: np.ndarray  # per accepted user: its source profile, -1 when its type set is empty
    src_al: np.ndarray  # per source profile (ordered by al, then type set)
    src_set: np.ndarray
    tgt_al: np.ndarray  # per target profile (ordered by al, then type set)
    tgt_set: np.ndarray
    keys: list[str]  # per target profile: age|level|t1,t2,...


def define_profiles(users: Users, catalog: Catalog) -> ProfileSet:
    T, AL = catalog.T, users.AL
    if T == 0 or AL == 0:  # no catalog types or no users: no profiles
        e = np.zeros(0, np.int64)
        return ProfileSet(np.zeros((0, T), bool), [], np.full(len(users.u_al), -1, np.int64), e, e, e, e, [])
    member = users.member[:, :T]  # per distinct preferred_types string: the catalog types it names
    table, inv = np.unique(np.vstack([member, np.eye(T, dtype=bool)]), axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    nS = len(table)
    u_set = inv[:len(member)][users.u_pt]
    has = table.any(axis=1)[u_set]  # a user whose types the catalog has none of has no profile
    u_code = users.u_al * nS + u_set
    present = np.zeros(AL * nS, bool)
    present[u_code[has]] = True
    src = np.flatnonzero(present)
    lut = np.full(AL * nS, -1, np.int64)
    lut[src] = np.arange(len(src))
    user_src = np.where(has, lut[u_code], -1)
    present[(np.arange(AL)[:, None] * nS + inv[len(member):][None, :]).reshape(-1)] = True
    tgt = np.flatnonzero(present)
    names = [",".join(catalog.types[i] for i in np.flatnonzero(row)) for row in table]
    L = users.L
    keys = [f"{users.ag_names[c // nS // L]}|{users.lv_names[c // nS % L]}|{names[c % nS]}" for c in tgt.tolist()]
    return ProfileSet(table, names, user_src, src // nS, src % nS, tgt // nS, tgt % nS, keys)


def _chunk_end(u: np.ndarray, hi: int) -> int:
    """hi moved past the events of the user at hi - 1 (events grouped by user then fall in one chunk)"""
    while hi < len(u):
        differ = np.flatnonzero(u[hi:hi + 4096] != u[hi - 1])
        if len(differ):
            return hi + int(differ[0])
        hi += 4096
    return len(u)


def engaged_pairs(u: np.ndarray, w: np.ndarray, flag: np.ndarray, W: int, keep: np.ndarray | None) -> np.ndarray:
    """the distinct (user, workout) pairs with some event of flag 1, as sorted int64 keys user * W + w;
    keep: the users that matter (None: all). Sorted and deduplicated per chunk; when the chunks' key
    ranges do not overlap (events grouped by user, in user order) that is the whole answer, otherwise
    the chunks' sorted runs are merged (a stable sort: timsort)."""
    parts = []
    lo = 0
    while lo < len(u):
        hi = _chunk_end(u, min(len(u), lo + PAIR_CHUNK))
        sel = flag[lo:hi] == 1
        u_ = u[lo:hi]
        if keep is not None:
            sel &= keep[u_]
        part = sorted_unique(u_[sel].astype(np.int64) * W + w[lo:hi][sel])
        if len(part):
            parts.append(part)
        lo = hi
    disjoint = all(parts[i][-1] < parts[i + 1][0] for i in range(len(parts) - 1))
    keys = np.concatenate(parts) if parts else np.zeros(0, np.int64)
    parts.clear()
    return keys if disjoint else sorted_unique(keys)


def _add_pairs(B: np.ndarray, keys: np.ndarray, weight: np.ndarray, shift: np.ndarray, W: int):
    """B[source, w] += weight[v] for each pair (v, w) of `keys`; shift[v] = (source of v - v) * W turns
    the pair's key v * W + w into the key source * W + w of B"""
    for lo in range(0, len(keys), PAIR_CHUNK):
        k = keys[lo:lo + PAIR_CHUNK]
        u = k // W
        if B.size <= len(k):
            B += np.bincount(k + shift[u], weights=weight[u], minlength=B.size)
        else:  # B larger than the chunk: a bincount would mostly add zeros
            np.add.at(B, k + shift[u], weight[u])


def engagement(ev: Events, ps: ProfileSet, catalog: Catalog, cfg: dict) -> np.ndarray:
    """(source profiles, W) with the workouts in workout_id order: sum over the source profile's users v
    of e(v, w) / d(v)**degree_power, e(v, w) = [completed w] + like_weight * [liked w]"""
    W, U = catalog.W, len(ps.user_src)
    if W == 0 or len(ps.src_al) == 0:  # no workouts or no user with a profile: nothing engages
        return np.zeros((len(ps.src_al), W))
    keep = ps.user_src >= 0
    keep = None if keep.all() else keep
    eta = float(cfg["profile"]["like_weight"])
    done = engaged_pairs(ev.su, ev.sw, ev.sc, W, keep)
    liked = engaged_pairs(ev.fu, ev.fw, ev.fl, W, keep) if eta != 0 else np.zeros(0, np.int64)
    d = np.bincount(done // W, minlength=U).astype(np.float64)
    if eta != 0:
        d += eta * np.bincount(liked // W, minlength=U)
    # users with d(v) = 0 have no pairs; d(v) < 0 (a negative like_weight) contributes nothing either
    dpow = np.where(d > 0, np.power(np.where(d > 0, d, 1.0), float(cfg["profile"]["degree_power"])), np.inf)
    shift = (ps.user_src - np.arange(U)) * W  # users without a profile have no pairs (keep)
    B = np.zeros(len(ps.src_al) * W)
    _add_pairs(B, done, 1.0 / dpow, shift, W)
    del done
    if eta != 0:
        _add_pairs(B, liked, eta / dpow, shift, W)
    return B.reshape(len(ps.src_al), W)[:, catalog.by_id]
