"""Each method's list per evaluated user, as (user_id, items: array<bigint> in rank order).

Segment methods run the pipeline itself (`pipeline.score` and the pipeline's MMR `rerank`
on the cut's candidate table) and merge the lists of the user's segments with the
lookup's rule; the baselines need only completion counts before the cutoff.
"""
from __future__ import annotations

from collections.abc import Sequence
from functools import reduce

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from coldstart.config import Config, Mmr
from coldstart.lookup import MERGE_ORDER
from coldstart.membership import user_segments
from coldstart.mmr import TagVectors
from coldstart.pipeline import score
from coldstart.rerank import rerank

ITEM_COLUMNS = ("user_id", "workout_id", "score", "rank")
CANDIDATE_SEPARATOR = "#"


def _merge_order() -> list[Column]:
    return [F.col(c).asc() if ascending else F.col(c).desc() for c, ascending in MERGE_ORDER]


def merge_lists(items_df: DataFrame, k: int, keys: tuple[str, ...] = ("user_id",)) -> DataFrame:
    """Several ranked lists per user -> (*keys, position, workout_id), position 1..k.

    The Spark form of `lookup.merge_round_robin`: the same MERGE_ORDER, a workout kept at
    its first place only. `keys` identify one merged list (a user, or a candidate and a user).
    """
    first_place = Window.partitionBy(*keys, "workout_id").orderBy(*_merge_order())
    position = Window.partitionBy(*keys).orderBy(*_merge_order())
    return (
        items_df.withColumn("_place", F.row_number().over(first_place))
        .filter(F.col("_place") == 1)
        .withColumn("position", F.row_number().over(position))
        .filter(F.col("position") <= k)
        .select(*keys, "position", "workout_id")
    )


def as_lists(ranked_df: DataFrame, lists_df: DataFrame, keys: tuple[str, ...] = ("user_id",)) -> DataFrame:
    """(*keys, position, workout_id) -> (*keys, items) for every row of lists_df[keys] (empty lists included)."""
    arrays = ranked_df.groupBy(*keys).agg(
        F.array_sort(F.collect_list(F.struct("position", "workout_id"))).alias("_ranked"))
    empty = F.array().cast("array<bigint>")
    return lists_df.select(*keys).join(arrays, on=list(keys), how="left").select(
        *keys, F.coalesce(F.transform("_ranked", lambda r: r["workout_id"]), empty).alias("items"))


def merged_lists(items_df: DataFrame, users_df: DataFrame, k: int) -> DataFrame:
    return as_lists(merge_lists(items_df, k), users_df)


def recommend_many(base_df: DataFrame, as_of: int, vectors: TagVectors, cfgs: Sequence[Config]) -> DataFrame:
    """(candidate, segment_key, workout_id, score, rank): the pipeline's lists under each config.

    `pipeline.score` per config, then one `rerank` pass per distinct MMR setting instead of
    one per config: the candidate's index goes in front of the segment key, so each
    (candidate, segment) is a group of its own, and comes off again afterwards.
    """
    groups: dict[Mmr, list[int]] = {}
    for i, cfg in enumerate(cfgs):
        groups.setdefault(cfg.mmr, []).append(i)
    ranked = []
    for mmr, members in groups.items():
        scored = [score(base_df, as_of, cfgs[i]).withColumn(
            "segment_key", F.concat_ws(CANDIDATE_SEPARATOR, F.lit(str(i)), "segment_key")) for i in members]
        ranked.append(rerank(reduce(DataFrame.unionByName, scored), vectors, mmr))
    parts = F.split(F.col("segment_key"), CANDIDATE_SEPARATOR, 2)
    return reduce(DataFrame.unionByName, ranked).select(
        parts[0].cast("int").alias("candidate"), parts[1].alias("segment_key"), "workout_id", "score", "rank")


def segment_lists(users_df: DataFrame, catalog_df: DataFrame, recommendations_df: DataFrame, candidates: int,
                  k: int) -> DataFrame:
    """(candidate, user_id, items) for candidates 0..n-1: each user's segment lists merged round-robin.

    A user has a segment per known preferred type; a user without one gets an empty list.
    """
    items = (
        user_segments(users_df, catalog_df)
        .join(recommendations_df.select("candidate", "segment_key", "workout_id", "score", "rank"),
              on="segment_key", how="inner")
        .select("candidate", *ITEM_COLUMNS)
    )
    ids = users_df.sparkSession.range(candidates).select(F.col("id").cast("int").alias("candidate"))
    every_list = users_df.select("user_id").crossJoin(ids)
    keys = ("candidate", "user_id")
    return as_lists(merge_lists(items, k, keys), every_list, keys)


def pipeline_lists(users_df: DataFrame, catalog_df: DataFrame, base_df: DataFrame, as_of: int,
                   vectors: TagVectors, cfgs: Sequence[Config], k: int) -> DataFrame:
    """(candidate, user_id, items): the pipeline as is under each config (index in cfgs), k per segment."""
    asked = [cfg.with_overrides({"mmr.k": k}) for cfg in cfgs]
    return segment_lists(users_df, catalog_df, recommend_many(base_df, as_of, vectors, asked), len(cfgs), k)


def completion_counts(plays_df: DataFrame, catalog_df: DataFrame) -> DataFrame:
    """(workout_id, workout_type, completions) of the workouts completed at least once.

    A workout nobody completed is not "most completed", even in a tie at zero: the
    popularity lists can be shorter than k.
    """
    return (plays_df.filter(F.col("completions") > 0)
            .join(catalog_df.select("workout_id", "workout_type"), on="workout_id", how="inner")
            .select("workout_id", "workout_type", F.col("completions").cast("double").alias("completions")))


def _popular(counts_df: DataFrame, partition: Column, k: int) -> DataFrame:
    """Top k by completions within the partition, ties lower workout id, with rank 1..k."""
    order = Window.partitionBy(partition).orderBy(F.col("completions").desc(), F.col("workout_id").asc())
    return (counts_df.withColumn("rank", F.row_number().over(order)).filter(F.col("rank") <= k)
            .select("workout_type", "workout_id", F.col("completions").alias("score"), "rank"))


def global_popular_lists(users_df: DataFrame, counts_df: DataFrame, k: int) -> DataFrame:
    """The same k most completed workouts for everyone."""
    top = _popular(counts_df, F.lit(0), k).drop("workout_type")
    items = users_df.select("user_id").crossJoin(F.broadcast(top)).select(*ITEM_COLUMNS)
    return merged_lists(items, users_df, k)


def type_popular_lists(users_df: DataFrame, counts_df: DataFrame, k: int) -> DataFrame:
    """Per preferred type the k most completed workouts of that type, merged round-robin."""
    top = _popular(counts_df, F.col("workout_type"), k)
    items = (
        users_df.select("user_id", F.explode("preferred_types").alias("workout_type"))
        .join(F.broadcast(top), on="workout_type", how="inner")
        .select(*ITEM_COLUMNS)
    )
    return merged_lists(items, users_df, k)


def random_lists(users_df: DataFrame, catalog_df: DataFrame, k: int, seed: int) -> DataFrame:
    """k distinct workouts drawn uniformly per user: the catalog ordered by a seeded hash of (user, workout)."""
    catalog = catalog_df.agg(F.collect_list("workout_id").alias("_catalog"))
    keyed = F.transform("_catalog", lambda w: F.struct(
        F.xxhash64(F.lit(seed), F.col("user_id"), w).alias("key"), w.alias("workout_id")))
    return users_df.select("user_id").crossJoin(catalog).select(
        "user_id", F.transform(F.slice(F.array_sort(keyed), 1, k), lambda s: s["workout_id"]).alias("items"))
