"""SPEC §6: instructors whose workouts are abandoned or disliked, one row per (instructor, reason)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from coldstart.config import Flags, Smoothing

FLAG_COLUMNS = (
    "instructor_id", "instructor", "reason", "sessions", "completions", "feedbacks", "likes",
    "abandonment_rate", "dislike_rate", "as_of",
)


def instructor_counts(workout_counts_df: DataFrame, catalog_df: DataFrame) -> DataFrame:
    """instructor_id -> V, C, N, S over all users, from the per-workout global counts."""
    instructors = catalog_df.select("workout_id", "instructor_id", "instructor")
    return (
        instructors.join(workout_counts_df, on="workout_id", how="left")
        .groupBy("instructor_id")
        .agg(
            # an instructor id with several spellings of the name: the first by sort order
            F.min("instructor").alias("instructor"),
            F.coalesce(F.sum("global_views"), F.lit(0)).cast("long").alias("sessions"),
            F.coalesce(F.sum("global_completions"), F.lit(0)).cast("long").alias("completions"),
            F.coalesce(F.sum("global_feedbacks"), F.lit(0)).cast("long").alias("feedbacks"),
            F.coalesce(F.sum("global_likes"), F.lit(0)).cast("long").alias("likes"),
        )
    )


def with_rates(df: DataFrame, prior: Smoothing) -> DataFrame:
    a0, m = F.lit(prior.alpha0), F.lit(prior.m)
    return df.withColumns({
        "abandonment_rate": F.lit(1.0) - (F.col("completions") + a0) / (F.col("sessions") + m),
        "dislike_rate": F.lit(1.0) - (F.col("likes") + a0) / (F.col("feedbacks") + m),
    })


def flag_instructors(instructor_counts_df: DataFrame, prior: Smoothing, flags: Flags, as_of: str | None) -> DataFrame:
    """Rows for `high_abandonment` and `high_dislike`, sorted by instructor_id, reason."""
    rated = instructor_counts_df.transform(with_rates, prior)
    high_abandonment = (F.col("sessions") >= flags.min_sessions) & (F.col("abandonment_rate") > flags.max_abandonment)
    high_dislike = (F.col("feedbacks") >= flags.min_feedback) & (F.col("dislike_rate") > flags.max_dislike)
    reasons = F.filter(
        F.array(F.when(high_abandonment, F.lit("high_abandonment")), F.when(high_dislike, F.lit("high_dislike"))),
        lambda r: r.isNotNull(),
    )
    return (
        rated.withColumn("reason", F.explode(reasons))
        .withColumn("as_of", F.lit(as_of).cast("string"))
        .select(*FLAG_COLUMNS)
        .repartition(1)  # two rows per instructor at most: one sorted partition, no sampling for range bounds
        .sortWithinPartitions("instructor_id", "reason")
    )


FLAG_TABLE_HEADER = ("instructor_id", "instructor", "reason", "sessions", "abandonment", "feedbacks", "dislike")


def flags_table(flags: Sequence[Mapping[str, Any]], max_rows: int) -> str:
    """The flags (rows in the order of `flag_instructors`) as a short fixed-width table for the log."""
    rows = [
        (str(r["instructor_id"]), r["instructor"] or "", r["reason"], str(r["sessions"]),
         f"{r['abandonment_rate']:.3f}", str(r["feedbacks"]), f"{r['dislike_rate']:.3f}")
        for r in flags[:max_rows]
    ]
    if not rows:
        return "no instructor flagged"
    table = [FLAG_TABLE_HEADER, *rows]
    widths = [max(len(cell) for cell in column) for column in zip(*table, strict=True)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip() for line in table]
    if len(flags) > len(rows):
        lines.append(f"... and {len(flags) - len(rows)} more (instructor_flags.csv / the flags table)")
    return "\n".join(lines)
