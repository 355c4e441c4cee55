"""SPEC §5: TF-IDF tag vectors and the greedy MMR rerank of one segment.

Plain pandas/numpy/scipy, no Spark: `rerank.py` applies `rerank_segment`
to every segment with `applyInPandas`, and the tests call it directly.
"""
from __future__ import annotations

import math
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


def tfidf_matrix(docs: Sequence[Sequence[str]]) -> sparse.csr_matrix:
    """scikit-learn's `TfidfVectorizer(analyzer=<identity>).fit_transform(docs)`, to the bit.

    Its defaults (raw counts, smooth idf, l2 norm), and its storage order: features numbered
    alphabetically, but each row's entries kept in the order in which the corpus first used
    them, which is the order the l2 norm sums in. Bit-identical to scikit-learn (tests/test_mmr.py
    compares them on random catalogs), without importing it: scikit-learn's import cost ~1.6 s
    of CPU per run, in a job that is CPU-bound on two cores (BENCHMARKS.md).
    """
    first_seen: dict[str, int] = {}  # term -> order of first use in the corpus
    indptr, seen_order, counts = [0], [], []
    for doc in docs:
        per_doc: dict[int, int] = {}
        for term in doc:
            order = first_seen.setdefault(term, len(first_seen))
            per_doc[order] = per_doc.get(order, 0) + 1
        for order in sorted(per_doc):
            seen_order.append(order)
            counts.append(per_doc[order])
        indptr.append(len(seen_order))
    n_docs, n_terms = len(docs), len(first_seen)
    if not n_terms:  # scikit-learn refuses an empty vocabulary
        return sparse.csr_matrix((n_docs, 0), dtype=np.float64)
    alphabetical = np.empty(n_terms, dtype=np.int32)
    alphabetical[[first_seen[t] for t in sorted(first_seen)]] = np.arange(n_terms, dtype=np.int32)
    indices = alphabetical[np.asarray(seen_order, dtype=np.int64)]
    data = np.asarray(counts, dtype=np.float64)
    # idf = ln((1 + n) / (1 + df)) + 1, computed in scikit-learn's steps
    idf = np.full(n_terms, n_docs + 1, dtype=np.float64)
    idf /= np.bincount(indices, minlength=n_terms).astype(np.float64) + 1.0
    np.log(idf, out=idf)
    idf += 1.0
    data *= idf[indices]
    for lo, hi in zip(indptr[:-1], indptr[1:], strict=True):
        squares = 0.0
        for value in data[lo:hi].tolist():  # summed in storage order, as scikit-learn does
            squares += value * value
        if squares != 0.0:
            data[lo:hi] /= math.sqrt(squares)
    return sparse.csr_matrix((data, indices, np.asarray(indptr, dtype=np.int32)), shape=(n_docs, n_terms))


def fit_tag_vectors(workout_ids: Sequence[int], tags: Sequence[Sequence[str] | None]) -> TagVectors:
    """TF-IDF fitted once on the whole catalog, one tag one term (SPEC §5, `tfidf_matrix`).

    A workout with no tags gets the zero vector: similarity 0 to everything.
    """
    ids = np.asarray(workout_ids, dtype=np.int64)
    docs = [list(t) if t is not None else [] for t in tags]
    return TagVectors(ids, tfidf_matrix(docs))


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
