"""Paired bootstrap intervals over users for the difference of two methods' mean nDCG.

Both methods are measured on the same users, so the users are resampled together: the
interval is that of the mean per-user difference. The per-user values (users x the
compared methods) come to the driver; the resampling is numpy, seeded.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame

from coldstart.evaluation.metrics import judged

INTERVAL_COLUMNS = ("method", "baseline", "users", "difference", "low", "high")
RESAMPLES = 2000
LEVEL = 0.95


def paired_interval(a: np.ndarray, b: np.ndarray, seed: int, resamples: int = RESAMPLES,
                    level: float = LEVEL) -> tuple[float, float, float]:
    """(mean of a - b, and the percentile interval of that mean over resamples of the pairs)."""
    differences = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    if not len(differences):
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = differences[rng.integers(0, len(differences), size=(resamples, len(differences)))].mean(axis=1)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return float(differences.mean()), float(low), float(high)


def ndcg_intervals(lists_df: DataFrame, relevant_df: DataFrame, k: int, pairs: Sequence[tuple[str, str]],
                   seed: int) -> pd.DataFrame:
    """INTERVAL_COLUMNS for each (method, baseline) pair: nDCG@k of method minus baseline's, over the
    users with a relevant item."""
    methods = sorted({m for pair in pairs for m in pair})
    # one nDCG per evaluated user and method, collected for the resampling: bounded by the new users
    per_user = (judged(lists_df.filter(lists_df["method"].isin(methods)), relevant_df, k)
                .select("method", "user_id", "ndcg").toPandas()
                .pivot(index="user_id", columns="method", values="ndcg"))
    rows = []
    for method, baseline in pairs:
        both = per_user[[method, baseline]].dropna()
        difference, low, high = paired_interval(both[method].to_numpy(), both[baseline].to_numpy(), seed)
        rows.append((method, baseline, len(both), difference, low, high))
    return pd.DataFrame(rows, columns=list(INTERVAL_COLUMNS))
