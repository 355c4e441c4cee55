"""Learned baselines for the evaluation: what a new user completes, regressed on what they state.

Each past user v (accepted, with a profile, not new at the cut) is a row of one-hot features x_v: an
intercept, their age group, their level and each of their catalog types; `y_v(w) = [v completed w
before the cut]`. `W = (XᵀX + λI)⁻¹ XᵀY` (λ = `eval.ridge_l2`), and a new user's list is the k
workouts with the highest `x·W` (ties: lower workout_id).
- `ridge` learns one additive effect per stated category and workout, as a factorisation model
  with user features would, but no combination of types.
- `ridge_pairs` adds a feature per pair of stated categories (age x level, age x type, level x type,
  type x type): it learns what users with both yoga and pilates, or yoga at 56+, complete, the
  combinations SPEC §10 weighs by similarity instead.
Users of one profile share x, so the sums come per profile: the number of its users, and the job's
SPEC §10 engagement with ρ = 0 and η = 0 (the number of its users who completed w). Both are
bounded by profiles x workouts; the solve is (features x features) on the driver.
"""
from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from coldstart.codes import Codes, string_array
from coldstart.config import Config
from coldstart.evaluation.profile_lists import ProfileCut, user_profile_key
from coldstart.evaluation.split import Cut, EvalData
from coldstart.pipeline import engagement_of
from coldstart.profile_model import Catalog, Engagement, top_positions
from coldstart.profiles import Target, profile_key, target_of
from coldstart.progress import Stages

LEARNED = ("ridge", "ridge_pairs")  # the learned baselines, the second with `pairs`


def n_categories(codes: Codes) -> int:
    return len(codes.age_groups) + len(codes.levels) + len(codes.types)


def width(codes: Codes, pairs: bool) -> int:
    """Features: intercept, one per category, and with `pairs` one per pair of categories."""
    m = n_categories(codes)
    return 1 + m + (m * (m - 1) // 2 if pairs else 0)


def features(codes: Codes, target: Target, pairs: bool = False) -> np.ndarray:
    """A profile's one-hot row: intercept, age group, level, each type; with `pairs`, then each pair of
    those categories (i < j, in that order: category i's pairs with every later one, i = 0, 1, ...)."""
    n_ages, n_levels, m = len(codes.age_groups), len(codes.levels), n_categories(codes)
    age, level = divmod(target.al_code, n_levels)
    stated = [age, n_ages + level, *(n_ages + n_levels + t for t in sorted(target.types))]
    row = np.zeros(width(codes, pairs))
    row[[0, *(1 + c for c in stated)]] = 1.0
    if pairs:
        # pair (i, j) of m categories: after the pairs of 0..i-1, which number i·m - i(i+1)/2
        row[[1 + m + i * m - i * (i + 1) // 2 + (j - i - 1) for i, j in itertools.combinations(stated, 2)]] = 1.0
    return row


def fit(codes: Codes, users: dict[Target, int], engagement: Engagement, l2: float, pairs: bool = False) -> np.ndarray:
    """W (features x catalog) from the users per profile and their completions per profile and workout."""
    n = width(codes, pairs)
    gram, cross = l2 * np.eye(n), np.zeros((n, engagement.n_workouts))
    for target, count in users.items():
        x = features(codes, target, pairs)
        gram += count * np.outer(x, x)
    for al_code, matrix in engagement.matrices.items():
        rows = np.stack([features(codes, Target(al_code, types), pairs) for types in engagement.type_sets])
        cross += (matrix.T @ rows).T  # sum over the source profiles of x_P (completions of P)ᵀ
    return np.linalg.solve(gram, cross)


def top_k(scores: np.ndarray, workout_ids: np.ndarray, k: int) -> list[int]:
    """The k highest scores; the catalog is in workout_id order, so ties go to the lower id."""
    return [int(workout_ids[i]) for i in top_positions(scores, k)]


@dataclass(frozen=True)
class Ridge:
    codes: Codes
    catalog: Catalog
    weights: np.ndarray  # features x catalog
    targets: list[Target]  # the evaluated users' distinct profiles
    pairs: bool  # features of pairs of categories (`ridge_pairs`)


def profile_users(data: EvalData, cut: Cut, codes: Codes) -> dict[Target, int]:
    """The past users (not new at the cut) per profile; bounded by profiles."""
    known = F.array_sort(F.array_intersect("preferred_types", string_array(codes.types)))
    rows = (data.users.join(cut.new_users, on="user_id", how="left_anti")
            .groupBy("age_group", "fitness_level", known.alias("types")).count().collect())
    users: dict[Target, int] = {}
    for r in rows:
        target = target_of(codes, r["age_group"], r["fitness_level"], r["types"])
        if target is not None:
            users[target] = users.get(target, 0) + int(r["count"])
    return users


def ridge_cut(data: EvalData, cut: Cut, pcut: ProfileCut, cfg: Config, stages: Stages) -> dict[str, Ridge]:
    """The `LEARNED` models fitted on the cut's training side (the events up to the cut, without the
    new users), over the catalog of the cut's profile methods, for the profiles they rank."""
    codes = data.inputs.codes
    counting = dataclasses.replace(cfg.profile, degree_power=0.0, like_weight=0.0, recency_half_life_days=0.0)
    completed = engagement_of(data.inputs, cut.start, cut.start, counting, pcut.catalog, stages,
                              exclude_users=cut.new_users)
    users = profile_users(data, cut, codes)
    return {name: Ridge(codes, pcut.catalog, fit(codes, users, completed, cfg.eval.ridge_l2, pairs), pcut.targets,
                        pairs)
            for name, pairs in zip(LEARNED, (False, True), strict=True)}


def ridge_lists(model: Ridge, users_df: DataFrame, k: int) -> DataFrame:
    """(user_id, items): the top k of each user's profile (the cut's users: `model.targets` are their
    profiles); a user without any catalog type gets an empty list."""
    rows = [(profile_key(model.codes, t),
             top_k(features(model.codes, t, model.pairs) @ model.weights, model.catalog.workout_ids, k))
            for t in model.targets]
    spark = users_df.sparkSession
    lists = spark.createDataFrame(pd.DataFrame(rows, columns=["profile_key", "items"]) if rows else [],
                                  "profile_key string, items array<bigint>")
    empty = F.array().cast("array<bigint>")
    return (users_df.select("user_id", user_profile_key(model.codes).alias("profile_key"))
            .join(F.broadcast(lists), on="profile_key", how="left")
            .select("user_id", F.coalesce("items", empty).alias("items")))
