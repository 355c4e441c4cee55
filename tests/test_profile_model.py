"""SPEC §10 without Spark (`coldstart.profile_model`, `coldstart.profiles.targets`): the formulas on
hand-made matrices, the pool's cut, and ties kept through the matrix product; last, how the job
spreads the ranking over partitions (`coldstart.profiles.recommend_profiles`)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from coldstart.codes import Codes
from coldstart.membership import UserGroup
from coldstart.mmr import mmr_select
from coldstart.profile_model import (
    Catalog,
    Engagement,
    Weights,
    jaccard_power,
    profile_relevance,
    rank_profiles,
    top_positions,
)
from coldstart.profiles import TARGETS_PER_CALL, Target, profile_key, ranking_partitions, recommend_profiles, targets
from coldstart.tags import fit_tag_vectors

WEIGHTS = Weights(age_weight=3.0, level_weight=3.0, jaccard_power=2.0, preferred_types_only=False,
                  freshness_lambda=0.0, pool_size=20, k=5, mmr_lambda=0.5)


def test_jaccard_power_and_its_zero_power():
    # targets {0}, {0, 1}; sources {0}, {1}, {0, 1, 2}
    got = jaccard_power([(0,), (0, 1)], [(0,), (1,), (0, 1, 2)], n_types=3, power=2.0)
    # {0} vs {0}: 1; vs {1}: 0; vs {0,1,2}: 1/3 -> squared 1/9; {0,1} vs {0}: 1/2; vs {1}: 1/2; vs {0,1,2}: 2/3
    assert got == pytest.approx(np.array([[1, 0, 1 / 9], [1 / 4, 1 / 4, 4 / 9]]), abs=1e-15)
    # power 0: every factor 1, disjoint sets included (0 ** 0 = 1)
    assert (jaccard_power([(0,)], [(1,), (0,)], n_types=2, power=0.0) == 1.0).all()


def engagement(cells: dict[tuple[int, tuple[int, ...], int], float], n_workouts: int) -> Engagement:
    """E from {(al_code, types, workout position): value}; 2 age groups x 2 levels, 2 types."""
    rows = pd.DataFrame([(al, types, w + 1, value) for (al, types, w), value in cells.items()],
                        columns=["al_code", "types", "workout_id", "engagement"])
    return Engagement.of(rows, n_types=2, n_levels=2, catalog_ids=np.arange(1, n_workouts + 1))


def test_relevance_weights_each_source_by_age_level_and_jaccard():
    # al_code = age * 2 + level. Target (age 0, level 1, {0}) = al_code 1.
    e = engagement({(1, (0,), 0): 2.0,  # same age and level, same types: 4 * 4 * 1 = 16 -> 32
                    (0, (0,), 1): 1.0,  # same age, other level: 4 * 1 * 1 = 4 -> 4
                    (3, (0, 1), 2): 1.0,  # other age, same level, J = 1/2: 1 * 4 * 1/4 = 1 -> 1
                    (2, (1,), 3): 5.0},  # other age and level, J = 0 -> 0
                   n_workouts=4)
    assert profile_relevance(e, 1, [(0,)], WEIGHTS).tolist() == [[32.0, 4.0, 1.0, 0.0]]


def catalog_of(n: int, types: list[int] | None = None, tags: list[list[str]] | None = None,
               days_old: list[float] | None = None) -> Catalog:
    ids = list(range(1, n + 1))
    frame = pd.DataFrame({"workout_id": ids, "type_idx": types or [0] * n, "days_old": days_old or [0.0] * n})
    return Catalog.of(frame, fit_tag_vectors(ids, tags or [[f"t{i}"] for i in ids]))


def test_scores_are_relevance_over_the_candidates_max_times_freshness():
    e = engagement({(1, (0,), 0): 1.0, (1, (0,), 1): 2.0, (1, (0,), 2): 4.0}, n_workouts=3)
    catalog = catalog_of(3, types=[0, 0, 1], days_old=[0.0, 10.0, 0.0])
    weights = Weights(**{**WEIGHTS.__dict__, "freshness_lambda": 0.1})
    ranked = rank_profiles(e, catalog, 1, [(0,)], weights)
    # r = 16, 32, 64 (x 16, same age and level); max 64: 0.25, 0.5 * exp(-0.1 * 10) = 0.18, 1.0
    assert ranked["workout_id"].tolist() == [3, 1, 2]
    assert ranked["score"].tolist() == pytest.approx([1.0, 0.25, 0.5 * np.exp(-1.0)], abs=1e-15)
    assert ranked["relevance"].tolist() == [64.0, 16.0, 32.0]
    # only the target's types: workout 3 (type 1) is no candidate, and the max is over 1 and 2:
    # 16 / 32 = 0.5 and 32 / 32 * exp(-1) = 0.37
    only = rank_profiles(e, catalog, 1, [(0,)], Weights(**{**weights.__dict__, "preferred_types_only": True}))
    assert only["workout_id"].tolist() == [1, 2]
    assert only["score"].tolist() == pytest.approx([0.5, np.exp(-1.0)], abs=1e-15)


def test_the_pool_cuts_ties_at_the_lower_workout_ids():
    e = engagement({(1, (0,), w): 1.0 for w in (2, 4, 6)}, n_workouts=7)  # workouts 3, 5, 7 tie at 1.0
    ranked = rank_profiles(e, catalog_of(7), 1, [(0,)], Weights(**{**WEIGHTS.__dict__, "pool_size": 2}))
    assert ranked["workout_id"].tolist() == [3, 5]
    # a profile nobody resembles: every score 0, the pool is the lowest ids, MMR by diversity alone
    nobody = rank_profiles(engagement({}, n_workouts=7), catalog_of(7), 1, [(0,)], WEIGHTS)
    assert nobody["workout_id"].tolist() == [1, 2, 3, 4, 5] and (nobody["score"] == 0.0).all()


def test_top_positions_is_the_stable_sort_s_head():
    # 3, 1, 3, 2, 3: the two highest are the 3s at positions 0 and 2 (a tie at the cut: lower first)
    assert top_positions(np.array([3.0, 1.0, 3.0, 2.0, 3.0]), 2).tolist() == [0, 2]
    assert top_positions(np.array([0.0, 5.0]), 5).tolist() == [1, 0]
    assert top_positions(np.array([1.0, 2.0]), 0).tolist() == []
    rng = np.random.default_rng(11)
    for size, n in ((600, 20), (5000, 20), (50, 49), (30, 1)):
        scores = rng.integers(0, 8, size) / 4.0  # many ties, also at the cut
        assert top_positions(scores, n).tolist() == np.argsort(-scores, kind="stable")[:n].tolist()


def test_equal_engagement_columns_stay_exact_ties_through_the_matrix_product():
    """Two workouts engaged alike get bit-equal relevance wherever they sit in the catalog, so that
    the tie goes to the lower id (the product is a BLAS matrix product, blocked by columns)."""
    rng = np.random.default_rng(5)
    n_sets, n_workouts = 40, 997
    matrix = rng.random((n_sets, n_workouts)) * (rng.random((n_sets, n_workouts)) < 0.3)
    for a, b in ((3, 996), (100, 101), (0, 512)):
        matrix[:, b] = matrix[:, a]
    sets = tuple((i % 2,) if i < 20 else (0, 1) for i in range(n_sets))
    e = Engagement(2, 2, n_workouts, sets, {al: sparse.csr_matrix(matrix * (al + 1)) for al in range(4)})
    r = profile_relevance(e, 1, [(0,), (1,), (0, 1)] * 30, WEIGHTS)
    for a, b in ((3, 996), (100, 101), (0, 512)):
        assert np.array_equal(r[:, a], r[:, b])


def test_targets_are_the_users_profiles_and_every_single_type():
    codes = Codes(("18-25", "26-35"), ("Beginner",), ("running", "yoga"))
    groups = [UserGroup(("18-25", "beginner", "Yoga,running"), "18-25", "Beginner", ("yoga", "running"), 3),
              UserGroup(("26-35", "Beginner", "chess"), "26-35", "Beginner", ("chess",), 1)]  # no catalog type
    found = targets(groups, codes)
    # al_code 0 = 18-25|Beginner, 1 = 26-35|Beginner; types running = 0, yoga = 1
    assert found == [Target(0, (0,)), Target(0, (0, 1)), Target(0, (1,)), Target(1, (0,)), Target(1, (1,))]
    assert [profile_key(codes, t) for t in found] == [
        "18-25|Beginner|running", "18-25|Beginner|running,yoga", "18-25|Beginner|yoga",
        "26-35|Beginner|running", "26-35|Beginner|yoga"]


def test_mmr_lambda_one_is_the_score_order_without_the_similarities():
    # four workouts, 1 and 2 with the same tags (cosine 1), 3 and 4 alike too; scores 1, 0.9, 0.8, 0.7
    e = engagement({(1, (0,), 0): 10.0, (1, (0,), 1): 9.0, (1, (0,), 2): 8.0, (1, (0,), 3): 7.0}, n_workouts=4)
    catalog = catalog_of(4, tags=[["a"], ["a"], ["b"], ["b"]])
    at = {lam: rank_profiles(e, catalog, 1, [(0,)], Weights(**{**WEIGHTS.__dict__, "mmr_lambda": lam}))
          for lam in (0.5, 1.0)}
    # λ = 0.5 takes the similarities into account: after w1 (0.5 * 1), w3 (0.5 * 0.8 - 0 = 0.4) beats
    # w2 (0.5 * 0.9 - 0.5 * 1 = -0.05)
    assert at[0.5]["workout_id"].tolist()[:2] == [1, 3]
    # λ = 1: mmr = 1 * rel - 0 * similarity, the score order, with the same values the full MMR gives
    assert at[1.0]["workout_id"].tolist() == [1, 2, 3, 4]
    assert at[1.0]["mmr_score"].tolist() == [1.0, 0.9, 0.8, 0.7]
    pool = np.arange(4)
    similarity = np.asarray((catalog.vectors.matrix[pool] @ catalog.vectors.matrix[pool].T).todense())
    full = mmr_select(at[1.0]["score"].to_numpy() / at[1.0]["score"].max(), similarity, 5, 1.0)
    assert [v for _, v in full] == at[1.0]["mmr_score"].tolist()


def test_ranking_partitions_one_per_block_at_most_two_per_core():
    # al_code 0: TARGETS_PER_CALL + 1 targets -> 2 blocks; al_code 1: 1 target -> 1 block; 3 blocks in all
    found = [Target(0, (i,)) for i in range(TARGETS_PER_CALL + 1)] + [Target(1, (0,))]
    assert ranking_partitions(found, parallelism=8) == 3  # min(3 blocks, 2 * 8)
    assert ranking_partitions(found, parallelism=1) == 2  # min(3, 2 * 1)
    assert ranking_partitions([], parallelism=4) == 1


def test_the_ranking_runs_in_its_own_partitions_with_the_model_s_lists(spark):
    # 2 x 1 x 2 codes; each al_code has its targets in one block -> 2 blocks, 2 partitions
    codes = Codes(("18-25", "26-35"), ("Beginner",), ("running", "yoga"))
    found = [Target(0, (0,)), Target(0, (0, 1)), Target(1, (1,))]
    e = engagement({(0, (0,), 0): 2.0, (0, (0, 1), 1): 1.0, (1, (1,), 2): 3.0}, n_workouts=3)
    catalog = catalog_of(3, types=[0, 1, 1])
    lists = recommend_profiles(spark, codes, found, e, catalog, WEIGHTS)
    plan = lists._jdf.queryExecution().executedPlan().toString()
    # an explicit repartition (REPARTITION_BY_NUM), which adaptive execution does not coalesce into one
    assert "hashpartitioning(al_code" in plan and ", 2), REPARTITION_BY_NUM" in plan, plan
    got = lists.toPandas()
    expected = []
    for al in (0, 1):
        of_al = [t for t in found if t.al_code == al]
        ranked = rank_profiles(e, catalog, al, [t.types for t in of_al], WEIGHTS)
        expected += [(profile_key(codes, of_al[i]), w, score)
                     for i, w, score in zip(ranked["target"], ranked["workout_id"], ranked["score"], strict=True)]
    # the job's lists are sorted by profile_key, then rank (the model's order within a target)
    expected.sort(key=lambda row: row[0])
    assert list(zip(got["profile_key"], got["workout_id"], got["score"], strict=True)) == expected
