"""SPEC §10, the lists: relevance r(P, w) of every target profile, its score and the §5 rerank.

sim(P, v) = F[al_P, al_v] * G[T_P, T_v], F = (1 + age_weight*[same age]) * (1 + level_weight*[same level]),
G = Jaccard(T_P, T_v)**jaccard_power. With B[src, w] = sum_{v in src} e(v,w)/d(v)**rho (peer.profiles):
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


def age_level_factor(users: Users, cfg: dict) -> np.ndarray:
    """(AL, AL): (1 + age_weight*[same age group]) * (1 + level_weight*[same level])"""
    al = np.arange(users.AL)
    a, lv = al // users.L, al % users.L
    same_a = (a[:, None] == a[None, :]).astype(np.float64)
    same_l = (lv[:, None] == lv[None, :]).astype(np.float64)
    return (1.0 + float(cfg["profile"]["age_weight"]) * same_a) * (1.0 + float(cfg["profile"]["level_weight"]) * same_l)


def jaccard_power(x: np.ndarray, y: np.ndarray, power: float) -> np.ndarray:
    """(len(x), len(y)): J(x_i, y_j)**power of type sets given as bool rows; 0**0 is 1"""
    xf, yf = x.astype(np.float64), y.astype(np.float64)
    inter = xf @ yf.T
    union = xf.sum(axis=1)[:, None] + yf.sum(axis=1)[None, :] - inter
    j = np.zeros_like(inter)
    np.divide(inter, union, out=j, where=union > 0)
    return np.power(j, power)


def _set_engagement(B: np.ndarray, f: np.ndarray, src_al: np.ndarray, src_pos: np.ndarray, n_sets: int) -> np.ndarray:
    """M[s, w] = sum over the sources with type set s of f[al_src] * B[src, w]; the sources are ordered
    by al, and within one al each type set appears once (so a fancy-indexed += adds every row)"""
    M = np.zeros((n_sets, B.shape[1]))
    bounds = np.searchsorted(src_al, np.arange(len(f) + 1))
    for al in range(len(f)):
        lo, hi = bounds[al], bounds[al + 1]
        if hi > lo:
            M[src_pos[lo:hi]] += f[al] * B[lo:hi]
    return M


def profile_scores(R: np.ndarray, cand: np.ndarray | None, fresh: np.ndarray) -> np.ndarray:
    """score = r / max of r over the candidates (0 when that max is not > 0) * exp(-lambda * days_old);
    -inf where a workout is not a candidate"""
    mx = (R if cand is None else np.where(cand, R, -np.inf)).max(axis=1, keepdims=True)
    S = np.zeros_like(R)
    np.divide(R, mx, out=S, where=mx > 0)
    S *= fresh[None, :]
    if cand is not None:
        S[~cand] = -np.inf
    return S


def profile_recommendations(B: np.ndarray, ps: ProfileSet, catalog: Catalog, users: Users, days_old: np.ndarray,
                            cos: np.ndarray, cfg: dict) -> ProfileRecs:
    """days_old per workout code (§4); B and cos in workout_id order"""
    pc = cfg["profile"]
    F = age_level_factor(users, cfg)
    src_sets, src_pos = np.unique(ps.src_set, return_inverse=True)  # small: one entry per source profile
    src_table = ps.sets[src_sets]
    fresh = np.exp(-float(cfg["freshness"]["lambda"]) * days_old[catalog.by_id])
    type_by_id = catalog.w_type[catalog.by_id]
    rows = block_rows(catalog.W)
    parts = []
    for al in range(users.AL):
        targets = np.flatnonzero(ps.tgt_al == al)
        if len(targets) == 0:
            continue
        M = _set_engagement(B, F[al], ps.src_al, src_pos.reshape(-1), len(src_sets))
        for lo in range(0, len(targets), rows):
            blk = targets[lo:lo + rows]
            R = jaccard_power(ps.sets[ps.tgt_set[blk]], src_table, float(pc["jaccard_power"])) @ M
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
