"""The onboarding lookup: a new user's profile -> their list, from the job's recommendations.

Plain pandas, no Spark: the tables are segments x k and profiles x k rows. A user's list is
their profile's list (SPEC §10) when the job made one for that profile, else their segments'
lists merged round-robin; the answer says which (`source`). The merge rule lives here once,
as `MERGE_ORDER`; the evaluation applies the same order with Spark
(`coldstart.evaluation.lists.merge_lists`).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pandas as pd

SEGMENT_SEPARATOR = "|"
# between the types of a profile key, `26-35|Advanced|cycling,yoga` (SPEC §10)
TYPE_SEPARATOR = ","
RESULT_COLUMNS = ("rank", "workout_id", "score", "source", "list_key", "title")
# where an answer comes from
FROM_PROFILE, FROM_SEGMENTS = "profile", "segments"

# Round-robin by rank: all rank-1 items, highest score first, ties lower workout id;
# then all rank-2 items; and so on. (column, ascending) in priority order.
MERGE_ORDER: tuple[tuple[str, bool], ...] = (("rank", True), ("score", False), ("workout_id", True))


class UnknownProfileValue(ValueError):
    """An age group, level or type that no segment has (the message lists the valid values)."""


@dataclass(frozen=True)
class Profile:
    """A new user's answers at onboarding, normalised like SPEC §1."""

    age_group: str
    fitness_level: str
    types: tuple[str, ...]

    @classmethod
    def of(cls, age_group: str, fitness_level: str, types: str | Iterable[str]) -> Profile:
        return cls(normalise_age_group(age_group), normalise_level(fitness_level), normalise_types(types))

    @classmethod
    def from_any(cls, profile: Profile | Mapping[str, object]) -> Profile:
        if isinstance(profile, Profile):
            return cls.of(profile.age_group, profile.fitness_level, profile.types)
        return cls.of(str(profile["age_group"]), str(profile["fitness_level"]), profile["types"])  # type: ignore[arg-type]

    def segment_keys(self) -> list[str]:
        return [SEGMENT_SEPARATOR.join((self.age_group, self.fitness_level, t)) for t in self.types]

    def profile_key(self) -> str:
        """`age|level|t1,t2,...`, the types in code point order (SPEC §10)."""
        return SEGMENT_SEPARATOR.join((self.age_group, self.fitness_level, TYPE_SEPARATOR.join(sorted(self.types))))


def normalise_age_group(value: str) -> str:
    return value.strip()


def normalise_level(value: str) -> str:
    """Trimmed, title case the way Spark's `initcap` does it (`advanced` -> `Advanced`)."""
    return " ".join(word.capitalize() for word in value.strip().split(" "))


def normalise_types(types: str | Iterable[str]) -> tuple[str, ...]:
    """A comma-separated string or a list -> trimmed, lower-case, distinct types in first-seen order."""
    items = types.split(",") if isinstance(types, str) else types
    cleaned = (str(t).strip().lower() for t in items)
    return tuple(dict.fromkeys(t for t in cleaned if t))


def merge_round_robin(items: pd.DataFrame, k: int) -> pd.DataFrame:
    """Several ranked lists (`workout_id`, `score`, `rank`, ...) -> one list of at most k, `rank` renumbered.

    A workout in two lists keeps its first place in the merge order (no duplicates).
    """
    columns = [c for c, _ in MERGE_ORDER]
    ascending = [a for _, a in MERGE_ORDER]
    ordered = items.sort_values(columns, ascending=ascending, kind="mergesort")
    merged = ordered.drop_duplicates("workout_id", keep="first").head(k).reset_index(drop=True)
    return merged.assign(rank=range(1, len(merged) + 1))


def segment_parts(recommendations: pd.DataFrame) -> pd.DataFrame:
    """The distinct segments as columns age_group, fitness_level, workout_type."""
    keys = pd.Series(recommendations["segment_key"].unique(), dtype="object")
    parts = keys.str.split(SEGMENT_SEPARATOR, n=2, expand=True, regex=False)
    return parts.set_axis(["age_group", "fitness_level", "workout_type"], axis=1)


def _check_known(name: str, values: Iterable[str], valid: Iterable[str]) -> None:
    valid_set = sorted(set(valid))
    unknown = [v for v in values if v not in valid_set]
    if unknown:
        raise UnknownProfileValue(f"unknown {name} {', '.join(map(repr, unknown))}; valid: {', '.join(valid_set)}")


def check_profile(profile: Profile, recommendations: pd.DataFrame) -> None:
    """Raise UnknownProfileValue unless every part of the profile names some segment."""
    parts = segment_parts(recommendations)
    _check_known("age group", [profile.age_group], parts["age_group"])
    _check_known("fitness level", [profile.fitness_level], parts["fitness_level"])
    if not profile.types:
        raise UnknownProfileValue(f"no workout type given; valid: {', '.join(sorted(set(parts['workout_type'])))}")
    _check_known("workout type", profile.types, parts["workout_type"])


def _answer(items: pd.DataFrame, source: str, list_key: pd.Series) -> pd.DataFrame:
    titles = items["title"].fillna("") if "title" in items.columns else ""
    return items.assign(source=source, list_key=list_key.to_numpy(), title=titles)[list(RESULT_COLUMNS)]


def recommend_for(profile: Profile | Mapping[str, object], recommendations: pd.DataFrame, k: int = 5,
                  profile_recommendations: pd.DataFrame | None = None) -> pd.DataFrame:
    """The list of a new user, cut at k: their profile's list (`source` "profile") when
    `profile_recommendations` (profile_recommendations.csv) holds their profile, else their
    segments' lists merged round-robin by rank (`source` "segments").

    `recommendations` holds `segment_key, workout_id, score, rank` (segment_recommendations.csv),
    optionally `title` (so may `profile_recommendations`). Returns RESULT_COLUMNS; `list_key` is
    the profile key, or the segment key an item came from; `title` is empty when unknown.
    """
    user = Profile.from_any(profile)
    check_profile(user, recommendations)
    if profile_recommendations is not None:
        key = user.profile_key()
        listed = profile_recommendations[profile_recommendations["profile_key"] == key]
        if not listed.empty:
            top = listed.sort_values("rank", kind="mergesort").head(k).reset_index(drop=True)
            return _answer(top.assign(rank=range(1, len(top) + 1)), FROM_PROFILE, top["profile_key"])
    merged = merge_round_robin(recommendations[recommendations["segment_key"].isin(user.segment_keys())], k)
    return _answer(merged, FROM_SEGMENTS, merged["segment_key"])
