"""Grid search of config keys on the validation cut, by validation nDCG, for each family of methods.

Counts do not depend on the scoring settings, so the validation cut is counted once
(`pipeline.count_cut`) and each segment candidate only re-scores and reranks that small
segment x candidate table (`lists.recommend_many`: the pipeline's `score` and `rerank`,
all candidates in one Spark job); each profile candidate reuses the cut's engagement and
similarities (`profile_lists`). Every candidate of a family is measured in one pass.
"""
from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from coldstart.config import Config, ConfigError
from coldstart.evaluation.metrics import accuracy
from coldstart.evaluation.split import Cut

log = logging.getLogger(__name__)

# the segment methods of the evaluation table: overrides of the given config
SEGMENT_VARIANTS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("segment_beta", {"smoothing.prior": "beta"}),
    ("segment_hierarchical", {"smoothing.prior": "hierarchical"}),
    ("no_mmr", {"mmr.lambda": 1.0}),
    ("no_freshness", {"freshness.lambda": 0.0}),
)
# the profile methods (SPEC §10) of the evaluation table
PROFILE_VARIANTS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("profile", {}),
    # beyond SPEC §10: each past completion weighted by its recency (half-life 60 days)
    ("profile_recency", {"profile.recency_half_life_days": 60.0}),
)
# a family's lists for the given users under each config: (candidate, user_id, items), candidate
# the config's index
ListsOf = Callable[[DataFrame, Sequence[Config]], DataFrame]


@dataclass(frozen=True)
class Candidate:
    label: str
    overrides: dict[str, Any]
    cfg: Config


@dataclass
class Tuning:
    best: Candidate
    ndcg: float
    # every candidate tried with its validation accuracy (ACCURACY metrics and users)
    results: list[tuple[Candidate, dict[str, Any]]] = field(default_factory=list)

    def metrics_of(self, cfg: Config) -> dict[str, Any]:
        return next(m for c, m in self.results if c.cfg == cfg)


def grid(tune: tuple[tuple[str, tuple[Any, ...]], ...]) -> list[dict[str, Any]]:
    """Every combination of a grid's values (`Config.tune`, `Config.tune_profile`), in the config's order."""
    keys = [key for key, _ in tune]
    return [dict(zip(keys, values, strict=True)) for values in itertools.product(*(v for _, v in tune))]


def candidates(cfg: Config, family: str = "segment") -> list[Candidate]:
    """The family's named variants first, then its grid; a config met twice is tried once.

    The variants are candidates so that the tuned row is never worse on validation than
    the rows of its family it is shown next to.
    """
    variants, tune = (SEGMENT_VARIANTS, cfg.tune) if family == "segment" else (PROFILE_VARIANTS, cfg.tune_profile)
    out: list[Candidate] = []
    seen: set[Config] = set()
    named = [(label, overrides) for label, overrides in variants]
    points = [(f"grid {i + 1}", overrides) for i, overrides in enumerate(grid(tune))]
    for label, overrides in named + points:
        candidate_cfg = cfg.with_overrides(overrides)
        if candidate_cfg not in seen:
            seen.add(candidate_cfg)
            out.append(Candidate(label, overrides, candidate_cfg))
    return out


def tune(cut: Cut, tried: list[Candidate], lists_of: ListsOf, k: int) -> Tuning:
    """The candidate with the best validation nDCG (ties: the first tried), all measured in one pass."""
    # only users with something relevant count: list nobody else
    judged_users = cut.users.join(cut.relevant.filter(F.size("relevant") > 0).select("user_id"),
                                  on="user_id", how="inner")
    lists = lists_of(judged_users, [c.cfg for c in tried])
    by_candidate = accuracy(lists.withColumn("method", F.col("candidate").cast("string")), cut.relevant, k)
    if not by_candidate:
        raise ConfigError("no validation user completed a workout within the horizon: nothing to tune on "
                          "(raise eval.horizon_days or lower eval.validation_quantile)")
    results = [(candidate, by_candidate[str(i)]) for i, candidate in enumerate(tried)]
    for i, (candidate, metrics) in enumerate(results, start=1):
        log.info("tune %d/%d: %s %s -> validation nDCG@%d %.4f",
                 i, len(tried), candidate.label, candidate.overrides, k, metrics["ndcg"])
    best, best_metrics = max(results, key=lambda r: r[1]["ndcg"])  # max keeps the first of equal values
    return Tuning(best, best_metrics["ndcg"], results)
