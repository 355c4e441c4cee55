"""SPEC §2: the segment universe and who is in which segment."""
from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from coldstart.codes import Codes

SEGMENT_COLUMNS = ("age_group", "fitness_level", "workout_type")


def segment_key(age_group: Column | str, fitness_level: Column | str, workout_type: Column | str) -> Column:
    return F.concat_ws("|", F.col(age_group) if isinstance(age_group, str) else age_group,
                       F.col(fitness_level) if isinstance(fitness_level, str) else fitness_level,
                       F.col(workout_type) if isinstance(workout_type, str) else workout_type)


def candidates(codes: Codes, catalog_df: DataFrame) -> DataFrame:
    """Every (segment, candidate workout): age groups x levels seen in users, x the catalog.

    The candidates of segment (a, l, t) are all catalog workouts of type t, so the
    universe of segments is exactly the types the catalog has. Bounded by
    segments x catalog, never by users.
    """
    age_levels = codes.age_levels(catalog_df.sparkSession)
    workouts = catalog_df.select("workout_id", "workout_type")
    return (
        age_levels.crossJoin(F.broadcast(workouts))
        .select(
            segment_key("age_group", "fitness_level", "workout_type").alias("segment_key"),
            *SEGMENT_COLUMNS,
            "al_code",
            "workout_id",
        )
    )


def user_segments(users_df: DataFrame, catalog_df: DataFrame) -> DataFrame:
    """(user_id, segment_key) for every preferred type some workout has."""
    known_types = F.broadcast(catalog_df.select("workout_type").distinct())
    return (
        users_df.select("user_id", "age_group", "fitness_level", F.explode("preferred_types").alias("workout_type"))
        .join(known_types, on="workout_type", how="inner")
        .select("user_id", segment_key("age_group", "fitness_level", "workout_type").alias("segment_key"))
    )


def unknown_preferences(users_df: DataFrame, catalog_df: DataFrame) -> DataFrame:
    """(workout_type, users): preferred types no workout has, ignored but reported."""
    known_types = F.broadcast(catalog_df.select("workout_type").distinct())
    return (
        users_df.select("user_id", F.explode("preferred_types").alias("workout_type"))
        .join(known_types, on="workout_type", how="left_anti")
        .groupBy("workout_type")
        .agg(F.count("*").alias("users"))
    )


def users_per_segment(candidates_df: DataFrame, user_segments_df: DataFrame) -> DataFrame:
    """(segment_key, users) over the whole universe, 0 for a segment with no users."""
    counts = user_segments_df.groupBy("segment_key").agg(F.count("*").alias("users"))
    return (
        candidates_df.select("segment_key").distinct()
        .join(counts, on="segment_key", how="left")
        .select("segment_key", F.coalesce("users", F.lit(0)).alias("users"))
    )
