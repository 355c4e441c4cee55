"""SPEC §10 on Spark: each source profile's engagement with each workout, and every target profile's list.

A profile is (age group, level, the set of the user's preferred types the catalog has): the
user's (`al_code`, `type_set`) of `coldstart.membership`. The training side is one pass over
the accepted events up to as_of: the users' distinct engaged workouts (completed, or liked
with `like_weight`), their degree `d(v)`, and per (source profile, workout) the sum of
`e(v, w) / d(v)^ρ`. Grouping events by user needs one shuffle of those events; everything
after it is bounded by profiles x workouts, is collected, and is broadcast to a grouped
pandas UDF that computes the targets' relevance by blocked matrix products and reranks each
list (`coldstart.profile_model`).
"""
from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from coldstart.codes import Codes
from coldstart.config import Config, Profile
from coldstart.lookup import SEGMENT_SEPARATOR, TYPE_SEPARATOR
from coldstart.membership import UserGroup
from coldstart.profile_model import Catalog, Engagement, Weights, rank_profiles

ENGAGEMENT_COLUMNS = ("al_code", "type_set", "workout_id", "engagement")
PROFILE_RECOMMENDATION_COLUMNS = (
    "profile_key", "workout_id", "score", "rank",
    "age_group", "fitness_level", "types", "workout_type", "relevance", "mmr_score", "days_old",
)
# a user and their profile: the key of the per-user aggregation of the training side
USER_KEYS = ("user_id", "al_code", "type_set")
# targets of one age-level code per call of the pandas UDF: the block of the matrix product
TARGETS_PER_CALL = 512
# a grouped pandas UDF's calls are spread over this many partitions per core, so that a core that
# finishes early takes another
PARTITIONS_PER_CORE = 2


def has_types(codes: Codes, type_set: Column) -> Column:
    """A user whose profile has at least one catalog type (a user without has no profile)."""
    return type_set != 0 if codes.uses_mask else F.size(type_set) > 0


def _engaged(events_df: DataFrame, outcome: str, time_column: str, as_of_micros: int | None,
             codes: Codes) -> DataFrame:
    """Accepted events with a positive outcome up to as_of, of users with a profile."""
    kept = F.col("reason").isNull() & (F.col(outcome) == 1) & has_types(codes, F.col("type_set"))
    if as_of_micros is not None:
        kept = kept & (F.unix_micros(time_column) <= F.lit(as_of_micros))
    return events_df.filter(kept)


def profile_engagement(sessions_df: DataFrame, feedback_df: DataFrame, as_of_micros: int | None, codes: Codes,
                       settings: Profile, recency_as_of: int | None = None) -> DataFrame:
    """(al_code, type_set, workout_id, engagement): `Σ_{v in profile} e(v, w) / d(v)^ρ`, over users with d(v) > 0.

    `e(v, w) = [v completed w] + like_weight·[v liked w]` (at least once each); `d(v) = Σ_w e(v, w)`.
    The events come validated, with their users' codes (`validation`'s id check brings them);
    `as_of_micros` cuts them (None: no cut). With likes or `recency_half_life_days`, the general
    `weighted_engagement` (`recency_as_of` is the as_of the ages count to).
    Each user's completed workouts are collected as a list and made distinct after the shuffle: the
    map side of that aggregation already folds the rows of a user that sit together in the input,
    so only a few rows per user cross the shuffle when the events are ordered by user. (Lists, not
    `collect_set`: see BENCHMARKS.md.) Here e(v, w) = 1 for each completed w, so the weight is the
    user's, d(v)^-ρ, computed once per user.
    """
    if settings.like_weight != 0 or settings.recency_half_life_days > 0:
        return weighted_engagement(sessions_df, feedback_df, as_of_micros, codes, settings,
                                   recency_as_of if recency_as_of is not None else as_of_micros)
    completed = _engaged(sessions_df, "completed", "timestamp", as_of_micros, codes).select(*USER_KEYS, "workout_id")
    users = completed.groupBy(*USER_KEYS).agg(F.array_distinct(F.collect_list("workout_id")).alias("completed"))
    weight = F.lit(1.0) / F.pow(F.size("completed"), F.lit(float(settings.degree_power)))
    per_workout = users.select("al_code", "type_set", weight.alias("weight"),
                               F.explode("completed").alias("workout_id"))
    return per_workout.groupBy("al_code", "type_set", "workout_id").agg(F.sum("weight").alias("engagement"))


def weighted_engagement(sessions_df: DataFrame, feedback_df: DataFrame, as_of_micros: int | None, codes: Codes,
                        settings: Profile, recency_as_of: int | None) -> DataFrame:
    """`profile_engagement` with likes (`like_weight`) and, beyond SPEC §10, each engagement weighted by
    its recency: `e(v, w) = [c]·f(a_c) + like_weight·[l]·f(a_l)`, `a` the days from the user's latest
    completion (like) of w to as_of (at least 0), `f(a) = 2^(-a/h)` with the half-life h
    (`recency_half_life_days`; 0: f = 1, §10's e). The degree d(v) stays §10's count, so a user who
    trained long ago weighs less, not more.

    One shuffle, as in `profile_engagement`: each user's (workout_id, micros) entries are collected
    as lists, then sorted and cut to the latest entry of each workout; the two terms of e are
    summed apart (a workout never liked has no like term)."""

    def entries(events_df: DataFrame, outcome: str, time_column: str, other: str) -> DataFrame:
        entry = F.struct("workout_id", F.unix_micros(time_column).alias("micros"))
        no_entry = F.when(F.lit(False), entry)  # null, of the entry's type
        return _engaged(events_df, outcome, time_column, as_of_micros, codes).select(
            *USER_KEYS, entry.alias(outcome), no_entry.alias(other))

    events = entries(sessions_df, "completed", "timestamp", "liked")
    if settings.like_weight != 0:
        events = events.unionByName(entries(feedback_df, "liked", "feedback_time", "completed"))
    users = (events.groupBy(*USER_KEYS).agg(F.collect_list("completed").alias("completed"),
                                       F.collect_list("liked").alias("liked"))
             .select("al_code", "type_set", *(F.array_sort(c).alias(c) for c in ("completed", "liked")))
             .select("al_code", "type_set", *(_latest_of_each(c).alias(c) for c in ("completed", "liked"))))
    like_weight, half_life = F.lit(float(settings.like_weight)), float(settings.recency_half_life_days)

    def term(weight: Column, entry: Column) -> Column:
        if half_life > 0:
            days = F.greatest(F.lit(0.0), (F.lit(recency_as_of) - entry["micros"]) / F.lit(86_400_000_000.0))
            weight = weight * F.pow(F.lit(2.0), -days / F.lit(half_life))
        return F.struct(entry["workout_id"].alias("workout_id"), weight.alias("e"))

    terms = F.concat(F.transform("completed", lambda x: term(F.lit(1.0), x)),
                     F.transform("liked", lambda x: term(like_weight, x)))
    degree = F.size("completed") + like_weight * F.size("liked")
    per_workout = users.select("al_code", "type_set", degree.alias("degree"), F.explode(terms).alias("term"))
    weight = F.col("term.e") / F.pow(F.col("degree"), F.lit(float(settings.degree_power)))
    return (per_workout.groupBy("al_code", "type_set", F.col("term.workout_id").alias("workout_id"))
            .agg(F.sum(weight).alias("engagement")))


def _latest_of_each(column: str) -> Column:
    """Of a sorted array of (workout_id, micros) entries, the last entry of each workout (its latest)."""
    entries = F.col(column)
    return F.filter(entries, lambda x, i: F.coalesce(
        F.try_element_at(entries, i + 2)["workout_id"] != x["workout_id"], F.lit(True)))


@dataclass(frozen=True)
class Target:
    """A profile to recommend for: an age-level code and a set of type indices."""

    al_code: int
    types: tuple[int, ...]


def target_of(codes: Codes, age_group: str, fitness_level: str, preferred_types: Iterable[str]) -> Target | None:
    """A user's profile: their age-level code and the catalog's types among theirs, sorted (None: no such type)."""
    types = tuple(sorted({codes.types.index(t) for t in preferred_types if t in codes.types}))
    return Target(codes.al_code_of(age_group, fitness_level), types) if types else None


def sorted_targets(found: Iterable[Target | None]) -> list[Target]:
    """Distinct targets by age-level code, then types: the order the UDF's blocks and the outputs use."""
    return sorted({t for t in found if t is not None}, key=lambda t: (t.al_code, t.types))


def targets(groups: Iterable[UserGroup], codes: Codes) -> list[Target]:
    """Every distinct profile of the accepted users, and every single-type profile of the segment universe."""
    users = (target_of(codes, g.age_group, g.fitness_level, g.preferred_types) for g in groups)
    singles = (Target(al_code, (t,)) for (al_code, _, _), t in itertools.product(codes.age_level_pairs(),
                                                                                range(len(codes.types))))
    return sorted_targets(itertools.chain(users, singles))


def profile_key(codes: Codes, target: Target) -> str:
    """`age|level|t1,t2,...`, the types in code point order (SPEC §10)."""
    n_levels = len(codes.levels)
    age, level = codes.age_groups[target.al_code // n_levels], codes.levels[target.al_code % n_levels]
    return SEGMENT_SEPARATOR.join((age, level, TYPE_SEPARATOR.join(sorted(codes.types[i] for i in target.types))))


def type_indices(codes: Codes, type_set: int | list[int]) -> tuple[int, ...]:
    """A collected `type_set` (bit mask, or indices past 63 types) as sorted type indices."""
    return tuple(sorted(codes.types.index(t) for t in codes.type_names(type_set)))


def engagement_matrices(rows: pd.DataFrame, codes: Codes, catalog_ids: np.ndarray) -> Engagement:
    """The collected (al_code, type_set, workout_id, engagement) rows as the model's matrices."""
    rows = rows.assign(types=[type_indices(codes, ts) for ts in rows["type_set"]])
    return Engagement.of(rows, len(codes.types), len(codes.levels), catalog_ids)


def weights_of(cfg: Config) -> Weights:
    p = cfg.profile
    return Weights(p.age_weight, p.level_weight, p.jaccard_power, p.preferred_types_only, cfg.freshness.lambda_,
                   cfg.mmr.pool_size, cfg.mmr.k, cfg.mmr.lambda_)


def _targets_frame(spark: SparkSession, codes: Codes, found: list[Target]) -> DataFrame:
    n_levels = max(len(codes.levels), 1)
    rows = []
    for al_code, group in itertools.groupby(found, key=lambda t: t.al_code):
        for i, target in enumerate(group):
            rows.append((al_code, i // TARGETS_PER_CALL, list(target.types), profile_key(codes, target),
                         codes.age_groups[al_code // n_levels], codes.levels[al_code % n_levels],
                         sorted(codes.types[t] for t in target.types)))
    schema = ("al_code int, block int, target_types array<int>, profile_key string, age_group string, "
              "fitness_level string, types array<string>")
    return spark.createDataFrame(rows, schema)


def output_schema() -> T.StructType:
    string, double = T.StringType(), T.DoubleType()
    types = {"profile_key": string, "workout_id": T.LongType(), "score": double, "rank": T.IntegerType(),
             "age_group": string, "fitness_level": string, "types": T.ArrayType(string), "workout_type": string,
             "relevance": double, "mmr_score": double, "days_old": double}
    return T.StructType([T.StructField(c, types[c]) for c in PROFILE_RECOMMENDATION_COLUMNS])


def ranking_partitions(found: list[Target], parallelism: int) -> int:
    """The ranking's partitions: one per block of targets, at most PARTITIONS_PER_CORE per core.

    The blocks are a few small rows: left to adaptive execution, they would be coalesced into one
    partition, and one core (of the whole cluster) would rank every profile.
    """
    blocks = sum(-(-len(list(group)) // TARGETS_PER_CALL)
                 for _, group in itertools.groupby(found, key=lambda t: t.al_code))
    return spread(blocks, parallelism)


def spread(groups: int, parallelism: int) -> int:
    """Partitions for `groups` calls of a grouped pandas UDF: one per group, at most PARTITIONS_PER_CORE per core."""
    return max(1, min(groups, PARTITIONS_PER_CORE * parallelism))


def recommend_profiles(spark: SparkSession, codes: Codes, found: list[Target], engagement: Engagement,
                       catalog: Catalog, weights: Weights) -> DataFrame:
    """Every target's top k (PROFILE_RECOMMENDATION_COLUMNS), sorted by profile_key, rank."""
    model = spark.sparkContext.broadcast((engagement, catalog))
    type_names = np.array(codes.types, dtype=object)

    def rank_block(block: pd.DataFrame) -> pd.DataFrame:
        engagement_, catalog_ = model.value
        al_code = int(block["al_code"].iloc[0])
        ranked = rank_profiles(engagement_, catalog_, al_code, [tuple(t) for t in block["target_types"]], weights)
        profile = block.iloc[ranked["target"].to_numpy()].reset_index(drop=True)
        position = np.searchsorted(catalog_.workout_ids, ranked["workout_id"].to_numpy())
        return pd.DataFrame({
            "profile_key": profile["profile_key"], "workout_id": ranked["workout_id"], "score": ranked["score"],
            "rank": ranked["rank"], "age_group": profile["age_group"], "fitness_level": profile["fitness_level"],
            "types": profile["types"], "workout_type": type_names[catalog_.type_idx[position]],
            "relevance": ranked["relevance"], "mmr_score": ranked["mmr_score"],
            "days_old": catalog_.days_old[position],
        })

    partitions = ranking_partitions(found, spark.sparkContext.defaultParallelism)
    lists = (_targets_frame(spark, codes, found).repartition(partitions, "al_code", "block")
             .groupBy("al_code", "block").applyInPandas(rank_block, output_schema()))
    # one sorted partition (targets x k rows): a global orderBy would sample its input for range
    # bounds first, and so run the pandas UDF twice
    return lists.repartition(1).sortWithinPartitions("profile_key", "rank")
