"""SPEC §2: the segment universe: every segment and its candidate workouts."""
from __future__ import annotations

import pandas as pd
from pyspark.sql import Column
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
