"""SPEC §6 instructor flags: hand-computed cases, thresholds at their edges, generated data.

Prior Beta(2, 2) throughout unless said: alpha0 = 2, m = 4, so
abandonment_rate = 1 - (C + 2) / (V + 4) and dislike_rate = 1 - (S + 2) / (N + 4).
"""
from __future__ import annotations

from pathlib import Path

import pytest
from chispa import assert_approx_df_equality, assert_df_equality
from pyspark.sql import DataFrame, SparkSession

from coldstart import pipeline, synthetic
from coldstart.config import Flags, Smoothing, load_config
from coldstart.flags import FLAG_COLUMNS, flag_instructors, flags_table, instructor_counts, with_rates
from coldstart.sources import read_inputs

PRIOR = Smoothing()
DEFAULTS = Flags()  # min_sessions 50, max_abandonment 0.6, min_feedback 20, max_dislike 0.6
AS_OF = "2025-03-05T06:32:41.016619"
PRECISION = 1e-12
COUNTS_SCHEMA = ("instructor_id long, instructor string, sessions long, completions long, "
                 "feedbacks long, likes long")
FLAGS_SCHEMA = (f"{COUNTS_SCHEMA}, reason string, abandonment_rate double, dislike_rate double, as_of string")
# generated data: enough users that every instructor has V >= 50 and N >= 20 (the defaults)
GENERATED_USERS = 600
GENERATED_SEED = 7


def counts(spark: SparkSession, rows: list[tuple]) -> DataFrame:
    return spark.createDataFrame(rows, COUNTS_SCHEMA)


def expected_flags(spark: SparkSession, rows: list[tuple]) -> DataFrame:
    """Rows as (id, name, V, C, N, S, reason, abandonment, dislike), as_of added; FLAG_COLUMNS order."""
    return spark.createDataFrame([(*r, AS_OF) for r in rows], FLAGS_SCHEMA).select(*FLAG_COLUMNS)


def flagged(spark: SparkSession, rows: list[tuple], flags: Flags = DEFAULTS, prior: Smoothing = PRIOR) -> DataFrame:
    return flag_instructors(counts(spark, rows), prior, flags, AS_OF)


def test_rates_are_smoothed_with_the_prior(spark: SparkSession) -> None:
    df = counts(spark, [(1, "Ann", 10, 4, 6, 1), (2, "Bob", 0, 0, 0, 0)])
    rates = [(r["abandonment_rate"], r["dislike_rate"]) for r in df.transform(with_rates, PRIOR).collect()]
    # 1 - 6/14, 1 - 3/10 ; no data: 1 - 2/4 both (the prior mean)
    assert rates == [pytest.approx((8 / 14, 7 / 10)), pytest.approx((0.5, 0.5))]
    flat = Smoothing(alpha0=1.0, beta0=1.0)  # m = 2: 1 - 5/12, 1 - 2/8
    assert df.transform(with_rates, flat).first()["abandonment_rate"] == pytest.approx(7 / 12)
    assert df.transform(with_rates, flat).first()["dislike_rate"] == pytest.approx(6 / 8)


def test_high_abandonment_hand_computed(spark: SparkSession) -> None:
    # V = 50 = min_sessions (inclusive); 1 - (17 + 2)/(50 + 4) = 35/54 = 0.648 > 0.6.
    # dislike 1 - 2/4 = 0.5, and N = 0 < 20 anyway
    actual = flagged(spark, [(1, "Ann", 50, 17, 0, 0)])
    expected = expected_flags(spark, [(1, "Ann", 50, 17, 0, 0, "high_abandonment", 35 / 54, 0.5)])
    assert_approx_df_equality(actual, expected, PRECISION, ignore_nullable=True)


def test_high_dislike_hand_computed(spark: SparkSession) -> None:
    # N = 20 = min_feedback (inclusive); 1 - (4 + 2)/(20 + 4) = 0.75 > 0.6.
    # abandonment 1 - 2/14 = 0.857 but V = 10 < 50
    actual = flagged(spark, [(4, "Dan", 10, 0, 20, 4)])
    expected = expected_flags(spark, [(4, "Dan", 10, 0, 20, 4, "high_dislike", 12 / 14, 0.75)])
    assert_approx_df_equality(actual, expected, PRECISION, ignore_nullable=True)


def test_both_reasons_give_two_rows_in_numeric_instructor_order(spark: SparkSession) -> None:
    # 10: 1 - 12/104 = 0.885, 1 - 4/34 = 0.882 ; 9: 1 - 23/60 = 0.617, 1 - 11/30 = 0.633 (just above)
    actual = flagged(spark, [(10, "Eve", 100, 10, 30, 2), (9, "Gus", 56, 21, 26, 9)])
    expected = expected_flags(spark, [
        (9, "Gus", 56, 21, 26, 9, "high_abandonment", 1 - 23 / 60, 1 - 11 / 30),
        (9, "Gus", 56, 21, 26, 9, "high_dislike", 1 - 23 / 60, 1 - 11 / 30),
        (10, "Eve", 100, 10, 30, 2, "high_abandonment", 1 - 12 / 104, 1 - 4 / 34),
        (10, "Eve", 100, 10, 30, 2, "high_dislike", 1 - 12 / 104, 1 - 4 / 34),
    ])
    assert_approx_df_equality(actual, expected, PRECISION, ignore_nullable=True)


@pytest.mark.parametrize(("row", "why"), [
    ((2, "Bob", 49, 0, 0, 0), "V = 49, one below min_sessions (rate 1 - 2/53 = 0.96)"),
    ((3, "Cat", 0, 0, 19, 0), "N = 19, one below min_feedback (rate 1 - 2/23 = 0.91)"),
    ((5, "Fay", 56, 22, 0, 0), "abandonment exactly 0.6 = 1 - 24/60: not above the limit"),
    ((6, "Hal", 0, 0, 26, 10), "dislike exactly 0.6 = 1 - 12/30: not above the limit"),
    ((7, "Ivy", 0, 0, 0, 0), "no sessions, no feedback"),
])
def test_not_flagged_at_the_edges(spark: SparkSession, row: tuple, why: str) -> None:
    assert flagged(spark, [row]).count() == 0, why


def test_thresholds_come_from_the_config(spark: SparkSession) -> None:
    rows = [(1, "Ann", 50, 17, 0, 0), (10, "Eve", 100, 10, 30, 2)]
    stricter = Flags(min_sessions=51, max_abandonment=0.6, min_feedback=31, max_dislike=0.6)
    assert [(r["instructor_id"], r["reason"]) for r in flagged(spark, rows, stricter).collect()] == [
        (10, "high_abandonment")]  # Ann's V = 50 < 51; Eve's N = 30 < 31
    higher = Flags(min_sessions=50, max_abandonment=0.885, min_feedback=20, max_dislike=0.88)
    # Eve: abandonment 0.8846 <= 0.885, dislike 0.8824 > 0.88
    assert [(r["instructor_id"], r["reason"]) for r in flagged(spark, rows, higher).collect()] == [
        (10, "high_dislike")]


def test_instructor_counts_sum_their_workouts(spark: SparkSession) -> None:
    catalog = spark.createDataFrame(
        [(1, 10, "Ann Adams"), (2, 10, "Ann  Adams"), (3, 11, "Bob"), (5, 12, "Cy")],
        "workout_id long, instructor_id long, instructor string")
    workout_counts = spark.createDataFrame(
        # workout 2: feedback but no sessions (the full join of SPEC §3 counts leaves nulls)
        [(1, 5, 3, 2, 1), (2, None, None, 4, 4), (3, 7, 0, 0, 0)],
        "workout_id long, global_views long, global_completions long, global_feedbacks long, global_likes long")
    actual = instructor_counts(workout_counts, catalog).orderBy("instructor_id")
    expected = counts(spark, [
        (10, "Ann  Adams", 5, 3, 6, 5),  # workouts 1 + 2; the name first in sort order
        (11, "Bob", 7, 0, 0, 0),
        (12, "Cy", 0, 0, 0, 0),  # no sessions, no feedback: zeros, not nulls
    ])
    assert_df_equality(actual, expected, ignore_nullable=True)


def test_flags_table_is_short_and_readable(spark: SparkSession) -> None:
    df = flagged(spark, [(10, "Eve", 100, 10, 30, 2), (9, "Gus", 56, 21, 26, 9)])
    lines = flags_table(df.collect(), max_rows=3).splitlines()
    assert lines[0].split() == ["instructor_id", "instructor", "reason", "sessions", "abandonment",
                                "feedbacks", "dislike"]
    assert lines[1].split() == ["9", "Gus", "high_abandonment", "56", "0.617", "26", "0.633"]
    assert len(lines) == 5 and lines[-1].startswith("... and 1 more")
    assert flags_table([], max_rows=3) == "no instructor flagged"


@pytest.mark.slow
def test_generated_bad_instructors_and_only_those_are_flagged(spark: SparkSession, tmp_path: Path) -> None:
    info = synthetic.generate(str(tmp_path), users=GENERATED_USERS, seed=GENERATED_SEED, fmt="csv")
    flags_df = pipeline.run(read_inputs(spark, str(tmp_path)), load_config()).flags
    reasons = {(int(r["instructor_id"]), r["reason"]) for r in flags_df.collect()}
    bad = set(info["bad_instructor_ids"])
    assert {instructor for instructor, _ in reasons} == bad
    # the generator makes them worse at both: each is flagged for both reasons
    assert reasons == {(i, reason) for i in bad for reason in ("high_abandonment", "high_dislike")}
