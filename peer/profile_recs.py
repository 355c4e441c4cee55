"""SPEC §10, the lists: relevance r(P, w) of every target profile, its score and the §5 rerank.

sim(P, v) = F[al_P, al_v] * G[T_P, T_v], F = (1 + age_weight*[same age]) * (1 + level_weight*[same level]),
G = Jaccard(T_P, T_v)**jaccard_power (al = age code * L + level code, as the segments).
With B[src, w] = sum_{v in src} e(v,w)/d(v)**rho (peer.profiles):
    r(P, w) = sum_src G[T_P, T_src] * F[al_P, al_src] * B[src, w] = G[T_P, :] @ M_alP,
    M_al[s, w] = sum_{src with type set s} F[al, al_src] * B[src, w]
so the targets of one al share M_al, and the matrix product runs over distinct type sets, not users
or profiles: (targets x type sets) @ (type sets x workouts), in blocks of targets.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from peer.mmr import block_rows, rerank
from peer.profiles import ProfileSet
from peer.universe import Catalog, Users


@dataclass
class ProfileRecs:
    """the chosen workouts of every target profile, sorted by profile_key, rank"""
    tgt: np.ndarray  # target profile
    col: np.ndarray  # workout, in workout_id order (catalog.by_id[col] is its code)
    score: np.ndarray
    rank: np.ndarray
    mmr: np.ndarray
    relevance: np.ndarray  # r(P, w) before normalisation


def jaccard_power(x: np.ndarray, y: np.ndarray, power: float) -> np.ndarray:
    """(len(x), len(y)): J(x_i, y_j)**power of type sets given as bool rows; 0**0 is 1"""
    xf, yf = x.astype(np.float64), y.astype(np.float64)
    inter = xf @ yf.T
    union = xf.sum(axis=1)[:, None] + yf.sum(axis=1)[None, :] - inter
    j = np.zeros_like(inter)
    np.divide(inter, union, out=j, where=union > 0)
    return np.power(j, power)


def add_rows(dst: np.ndarray, rows: np.ndarray | None, src: np.ndarray, alpha: float = 1.0):
    """dst[rows] += alpha * src (rows None: all rows, in order), a few MB at a time: the temporaries stay
    small enough for malloc to reuse (large ones are fresh mmaps, whose page faults cost more than the adds)"""
    step = max(1, (1 << 19) // max(dst.shape[1], 1))
    for lo in range(0, len(src), step):
        part = src[lo:lo + step] if alpha == 1.0 else alpha * src[lo:lo + step]
        if rows is None:
            dst[lo:lo + step] += part
        else:
            dst[rows[lo:lo + step]] += part


class SetEngagement:
    """M_al[s, w] = sum over the sources with type set s of F[al, al_src] * B[src, w], for any al, with
    F = (1 + wa*[same age]) * (1 + wl*[same level]) = 1 + wa*[same age] + wl*[same level]
    + wa*wl*[same age and level]: the per type set sums of B over all sources, over each age group and
    over each level are formed once; M_al is then three of those plus al's own sources.
    The sources are ordered by al, and within one al each type set appears once (a fancy += adds all)."""

    def __init__(self, B: np.ndarray, src_al: np.ndarray, src_pos: np.ndarray, n_sets: int, users: Users, cfg: dict):
        self.B, self.src_pos, self.L = B, src_pos, users.L
        self.wa, self.wl = float(cfg["profile"]["age_weight"]), float(cfg["profile"]["level_weight"])
        self.bounds = np.searchsorted(src_al, np.arange(users.AL + 1))
        W = B.shape[1]
        self.all = np.zeros((n_sets, W))
        self.age = np.zeros((len(users.ag_names), n_sets, W))
        self.level = np.zeros((users.L, n_sets, W))
        for al in range(users.AL):
            rows, blk = self._block(al)
            add_rows(self.all, rows, blk)
            add_rows(self.age[al // self.L], rows, blk)
            add_rows(self.level[al % self.L], rows, blk)
        self.M = np.empty((n_sets, W))

    def _block(self, al: int):
        lo, hi = self.bounds[al], self.bounds[al + 1]
        return self.src_pos[lo:hi], self.B[lo:hi]

    def for_al(self, al: int) -> np.ndarray:
        """M_al, in a buffer that the next call overwrites"""
        M = self.M
        M[...] = self.all
        add_rows(M, None, self.age[al // self.L], self.wa)
        add_rows(M, None, self.level[al % self.L], self.wl)
        rows, blk = self._block(al)
        add_rows(M, rows, blk, self.wa * self.wl)
        return M


def profile_scores(R: np.ndarray, cand: np.ndarray | None, fresh: np.ndarray) -> np.ndarray:
    """score = r / max of r over the candidates (0 when that max is not > 0) * exp(-lambda * days_old);
    -inf where a workout is not a candidate"""
    mx = (R if cand is None else np.where(cand, R, -np.inf)).max(axis=1, keepdims=True)
    S = np.zeros_like(R)
    np.divide(R, mx, out=S, where=mx > 0)
    np.multiply(S, fresh[None, :], out=S)
    if cand is not None:
        S[~cand] = -np.inf
    return S


def profile_recommendations(B: np.ndarray, ps: ProfileSet, catalog: Catalog, users: Users, days_old: np.ndarray,
                            cos: np.ndarray, cfg: dict) -> ProfileRecs:
    """days_old per workout code (§4); B and cos in workout_id order"""
    pc = cfg["profile"]
    src_sets, src_pos = np.unique(ps.src_set, return_inverse=True)  # small: one entry per source profile
    set_eng = SetEngagement(B, ps.src_al, src_pos.reshape(-1), len(src_sets), users, cfg)
    src_table = ps.sets[src_sets]
    fresh = np.exp(-float(cfg["freshness"]["lambda"]) * days_old[catalog.by_id])
    type_by_id = catalog.w_type[catalog.by_id]
    rows = max(1, block_rows(catalog.W) // 2)
    R_buf = np.empty((rows, catalog.W))
    parts = []
    for al in range(users.AL):
        targets = np.flatnonzero(ps.tgt_al == al)
        if len(targets) == 0:
            continue
        M = set_eng.for_al(al)
        for lo in range(0, len(targets), rows):
            blk = targets[lo:lo + rows]
            R = np.matmul(jaccard_power(ps.sets[ps.tgt_set[blk]], src_table, float(pc["jaccard_power"])), M,
                          out=R_buf[:len(blk)])
            cand = ps.sets[ps.tgt_set[blk]][:, type_by_id] if pc["preferred_types_only"] else None
            p = rerank(profile_scores(R, cand, fresh), cos, cfg["mmr"]["pool_size"], cfg["mmr"]["k"],
                       float(cfg["mmr"]["lambda"]))
            parts.append((blk[p.row], p.col, p.score, p.rank, p.mmr, R[p.row, p.col]))
    if not parts:
        e = np.zeros(0, np.int64)
        return ProfileRecs(e, e, np.zeros(0), e, np.zeros(0), np.zeros(0))
    cols = [np.concatenate([p[i] for p in parts]) for i in range(6)]
    key_rank = np.empty(len(ps.keys), np.int64)
    key_rank[sorted(range(len(ps.keys)), key=ps.keys.__getitem__)] = np.arange(len(ps.keys))
    order = np.lexsort((cols[3], key_rank[cols[0]]))
    return ProfileRecs(*(c[order] for c in cols))
