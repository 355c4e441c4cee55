"""Cutoffs and the new-user split: who is evaluated, what the pipeline may see, what counts as relevant.

A cut at time `start` treats every user whose first session is at or after `start` as
new: none of their events reach the training counts, which are the job's own counts
(`pipeline.count_cut`) of the other users' events up to `start` (its as_of).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import pandas as pd
from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from coldstart.config import ConfigError, Eval
from coldstart.counting import EventCounts
from coldstart.engagement import workout_counts
from coldstart.freshness import MICROS_PER_SECOND, SECONDS_PER_DAY, format_micros, parse_as_of
from coldstart.pipeline import ValidatedInputs, count_cut
from coldstart.progress import Stages

PROFILE_COLUMNS = ("user_id", "age_group", "fitness_level", "preferred_types")


@dataclass(frozen=True)
class EvalData:
    """The validated inputs and the accepted rows the split reads (sessions kept once)."""

    inputs: ValidatedInputs
    users: DataFrame
    sessions: DataFrame
    catalog: DataFrame

    @classmethod
    def of(cls, inputs: ValidatedInputs) -> EvalData:
        sessions = inputs["sessions"].accepted.persist(StorageLevel.MEMORY_AND_DISK)
        return cls(inputs, inputs["users"].accepted, sessions, inputs["catalog"].accepted)


@dataclass(frozen=True)
class Cut:
    """One evaluation cut: the pipeline's training counts and the users it is judged on."""

    name: str
    start: int  # micros: the training counts' as_of; evaluated users start at or after it
    end: int | None  # micros: evaluated users start before it (None: no bound)
    counts: EventCounts  # the job's counts of the training events
    users: DataFrame  # evaluated users: PROFILE_COLUMNS + first_micros
    relevant: DataFrame  # user_id, relevant: array<bigint> (empty when nothing completed in the horizon)
    plays: DataFrame  # workout_id, plays, completions: the training sessions per workout (played ones only)
    new_users: DataFrame  # user_id of every user new at `start`: none of their events are trained on


def first_sessions(sessions_df: DataFrame) -> DataFrame:
    """(user_id, first_micros): each user's first accepted session."""
    return sessions_df.groupBy("user_id").agg(F.min(F.unix_micros("timestamp")).alias("first_micros"))


def nearest_rank(q: float, n: int) -> int:
    """The 1-based nearest rank of quantile q among n values: ceil(q * n), at least 1.

    q is read from its decimal text, so 0.7 * 10 is 7, not the 8 of binary floating point.
    """
    if not 0.0 < q <= 1.0:
        raise ConfigError(f"a quantile must be in (0, 1], not {q}")
    return max(1, math.ceil(Fraction(str(q)) * n))


def nearest_rank_cutoff(first_df: DataFrame, q: float) -> int | None:
    """The nearest-rank q-quantile of the first-session times: an actual first-session time."""
    n = first_df.count()
    if n == 0:
        return None
    rank = nearest_rank(q, n)
    row = first_df.select("first_micros").orderBy("first_micros").limit(rank).agg(F.max("first_micros")).first()
    return int(row[0])


def cutoffs(first_df: DataFrame, cfg: Eval) -> tuple[int, int]:
    """(T0, T): the validation and test cutoffs in micros; T from `eval.cutoff` when set."""
    test = parse_as_of(cfg.cutoff) if cfg.cutoff else nearest_rank_cutoff(first_df, cfg.test_quantile)
    validation = nearest_rank_cutoff(first_df, cfg.validation_quantile)
    if test is None or validation is None:
        raise ConfigError("evaluation needs accepted sessions: there are none")
    if validation >= test:
        raise ConfigError(f"the validation cutoff {format_micros(validation)} is not before the test cutoff "
                          f"{format_micros(test)}: lower eval.validation_quantile or move eval.cutoff")
    return validation, test


def new_users(data: EvalData, first_df: DataFrame, start: int, end: int | None) -> DataFrame:
    """Users whose first session is in [start, end), with their profile and first_micros."""
    in_window = F.col("first_micros") >= F.lit(start)
    if end is not None:
        in_window = in_window & (F.col("first_micros") < F.lit(end))
    return data.users.select(*PROFILE_COLUMNS).join(first_df.filter(in_window), on="user_id", how="inner")


def relevant_items(data: EvalData, users_df: DataFrame, horizon_days: float, end: int | None) -> DataFrame:
    """(user_id, relevant): workouts completed in [first session, first session + horizon), sorted.

    With `end` (the validation cut) the window also stops at `end`, so that tuning sees nothing
    at or after the test cutoff.
    """
    horizon = F.lit(round(horizon_days * SECONDS_PER_DAY * MICROS_PER_SECOND))
    t = F.unix_micros("timestamp")
    in_horizon = (t >= F.col("first_micros")) & (t < F.col("first_micros") + horizon)
    if end is not None:
        in_horizon = in_horizon & (t < F.lit(end))
    completed = (
        data.sessions.filter(F.col("completed") == 1)
        .select("user_id", "workout_id", "timestamp")
        .join(users_df.select("user_id", "first_micros"), on="user_id", how="inner")
        .filter(in_horizon)
        .groupBy("user_id")
        .agg(F.array_sort(F.collect_set("workout_id")).alias("relevant"))
    )
    empty = F.array().cast("array<bigint>")
    return (users_df.select("user_id").join(completed, on="user_id", how="left")
            .select("user_id", F.coalesce("relevant", empty).alias("relevant")))


def workout_plays(spark_df: DataFrame, counts: EventCounts) -> DataFrame:
    """(workout_id, plays, completions) of the played workouts, from the training counts."""
    workouts = workout_counts(counts.accepted_counts("sessions"), counts.accepted_counts("feedback"))
    played = workouts[workouts["global_views"].fillna(0) > 0]
    frame = pd.DataFrame({"workout_id": played["workout_id"].astype("int64"),
                          "plays": played["global_views"].astype("int64"),
                          "completions": played["global_completions"].astype("int64")})
    return spark_df.sparkSession.createDataFrame(frame, "workout_id long, plays long, completions long")


def make_cut(name: str, data: EvalData, first_df: DataFrame, start: int, end: int | None, horizon_days: float,
             stages: Stages) -> Cut:
    # checkpointed: every method and grid point reads them, and their lineage (validation,
    # joins) would otherwise be re-analysed by each of those plans
    users = new_users(data, first_df, start, end).localCheckpoint()
    new_ids = first_df.filter(F.col("first_micros") >= F.lit(start)).select("user_id").localCheckpoint()
    counts = count_cut(data.inputs, start, stages, exclude_users=new_ids)
    relevant = relevant_items(data, users, horizon_days, end).localCheckpoint()
    return Cut(name, start, end, counts, users, relevant, workout_plays(users, counts).localCheckpoint(), new_ids)
