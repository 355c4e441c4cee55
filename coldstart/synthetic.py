"""Deterministic synthetic inputs in the formats of SPEC §1 (no Spark: numpy, pandas, pyarrow).

Users are made in chunks, each from its own `default_rng([seed, CHUNK_STREAM, i])`,
and written as soon as they are made, so memory depends on `chunk_users`, not on `users`.
Parquet columns: ids int64, `completed`/`liked` int8, timestamps `timestamp('us')`
(naive, meaning UTC), `preferred_types` the same comma-separated string as in the CSV.
"""
from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

log = logging.getLogger(__name__)

AGE_GROUPS = ("18-25", "26-35", "36-50", "51+")
LEVELS = ("Beginner", "Intermediate", "Advanced")
WORKOUT_TYPES = ("yoga", "cycling", "running", "walking", "strength", "hiit",
                 "pilates", "cardio", "boxing", "dance", "stretching", "rowing")
TAGS = ("low-impact", "high-intensity", "no-equipment", "beginner-friendly", "fat-burn", "endurance",
        "core", "upper-body", "lower-body", "full-body", "mobility", "balance", "flexibility", "recovery",
        "mindfulness", "breathwork", "music", "outdoor", "indoor", "quick", "strength-building",
        "cardio-boost", "posture", "energizing", "relaxing", "weights", "bodyweight", "intervals",
        "choreography", "technique")
# tags that belong to a workout type: drawn far more often for that type's workouts
TYPE_TAGS = {
    "yoga": ("mindfulness", "flexibility", "breathwork", "balance"),
    "cycling": ("endurance", "intervals", "indoor", "music"),
    "running": ("outdoor", "endurance", "intervals"),
    "walking": ("low-impact", "outdoor", "beginner-friendly"),
    "strength": ("weights", "strength-building", "upper-body", "lower-body"),
    "hiit": ("high-intensity", "intervals", "fat-burn"),
    "pilates": ("core", "posture", "balance"),
    "cardio": ("cardio-boost", "fat-burn", "energizing"),
    "boxing": ("upper-body", "technique", "high-intensity"),
    "dance": ("choreography", "music", "energizing"),
    "stretching": ("flexibility", "mobility", "recovery"),
    "rowing": ("full-body", "endurance", "technique"),
}
# each age group's favourite tags: every match multiplies the pick weight
AGE_FAVOURITE_TAGS = (
    ("high-intensity", "music", "fat-burn", "choreography"),
    ("strength-building", "intervals", "quick", "energizing"),
    ("core", "no-equipment", "quick", "posture"),
    ("low-impact", "mobility", "balance", "relaxing"),
)
# relative taste of each age group (rows) for each workout type (WORKOUT_TYPES order)
AGE_TYPE_TASTE = np.array([
    [1.0, 1.0, 1.6, 0.5, 1.4, 1.8, 0.8, 1.0, 1.5, 1.6, 0.5, 0.8],
    [1.2, 1.3, 1.4, 0.7, 1.6, 1.5, 1.0, 1.0, 1.1, 1.0, 0.7, 1.0],
    [1.3, 1.3, 1.0, 1.2, 1.2, 0.8, 1.3, 1.1, 0.7, 0.8, 1.1, 1.1],
    [1.5, 1.1, 0.5, 1.8, 0.8, 0.4, 1.2, 0.9, 0.4, 0.7, 1.6, 0.9],
])
AGE_PROBS = (0.25, 0.35, 0.25, 0.15)
LEVEL_PROBS_BY_AGE = np.array([[0.40, 0.38, 0.22], [0.35, 0.40, 0.25], [0.45, 0.37, 0.18], [0.55, 0.33, 0.12]])
# level of the picked workout (columns) given the user's level (rows): mostly their own
LEVEL_PICK = np.array([[0.80, 0.17, 0.03], [0.15, 0.70, 0.15], [0.05, 0.25, 0.70]])
FIRST_NAMES = ("Ava", "Ben", "Chloe", "Diego", "Emma", "Felix", "Grace", "Hugo", "Isla", "Jonas",
               "Kira", "Leo", "Maya", "Nico", "Olivia", "Priya", "Quinn", "Rosa", "Sam", "Tara")
LAST_NAMES = ("Adams", "Brooks", "Chen", "Diaz", "Evans", "Fischer", "Garcia", "Hart", "Ito", "Jensen",
              "Khan", "Lopez", "Moreau", "Novak", "Okafor", "Patel", "Rossi", "Silva", "Turner", "Weber")
TITLE_WORDS = (("Sunrise", "Power", "Gentle", "Express", "Total", "Ultimate", "Steady", "Fierce", "Calm", "Peak"),
               ("Flow", "Session", "Burn", "Blast", "Builder", "Reset", "Ride", "Challenge", "Basics", "Groove"))
# past the 12 types above (generate(types=N)): these names, then `type21`, `type22`, ...
EXTRA_TYPES = ("barre", "kickboxing", "tai chi", "aerobics", "crossfit", "swimming", "climbing", "calisthenics")
EXTRA_TYPE_STREAM = 2  # the random stream of the extra types' tastes and tags: fixed, whatever the seed
N_INSTRUCTORS = 40
# the clearly worse instructors: far lower completion and like rates on all their workouts
BAD_INSTRUCTOR_IDS = (7, 23, 38)
# each instructor teaches the types at these offsets from their own index
INSTRUCTOR_TYPE_OFFSETS = (0, 5, 7)
CATALOG_STREAM, CHUNK_STREAM = 0, 1
US_PER_DAY, US_PER_MINUTE = 86_400_000_000, 60_000_000
FORMATS = ("csv", "parquet")
TIMESTAMP = pa.timestamp("us")  # naive, meaning UTC


@dataclass(frozen=True)
class Types:
    """The workout types of a generated catalog: names, each type's own tags, each age group's taste."""

    names: tuple[str, ...]
    tags: dict[str, tuple[str, ...]]
    taste: np.ndarray  # (age group, type)

    @classmethod
    def of(cls, n: int = len(WORKOUT_TYPES)) -> Types:
        """The 12 types above, then `n - 12` more with tastes and tags drawn from a fixed stream."""
        if n < 1:
            raise ValueError(f"types must be at least 1, got {n}")
        extra = n - len(WORKOUT_TYPES)
        if extra <= 0:
            return cls(WORKOUT_TYPES[:n], TYPE_TAGS, AGE_TYPE_TASTE[:, :n])
        rng = np.random.default_rng([0, EXTRA_TYPE_STREAM])
        names = WORKOUT_TYPES + tuple(EXTRA_TYPES[i] if i < len(EXTRA_TYPES) else f"type{len(WORKOUT_TYPES) + i + 1}"
                                      for i in range(extra))
        tags = dict(TYPE_TAGS) | {name: tuple(rng.choice(TAGS, size=3, replace=False))
                                  for name in names[len(WORKOUT_TYPES):]}
        taste = np.hstack([AGE_TYPE_TASTE, rng.uniform(0.4, 1.8, size=(len(AGE_GROUPS), extra))])
        return cls(names, tags, taste)


@dataclass(frozen=True)
class Params:
    """Knobs of the generative model, tuned so the defaults match the original system's data."""

    signup_days: float = 365.0  # users sign up uniformly over this window before `end`
    catalog_days: float = 730.0  # workouts are released uniformly over this window before `end`
    active_min_days: float = 14.0  # a user trains over min + Exp(mean) days after signing up
    active_mean_days: float = 75.0
    sessions_mean: float = 19.5  # mean sessions of a user whose active span is not cut by `end`
    sessions_shape: float = 1.5  # gamma shape of per-user activity: a few very active users
    n_types_probs: tuple[float, ...] = (0.3, 0.4, 0.3)  # 1, 2 or 3 preferred types
    preferred_share: float = 0.85  # sessions on one of the user's preferred types
    bucket_days: float = 7.0  # pick weights are recomputed weekly; releases count from the next week
    quality_pick: float = 0.5  # pick weight x exp(quality_pick * quality)
    popularity_sigma: float = 0.6  # hidden popularity ~ lognormal(0, sigma)
    favourite_tag_boost: float = 0.4  # pick weight x exp(boost * favourite tags matched)
    new_boost: float = 2.0  # pick weight x (1 + new_boost * exp(-days since release / decay))
    new_decay_days: float = 30.0
    grit_sigma: float = 0.5  # per-user completion propensity (logit scale)
    completion_base: float = 1.2
    completion_quality: float = 0.6
    completion_harder: float = 0.9  # per level the workout is above the user's
    completion_bad: float = 2.4
    like_base: float = 0.1
    like_quality: float = 0.8
    like_harder: float = 0.5
    like_completed: float = 0.9
    like_bad: float = 2.2
    feedback_completed: float = 0.455  # share of completed sessions that get feedback
    feedback_abandoned: float = 0.33
    feedback_delay_minutes: float = 30.0  # mean of the exponential delay after the workout ends
    untagged_share: float = 0.04
    tags_per_workout: tuple[int, int] = (2, 5)
    type_tag_weight: float = 8.0
    durations: tuple[int, ...] = (10, 15, 20, 30, 45, 60)
    catalog_level_probs: tuple[float, ...] = (0.4, 0.35, 0.25)


PARAMS = Params()


def _choice_rows(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One draw per row of a (n, k) matrix of probabilities."""
    u = rng.random(len(probs))
    return np.minimum((np.cumsum(probs, axis=1) < u[:, None]).sum(axis=1), probs.shape[1] - 1)


def _top_k(rng: np.random.Generator, weights: np.ndarray, k: int) -> np.ndarray:
    """Per row, k column indices drawn without replacement proportionally to `weights` (Gumbel top-k)."""
    keys = np.log(weights) + rng.gumbel(size=weights.shape)
    return np.argsort(-keys, axis=1, kind="stable")[:, :k]


def instructor_names() -> list[str]:
    """Fixed, unique names of instructors 1..N_INSTRUCTORS."""
    n = len(FIRST_NAMES)
    return [f"{FIRST_NAMES[i % n]} {LAST_NAMES[(3 * i + i // n) % n]}" for i in range(N_INSTRUCTORS)]


def build_catalog(workouts: int = 600, seed: int = 42, end: str = "2025-12-31T00:00:00",
                  params: Params = PARAMS, types: Types | None = None) -> pd.DataFrame:
    """The catalog with its hidden columns (type/level indices, quality, popularity, release, bad)."""
    types = types or Types.of()
    n_cells = len(types.names) * len(LEVELS)
    if workouts < n_cells:
        raise ValueError(f"workouts must be at least {n_cells} (one per type and level), got {workouts}")
    rng = np.random.default_rng([seed, CATALOG_STREAM])
    n_types, idx = len(types.names), np.arange(workouts)
    # the first n_cells fill every (type, level) cell; the rest spread types evenly
    level = np.where(idx < n_cells, idx // n_types, rng.choice(len(LEVELS), workouts, p=params.catalog_level_probs))
    perm = rng.permutation(workouts)
    wtype, level, anchor = (idx % n_types)[perm], level[perm], perm < n_cells
    end_us = _to_us(end)
    release = end_us - (rng.random(workouts) * params.catalog_days * US_PER_DAY).astype(np.int64)
    # every cell has a workout out since launch, so every pick has a candidate at any time
    release[anchor] = end_us - int(params.catalog_days * US_PER_DAY)
    teaches = np.zeros((n_types, N_INSTRUCTORS), dtype=bool)
    for off in INSTRUCTOR_TYPE_OFFSETS:
        teaches[(np.arange(N_INSTRUCTORS) + off) % n_types, np.arange(N_INSTRUCTORS)] = True
    teachers = np.argsort(~teaches, axis=1, kind="stable")
    pick = (rng.random(workouts) * teaches.sum(axis=1)[wtype]).astype(np.int64)
    instructor_id = teachers[wtype, pick] + 1
    type_tag = np.array([[tag in types.tags[t] for tag in TAGS] for t in types.names])
    tag_order = _top_k(rng, np.where(type_tag, params.type_tag_weight, 1.0)[wtype], params.tags_per_workout[1])
    n_tags = rng.integers(params.tags_per_workout[0], params.tags_per_workout[1] + 1, workouts)
    n_tags[rng.random(workouts) < params.untagged_share] = 0
    words = [rng.integers(len(w), size=workouts) for w in TITLE_WORDS]
    names = instructor_names()
    return pd.DataFrame({
        "workout_id": idx + 1,
        "title": [f"{TITLE_WORDS[0][a]} {types.names[t].title()} {TITLE_WORDS[1][b]}"
                  for a, t, b in zip(words[0], wtype, words[1], strict=True)],
        "instructor": [names[i - 1] for i in instructor_id],
        "instructor_id": instructor_id,
        "workout_type": [types.names[t] for t in wtype],
        "fitness_level": [LEVELS[lv] for lv in level],
        "duration": rng.choice(params.durations, workouts),
        "tags": [[TAGS[j] for j in row[:k]] for row, k in zip(tag_order, n_tags, strict=True)],
        "type_idx": wtype, "level_idx": level,
        "quality": rng.normal(size=workouts),
        "popularity": rng.lognormal(0.0, params.popularity_sigma, workouts),
        "release_us": release,
        "bad": np.isin(instructor_id, BAD_INSTRUCTOR_IDS),
    })


@dataclass(frozen=True)
class _PickTable:
    """Cumulative pick weights per (type, level, age group, week) row, offset by row so one searchsorted serves all."""

    cum: np.ndarray  # flat, row r holds r + cumulative share, one slot per cell member
    members: np.ndarray  # (type * level cell, slot) -> workout index, -1 for padding
    start_us: int
    n_buckets: int
    bucket_us: int


def _pick_table(cat: pd.DataFrame, start_us: int, end_us: int, params: Params, n_types: int) -> _PickTable:
    cell = cat["type_idx"].to_numpy() * len(LEVELS) + cat["level_idx"].to_numpy()
    n_cells, n_ages = n_types * len(LEVELS), len(AGE_GROUPS)
    counts = np.bincount(cell, minlength=n_cells)
    order = np.argsort(cell, kind="stable")
    slot = np.arange(len(cat)) - np.repeat(np.cumsum(counts) - counts, counts)
    members = np.full((n_cells, counts.max()), -1)
    members[cell[order], slot] = order
    bucket_us = int(params.bucket_days * US_PER_DAY)
    n_buckets = (end_us - start_us) // bucket_us + 1
    favourite = np.array([[tag in fav for tag in TAGS] for fav in AGE_FAVOURITE_TAGS], dtype=float)
    has_tag = np.array([[tag in tags for tag in TAGS] for tags in cat["tags"]], dtype=float)
    age_weight = np.exp(params.favourite_tag_boost * favourite @ has_tag.T)  # (age, workout)
    base = cat["popularity"].to_numpy() * np.exp(params.quality_pick * cat["quality"].to_numpy())
    days_out = (start_us + np.arange(n_buckets)[:, None] * bucket_us - cat["release_us"].to_numpy()) / US_PER_DAY
    fresh = np.where(days_out >= 0, 1 + params.new_boost * np.exp(-np.maximum(days_out, 0) / params.new_decay_days), 0)
    weight = base * age_weight[:, None, :] * fresh[None, :, :]  # (age, bucket, workout)
    cell_weight = weight[:, :, np.maximum(members, 0)] * (members >= 0)  # (age, bucket, cell, slot)
    cum = np.cumsum(cell_weight.transpose(2, 0, 1, 3), axis=-1)
    cum = (cum / cum[..., -1:]).reshape(n_cells * n_ages * n_buckets, -1)
    cum[:, -1] = 1.0
    cum += np.arange(len(cum))[:, None]
    return _PickTable(cum.ravel(), members, start_us, int(n_buckets), bucket_us)


def _to_us(iso: str) -> int:
    return int(np.datetime64(iso, "us").astype(np.int64))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _types_lookup(type_names: tuple[str, ...]) -> np.ndarray:
    """`preferred_types` string for code (t0+1)*B^2 + (t1+1)*B + (t2+1), 0 meaning no type."""
    base = len(type_names) + 1
    names = ("",) + type_names
    return np.array([",".join(n for n in (names[c // base**2], names[c // base % base], names[c % base]) if n)
                     for c in range(base**3)], dtype=object)


def _chunk(rng: np.random.Generator, n: int, cat: pd.DataFrame, table: _PickTable, end_us: int,
           params: Params, taste: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Users of one chunk (local index 0..n-1) and their sessions, each sorted by user then time."""
    n_types, n_ages = taste.shape[1], len(AGE_GROUPS)
    age = rng.choice(n_ages, n, p=AGE_PROBS)
    level = _choice_rows(rng, LEVEL_PROBS_BY_AGE[age])
    k = rng.choice(len(params.n_types_probs), n, p=params.n_types_probs) + 1
    prefs = np.where(np.arange(3) < k[:, None], _top_k(rng, taste[age], 3), -1)
    signup = end_us - (rng.random(n) * params.signup_days * US_PER_DAY).astype(np.int64)
    desired = (params.active_min_days + rng.exponential(params.active_mean_days, n)) * US_PER_DAY
    span = np.minimum(desired, end_us - signup)
    activity = rng.gamma(params.sessions_shape, params.sessions_mean / params.sessions_shape, n)
    # a user who signed up lately has had less time to train
    user = np.repeat(np.arange(n), rng.poisson(activity * span / desired))
    u = rng.random(len(user))
    u = u[np.argsort(user + u, kind="stable")]  # sorts each user's draws: user + u keeps u to ~1e-9
    ts = signup[user] + (u * span[user]).astype(np.int64)
    m = len(user)
    ks, sorted_prefs = k[user], np.sort(np.where(prefs < 0, n_types, prefs), axis=1)[user]
    preferred = sorted_prefs[np.arange(m), (rng.random(m) * ks).astype(np.int64)]
    other = (rng.random(m) * (n_types - ks)).astype(np.int64)
    for j in range(sorted_prefs.shape[1]):  # the r-th type that is not preferred
        other += other >= sorted_prefs[:, j]
    wtype = np.where(rng.random(m) < params.preferred_share, preferred, other)
    wlevel = _choice_rows(rng, LEVEL_PICK[level[user]])
    bucket = (ts - table.start_us) // table.bucket_us
    row = ((wtype * len(LEVELS) + wlevel) * n_ages + age[user]) * table.n_buckets + bucket
    n_slots = table.members.shape[1]
    found = np.searchsorted(table.cum, row + rng.random(m), side="right")
    workout = table.members[wtype * len(LEVELS) + wlevel, found - row * n_slots]
    harder = np.maximum(cat["level_idx"].to_numpy()[workout] - level[user], 0)
    quality, bad = cat["quality"].to_numpy()[workout], cat["bad"].to_numpy()[workout]
    grit = rng.normal(0.0, params.grit_sigma, n)[user]
    completed = rng.random(m) < _sigmoid(params.completion_base + params.completion_quality * quality
                                         - params.completion_harder * harder - params.completion_bad * bad + grit)
    has_feedback = rng.random(m) < np.where(completed, params.feedback_completed, params.feedback_abandoned)
    liked = rng.random(m) < _sigmoid(params.like_base + params.like_quality * quality - params.like_harder * harder
                                     + params.like_completed * completed - params.like_bad * bad)
    watched = cat["duration"].to_numpy()[workout] * np.where(completed, 1.0, rng.random(m)) * US_PER_MINUTE
    delay = rng.exponential(params.feedback_delay_minutes * US_PER_MINUTE, m)
    feedback_time = np.minimum(ts + (watched + delay).astype(np.int64), end_us)
    codes = (prefs + 1) @ np.array([(n_types + 1) ** 2, n_types + 1, 1])
    users = {"user": np.arange(n), "age": age, "level": level, "codes": codes}
    sessions = {"user": user, "workout": workout + 1, "completed": completed, "ts": ts,
                "has_feedback": has_feedback, "liked": liked, "feedback_time": feedback_time}
    return users, sessions


# CSV rendering of the timestamp columns: ISO-8601 with microseconds, feedback with a `Z`
ISO_SUFFIX = {"timestamp": "", "feedback_time": "Z"}


def _csv_bytes(table: pa.Table) -> bytes:
    """Header-less CSV rows; only values holding a comma are quoted."""
    for name, suffix in ISO_SUFFIX.items():
        if name in table.column_names:
            iso = pc.replace_substring(pc.cast(table[name], pa.string()), " ", "T", max_replacements=1)
            iso = pc.binary_join_element_wise(iso, suffix, "") if suffix else iso
            table = table.set_column(table.column_names.index(name), name, iso)
    if "preferred_types" in table.column_names:  # holds commas: pandas quotes just those
        return table.to_pandas().to_csv(index=False, header=False, lineterminator="\n").encode()
    sink = pa.BufferOutputStream()
    pacsv.write_csv(table, sink, pacsv.WriteOptions(include_header=False, quoting_style="none"))
    return sink.getvalue().to_pybytes()


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _write_part(path: Path, table: pa.Table, part: int) -> None:
    """Chunk `part` of a dataset: a part file of the Parquet directory, or rows appended to the CSV."""
    if path.suffix == ".parquet":
        path.mkdir(exist_ok=True)
        pq.write_table(table, path / f"part-{part:05d}.parquet")
        return
    with path.open("wb" if part == 0 else "ab") as out:
        if part == 0:
            out.write((",".join(table.column_names) + "\n").encode())
        out.write(_csv_bytes(table))


def _tables(users: dict[str, np.ndarray], sessions: dict[str, np.ndarray], first_user: int, first_session: int,
            first_feedback: int, lookup: np.ndarray) -> dict[str, pa.Table]:
    """The chunk's rows in the column order of SPEC §1, with global ids."""
    user_id = sessions["user"] + first_user + 1
    session_id = np.arange(len(user_id), dtype=np.int64) + first_session + 1
    fb = sessions["has_feedback"]
    return {
        "users": pa.table({
            "user_id": users["user"] + first_user + 1,
            "age_group": np.array(AGE_GROUPS, dtype=object)[users["age"]],
            "fitness_level": np.array(LEVELS, dtype=object)[users["level"]],
            "preferred_types": lookup[users["codes"]],
        }),
        "sessions": pa.table({
            "session_id": session_id, "user_id": user_id, "workout_id": sessions["workout"],
            "completed": sessions["completed"].astype(np.int8), "timestamp": pa.array(sessions["ts"], TIMESTAMP),
        }),
        "feedback": pa.table({
            "feedback_id": np.arange(int(fb.sum()), dtype=np.int64) + first_feedback + 1,
            "session_id": session_id[fb], "user_id": user_id[fb], "workout_id": sessions["workout"][fb],
            "liked": sessions["liked"][fb].astype(np.int8),
            "feedback_time": pa.array(sessions["feedback_time"][fb], TIMESTAMP),
        }),
    }


def _write_catalog(path: Path, cat: pd.DataFrame) -> None:
    """A JSON array, one workout object per line."""
    rows = [json.dumps({"workout_id": f"w{r.workout_id}", "title": r.title, "instructor": r.instructor,
                        "instructor_id": int(r.instructor_id), "workout_type": r.workout_type,
                        "fitness_level": r.fitness_level, "duration": int(r.duration), "tags": list(r.tags)})
            for r in cat.itertuples(index=False)]
    path.write_text("[\n" + ",\n".join(rows) + "\n]\n", encoding="utf-8")


def generate(output_dir: str, users: int = 2000, seed: int = 42, fmt: str = "csv", workouts: int = 600,
             chunk_users: int = 200_000, end: str = "2025-12-31T00:00:00", types: int = len(WORKOUT_TYPES)) -> dict:
    """Write users, sessions, feedback (CSV or Parquet) and `augmented_workouts.json`; return the counts.

    `types`: the number of workout types (12 by default; more: `Types.of`).
    """
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")
    if users < 1 or chunk_users < 1:
        raise ValueError(f"users and chunk_users must be positive, got {users} and {chunk_users}")
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    type_set = Types.of(types)
    cat = build_catalog(workouts, seed, end, types=type_set)
    _write_catalog(out / "augmented_workouts.json", cat)
    end_us = _to_us(end)
    table = _pick_table(cat, end_us - int(PARAMS.signup_days * US_PER_DAY), end_us, PARAMS, len(type_set.names))
    lookup = _types_lookup(type_set.names)
    paths = {name: out / f"{name}.{fmt}" for name in ("users", "sessions", "feedback")}
    for name in paths:  # readers prefer Parquet when both exist: leave no stale copy in the other format
        _remove(out / f"{name}.csv")
        _remove(out / f"{name}.parquet")
    counts = dict.fromkeys(paths, 0)
    n_chunks = -(-users // chunk_users)
    started = time.perf_counter()
    for part in range(n_chunks):
        first = part * chunk_users
        rng = np.random.default_rng([seed, CHUNK_STREAM, part])
        chunk_users_, chunk_sessions = _chunk(rng, min(chunk_users, users - first), cat, table, end_us, PARAMS,
                                              type_set.taste)
        tables = _tables(chunk_users_, chunk_sessions, first, counts["sessions"], counts["feedback"], lookup)
        for name, path in paths.items():
            _write_part(path, tables[name], part)
            counts[name] += tables[name].num_rows
        log.info("chunk %d/%d: %d/%d users, %d sessions, %.1f s", part + 1, n_chunks, counts["users"], users,
                 counts["sessions"], time.perf_counter() - started)
    return {**counts, "workouts": workouts, "instructors": N_INSTRUCTORS,
            "bad_instructor_ids": list(BAD_INSTRUCTOR_IDS)}
