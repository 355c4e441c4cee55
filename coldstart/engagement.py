"""SPEC §3: per-workout global counts, the candidate table, smoothing, normalised views, raw_score.

The counts themselves come from `coldstart.counting`, collected: keyed by (workout,
age-level code), bounded by the catalog and the categories. The candidate table is joined
from them on the driver and handed to Spark for the scoring columns.
"""
from __future__ import annotations

import pandas as pd
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from coldstart.config import Scoring, Smoothing
from coldstart.counting import COUNT_KEYS

GLOBAL_COUNTS = ("global_views", "global_completions", "global_feedbacks", "global_likes")
COUNT_COLUMNS = ("views", "completions", "feedbacks", "likes", *GLOBAL_COUNTS)


def workout_counts(session_counts_df: pd.DataFrame, feedback_counts_df: pd.DataFrame) -> pd.DataFrame:
    """workout_id -> global V, C, N, S and last_micros, summed from the per-slice counts.

    The slices are bounded by workouts x segment codes: this runs on the driver.
    """
    sessions = session_counts_df.groupby("workout_id", as_index=False).agg(
        global_views=("part_views", "sum"), global_completions=("part_completions", "sum"),
        last_micros=("last_micros", "max"))
    feedback = feedback_counts_df.groupby("workout_id", as_index=False).agg(
        global_feedbacks=("part_feedbacks", "sum"), global_likes=("part_likes", "sum"))
    return sessions.merge(feedback, on="workout_id", how="outer")[["workout_id", *GLOBAL_COUNTS, "last_micros"]]


def join_counts(candidates_df: pd.DataFrame, session_counts_df: pd.DataFrame,
                feedback_counts_df: pd.DataFrame) -> pd.DataFrame:
    """Every candidate with its eight counts (0 where nothing happened) and last_micros (null: never played)."""
    keys = list(COUNT_KEYS)
    joined = (
        candidates_df.merge(session_counts_df[[*keys, "views", "completions"]], on=keys, how="left")
        .merge(feedback_counts_df[[*keys, "feedbacks", "likes"]], on=keys, how="left")
        .merge(workout_counts(session_counts_df, feedback_counts_df), on="workout_id", how="left")
    )
    counts = {c: joined[c].fillna(0).astype("int64") for c in COUNT_COLUMNS}
    return joined[list(candidates_df.columns)].assign(**counts, last_micros=joined["last_micros"].astype("Int64"))


CANDIDATE_SCHEMA = T.StructType(
    [T.StructField(c, T.StringType()) for c in ("segment_key", "age_group", "fitness_level", "workout_type")]
    + [T.StructField("al_code", T.IntegerType()), T.StructField("workout_id", T.LongType())]
    + [T.StructField(c, T.LongType()) for c in COUNT_COLUMNS]
    + [T.StructField("last_micros", T.LongType())])
# a catalog workout and its latest session (null: never played), for the days_old of SPEC §10
WORKOUT_DAYS_SCHEMA = T.StructType([T.StructField(c, T.LongType()) for c in ("workout_id", "last_micros")])
WORKOUT_COUNTS_SCHEMA = T.StructType(
    [T.StructField("workout_id", T.LongType())]
    + [T.StructField(c, T.LongType()) for c in GLOBAL_COUNTS] + [T.StructField("last_micros", T.LongType())])


def to_spark(spark: SparkSession, frame: pd.DataFrame, schema: T.StructType) -> DataFrame:
    """A driver-side count table as a DataFrame (Arrow: no Python worker), `last_micros` as `last_played`."""
    return (spark.createDataFrame(frame[schema.fieldNames()], schema)
            .withColumn("last_played", F.timestamp_micros("last_micros")).drop("last_micros"))


def _smoothed(successes: str, trials: str, global_successes: str, global_trials: str, prior: Smoothing) -> Column:
    a0, m = F.lit(prior.alpha0), F.lit(prior.m)
    if prior.prior == "hierarchical":
        mu = (F.col(global_successes) + a0) / (F.col(global_trials) + m)
        return (F.col(successes) + m * mu) / (F.col(trials) + m)
    return (F.col(successes) + a0) / (F.col(trials) + m)


def with_smoothed_rates(df: DataFrame, prior: Smoothing) -> DataFrame:
    """p_completion and p_like under the configured prior (SPEC §3)."""
    return df.withColumns({
        "p_completion": _smoothed("completions", "views", "global_completions", "global_views", prior),
        "p_like": _smoothed("likes", "feedbacks", "global_likes", "global_feedbacks", prior),
    })


def _share_of_max(value: str, partition: str) -> Column:
    top = F.max(value).over(Window.partitionBy(partition))
    return F.when(top > 0, F.col(value) / top).otherwise(F.lit(0.0))


def with_views_norm(df: DataFrame) -> DataFrame:
    """views_norm (within the segment) and type_views_norm (global views within the type)."""
    return df.withColumns({
        "views_norm": _share_of_max("views", "segment_key"),
        # a segment's candidates are exactly the catalog workouts of its type
        "type_views_norm": _share_of_max("global_views", "segment_key"),
    })


def with_raw_score(df: DataFrame, weights: Scoring) -> DataFrame:
    return df.withColumn(
        "raw_score",
        F.lit(weights.alpha) * F.col("p_completion")
        + F.lit(weights.beta) * F.col("p_like")
        + F.lit(weights.gamma) * F.col("views_norm")
        + F.lit(weights.delta) * F.col("type_views_norm"),
    )
