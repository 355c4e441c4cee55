"""SPEC §2: the segment universe and who is in which segment."""
from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable
from typing import Any

import pandas as pd
from pyspark.sql import Column, DataFrame, Row
from pyspark.sql import functions as F

from coldstart.codes import Codes
from coldstart.lookup import SEGMENT_SEPARATOR

SEGMENT_COLUMNS = ("age_group", "fitness_level", "workout_type")


def segment_key(age_group: Column | str, fitness_level: Column | str, workout_type: Column | str) -> Column:
    return F.concat_ws(SEGMENT_SEPARATOR, F.col(age_group) if isinstance(age_group, str) else age_group,
                       F.col(fitness_level) if isinstance(fitness_level, str) else fitness_level,
                       F.col(workout_type) if isinstance(workout_type, str) else workout_type)


def candidates(codes: Codes, catalog: pd.DataFrame) -> pd.DataFrame:
    """Every (segment, candidate workout): age groups x levels seen in users, x the catalog.

    The candidates of segment (a, l, t) are all catalog workouts of type t, so the
    universe of segments is exactly the types the catalog has. Bounded by
    segments x catalog, never by users, so it is built on the driver from the
    catalog's (workout_id, workout_type) rows.
    """
    age_levels = pd.DataFrame(codes.age_level_pairs(), columns=["al_code", "age_group", "fitness_level"]).astype(
        {"al_code": "int32"})
    pairs = age_levels.merge(catalog[["workout_id", "workout_type"]], how="cross")
    age_group, fitness_level, workout_type = (pairs[c] for c in SEGMENT_COLUMNS)
    pairs["segment_key"] = age_group + SEGMENT_SEPARATOR + fitness_level + SEGMENT_SEPARATOR + workout_type
    return pairs[["segment_key", *SEGMENT_COLUMNS, "al_code", "workout_id"]]


def user_segments(users_df: DataFrame, catalog_df: DataFrame) -> DataFrame:
    """(user_id, segment_key) for every preferred type some workout has."""
    known_types = F.broadcast(catalog_df.select("workout_type").distinct())
    return (
        users_df.select("user_id", "age_group", "fitness_level", F.explode("preferred_types").alias("workout_type"))
        .join(known_types, on="workout_type", how="inner")
        .select("user_id", segment_key("age_group", "fitness_level", "workout_type").alias("segment_key"))
    )


def segment_user_stats(user_groups: Iterable[Row], codes: Codes) -> dict[str, Any]:
    """Users per segment over the whole universe (min/median/max, segments without users) and the
    preferred types no workout has, from the users grouped by (age group, level, preferred types).

    The groups are bounded by the categories, so this runs on the driver.
    """
    per_segment: Counter[tuple[str, str, str]] = Counter()
    unknown: Counter[str] = Counter()
    known = set(codes.types)
    for g in user_groups:
        if g["reason"] is not None:
            continue
        for workout_type in g["preferred_types"]:
            if workout_type in known:
                per_segment[(g["age_group"], g["fitness_level"], workout_type)] += g["users"]
            else:
                unknown[workout_type] += g["users"]
    counts = sorted(per_segment[(a, level, t)] for a in codes.age_groups for level in codes.levels for t in codes.types)
    return {
        "segments": len(counts),
        "users_per_segment": {
            "min": counts[0] if counts else 0,
            "median": statistics.median(counts) if counts else 0,
            "max": counts[-1] if counts else 0,
            "segments_without_users": sum(1 for c in counts if c == 0),
        },
        "unknown_preferred_types": dict(sorted(unknown.items())),
    }
