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
from coldstart.evaluation.bootstrap import ndcg_intervals
from coldstart.evaluation.learned import LEARNED, Ridge, ridge_cut, ridge_lists
from coldstart.evaluation.lists import (
    completion_counts,
    global_popular_lists,
    pipeline_lists,
    random_lists,
    type_popular_lists,
)
from coldstart.evaluation.metrics import ACCURACY, METRIC_COLUMNS, accuracy, beyond_accuracy, tag_vectors_df
from coldstart.evaluation.profile_lists import ProfileCut, profile_cut, profile_lists
from coldstart.evaluation.split import Cut, EvalData, cutoffs, first_sessions, make_cut
from coldstart.evaluation.tuning import PROFILE_VARIANTS, SEGMENT_VARIANTS, ListsOf, Tuning, candidates, tune
from coldstart.freshness import format_micros
from coldstart.mmr import TagVectors
from coldstart.pipeline import candidate_table
from coldstart.progress import Stages
from coldstart.tags import tag_vectors

log = logging.getLogger(__name__)

BASELINES = ("random", "global_popular", "type_popular", *LEARNED)
FAMILIES = {"segment": SEGMENT_VARIANTS, "profile": PROFILE_VARIANTS}
TUNED = {family: f"{family}_tuned" for family in FAMILIES}
METHODS = BASELINES + tuple(label for family, variants in FAMILIES.items()
                            for label in (*(v for v, _ in variants), TUNED[family]))
VALIDATION_COLUMNS = ("method", "k", "users", *ACCURACY)
# the differences of nDCG shown with a paired bootstrap interval: (method, baseline)
COMPARED = (("profile", "segment_beta"), ("profile_tuned", "segment_tuned"), ("profile", "global_popular"),
            ("profile", "type_popular"), ("segment_beta", "type_popular"), ("profile_recency", "segment_beta"),
            ("profile_tuned", "profile"), ("profile_tuned", "ridge"), ("profile", "ridge"),
            ("profile_tuned", "ridge_pairs"), ("profile", "ridge_pairs"))


@dataclass
class Evaluation:
    """What the writers need: tiny tables on the driver, per-user lists as a Spark frame."""

    table: pd.DataFrame  # one row per method, METRIC_COLUMNS, test users
    validation: pd.DataFrame  # VALIDATION_COLUMNS on the validation users
    tunings: dict[str, Tuning]  # per family
    info: dict[str, Any]  # cutoffs and user counts
    per_user: DataFrame  # method, user_id, items, relevant (test users)
    intervals: pd.DataFrame  # bootstrap.INTERVAL_COLUMNS, test users


def family_configs(cfg: Config, family: str, tuned: Config) -> dict[str, Config]:
    """A family's methods: its named variants, and its tuned config."""
    return {label: cfg.with_overrides(o) for label, o in FAMILIES[family]} | {TUNED[family]: tuned}


def tuned_config(tunings: dict[str, Tuning]) -> Config:
    """One config with the best of each family: the profile family's (the lists the lookup serves
    first), with the segment family's own keys (smoothing, scoring) from its best."""
    segment, profile = tunings["segment"].best, tunings["profile"].best
    profile_keys = set(profile.overrides)
    own = {key: value for key, value in segment.overrides.items() if key not in profile_keys}
    return profile.cfg.with_overrides(own)


def baseline_lists(cut: Cut, catalog: DataFrame, cfg: Config, learned: dict[str, Ridge], k: int) -> DataFrame:
    """(method, user_id, items) of the baselines; the `learned` ones fitted on the cut."""
    users = cut.users
    counts = completion_counts(cut.plays, catalog)
    frames = {
        "random": random_lists(users, catalog, k, cfg.eval.seed),
        "global_popular": global_popular_lists(users, counts, k),
        "type_popular": type_popular_lists(users, counts, k),
        **{name: ridge_lists(model, users, k) for name, model in learned.items()},
    }
    return reduce(DataFrame.unionByName,
                  [frames[m].select(F.lit(m).alias("method"), "user_id", "items") for m in BASELINES])


def segment_lists_of(cut: Cut, catalog: DataFrame, base_df: DataFrame, vectors: TagVectors, k: int) -> ListsOf:
    def lists_of(users_df: DataFrame, cfgs: list[Config]) -> DataFrame:
        return pipeline_lists(users_df, catalog, base_df, cut.start, vectors, cfgs, k)
    return lists_of


def profile_lists_of(pcut: ProfileCut, k: int) -> ListsOf:
    def lists_of(users_df: DataFrame, cfgs: list[Config]) -> DataFrame:
        return profile_lists(pcut, users_df, cfgs, k)
    return lists_of


def named(lists: DataFrame, labels: list[str]) -> DataFrame:
    """(candidate, user_id, items) -> (method, user_id, items), candidate i named labels[i]."""
    names = F.array(*(F.lit(label) for label in labels))
    return lists.select(F.element_at(names, F.col("candidate") + 1).alias("method"), "user_id", "items")


def method_lists(cut: Cut, catalog: DataFrame, cfg: Config, configs: dict[str, dict[str, Config]],
                 lists_of: dict[str, ListsOf], learned: dict[str, Ridge], k: int) -> DataFrame:
    """(method, user_id, items) for every method of METHODS on the cut's users."""
    families = [named(lists_of[family](cut.users, list(cfgs.values())), list(cfgs))
                for family, cfgs in configs.items()]
    return reduce(DataFrame.unionByName, families, baseline_lists(cut, catalog, cfg, learned, k))


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


def validation_table(cut: Cut, catalog: DataFrame, tunings: dict[str, Tuning], cfg: Config,
                     learned: dict[str, Ridge], k: int) -> pd.DataFrame:
    """Accuracy on the validation users: the baselines measured here, each family's rows from its tuning."""
    acc = accuracy(baseline_lists(cut, catalog, cfg, learned, k), cut.relevant, k)
    for family, tuning in tunings.items():
        acc |= {label: tuning.metrics_of(c) for label, c in family_configs(cfg, family, tuning.best.cfg).items()}
    rows = [{"method": m, "k": k, **acc.get(m, empty_accuracy())} for m in METHODS]
    return pd.DataFrame(rows, columns=list(VALIDATION_COLUMNS))


def cut_candidates(data: EvalData, catalog_local: pd.DataFrame, cut: Cut) -> DataFrame:
    """The cut's segment x candidate table, as the job builds it from the same counts; checkpointed
    so that the many plans built on it (a union of every grid point) stay small to analyse."""
    base_df, _ = candidate_table(data.catalog.sparkSession, data.inputs.codes, catalog_local, cut.counts)
    return base_df.localCheckpoint()


def evaluate(data: EvalData, cfg: Config, stages: Stages | None = None) -> Evaluation:
    """Tune each family on [T0, T), then measure every method on the users who start at or after T."""
    stages = stages or Stages()
    k = cfg.eval.k
    catalog = data.catalog
    with stages.stage("split"):
        firsts = first_sessions(data.sessions).cache()
        t0, t = cutoffs(firsts, cfg.eval)
        validation = make_cut("validation", data, firsts, t0, t, cfg.eval.horizon_days, stages)
        test = make_cut("test", data, firsts, t, None, cfg.eval.horizon_days, stages)
        # on the driver for the candidates and the TF-IDF, as in the job: bounded by the catalog
        catalog_local = catalog.select("workout_id", "workout_type", "tags").toPandas()
        vectors = tag_vectors(catalog_local)
        catalog_size = len(catalog_local)
    with stages.stage("tune"):
        tried = {family: candidates(cfg, family) for family in FAMILIES}
        pcut = profile_cut(data, validation, [c.cfg for c in tried["profile"]], catalog_local, vectors, cfg, stages)
        validation_lists = {
            "segment": segment_lists_of(validation, catalog, cut_candidates(data, catalog_local, validation),
                                        vectors, k),
            "profile": profile_lists_of(pcut, k),
        }
        tunings = {family: tune(validation, tried[family], validation_lists[family], k) for family in FAMILIES}
        val_table = validation_table(validation, catalog, tunings, cfg,
                                     ridge_cut(data, validation, pcut, cfg, stages), k)
    with stages.stage("test_methods"):
        configs = {family: family_configs(cfg, family, tunings[family].best.cfg) for family in FAMILIES}
        pcut = profile_cut(data, test, list(configs["profile"].values()), catalog_local, vectors, cfg, stages)
        test_lists = {
            "segment": segment_lists_of(test, catalog, cut_candidates(data, catalog_local, test), vectors, k),
            "profile": profile_lists_of(pcut, k),
        }
        learned = ridge_cut(data, test, pcut, cfg, stages)
        lists = method_lists(test, catalog, cfg, configs, test_lists, learned, k).localCheckpoint()
        table = results_table(lists, test, vectors, catalog_size, k)
        intervals = ndcg_intervals(lists, test.relevant, k, COMPARED, cfg.eval.seed)
    info = {
        "validation_cutoff": format_micros(t0), "test_cutoff": format_micros(t),
        "horizon_days": cfg.eval.horizon_days, "k": k, "catalog": catalog_size,
        "test": user_counts(test), "validation": user_counts(validation),
    }
    per_user = lists.join(test.relevant, on="user_id", how="inner").select("method", "user_id", "items", "relevant")
    return Evaluation(table, val_table, tunings, info, per_user, intervals)
