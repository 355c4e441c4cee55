"""SPEC §10 without Spark: relevance of the catalog for whole profiles, scores, and the MMR of each list.

`profiles.py` aggregates, in Spark, each source profile's engagement with each workout,
`E(Q, w) = Σ_{v in Q} e(v, w) / d(v)^ρ`, and hands it here as one sparse matrix per age-level
code (rows: the profiles' type sets, columns: the catalog in `workout_id` order). Users of one
profile share every factor of the similarity but `e/d^ρ`, so for a target profile
`P = (a, l, T)`:

    r(P, w) = Σ_τ J(T, τ)^π · M_{a,l}(τ, w),   M_{a,l} = Σ_{a', l'} (1 + ω_a[a' = a])(1 + ω_l[l' = l]) E_{a',l'}

one dense matrix product per block of targets of one age-level code. Then the score
(r / max over the candidates, times the freshness factor), the pool of the top `N` and
the MMR of SPEC §5, exactly as for a segment.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse

from coldstart.mmr import TagVectors, mmr_select, relevance

RESULT_COLUMNS = ("target", "workout_id", "score", "rank", "relevance", "mmr_score")


@dataclass(frozen=True)
class Weights:
    """The settings of SPEC §10 and §5 a list depends on (one point of a tuning grid)."""

    age_weight: float
    level_weight: float
    jaccard_power: float
    preferred_types_only: bool
    freshness_lambda: float
    pool_size: int
    k: int
    mmr_lambda: float


@dataclass(frozen=True)
class Catalog:
    """The catalog in `workout_id` order: type indices, days_old, and the tag vectors' rows in that order."""

    workout_ids: np.ndarray  # int64, ascending
    type_idx: np.ndarray  # int, the workout's type
    days_old: np.ndarray  # float64, SPEC §4
    vectors: TagVectors

    @classmethod
    def of(cls, workouts: pd.DataFrame, vectors: TagVectors) -> Catalog:
        """From (workout_id, type_idx, days_old) rows, in any order."""
        ordered = workouts.sort_values("workout_id", kind="mergesort")
        ids = ordered["workout_id"].to_numpy(dtype=np.int64)
        return cls(ids, ordered["type_idx"].to_numpy(dtype=np.int64), ordered["days_old"].to_numpy(dtype=np.float64),
                   TagVectors(ids, vectors.rows(ids)))


@dataclass(frozen=True)
class Engagement:
    """E per source profile: `matrices[al_code]` is (source type sets x catalog), CSR.

    `type_sets` are the source profiles' sets of type indices (rows, in the same order in every
    matrix); age-level codes without any engaged user have no matrix.
    """

    n_types: int
    n_levels: int
    n_workouts: int
    type_sets: tuple[tuple[int, ...], ...]
    matrices: dict[int, sparse.csr_matrix] = field(default_factory=dict)

    @classmethod
    def of(cls, rows: pd.DataFrame, n_types: int, n_levels: int, catalog_ids: np.ndarray) -> Engagement:
        """From (al_code, types: tuple of type indices, workout_id, engagement) rows."""
        type_sets = tuple(sorted(set(rows["types"])))
        set_index = {t: i for i, t in enumerate(type_sets)}
        columns = np.searchsorted(catalog_ids, rows["workout_id"].to_numpy(dtype=np.int64))
        set_rows = np.array([set_index[t] for t in rows["types"]], dtype=np.int64)
        matrices = {}
        for al_code, idx in rows.groupby("al_code", sort=True).indices.items():
            matrices[int(al_code)] = sparse.csr_matrix(
                (rows["engagement"].to_numpy(dtype=np.float64)[idx], (set_rows[idx], columns[idx])),
                shape=(len(type_sets), len(catalog_ids)))
        return cls(n_types, n_levels, len(catalog_ids), type_sets, matrices)

    def similar_engagement(self, al_code: int, weights: Weights) -> np.ndarray:
        """M_{a,l}: every source profile's E weighted by its age and level factors, dense (type sets x catalog)."""
        a, lv = divmod(al_code, self.n_levels)
        total = np.zeros((len(self.type_sets), self.n_workouts))
        for source, matrix in sorted(self.matrices.items()):
            sa, sl = divmod(source, self.n_levels)
            factor = (1.0 + weights.age_weight * (sa == a)) * (1.0 + weights.level_weight * (sl == lv))
            total += factor * matrix.toarray()
        return total


def membership_matrix(type_sets: Sequence[tuple[int, ...]], n_types: int) -> np.ndarray:
    """One row per type set, one 0/1 column per type."""
    members = np.zeros((len(type_sets), n_types))
    for i, types in enumerate(type_sets):
        members[i, list(types)] = 1.0
    return members


def jaccard_power(targets: Sequence[tuple[int, ...]], sources: Sequence[tuple[int, ...]], n_types: int,
                  power: float) -> np.ndarray:
    """J(T, τ)^π for every (target, source) pair; with π = 0 every factor is 1 (SPEC §10)."""
    t, s = membership_matrix(targets, n_types), membership_matrix(sources, n_types)
    shared = t @ s.T
    union = t.sum(axis=1)[:, None] + s.sum(axis=1)[None, :] - shared
    jaccard = np.divide(shared, union, out=np.zeros_like(shared), where=union > 0)
    return np.power(jaccard, power)


@dataclass(frozen=True)
class Similar:
    """M_{a,l} with its equal columns once: (distinct columns, each workout's column)."""

    distinct: np.ndarray
    inverse: np.ndarray

    @classmethod
    def of(cls, similar: np.ndarray) -> Similar:
        # Workouts engaged alike (equal columns) are multiplied once: a BLAS product does not sum every
        # column in the same order, and equal relevance must stay an exact tie (SPEC §5's tie rules).
        distinct, inverse = np.unique(similar, axis=1, return_inverse=True)
        return cls(distinct, inverse.reshape(-1))

    def relevance(self, jaccard: np.ndarray) -> np.ndarray:
        """r = J^π @ M_{a,l}: (targets x catalog)."""
        return (jaccard @ self.distinct)[:, self.inverse]


def profile_relevance(engagement: Engagement, al_code: int, targets: Sequence[tuple[int, ...]],
                      weights: Weights) -> np.ndarray:
    """r(P, w) for the targets (a, l, T) of one age-level code: (targets x catalog)."""
    if not engagement.type_sets:  # nobody engaged with anything
        return np.zeros((len(targets), engagement.n_workouts))
    similar = Similar.of(engagement.similar_engagement(al_code, weights))
    return similar.relevance(jaccard_power(targets, engagement.type_sets, engagement.n_types, weights.jaccard_power))


def top_positions(scores: np.ndarray, n: int) -> np.ndarray:
    """The positions of the n highest scores, ties lower position first: `np.argsort(-scores,
    kind="stable")[:n]`, with only the scores that can be among them sorted (a catalog has thousands)."""
    if 0 < n < len(scores):
        nth_highest = np.partition(scores, len(scores) - n)[len(scores) - n]
        among = np.flatnonzero(scores >= nth_highest)  # in position order, every tie of the n-th included
        return among[np.argsort(-scores[among], kind="stable")][:n]
    return np.argsort(-scores, kind="stable")[:n]


def rank_target(r: np.ndarray, candidates: np.ndarray, catalog: Catalog, freshness: np.ndarray,
                weights: Weights) -> list[tuple[int, float, int, float, float]]:
    """One target's list: (catalog position, score, rank, relevance, mmr_score) in rank order.

    score = r / max over the candidates (0 where that max is 0), times the freshness factor;
    the pool is the top `pool_size` candidates by score (ties: lower workout_id, the catalog's
    order); then SPEC §5's MMR with its tie rules.
    """
    positions = np.flatnonzero(candidates)
    top = r[positions].max() if len(positions) else 0.0
    normalised = r[positions] / top if top > 0 else np.zeros(len(positions))
    scores = normalised * freshness[positions]
    order = top_positions(scores, weights.pool_size)
    pool, pool_scores = positions[order], scores[order]
    if weights.mmr_lambda == 1.0:
        # MMR's penalty is (1 - λ) * similarity = 0 * similarity: the list is the score order, and
        # the similarities, most of a list's cost in the evaluation's tuning, are not needed
        similarity = np.zeros((len(pool), len(pool)))
    else:
        tags = catalog.vectors.matrix[pool]  # the vectors' rows are in catalog order
        similarity = np.asarray((tags @ tags.T).todense(), dtype=np.float64)
    picks = mmr_select(relevance(pool_scores), similarity, weights.k, weights.mmr_lambda)
    return [(int(pool[p]), float(pool_scores[p]), rank, float(r[pool[p]]), value)
            for rank, (p, value) in enumerate(picks, start=1)]


def candidates_of(catalog: Catalog, types: tuple[int, ...], weights: Weights) -> np.ndarray:
    """Every workout, or with `preferred_types_only` those of the profile's types (a mask in catalog order)."""
    if weights.preferred_types_only:
        return np.isin(catalog.type_idx, types)
    return np.ones(len(catalog.workout_ids), dtype=bool)


def rank_profiles(engagement: Engagement, catalog: Catalog, al_code: int, targets: Sequence[tuple[int, ...]],
                  weights: Weights) -> pd.DataFrame:
    """The lists of the targets (a, l, T) of one age-level code: RESULT_COLUMNS, `target` the index in `targets`."""
    relevance_matrix = profile_relevance(engagement, al_code, targets, weights)
    freshness = np.exp(-weights.freshness_lambda * catalog.days_old)
    rows = []
    for i, types in enumerate(targets):
        ranked = rank_target(relevance_matrix[i], candidates_of(catalog, types, weights), catalog, freshness, weights)
        rows += [(i, int(catalog.workout_ids[position]), score, rank, r, mmr_value)
                 for position, score, rank, r, mmr_value in ranked]
    return pd.DataFrame(rows, columns=list(RESULT_COLUMNS)).astype({"rank": "int32"})
