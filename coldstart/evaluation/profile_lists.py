"""The profile methods of the evaluation (SPEC §10): each evaluated user's list is their own profile's.

The training side is the job's (`pipeline.engagement_of` on the cut: the events up to the
cut, without the new users), once per setting it depends on (`engagement_key`); the lists come from the
model's own functions (`coldstart.profile_model`). A grid point shares most of its work with
others, so each piece is computed once for all the points that share it: M_{a,l} per
(engagement, age and level weights), J^π per (engagement, age-level code, power), the relevance per
both, then the lists per (freshness, MMR settings). Only the evaluated users' distinct
profiles are ranked (bounded by profiles); users get their profile's list by a join in Spark.
"""
from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from coldstart.codes import Codes, string_array
from coldstart.config import Config
from coldstart.evaluation.split import Cut, EvalData
from coldstart.lookup import SEGMENT_SEPARATOR, TYPE_SEPARATOR
from coldstart.mmr import TagVectors
from coldstart.pipeline import candidate_table, engagement_of, profile_catalog
from coldstart.profile_model import Catalog, Engagement, Similar, Weights, candidates_of, jaccard_power, rank_target
from coldstart.profiles import Target, profile_key, sorted_targets, target_of, weights_of
from coldstart.progress import Progress, Stages


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


def target_lists(pcut: ProfileCut, cfgs: Sequence[Config], k: int) -> pd.DataFrame:
    """(candidate, profile_key, items): each config's top k for each of the cut's profiles."""
    rows: list[tuple[int, str, list[int]]] = []
    progress = Progress("profile lists (settings x profiles)", len(cfgs) * len(pcut.targets))
    by_al = {al: list(group) for al, group in itertools.groupby(pcut.targets, key=lambda t: t.al_code)}
    jaccard: dict[tuple[tuple[float, float], int, float], np.ndarray] = {}  # the sources are the engagement's

    def similarity_key(i: int) -> tuple[tuple[float, float], float, float]:
        p = cfgs[i].profile
        return engagement_key(cfgs[i]), p.age_weight, p.level_weight

    for (trained, *_), group in itertools.groupby(sorted(range(len(cfgs)), key=similarity_key), key=similarity_key):
        members = list(group)
        engagement = pcut.engagement[trained]
        for al_code, found in by_al.items():
            types = [t.types for t in found]
            similar = (Similar.of(engagement.similar_engagement(al_code, _weights(cfgs[members[0]], k)))
                       if engagement.type_sets else None)
            for i in members:
                weights = _weights(cfgs[i], k)
                if similar is None:  # nobody engaged with anything
                    relevance = np.zeros((len(found), engagement.n_workouts))
                else:
                    key = (trained, al_code, weights.jaccard_power)
                    if key not in jaccard:
                        jaccard[key] = jaccard_power(types, engagement.type_sets, engagement.n_types,
                                                     weights.jaccard_power)
                    relevance = similar.relevance(jaccard[key])
                freshness = np.exp(-weights.freshness_lambda * pcut.catalog.days_old)
                for row, target in enumerate(found):
                    ranked = rank_target(relevance[row], candidates_of(pcut.catalog, target.types, weights),
                                         pcut.catalog, freshness, weights)
                    items = [int(pcut.catalog.workout_ids[position]) for position, *_ in ranked]
                    rows.append((i, profile_key(pcut.codes, target), items))
                progress.advance(len(found))
    return pd.DataFrame(rows, columns=["candidate", "profile_key", "items"])


def profile_lists(pcut: ProfileCut, users_df: DataFrame, cfgs: Sequence[Config], k: int) -> DataFrame:
    """(candidate, user_id, items): every user's own profile's list under each config (index in cfgs);
    a user without any catalog type gets an empty list."""
    spark = users_df.sparkSession
    lists = spark.createDataFrame(target_lists(pcut, cfgs, k),
                                  "candidate int, profile_key string, items array<bigint>")
    users = users_df.select("user_id", user_profile_key(pcut.codes).alias("profile_key"))
    every = users.crossJoin(spark.range(len(cfgs)).select(F.col("id").cast("int").alias("candidate")))
    empty = F.array().cast("array<bigint>")
    return (every.join(F.broadcast(lists), on=["candidate", "profile_key"], how="left")
            .select("candidate", "user_id", F.coalesce("items", empty).alias("items")))
