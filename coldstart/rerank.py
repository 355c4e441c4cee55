"""Applies the per-segment MMR of `mmr.py` to every segment with a grouped pandas UDF."""
from __future__ import annotations

import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import types as T

from coldstart.config import Mmr
from coldstart.mmr import TagVectors, fit_tag_vectors, rerank_segment

RECOMMENDATION_COLUMNS = (
    "segment_key", "workout_id", "score", "rank",
    "age_group", "fitness_level", "workout_type", "mmr_score", "raw_score",
    "p_completion", "p_like", "views_norm", "type_views_norm", "days_old",
    "views", "completions", "feedbacks", "likes",
)


def catalog_tag_vectors(catalog_df: DataFrame) -> TagVectors:
    """Fit TF-IDF on the driver: the catalog is small (bounded by workouts, not users)."""
    rows = catalog_df.select("workout_id", "tags").orderBy("workout_id").collect()
    return fit_tag_vectors([r["workout_id"] for r in rows], [r["tags"] or [] for r in rows])


def _output_schema(scored_df: DataFrame) -> T.StructType:
    fields = {f.name: f for f in scored_df.schema.fields}
    extra = {"rank": T.StructField("rank", T.IntegerType()), "mmr_score": T.StructField("mmr_score", T.DoubleType())}
    return T.StructType([fields.get(c) or extra[c] for c in RECOMMENDATION_COLUMNS])


def rerank(scored_df: DataFrame, vectors: TagVectors, mmr: Mmr) -> DataFrame:
    """Top `mmr.k` per segment after the diversity rerank, with `rank` and `mmr_score`."""
    schema = _output_schema(scored_df)
    broadcast = scored_df.sparkSession.sparkContext.broadcast(vectors)
    pool_size, k, lam = mmr.pool_size, mmr.k, mmr.lambda_
    inputs = [c for c in RECOMMENDATION_COLUMNS if c not in ("rank", "mmr_score")]

    def per_segment(candidates: pd.DataFrame) -> pd.DataFrame:
        ranked = rerank_segment(candidates, broadcast.value, pool_size, k, lam)
        return ranked[list(RECOMMENDATION_COLUMNS)]

    return scored_df.select(*inputs).groupBy("segment_key").applyInPandas(per_segment, schema=schema)
