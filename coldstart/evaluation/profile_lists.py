"""The profile methods of the evaluation (SPEC §10): each evaluated user's list is their own profile's.

The training side is the job's (`pipeline.engagement_of` on the cut: the events up to the
cut, without the new users), once per setting it depends on (`engagement_key`); the lists come from the
model's own functions (`coldstart.profile_model`). A grid point shares most of its work with
others: a unit of work is the grid points that share M_{a,l} (the same engagement, age and level
weights) and one age-level code; it computes M_{a,l} once, J^π once per power, then each point's
relevance and lists. The units are ranked in Spark (a grouped pandas UDF, on every core). Only
the evaluated users' distinct profiles are ranked (bounded by profiles); users get their
profile's list by a join in Spark.
"""
from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from coldstart.codes import Codes, string_array
from coldstart.config import Config
from coldstart.evaluation.split import Cut, EvalData
from coldstart.lookup import SEGMENT_SEPARATOR, TYPE_SEPARATOR
from coldstart.mmr import TagVectors
from coldstart.pipeline import candidate_table, engagement_of, profile_catalog
from coldstart.profile_model import Catalog, Engagement, Similar, Weights, candidates_of, jaccard_power, rank_target
from coldstart.profiles import Target, profile_key, sorted_targets, spread, target_of, weights_of
from coldstart.progress import Stages


@dataclass(frozen=True)
class ProfileCut:
    """What the profile methods need of a cut: its users' distinct profiles, the catalog as of the
    cut, and the engagement of the training events per like weight."""

    codes: Codes
    targets: list[Target]
    catalog: Catalog
    engagement: dict[tuple[float, float], Engagement]  # per `engagement_key`


def user_profile_key(codes: Codes) -> Column:
    """A user's profile key `age|level|t1,t2` (their catalog types in code point order); null without any."""
    known = F.array_sort(F.array_intersect("preferred_types", string_array(codes.types)))
    key = F.concat_ws(SEGMENT_SEPARATOR, "age_group", "fitness_level", F.array_join(known, TYPE_SEPARATOR))
    return F.when(F.size(known) > 0, key)


def engagement_key(cfg: Config) -> tuple[float, float]:
    """The settings the training side depends on (besides the cut), of those the evaluation varies."""
    return cfg.profile.like_weight, cfg.profile.recency_half_life_days


def profile_cut(data: EvalData, cut: Cut, cfgs: Sequence[Config], catalog_local: pd.DataFrame,
                vectors: TagVectors, cfg: Config, stages: Stages) -> ProfileCut:
    """What the profile methods under `cfgs` need of the cut: the engagement once per `engagement_key`."""
    codes = data.inputs.codes
    _, workouts_df = candidate_table(data.catalog.sparkSession, codes, catalog_local, cut.counts)
    catalog = profile_catalog(workouts_df, catalog_local, codes, cut.start, vectors, cfg)
    engagement = {}
    for like_weight, half_life in sorted({engagement_key(c) for c in cfgs}):
        settings = dataclasses.replace(cfg.profile, like_weight=like_weight, recency_half_life_days=half_life)
        engagement[like_weight, half_life] = engagement_of(data.inputs, cut.start, cut.start, settings, catalog,
                                                           stages, exclude_users=cut.new_users)
    # the evaluated users' distinct profiles: bounded by profiles
    rows = cut.users.select("age_group", "fitness_level", F.array_intersect(
        "preferred_types", string_array(codes.types)).alias("types")).distinct().collect()
    found = sorted_targets(target_of(codes, r["age_group"], r["fitness_level"], r["types"]) for r in rows)
    return ProfileCut(codes, found, catalog, engagement)


def _weights(cfg: Config, k: int) -> Weights:
    return dataclasses.replace(weights_of(cfg), k=k)


# the lists' columns: candidate (index in the configs), profile_key, items (workout ids in rank order)
LIST_COLUMNS = ["candidate", "profile_key", "items"]
LISTS_SCHEMA = "candidate int, profile_key string, items array<bigint>"
Unit = tuple[tuple[int, ...], int]  # (indices of configs sharing a similarity, age-level code)


def _similarity_key(cfg: Config) -> tuple[tuple[float, float], float, float]:
    return engagement_key(cfg), cfg.profile.age_weight, cfg.profile.level_weight


def units(pcut: ProfileCut, cfgs: Sequence[Config]) -> list[Unit]:
    """The pieces of work: each computes M_{a,l} once for the configs that share it, and ranks the
    profiles of one age-level code for each of them."""
    ordered = sorted(range(len(cfgs)), key=lambda i: _similarity_key(cfgs[i]))
    groups = [tuple(g) for _, g in itertools.groupby(ordered, key=lambda i: _similarity_key(cfgs[i]))]
    al_codes = sorted({t.al_code for t in pcut.targets})
    return [(members, al_code) for members in groups for al_code in al_codes]


def unit_lists(pcut: ProfileCut, cfgs: Sequence[Config], unit: Unit, k: int) -> list[tuple[int, str, list[int]]]:
    """(candidate, profile_key, items) of one unit: each of its configs' top k for each of its profiles."""
    members, al_code = unit
    found = [t for t in pcut.targets if t.al_code == al_code]
    types = [t.types for t in found]
    engagement = pcut.engagement[engagement_key(cfgs[members[0]])]
    similar = (Similar.of(engagement.similar_engagement(al_code, _weights(cfgs[members[0]], k)))
               if engagement.type_sets else None)
    jaccard: dict[float, np.ndarray] = {}  # per power; the sources are the engagement's
    rows = []
    for i in members:
        weights = _weights(cfgs[i], k)
        if similar is None:  # nobody engaged with anything
            relevance = np.zeros((len(found), engagement.n_workouts))
        else:
            if weights.jaccard_power not in jaccard:
                jaccard[weights.jaccard_power] = jaccard_power(types, engagement.type_sets, engagement.n_types,
                                                               weights.jaccard_power)
            relevance = similar.relevance(jaccard[weights.jaccard_power])
        freshness = np.exp(-weights.freshness_lambda * pcut.catalog.days_old)
        for row, target in enumerate(found):
            ranked = rank_target(relevance[row], candidates_of(pcut.catalog, target.types, weights),
                                 pcut.catalog, freshness, weights)
            rows.append((i, profile_key(pcut.codes, target), [int(pcut.catalog.workout_ids[p]) for p, *_ in ranked]))
    return rows


def target_lists(pcut: ProfileCut, cfgs: Sequence[Config], k: int) -> pd.DataFrame:
    """(candidate, profile_key, items): each config's top k for each of the cut's profiles, on the driver."""
    rows = [row for unit in units(pcut, cfgs) for row in unit_lists(pcut, cfgs, unit, k)]
    return pd.DataFrame(rows, columns=LIST_COLUMNS)


def ranked_lists(spark: SparkSession, pcut: ProfileCut, cfgs: Sequence[Config], k: int) -> DataFrame:
    """`target_lists` ranked in Spark, one unit per call of a grouped pandas UDF, on every core.

    What the units share (the cut's engagement and catalog, the configs) is broadcast; it is
    bounded by profiles x workouts. The unit ids are a few small rows: without an explicit
    repartition adaptive execution would coalesce them into one partition, one core.
    """
    work = units(pcut, cfgs)
    model = spark.sparkContext.broadcast((pcut, tuple(cfgs), work))

    def rank_unit(frame: pd.DataFrame) -> pd.DataFrame:
        pcut_, cfgs_, work_ = model.value
        rows = unit_lists(pcut_, cfgs_, work_[int(frame["unit"].iloc[0])], k)
        return pd.DataFrame(rows, columns=LIST_COLUMNS)

    ids = spark.createDataFrame(pd.DataFrame({"unit": np.arange(len(work), dtype=np.int32)}), "unit int")
    partitions = spread(len(work), spark.sparkContext.defaultParallelism)
    return ids.repartition(partitions, "unit").groupBy("unit").applyInPandas(rank_unit, LISTS_SCHEMA)


def profile_lists(pcut: ProfileCut, users_df: DataFrame, cfgs: Sequence[Config], k: int) -> DataFrame:
    """(candidate, user_id, items): every user's own profile's list under each config (index in cfgs);
    a user without any catalog type gets an empty list."""
    spark = users_df.sparkSession
    # ranked once: the lists are read by more than one query
    lists = ranked_lists(spark, pcut, cfgs, k).localCheckpoint()
    users = users_df.select("user_id", user_profile_key(pcut.codes).alias("profile_key"))
    every = users.crossJoin(spark.range(len(cfgs)).select(F.col("id").cast("int").alias("candidate")))
    empty = F.array().cast("array<bigint>")
    return (every.join(F.broadcast(lists), on=["candidate", "profile_key"], how="left")
            .select("candidate", "user_id", F.coalesce("items", empty).alias("items")))
