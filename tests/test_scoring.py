"""SPEC §3-4 on tiny frames: counts, both priors, normalised views, raw_score, days_old, score."""
from __future__ import annotations

import math
from datetime import datetime

import pandas as pd
import pytest
from chispa import assert_approx_df_equality, assert_df_equality

from coldstart.codes import Codes
from coldstart.config import Config, Freshness, Scoring, Smoothing
from coldstart.counting import COUNT_KEYS, SESSION_COUNTS, event_counts
from coldstart.engagement import (
    CANDIDATE_SCHEMA,
    join_counts,
    to_spark,
    with_raw_score,
    with_smoothed_rates,
    with_views_norm,
    workout_counts,
)
from coldstart.freshness import parse_as_of, with_days_old, with_score
from coldstart.segments import candidates

SESSION_COLS = ["user_id", "workout_id", "completed", "timestamp", "al_code", "in_segment"]


@pytest.fixture()
def sessions_df(spark):
    t = datetime(2025, 3, 1)
    rows = [
        # u1 (al_code 0 = 18-25 Beginner) prefers yoga: all three sessions count for 18-25|Beginner|yoga
        (1, 1, 1, t, 0, True),
        (1, 1, 0, datetime(2025, 3, 2), 0, True),
        (1, 2, 1, t, 0, True),
        # u2 (al_code 1 = 26-35 Beginner) prefers running only: the yoga session counts for w1 globally
        (2, 1, 1, datetime(2025, 3, 3), 1, False),
        (2, 3, 0, t, 1, True),
    ]
    return spark.createDataFrame(rows, SESSION_COLS)


def test_session_counts_split_segment_and_global(spark, sessions_df):
    actual = event_counts(sessions_df, "completed", COUNT_KEYS, SESSION_COUNTS).select(
        "workout_id", "al_code", "views", "completions", "part_views", "part_completions")
    expected = spark.createDataFrame(
        [
            (1, 0, 2, 1, 2, 1),
            (2, 0, 1, 1, 1, 1),
            (1, 1, 0, 0, 1, 1),  # not a runner's segment, but a view of w1
            (3, 1, 1, 0, 1, 0),
        ],
        actual.columns,
    )
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def counts(rows, columns):
    """Per-(workout, segment code) counts as collected on the driver (nullable integers)."""
    return pd.DataFrame(rows, columns=columns).astype({c: "Int32" if c == "al_code" else "Int64" for c in columns})


SESSION_COUNT_COLS = ["workout_id", "al_code", "views", "completions", "part_views", "part_completions",
                      "last_micros"]
FEEDBACK_COUNT_COLS = ["workout_id", "al_code", "feedbacks", "likes", "part_feedbacks", "part_likes"]
MAR_1, MAR_3 = parse_as_of("2025-03-01"), parse_as_of("2025-03-03")


@pytest.fixture()
def slices():
    """The counts of `sessions_df` (checked above), and feedback on w1 (two users) and w5 (not played)."""
    sessions = counts([(1, 0, 2, 1, 2, 1, parse_as_of("2025-03-02")), (2, 0, 1, 1, 1, 1, MAR_1),
                       (1, 1, 0, 0, 1, 1, MAR_3), (3, 1, 1, 0, 1, 0, MAR_1)], SESSION_COUNT_COLS)
    feedback = counts([(1, 0, 2, 1, 2, 1), (1, 1, 0, 0, 3, 3), (5, 1, 1, 0, 1, 0)], FEEDBACK_COUNT_COLS)
    return sessions, feedback


def test_workout_counts_sum_over_all_users_and_keep_last_played(slices):
    actual = workout_counts(*slices).sort_values("workout_id", ignore_index=True)
    # w1: V = 2 + 1 = 3, C = 1 + 1 = 2, N = 2 + 3 = 5, S = 1 + 3 = 4, latest of 03-02 and 03-03;
    # w5: feedback only, so no sessions (null, the join fills 0) and never played
    expected = pd.DataFrame({
        "workout_id": [1, 2, 3, 5], "global_views": [3, 1, 1, None], "global_completions": [2, 1, 0, None],
        "global_feedbacks": [5, None, None, 1], "global_likes": [4, None, None, 0],
        "last_micros": [MAR_3, MAR_1, MAR_1, None]}).astype("Int64")
    pd.testing.assert_frame_equal(actual, expected)


def test_candidates_are_age_groups_times_levels_times_catalog():
    catalog = pd.DataFrame({"workout_id": [1, 2, 3], "workout_type": ["yoga", "yoga", "running"]})
    codes = Codes(("18-25", "26-35"), ("Advanced", "Beginner"), ("running", "yoga"))
    result = candidates(codes, catalog)
    # 2 age groups x 2 levels (combinations need not be seen together) x 3 workouts
    assert len(result) == 12
    assert result["segment_key"].nunique() == 2 * 2 * 2
    rows = result[result["segment_key"] == "26-35|Beginner|yoga"].sort_values("workout_id")
    # al_code = age index * levels + level index = 1 * 2 + 1
    assert list(zip(rows["workout_id"], rows["al_code"], strict=True)) == [(1, 3), (2, 3)]
    assert list(result.columns) == ["segment_key", "age_group", "fitness_level", "workout_type", "al_code",
                                    "workout_id"]
    assert candidates(Codes((), ("Beginner",), ("yoga",)), catalog).empty


def test_age_level_pairs_are_numbered_as_al_code_numbers_them():
    codes = Codes(("18-25", "26-35", "36-45"), ("Advanced", "Beginner"), ("yoga",))
    # al_code = age index * 2 levels + level index: 0..5
    assert codes.age_level_pairs() == [
        (0, "18-25", "Advanced"), (1, "18-25", "Beginner"), (2, "26-35", "Advanced"),
        (3, "26-35", "Beginner"), (4, "36-45", "Advanced"), (5, "36-45", "Beginner")]
    # the same numbers as the users' `al_code`
    assert [codes.al_code_of(a, lv) for _, a, lv in codes.age_level_pairs()] == list(range(6))
    assert Codes((), ("Beginner",), ("yoga",)).age_level_pairs() == []


def test_type_sets_are_masks_up_to_63_types_then_sorted_indices():
    codes = Codes(("18-25",), ("Beginner",), ("running", "walking", "yoga"))
    # running = bit 0, yoga = bit 2: 1 + 4; an unknown type is left out; order and repeats do not matter
    assert codes.type_set_of(["yoga", "chess", "running", "yoga"]) == 5
    assert codes.type_names(5) == ["running", "yoga"]
    many = Codes(("18-25",), ("Beginner",), tuple(f"t{i:02d}" for i in range(70)))
    assert not many.uses_mask
    assert many.type_set_of(["t65", "t03", "nope"]) == [3, 65]
    assert many.type_names([3, 65]) == ["t03", "t65"]


BASE_COLS = ["segment_key", "workout_id", "views", "completions", "feedbacks", "likes",
             "global_views", "global_completions", "global_feedbacks", "global_likes"]


@pytest.fixture()
def base_df(spark):
    return spark.createDataFrame(
        [
            ("s1", 1, 2, 1, 4, 3, 3, 2, 10, 2),
            ("s1", 2, 1, 1, 0, 0, 1, 1, 0, 0),
            ("s2", 3, 0, 0, 0, 0, 0, 0, 0, 0),  # never played by anyone
        ],
        BASE_COLS,
    )


def test_beta_prior(spark, base_df):
    actual = with_smoothed_rates(base_df, Smoothing(prior="beta")).select(
        "workout_id", "p_completion", "p_like").orderBy("workout_id")
    expected = spark.createDataFrame(
        [
            (1, (1 + 2) / (2 + 4), (3 + 2) / (4 + 4)),  # 0.5, 0.625
            (2, (1 + 2) / (1 + 4), (0 + 2) / (0 + 4)),  # 0.6, 0.5
            (3, 2 / 4, 2 / 4),  # no data: the prior mean
        ],
        actual.columns,
    )
    assert_approx_df_equality(actual, expected, 1e-12, ignore_nullable=True)


def test_hierarchical_prior(spark, base_df):
    actual = with_smoothed_rates(base_df, Smoothing(prior="hierarchical")).select(
        "workout_id", "p_completion", "p_like").orderBy("workout_id")
    # w1: mu_c = (2+2)/(3+4) = 4/7, p_c = (1 + 4*4/7)/(2+4) = 23/42
    #     mu_l = (2+2)/(10+4) = 2/7, p_l = (3 + 4*2/7)/(4+4) = 29/56
    # w2: mu_c = (1+2)/(1+4) = 3/5, p_c = (1 + 4*3/5)/(1+4) = 17/25; mu_l = 1/2, p_l = (0 + 2)/4 = 1/2
    # w3: everything 0 -> mu = 1/2 -> p = (0 + 2)/4 = 1/2
    expected = spark.createDataFrame(
        [(1, 23 / 42, 29 / 56), (2, 17 / 25, 0.5), (3, 0.5, 0.5)], actual.columns)
    assert_approx_df_equality(actual, expected, 1e-12, ignore_nullable=True)


def test_views_norm_and_type_views_norm(spark, base_df):
    actual = with_views_norm(base_df).select("workout_id", "views_norm", "type_views_norm").orderBy("workout_id")
    # s1: v = 2, 1 -> 1, 1/2; V = 3, 1 -> 1, 1/3. s2: max is 0 -> 0
    expected = spark.createDataFrame([(1, 1.0, 1.0), (2, 0.5, 1 / 3), (3, 0.0, 0.0)], actual.columns)
    assert_approx_df_equality(actual, expected, 1e-12, ignore_nullable=True)


def test_raw_score_weights_every_term(spark):
    df = spark.createDataFrame([(0.5, 0.625, 1.0, 0.25)], ["p_completion", "p_like", "views_norm", "type_views_norm"])
    actual = with_raw_score(df, Scoring(alpha=0.5, beta=0.4, gamma=0.1, delta=0.2)).first()["raw_score"]
    assert actual == pytest.approx(0.5 * 0.5 + 0.4 * 0.625 + 0.1 * 1.0 + 0.2 * 0.25, abs=1e-15)  # 0.65


def test_days_old_and_decayed_score(spark):
    as_of = parse_as_of("2025-03-10T00:00:00")
    df = spark.createDataFrame(
        [
            (1, datetime(2025, 3, 8, 12, 0, 0), 0.8),  # 1.5 days before as_of
            (2, None, 0.8),  # never played: unplayed_days
            (3, datetime(2025, 3, 10, 6, 0, 0), 0.8),  # after as_of: clamped to 0
        ],
        "workout_id long, last_played timestamp, raw_score double",
    )
    fresh = Freshness(lambda_=0.01, unplayed_days=365.0)
    actual = df.transform(with_days_old, as_of, fresh).transform(with_score, fresh).select(
        "workout_id", "days_old", "score")
    expected = spark.createDataFrame(
        [(1, 1.5, 0.8 * math.exp(-0.015)), (2, 365.0, 0.8 * math.exp(-3.65)), (3, 0.0, 0.8)], actual.columns)
    assert_approx_df_equality(actual, expected, 1e-12, ignore_nullable=True)


def test_days_old_keeps_microseconds(spark):
    as_of = parse_as_of("2025-03-05T06:32:41.016619")
    df = spark.createDataFrame([(datetime(2025, 3, 4, 6, 32, 41),)], "last_played timestamp")
    days = df.transform(with_days_old, as_of, Freshness()).first()["days_old"]
    assert days == pytest.approx((86400 + 0.016619) / 86400, abs=1e-15)


def test_join_counts_fills_missing_counts_with_zero(spark, slices):
    codes = Codes(("18-25", "26-35"), ("Beginner",), ("running", "yoga"))
    catalog = pd.DataFrame({"workout_id": [1, 2, 3, 4], "workout_type": ["yoga", "yoga", "running", "running"]})
    joined = join_counts(candidates(codes, catalog), *slices).set_index(["segment_key", "workout_id"])
    count_columns = ["views", "completions", "feedbacks", "likes", "global_views", "global_completions",
                     "global_feedbacks", "global_likes"]
    # w4 was never played nor rated: zeros, and no last_played
    row = joined.loc[("18-25|Beginner|running", 4)]
    assert list(row[count_columns]) == [0] * 8 and row["last_micros"] is pd.NA
    # w1 in al_code 1 (26-35 Beginner): nothing in the segment (u2 does not prefer yoga: its session and
    # its 3 liked feedback rows count only globally), and the global counts of w1 (above)
    row = joined.loc[("26-35|Beginner|yoga", 1)]
    assert list(row[count_columns]) == [0, 0, 0, 0, 3, 2, 5, 4] and row["last_micros"] == MAR_3
    # 2 age-level codes x 4 workouts, each once
    assert len(joined) == 8 and joined.index.is_unique
    # to Spark with the declared schema, last_micros as the timestamp last_played
    df = to_spark(spark, join_counts(candidates(codes, catalog), *slices), CANDIDATE_SCHEMA)
    assert df.columns == [*CANDIDATE_SCHEMA.fieldNames()[:-1], "last_played"]
    last = {r["workout_id"]: r["last_played"] for r in df.filter("al_code = 1").collect()}
    assert last == {1: datetime(2025, 3, 3), 2: datetime(2025, 3, 1), 3: datetime(2025, 3, 1), 4: None}


def test_config_overrides_are_typed():
    cfg = Config().with_overrides({"mmr.k": "10", "smoothing.prior": "hierarchical", "freshness.lambda": "0"})
    assert cfg.mmr.k == 10 and cfg.smoothing.prior == "hierarchical" and cfg.freshness.lambda_ == 0.0
