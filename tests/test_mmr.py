"""SPEC §5 without Spark: TF-IDF tag vectors, the pool, relevance and the greedy MMR."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from coldstart.mmr import mmr_select, relevance, rerank_segment, top_pool
from coldstart.tags import fit_tag_vectors, tag_vectors


def frame(rows: list[tuple[int, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["workout_id", "score"])


def test_tfidf_uses_whole_tags_smooth_idf_and_l2_norm():
    vectors = fit_tag_vectors([1, 2, 3], [["low impact", "core"], ["low impact"], ["hiit"]])
    # n = 3 documents; idf(t) = ln((1 + n) / (1 + df)) + 1 (smooth_idf)
    idf_low_impact = math.log(4 / 3) + 1  # df = 2
    idf_core = math.log(4 / 2) + 1  # df = 1
    norm = math.hypot(idf_low_impact, idf_core)
    # doc 1 = (low impact, core) / norm, doc 2 = (low impact) / itself: cosine = idf_low_impact / norm
    cos = vectors.cosine([1, 2, 3])
    assert cos[0, 1] == pytest.approx(idf_low_impact / norm, abs=1e-12)
    assert cos[0, 2] == 0.0 and cos[1, 2] == 0.0
    assert cos[0, 0] == pytest.approx(1.0)
    # "low impact" is one term, not two words
    assert vectors.matrix.shape[1] == 3


def _same_bits(ours, theirs) -> bool:
    return (ours.shape == theirs.shape and np.array_equal(ours.indptr, theirs.indptr)
            and np.array_equal(ours.indices, theirs.indices) and np.array_equal(ours.data, theirs.data))


def test_workout_without_tags_is_similar_to_nothing():
    vectors = fit_tag_vectors([1, 2], [["yoga"], []])
    cos = vectors.cosine([1, 2])
    assert cos[0, 1] == 0.0 and cos[1, 1] == 0.0


def test_tag_vectors_take_the_documents_in_workout_id_order():
    """`tags.tag_vectors` fits the documents sorted by workout_id, whatever order the rows come in:
    the order decides each row's storage order, and so the bits of its norm."""
    rows = [(30, ["z"]), (10, ["m", "a"]), (20, None), (5, ["a", "z"])]  # 20: no tags (null)
    # by id: 5 [a, z], 10 [m, a], 20 [], 30 [z]
    expected = fit_tag_vectors([5, 10, 20, 30], [["a", "z"], ["m", "a"], [], ["z"]])
    got = tag_vectors(pd.DataFrame({"workout_id": [r[0] for r in rows], "tags": [r[1] for r in rows]}))
    assert got.workout_ids.tolist() == [5, 10, 20, 30]
    assert _same_bits(got.matrix, expected.matrix)
    # in input order instead, workout 10's row would store its entries m, a, not a, m
    assert not _same_bits(fit_tag_vectors([30, 10, 20, 5], [r[1] or [] for r in rows]).matrix[[3, 1, 2, 0]],
                          expected.matrix)


def test_catalog_without_any_tag_gives_zero_similarities():
    vectors = fit_tag_vectors([1, 2], [[], []])
    assert np.array_equal(vectors.cosine([1, 2]), np.zeros((2, 2)))


def test_pool_keeps_top_n_by_score_ties_lower_id_first():
    pool = top_pool(frame([(7, 0.5), (3, 0.9), (5, 0.5), (1, 0.1)]), 3)
    assert pool["workout_id"].tolist() == [3, 5, 7]


def test_relevance_is_score_over_pool_max_and_zero_when_max_is_zero():
    assert relevance(np.array([0.8, 0.4, 0.2])).tolist() == [1.0, 0.5, 0.25]
    assert relevance(np.array([0.0, 0.0])).tolist() == [0.0, 0.0]


def test_mmr_order_differs_from_score_order():
    # A (id 1, score 1.0, [strength]), B (id 2, 0.9, [strength]), C (id 3, 0.5, [mobility])
    vectors = fit_tag_vectors([1, 2, 3], [["strength"], ["strength"], ["mobility"]])
    ranked = rerank_segment(frame([(1, 1.0), (2, 0.9), (3, 0.5)]), vectors, pool_size=20, k=3, lam=0.5)
    # rel = 1.0, 0.9, 0.5; cos(A,B) = 1, cos(A,C) = cos(B,C) = 0
    # step 1: mmr = 0.5*rel: A 0.5, B 0.45, C 0.25           -> A (0.5)
    # step 2: B 0.45 - 0.5*1 = -0.05, C 0.25 - 0.5*0 = 0.25   -> C (0.25)
    # step 3: B -0.05                                          -> B (-0.05)
    assert ranked["workout_id"].tolist() == [1, 3, 2]
    assert ranked["rank"].tolist() == [1, 2, 3]
    assert ranked["mmr_score"].tolist() == pytest.approx([0.5, 0.25, -0.05], abs=1e-12)


def test_mmr_tie_goes_to_higher_score():
    # rel = 1, 0.75, 0.5; after A: B = 0.5*0.75 - 0.5*0.25 = 0.25, C = 0.5*0.5 - 0 = 0.25 (exact tie)
    similarity = np.array([[1.0, 0.25, 0.0], [0.25, 1.0, 0.0], [0.0, 0.0, 1.0]])
    picks = mmr_select(np.array([1.0, 0.75, 0.5]), similarity, k=3, lam=0.5)
    assert [p for p, _ in picks] == [0, 1, 2]
    assert picks[1][1] == 0.25


def test_all_candidates_tied_are_ranked_by_lower_workout_id():
    vectors = fit_tag_vectors([3, 5, 9], [[], [], []])
    ranked = rerank_segment(frame([(9, 0.4), (3, 0.4), (5, 0.4)]), vectors, pool_size=20, k=5, lam=0.5)
    # every mmr = 0.5 * 1.0 - 0.5 * 0 = 0.5
    assert ranked["workout_id"].tolist() == [3, 5, 9]
    assert ranked["mmr_score"].tolist() == [0.5, 0.5, 0.5]


def test_fewer_candidates_than_k_gives_all_of_them():
    vectors = fit_tag_vectors([1, 2], [["a"], ["b"]])
    ranked = rerank_segment(frame([(1, 0.3), (2, 0.6)]), vectors, pool_size=20, k=5, lam=0.5)
    assert ranked["workout_id"].tolist() == [2, 1]


def test_only_the_pool_is_reranked():
    # pool_size = 2: workout 3 (lowest score) can never be picked, however diverse
    vectors = fit_tag_vectors([1, 2, 3], [["a"], ["a"], ["b"]])
    ranked = rerank_segment(frame([(1, 0.9), (2, 0.8), (3, 0.1)]), vectors, pool_size=2, k=3, lam=0.5)
    assert ranked["workout_id"].tolist() == [1, 2]


def test_lambda_one_is_plain_score_order():
    vectors = fit_tag_vectors([1, 2, 3], [["a"], ["a"], ["b"]])
    ranked = rerank_segment(frame([(1, 1.0), (2, 0.9), (3, 0.5)]), vectors, pool_size=20, k=3, lam=1.0)
    assert ranked["workout_id"].tolist() == [1, 2, 3]
    # mmr = rel when lambda = 1: 1.0, 0.9, 0.5
    assert ranked["mmr_score"].tolist() == pytest.approx([1.0, 0.9, 0.5])


def test_all_scores_zero_gives_zero_relevance_and_id_order():
    vectors = fit_tag_vectors([1, 2], [["a"], ["b"]])
    ranked = rerank_segment(frame([(2, 0.0), (1, 0.0)]), vectors, pool_size=20, k=5, lam=0.5)
    assert ranked["workout_id"].tolist() == [1, 2]
    assert ranked["mmr_score"].tolist() == [0.0, 0.0]


def test_rerank_keeps_segments_of_one_type_apart(spark):
    """`rerank` groups its pandas UDF by type: two yoga segments with opposite scores each get their own order."""
    from pyspark.sql import functions as F

    from coldstart.config import Mmr
    from coldstart.rerank import RECOMMENDATION_COLUMNS, rerank

    # w1 [a], w2 [a], w3 [b]: cos(w1, w2) = 1, every other pair 0
    vectors = fit_tag_vectors([1, 2, 3, 4], [["a"], ["a"], ["b"], []])
    rows = [("A|L|yoga", 1, 1.0), ("A|L|yoga", 2, 0.9), ("A|L|yoga", 3, 0.5),
            ("B|L|yoga", 1, 0.5), ("B|L|yoga", 2, 0.9), ("B|L|yoga", 3, 1.0),
            ("A|L|run", 4, 0.7)]
    df = spark.createDataFrame(rows, "segment_key string, workout_id long, score double")
    df = df.select("*", *(F.split("segment_key", r"\|")[i].alias(c)
                          for i, c in enumerate(("age_group", "fitness_level", "workout_type"))),
                   *(F.lit(0.0).alias(c) for c in ("raw_score", "p_completion", "p_like", "views_norm",
                                                   "type_views_norm", "days_old")),
                   *(F.lit(0).cast("long").alias(c) for c in ("views", "completions", "feedbacks", "likes")))
    got = rerank(df, vectors, Mmr(pool_size=20, k=2, lambda_=0.5)).toPandas()
    assert list(got.columns) == list(RECOMMENDATION_COLUMNS)
    ranked = {key: list(zip(g.sort_values("rank")["workout_id"], g.sort_values("rank")["mmr_score"], strict=True))
              for key, g in got.groupby("segment_key")}
    # A: rel 1, 0.9, 0.5 -> w1 (0.5); then w2 0.45 - 0.5*1 = -0.05, w3 0.25 - 0 = 0.25 -> w3
    # B: rel 0.5, 0.9, 1 -> w3 (0.5); then w2 0.45 - 0 = 0.45, w1 0.25 - 0 = 0.25 -> w2
    # run: one candidate, rel 1 -> w4 (0.5)
    assert ranked == {"A|L|yoga": [(1, 0.5), (3, 0.25)], "B|L|yoga": [(3, 0.5), (2, 0.45)],
                      "A|L|run": [(4, 0.5)]}
