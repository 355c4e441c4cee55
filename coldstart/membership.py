"""SPEC §2 membership: the category universe, each user's segment codes, each event's segment.

A user becomes (user_id, `al_code`, `type_set`) (see `coldstart.codes`): the age group and
level numbered together, and the set of their preferred types that the catalog has. That
pair is also the user's profile of SPEC §10. A workout becomes (workout_id, `type_idx`). An
event's segment is its user's `al_code` with the workout's type, when the user prefers that
type (`in_segment`). Membership knows nothing of rejects: it is given accepted users and
workouts, and events that carry their codes (validation's id check brings them).
"""
from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from coldstart.codes import Codes
from coldstart.segments import segment_key
from coldstart.validation import RAW_PROFILE, Validated

MEMBER_COLUMNS = ("user_id", "al_code", "type_set")
# past this many distinct profiles as written, users are matched to their codes by a shuffle join
BROADCAST_PROFILES_MAX = 200_000


@dataclass(frozen=True)
class UserGroup:
    """Accepted users whose categories were written the same way (`raw`), and those categories normalised."""

    raw: tuple[str, ...]  # the `RAW_PROFILE` values
    age_group: str
    fitness_level: str
    preferred_types: tuple[str, ...]
    users: int


def codes_from(groups: Iterable[UserGroup], types: Sequence[str]) -> Codes:
    """The universe of SPEC §2: the age groups and levels of the accepted users, the catalog's types; sorted."""
    groups = list(groups)
    return Codes(tuple(sorted({g.age_group for g in groups})), tuple(sorted({g.fitness_level for g in groups})),
                 tuple(sorted(types)))


def user_codes(users: Validated, groups: Sequence[UserGroup], codes: Codes) -> DataFrame:
    """Accepted users as (user_id, al_code, type_set): compact enough to broadcast millions of them.

    The codes are computed on the driver per group and joined to the users on their categories
    as written: no string work per user.
    """
    schema = T.StructType([*(T.StructField(c, T.StringType()) for c in RAW_PROFILE),
                           T.StructField("al_code", T.IntegerType()), T.StructField("type_set", codes.type_set_type)])
    rows = [(*g.raw, codes.al_code_of(g.age_group, g.fitness_level), codes.type_set_of(g.preferred_types))
            for g in groups]
    group_codes = users.flagged.sparkSession.createDataFrame(rows, schema)
    if len(rows) <= BROADCAST_PROFILES_MAX:
        group_codes = F.broadcast(group_codes)
    return (
        users.flagged.filter(F.col("reason").isNull()).select("user_id", *RAW_PROFILE)
        .join(group_codes, on=list(RAW_PROFILE), how="inner")
        .select(*MEMBER_COLUMNS)
    )


def workout_codes(catalog_df: DataFrame, codes: Codes) -> DataFrame:
    """Catalog workouts as (workout_id, type_idx)."""
    return catalog_df.select("workout_id", codes.type_index(F.col("workout_type")).alias("type_idx"))


def with_segment(events_df: DataFrame, codes: Codes) -> DataFrame:
    """`in_segment`: the event's workout has one of its user's preferred types (null codes: no)."""
    return events_df.withColumn("in_segment", codes.prefers(F.col("type_set"), F.col("type_idx")))


def user_segments(users_df: DataFrame, catalog_df: DataFrame) -> DataFrame:
    """(user_id, segment_key) for every preferred type some workout has."""
    known_types = F.broadcast(catalog_df.select("workout_type").distinct())
    return (
        users_df.select("user_id", "age_group", "fitness_level", F.explode("preferred_types").alias("workout_type"))
        .join(known_types, on="workout_type", how="inner")
        .select("user_id", segment_key("age_group", "fitness_level", "workout_type").alias("segment_key"))
    )


def segment_user_stats(groups: Iterable[UserGroup], codes: Codes) -> dict[str, Any]:
    """Users per segment over the whole universe (min/median/max, segments without users) and the
    preferred types no workout has, counted per type."""
    per_segment: Counter[tuple[str, str, str]] = Counter()
    unknown: Counter[str] = Counter()
    known = set(codes.types)
    for g in groups:
        for workout_type in g.preferred_types:
            if workout_type in known:
                per_segment[(g.age_group, g.fitness_level, workout_type)] += g.users
            else:
                unknown[workout_type] += g.users
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
