"""Offline evaluation of the segment recommendations against baselines, on a temporal new-user holdout.

`split` (cutoffs, the new-user split, the training input), `lists` (each method's list
per user), `metrics` (Spark), `tuning` (grid search on the validation cut), `run` (end to
end) and `report` (evaluation.csv / .md / .png, per_user.parquet, tuned.toml).
"""
from __future__ import annotations

from coldstart.evaluation.run import METHODS, Evaluation, evaluate

__all__ = ["METHODS", "Evaluation", "evaluate"]
