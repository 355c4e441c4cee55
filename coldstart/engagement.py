"""SPEC §3: counts per (segment, workout) and per workout, smoothing, normalised views, raw_score.

A session counts for at most one segment: its user's age group and level (`al_code`)
with the workout's type, when the user prefers that type (`in_segment`, computed by
validation). So one aggregation per event table, grouped by (workout, al_code), yields
both the segment counts and, summed over al_codes, the workout's global counts: no
explode of users.
"""
from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from coldstart.config import Scoring, Smoothing

COUNT_KEYS = ("workout_id", "al_code")


def _event_counts(df: DataFrame, positive: str, keys: tuple[str, ...], names: dict[str, str],
                  latest: str | None = None) -> DataFrame:
    """Per key: events and positives in the segment (`in_segment`), all events and positives, latest time."""
    in_segment = F.col("in_segment")
    is_positive = F.col(positive) == 1
    aggregates = [
        F.count(F.when(in_segment, 1)).alias(names["segment_events"]),
        F.count(F.when(in_segment & is_positive, 1)).alias(names["segment_positives"]),
        F.count("*").alias(names["events"]),
        F.count(F.when(is_positive, 1)).alias(names["positives"]),
    ]
    if latest is not None:
        aggregates.append(F.max(latest).alias("part_last_played"))
    return df.groupBy(*keys).agg(*aggregates)


def session_counts(sessions_df: DataFrame, keys: tuple[str, ...] = COUNT_KEYS) -> DataFrame:
    """(workout, segment code) -> v, c (segment), and that slice's share of V, C and last_played."""
    names = {"segment_events": "views", "segment_positives": "completions",
             "events": "part_views", "positives": "part_completions"}
    return _event_counts(sessions_df, "completed", keys, names, latest="timestamp")


def feedback_counts(feedback_df: DataFrame, keys: tuple[str, ...] = COUNT_KEYS) -> DataFrame:
    """(workout, segment code) -> n, s (segment), and that slice's share of N, S."""
    names = {"segment_events": "feedbacks", "segment_positives": "likes",
             "events": "part_feedbacks", "positives": "part_likes"}
    return _event_counts(feedback_df, "liked", keys, names)


def workout_counts(session_counts_df: DataFrame, feedback_counts_df: DataFrame) -> DataFrame:
    """workout_id -> global V, C, N, S and last_played, summed from the per-slice counts."""
    sessions = session_counts_df.groupBy("workout_id").agg(
        F.sum("part_views").alias("global_views"),
        F.sum("part_completions").alias("global_completions"),
        F.max("part_last_played").alias("last_played"),
    )
    feedback = feedback_counts_df.groupBy("workout_id").agg(
        F.sum("part_feedbacks").alias("global_feedbacks"),
        F.sum("part_likes").alias("global_likes"),
    )
    return sessions.join(feedback, on="workout_id", how="full")


COUNT_COLUMNS = ("views", "completions", "feedbacks", "likes",
                 "global_views", "global_completions", "global_feedbacks", "global_likes")


def join_counts(candidates_df: DataFrame, session_counts_df: DataFrame, feedback_counts_df: DataFrame) -> DataFrame:
    """Every candidate with its eight counts (0 where nothing happened) and last_played."""
    seg_sessions = session_counts_df.select(*COUNT_KEYS, "views", "completions")
    seg_feedback = feedback_counts_df.select(*COUNT_KEYS, "feedbacks", "likes")
    globals_df = workout_counts(session_counts_df, feedback_counts_df)
    joined = (
        candidates_df.join(seg_sessions, on=list(COUNT_KEYS), how="left")
        .join(seg_feedback, on=list(COUNT_KEYS), how="left")
        .join(globals_df, on="workout_id", how="left")
    )
    return joined.select(
        *candidates_df.columns,
        *(F.coalesce(F.col(c), F.lit(0)).cast("long").alias(c) for c in COUNT_COLUMNS),
        "last_played",
    )


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
