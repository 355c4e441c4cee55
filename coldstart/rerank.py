"""Applies the per-segment MMR of `mmr.py` to every segment with a grouped pandas UDF."""
from __future__ import annotations

import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import types as T

from coldstart.config import Mmr
from coldstart.mmr import TagVectors, rerank_segment

RECOMMENDATION_COLUMNS = (
    "segment_key", "workout_id", "score", "rank",
    "age_group", "fitness_level", "workout_type", "mmr_score", "raw_score",
    "p_completion", "p_like", "views_norm", "type_views_norm", "days_old",
    "views", "completions", "feedbacks", "likes",
)


def _output_schema(scored_df: DataFrame) -> T.StructType:
    fields = {f.name: f for f in scored_df.schema.fields}
    extra = {"rank": T.StructField("rank", T.IntegerType()), "mmr_score": T.StructField("mmr_score", T.DoubleType())}
    return T.StructType([fields.get(c) or extra[c] for c in RECOMMENDATION_COLUMNS])


def rerank(scored_df: DataFrame, vectors: TagVectors, mmr: Mmr) -> DataFrame:
    """Top `mmr.k` per segment after the diversity rerank, with `rank` and `mmr_score`.

    The pandas UDF is grouped by workout type, and each call reranks that type's segments one
    by one: every call of a grouped UDF pays for Arrow and pandas set-up, which with one call
    per segment was most of the stage.
    A type's segments share their candidates, so no group is larger than segment codes x the
    type's workouts.
    """
    schema = _output_schema(scored_df)
    broadcast = scored_df.sparkSession.sparkContext.broadcast(vectors)
    pool_size, k, lam = mmr.pool_size, mmr.k, mmr.lambda_
    inputs = [c for c in RECOMMENDATION_COLUMNS if c not in ("rank", "mmr_score")]
    columns = list(RECOMMENDATION_COLUMNS)

    def per_type(candidates: pd.DataFrame) -> pd.DataFrame:
        ranked = [rerank_segment(segment, broadcast.value, pool_size, k, lam)[columns]
                  for _, segment in candidates.groupby("segment_key", sort=False)]
        return pd.concat(ranked, ignore_index=True) if ranked else pd.DataFrame(columns=columns)

    return scored_df.select(*inputs).groupBy("workout_type").applyInPandas(per_type, schema=schema)
