"""The diversity rerank of SPEC §5, for many candidate lists at once (the segments, and §10's profiles).

A block of lists is a (lists x workouts) score matrix with the workouts in workout_id order and -inf
where a workout is not a candidate of the list; the pool, the relevance and every greedy step are
array operations over the whole block.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from peer.universe import Catalog, Users


def tfidf_cosines(catalog: Catalog) -> np.ndarray:
    """(W, W) cosine similarities of the workouts' TF-IDF tag vectors, in workout_id order: fitted once
    on the whole catalog (in workout code order), one tag one term, scikit-learn's defaults otherwise.
    A workout with no tags (or a catalog with none) has similarity 0 to everything."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    W = catalog.W
    try:
        X = TfidfVectorizer(analyzer=lambda doc: doc).fit_transform(catalog.w_tags).tocsr()
    except ValueError:  # no tags at all
        return np.zeros((W, W))
    X = X[catalog.by_id]
    return (X @ X.T).toarray()


@dataclass
class Picks:
    """the chosen workouts of a block of lists, one entry per (list, rank)"""
    row: np.ndarray  # the list (row of the block)
    col: np.ndarray  # the workout (column: workout_id order)
    score: np.ndarray
    rank: np.ndarray  # 1..k
    mmr: np.ndarray


def top_columns(S: np.ndarray, n: int) -> np.ndarray:
    """(B, n): per row the columns of the n highest scores, ties to the lower column (lower workout_id),
    in column order"""
    B, W = S.shape
    if n >= W:
        return np.broadcast_to(np.arange(W), (B, W)).copy()
    thr = np.partition(S, W - n, axis=1)[:, W - n][:, None]  # the n-th highest score of each row
    gt = S > thr
    eq = S == thr
    need = n - gt.sum(axis=1, keepdims=True)  # how many of the scores equal to it make the pool
    take = gt | (eq & (np.cumsum(eq, axis=1, dtype=np.int32) <= need))
    return np.nonzero(take)[1].reshape(B, n)


def rerank(S: np.ndarray, cos: np.ndarray, pool_size: int, k: int, lam: float) -> Picks:
    """§5 on each row of S: the pool is the top pool_size candidates by score (ties lower workout_id);
    rel = score / max score of the pool (0 when that max is not > 0); k greedy steps of
    mmr = lam * rel - (1 - lam) * max cos to the chosen ones, ties higher score, then lower workout_id.
    A row with fewer candidates than k gets all of them."""
    B, W = S.shape
    n = min(int(pool_size), W)
    steps = min(int(k), n)
    empty = np.zeros(0, np.int64)
    if B == 0 or steps <= 0:
        return Picks(empty, empty, np.zeros(0), empty, np.zeros(0))
    cols = top_columns(S, n)
    rows = np.arange(B)
    score = S[rows[:, None], cols]
    avail = score > -np.inf  # pool places of a row with fewer than n candidates stay empty
    top = score.max(axis=1, keepdims=True)
    rel = np.zeros((B, n))
    np.divide(score, top, out=rel, where=avail & (top > 0))
    maxsim = np.zeros((B, n))
    out: list[tuple] = []
    for rank in range(1, steps + 1):
        mmr = lam * rel - (1.0 - lam) * maxsim
        live = avail.any(axis=1)
        best = avail & (mmr == np.where(avail, mmr, -np.inf).max(axis=1, keepdims=True))
        best &= score == np.where(best, score, -np.inf).max(axis=1, keepdims=True)
        j = best.argmax(axis=1)  # the first of the remaining ties: the lowest workout_id
        r_ = rows[live]
        j_ = j[live]
        out.append((r_, cols[r_, j_], score[r_, j_], np.full(len(r_), rank), mmr[r_, j_]))
        avail[r_, j_] = False
        maxsim = np.maximum(maxsim, cos[cols[rows, j][:, None], cols])  # cos of the pick to its pool
    return Picks(*(np.concatenate([o[i] for o in out]) for i in range(5)))


def block_rows(W: int) -> int:
    """rows of a (lists x W) block: ~4M cells, so that a block's temporaries stay in the tens of MB"""
    return max(1, (1 << 22) // max(W, 1))


@dataclass
class SegmentRecs:
    """the chosen workouts of every segment, sorted by segment_key, rank"""
    key: list[str]
    al: np.ndarray
    t: np.ndarray
    w: np.ndarray  # workout code (type order)
    score: np.ndarray
    rank: np.ndarray
    mmr: np.ndarray


def segment_recommendations(score: np.ndarray, catalog: Catalog, users: Users, cos: np.ndarray,
                            cfg: dict) -> SegmentRecs:
    """§5 per segment (a, l, t): the candidates are the workouts of type t"""
    T, L, AL = catalog.T, users.L, users.AL
    w_by_id = catalog.by_id
    type_by_id = catalog.w_type[w_by_id]
    seg_keys = [f"{users.ag_names[al // L]}|{users.lv_names[al % L]}|{catalog.types[t]}"
                for al in range(AL) for t in range(T)]  # row al * T + t
    parts = []
    step = max(1, block_rows(catalog.W) // max(T, 1))
    for lo in range(0, AL, step):
        hi = min(AL, lo + step)
        S = np.where(type_by_id[None, None, :] == np.arange(T)[None, :, None],
                     score[lo:hi, w_by_id][:, None, :], -np.inf).reshape((hi - lo) * T, catalog.W)
        p = rerank(S, cos, cfg["mmr"]["pool_size"], cfg["mmr"]["k"], float(cfg["mmr"]["lambda"]))
        p.row += lo * T
        parts.append(p)
    if not parts:  # no age group or level seen (no accepted users)
        e = np.zeros(0, np.int64)
        return SegmentRecs([], e, e, e, np.zeros(0), e, np.zeros(0))
    row = np.concatenate([p.row for p in parts])
    key_rank = np.empty(len(seg_keys), np.int64)
    key_rank[sorted(range(len(seg_keys)), key=seg_keys.__getitem__)] = np.arange(len(seg_keys))
    rank = np.concatenate([p.rank for p in parts])
    order = np.lexsort((rank, key_rank[row]))
    row = row[order]

    def cat(attr):
        return np.concatenate([getattr(p, attr) for p in parts])[order]

    return SegmentRecs([seg_keys[r] for r in row], row // max(T, 1), row % max(T, 1), w_by_id[cat("col")],
                       cat("score"), rank[order], cat("mmr"))
