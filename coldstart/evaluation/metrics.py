"""Metrics at k over (method, user_id, items) lists, computed with Spark; one small row per method comes back.

Accuracy is averaged over the users with at least one relevant item. Each metric is one
SQL expression per user, so every method (or every grid point) is measured in a single
pass. The definitions are Spark ML's RankingEvaluator's (precisionAtK, recallAtK,
ndcgAtK, meanAveragePrecisionAtK; the tests check the two agree), except that a workout
repeated in a list is not a second hit: its later copies take a position and miss.
Hit rate and the beyond-accuracy metrics are over the same lists, the latter over every
user with a non-empty list.
"""
from __future__ import annotations

import math
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from coldstart.mmr import TagVectors

ACCURACY = ("hit_rate", "precision", "recall", "ndcg", "map")
METRIC_COLUMNS = ("method", "k", "users", *ACCURACY, "coverage", "intra_list_diversity", "novelty")


def _sum(values: Column) -> Column:
    return F.aggregate(values, F.lit(0.0), lambda acc, v: acc + v)


def first_hits(items: Column, relevant: Column, k: int) -> Column:
    """Per position of the list cut at k: relevant, and the first occurrence of that workout."""
    top = F.slice(items, 1, k)
    return F.transform(top, lambda x, i: F.array_contains(relevant, x) & (F.array_position(top, x) == i + 1))


def user_accuracy(items: Column, relevant: Column, k: int) -> dict[str, Column]:
    """The accuracy metrics of one user (relevant non-empty): binary gains, log2 discount."""
    hits = first_hits(items, relevant, k)
    n_hits = F.size(F.filter(hits, lambda h: h)).cast("double")
    ideal = F.least(F.size(relevant), F.lit(k))
    discounts = F.array(*(F.lit(1.0 / math.log2(i + 2)) for i in range(k)))
    gains = F.transform(hits, lambda h, i: F.when(h, F.element_at(discounts, i + 1)).otherwise(F.lit(0.0)))
    # precision at each hit's position: hits so far / position
    precisions = F.transform(hits, lambda h, i: F.when(
        h, F.size(F.filter(F.slice(hits, 1, i + 1), lambda x: x)) / (i + 1)).otherwise(F.lit(0.0)))
    return {
        "hit_rate": (n_hits > 0).cast("double"),
        "precision": n_hits / F.lit(k),
        "recall": n_hits / F.size(relevant),
        "ndcg": _sum(gains) / _sum(F.slice(discounts, 1, ideal)),
        "map": _sum(precisions) / ideal,
    }


def judged(lists_df: DataFrame, relevant_df: DataFrame, k: int) -> DataFrame:
    """(method, user_id, *ACCURACY) for the users with relevant items."""
    metrics = user_accuracy(F.col("items"), F.col("relevant"), k)
    return (
        lists_df.join(relevant_df, on="user_id", how="inner")
        .filter(F.size("relevant") > 0)
        .select("method", "user_id", *(value.alias(name) for name, value in metrics.items()))
    )


def accuracy(lists_df: DataFrame, relevant_df: DataFrame, k: int) -> dict[str, dict[str, Any]]:
    """Per method: users averaged and the mean of each accuracy metric (one pass, one row per method)."""
    summary = judged(lists_df, relevant_df, k).groupBy("method").agg(
        F.count("*").alias("users"), *(F.avg(m).alias(m) for m in ACCURACY))
    return {r["method"]: {c: r[c] for c in ("users", *ACCURACY)}
            for r in summary.collect()}  # one row per method


def _sparse_row(matrix: Any, i: int) -> dict[int, float]:
    start, end = matrix.indptr[i], matrix.indptr[i + 1]
    return dict(zip(matrix.indices[start:end].tolist(), matrix.data[start:end].tolist(), strict=True))


def tag_vectors_df(spark: Any, vectors: TagVectors) -> DataFrame:
    """(workout_id, vector: map<int, double>): the catalog's L2-normalised TF-IDF rows, sparse.

    Built on the driver from the catalog (bounded by workouts, like the MMR's vectors).
    """
    matrix = vectors.matrix.tocsr()
    rows = [(int(w), _sparse_row(matrix, i)) for i, w in enumerate(vectors.workout_ids)]
    schema = T.StructType([T.StructField("workout_id", T.LongType()),
                           T.StructField("vector", T.MapType(T.IntegerType(), T.DoubleType()))])
    return spark.createDataFrame(rows, schema)


def cosine(a: Column, b: Column) -> Column:
    """Dot product of two sparse unit vectors; a workout without tags has cosine 0 to everything."""
    return F.aggregate(F.map_entries(a), F.lit(0.0),
                       lambda acc, e: acc + e["value"] * F.coalesce(F.try_element_at(b, e["key"]), F.lit(0.0)))


def diversity(lists_df: DataFrame, vectors_df: DataFrame, k: int) -> DataFrame:
    """(method, intra_list_diversity): mean over users with >= 2 items of 1 - mean pairwise tag cosine."""
    items = lists_df.select("method", "user_id", F.posexplode(F.slice("items", 1, k)).alias("pos", "workout_id"))
    a, b = items.alias("a"), items.alias("b")
    va = vectors_df.select(F.col("workout_id").alias("a_id"), F.col("vector").alias("va"))
    vb = vectors_df.select(F.col("workout_id").alias("b_id"), F.col("vector").alias("vb"))
    pairs = (
        a.join(b, on=[F.col("a.method") == F.col("b.method"), F.col("a.user_id") == F.col("b.user_id"),
                      F.col("a.pos") < F.col("b.pos")], how="inner")
        .select(F.col("a.method").alias("method"), F.col("a.user_id").alias("user_id"),
                F.col("a.workout_id").alias("a_id"), F.col("b.workout_id").alias("b_id"))
        .join(F.broadcast(va), on="a_id", how="left")
        .join(F.broadcast(vb), on="b_id", how="left")
    )
    empty = F.create_map().cast("map<int,double>")
    per_user = pairs.groupBy("method", "user_id").agg(
        (F.lit(1.0) - F.avg(cosine(F.coalesce("va", empty), F.coalesce("vb", empty)))).alias("diversity"))
    return per_user.groupBy("method").agg(F.avg("diversity").alias("intra_list_diversity"))


def novelty(lists_df: DataFrame, plays_df: DataFrame, k: int) -> DataFrame:
    """(method, novelty): mean over users of the mean -log2(item's share of the training sessions).

    `plays_df` holds (workout_id, plays) of the played workouts; a workout never played
    counts as one session, so its novelty is finite.
    """
    total = plays_df.agg(F.sum("plays").alias("total"))
    items = lists_df.select("method", "user_id", F.explode(F.slice("items", 1, k)).alias("workout_id"))
    share = F.try_divide(F.greatest(F.coalesce("plays", F.lit(0)), F.lit(1)), F.col("total"))
    per_user = (
        items.join(plays_df.select("workout_id", "plays"), on="workout_id", how="left")
        .crossJoin(F.broadcast(total))
        .groupBy("method", "user_id").agg(F.avg(-F.log2(share)).alias("novelty"))
    )
    return per_user.groupBy("method").agg(F.avg("novelty").alias("novelty"))


def coverage(lists_df: DataFrame, catalog_size: int, k: int) -> DataFrame:
    """(method, coverage): the share of the catalog in anyone's list."""
    items = lists_df.select("method", F.explode(F.slice("items", 1, k)).alias("workout_id"))
    share = F.try_divide(F.countDistinct("workout_id"), F.lit(catalog_size))
    return items.groupBy("method").agg(share.alias("coverage"))


def beyond_accuracy(lists_df: DataFrame, vectors_df: DataFrame, plays_df: DataFrame, catalog_size: int,
                    k: int) -> dict[str, dict[str, Any]]:
    """Per method: coverage, intra-list diversity, novelty (users with an empty list add nothing)."""
    joined = (coverage(lists_df, catalog_size, k)
              .join(diversity(lists_df, vectors_df, k), on="method", how="left")
              .join(novelty(lists_df, plays_df, k), on="method", how="left"))
    return {r["method"]: r.asDict() for r in joined.collect()}  # one row per method
