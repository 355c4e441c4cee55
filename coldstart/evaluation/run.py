"""The evaluation end to end: cutoffs, tuning on the validation cut, every method on the test cut."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import reduce
from typing import Any

import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from coldstart.config import Config
from coldstart.evaluation.lists import (
    completion_counts,
    global_popular_lists,
    pipeline_lists,
    random_lists,
    type_popular_lists,
)
from coldstart.evaluation.metrics import ACCURACY, METRIC_COLUMNS, accuracy, beyond_accuracy, tag_vectors_df
from coldstart.evaluation.split import Cut, EvalData, cutoffs, first_sessions, make_cut
from coldstart.evaluation.tuning import SEGMENT_VARIANTS, Tuning, tune
from coldstart.freshness import format_micros
from coldstart.mmr import TagVectors
from coldstart.pipeline import candidate_table
from coldstart.progress import Stages
from coldstart.tags import tag_vectors

log = logging.getLogger(__name__)

BASELINES = ("random", "global_popular", "type_popular")
TUNED = "segment_tuned"
METHODS = BASELINES + tuple(label for label, _ in SEGMENT_VARIANTS) + (TUNED,)
VALIDATION_COLUMNS = ("method", "k", "users", *ACCURACY)


@dataclass
class Evaluation:
    """What the writers need: tiny tables on the driver, per-user lists as a Spark frame."""

    table: pd.DataFrame  # one row per method, METRIC_COLUMNS, test users
    validation: pd.DataFrame  # VALIDATION_COLUMNS on the validation users
    tuning: Tuning
    info: dict[str, Any]  # cutoffs and user counts
    per_user: DataFrame  # method, user_id, items, relevant (test users)


def segment_configs(cfg: Config, tuned: Config) -> dict[str, Config]:
    return {label: cfg.with_overrides(o) for label, o in SEGMENT_VARIANTS} | {TUNED: tuned}


def baseline_lists(cut: Cut, catalog: DataFrame, cfg: Config, k: int) -> DataFrame:
    """(method, user_id, items) of the three baselines."""
    users = cut.users
    counts = completion_counts(cut.plays, catalog)
    frames = {
        "random": random_lists(users, catalog, k, cfg.eval.seed),
        "global_popular": global_popular_lists(users, counts, k),
        "type_popular": type_popular_lists(users, counts, k),
    }
    return reduce(DataFrame.unionByName,
                  [frames[m].select(F.lit(m).alias("method"), "user_id", "items") for m in BASELINES])


def method_lists(cut: Cut, catalog: DataFrame, base_df: DataFrame, vectors: TagVectors, cfg: Config, tuned: Config,
                 k: int) -> DataFrame:
    """(method, user_id, items) for every method of METHODS on the cut's users."""
    segment = segment_configs(cfg, tuned)
    lists = pipeline_lists(cut.users, catalog, base_df, cut.start, vectors, list(segment.values()), k)
    names = F.array(*(F.lit(label) for label in segment))
    segment_df = lists.select(F.element_at(names, F.col("candidate") + 1).alias("method"), "user_id", "items")
    return baseline_lists(cut, catalog, cfg, k).unionByName(segment_df)


def user_counts(cut: Cut) -> dict[str, int]:
    row = cut.relevant.agg(F.count("*").alias("users"),
                           F.count(F.when(F.size("relevant") == 0, 1)).alias("no_relevant")).first()
    return {"users": int(row["users"]), "without_relevant": int(row["no_relevant"])}


def empty_accuracy() -> dict[str, Any]:
    return {"users": 0, **dict.fromkeys(ACCURACY)}


def results_table(lists_df: DataFrame, cut: Cut, vectors: TagVectors, catalog_size: int, k: int) -> pd.DataFrame:
    acc = accuracy(lists_df, cut.relevant, k)
    listed = lists_df.filter(F.size("items") > 0)
    vectors_df = tag_vectors_df(lists_df.sparkSession, vectors)
    beyond = beyond_accuracy(listed, vectors_df, cut.plays, catalog_size, k)
    rows = [{"method": m, "k": k, **acc.get(m, empty_accuracy()),
             **{c: beyond.get(m, {}).get(c) for c in METRIC_COLUMNS[-3:]}} for m in METHODS]
    return pd.DataFrame(rows, columns=list(METRIC_COLUMNS))


def validation_table(cut: Cut, catalog: DataFrame, tuning: Tuning, cfg: Config, k: int) -> pd.DataFrame:
    """Accuracy on the validation users: the baselines measured here, the segment rows from the tuning."""
    acc = accuracy(baseline_lists(cut, catalog, cfg, k), cut.relevant, k)
    acc |= {label: tuning.metrics_of(c) for label, c in segment_configs(cfg, tuning.best.cfg).items()}
    rows = [{"method": m, "k": k, **acc.get(m, empty_accuracy())} for m in METHODS]
    return pd.DataFrame(rows, columns=list(VALIDATION_COLUMNS))


def cut_candidates(data: EvalData, catalog_local: pd.DataFrame, cut: Cut) -> DataFrame:
    """The cut's segment x candidate table, as the job builds it from the same counts; checkpointed
    so that the many plans built on it (a union of every grid point) stay small to analyse."""
    base_df, _ = candidate_table(data.catalog.sparkSession, data.inputs.codes, catalog_local, cut.counts)
    return base_df.localCheckpoint()


def evaluate(data: EvalData, cfg: Config, stages: Stages | None = None) -> Evaluation:
    """Tune on [T0, T), then measure every method on the users who start at or after T."""
    stages = stages or Stages()
    k = cfg.eval.k
    catalog = data.catalog
    with stages.stage("split"):
        firsts = first_sessions(data.sessions).cache()
        t0, t = cutoffs(firsts, cfg.eval)
        validation = make_cut("validation", data, firsts, t0, t, cfg.eval.horizon_days, stages)
        test = make_cut("test", data, firsts, t, None, cfg.eval.horizon_days, stages)
        catalog_local = catalog.select("workout_id", "workout_type", "tags").toPandas()
        vectors = tag_vectors(catalog_local)
        catalog_size = len(catalog_local)
    with stages.stage("tune"):
        tuning = tune(validation, catalog, cut_candidates(data, catalog_local, validation), vectors, cfg, k)
        val_table = validation_table(validation, catalog, tuning, cfg, k)
    with stages.stage("test_methods"):
        base_test = cut_candidates(data, catalog_local, test)
        lists = method_lists(test, catalog, base_test, vectors, cfg, tuning.best.cfg, k).localCheckpoint()
        table = results_table(lists, test, vectors, catalog_size, k)
    info = {
        "validation_cutoff": format_micros(t0), "test_cutoff": format_micros(t),
        "horizon_days": cfg.eval.horizon_days, "k": k, "catalog": catalog_size,
        "test": user_counts(test), "validation": user_counts(validation),
    }
    per_user = lists.join(test.relevant, on="user_id", how="inner").select("method", "user_id", "items", "relevant")
    return Evaluation(table, val_table, tuning, info, per_user)
