"""SPEC §5: the greedy MMR rerank of one segment's (or profile's) candidates.

Plain pandas/numpy/scipy, no Spark: `rerank.py` applies `rerank_segment` to every
segment with `applyInPandas`, and the tests call it directly. The tag vectors are
fitted on the driver (`coldstart.tags`) and broadcast.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import sparse


@dataclass(frozen=True)
class TagVectors:
    """L2-normalised TF-IDF rows, one per catalog workout (cosine = dot product)."""

    workout_ids: np.ndarray
    matrix: sparse.csr_matrix

    def rows(self, workout_ids: Sequence[int]) -> sparse.csr_matrix:
        index = pd.Index(self.workout_ids).get_indexer(np.asarray(workout_ids))
        if (index < 0).any():
            raise KeyError("workout ids without a tag vector")
        return self.matrix[index]

    def cosine(self, workout_ids: Sequence[int]) -> np.ndarray:
        rows = self.rows(workout_ids)
        return np.asarray((rows @ rows.T).todense(), dtype=np.float64)


def top_pool(candidates: pd.DataFrame, pool_size: int) -> pd.DataFrame:
    """The top `pool_size` by score, ties lower workout_id first."""
    ordered = candidates.sort_values(["score", "workout_id"], ascending=[False, True], kind="mergesort")
    return ordered.head(pool_size).reset_index(drop=True)


def relevance(scores: np.ndarray) -> np.ndarray:
    """score / max(score over the pool), 0 where that max is not positive."""
    top = scores.max() if len(scores) else 0.0
    return scores / top if top > 0 else np.zeros_like(scores)


def mmr_select(rel: np.ndarray, similarity: np.ndarray, k: int, lam: float) -> list[tuple[int, float]]:
    """Greedy MMR over a pool already ordered by (score desc, workout_id asc).

    Returns (pool position, mmr value) in selection order. Because of that order the
    first maximum found is also the tie-break winner (higher score, lower id).
    """
    n = len(rel)
    chosen: list[tuple[int, float]] = []
    available = np.ones(n, dtype=bool)
    max_sim = np.zeros(n, dtype=np.float64)  # the max over an empty S is 0
    while len(chosen) < k and available.any():
        mmr = lam * rel - (1 - lam) * max_sim
        masked = np.where(available, mmr, -np.inf)
        best = int(np.argmax(masked))
        chosen.append((best, float(mmr[best])))
        available[best] = False
        max_sim = similarity[best].copy() if len(chosen) == 1 else np.maximum(max_sim, similarity[best])
    return chosen


def rerank_segment(candidates: pd.DataFrame, vectors: TagVectors, pool_size: int, k: int, lam: float) -> pd.DataFrame:
    """One segment's candidates (with `workout_id`, `score`) -> its top k with `rank` and `mmr_score`."""
    if candidates.empty:
        return candidates.assign(rank=pd.Series(dtype="int32"), mmr_score=pd.Series(dtype="float64"))
    pool = top_pool(candidates, pool_size)
    rel = relevance(pool["score"].to_numpy(dtype=np.float64))
    similarity = vectors.cosine(pool["workout_id"].to_numpy())
    picks = mmr_select(rel, similarity, k, lam)
    result = pool.iloc[[p for p, _ in picks]].reset_index(drop=True)
    return result.assign(
        rank=np.arange(1, len(picks) + 1, dtype=np.int32),
        mmr_score=np.array([v for _, v in picks], dtype=np.float64),
    )
