"""The onboarding lookup: a new user's profile -> their list, from the segment recommendations.

Plain pandas, no Spark: the recommendations table is segments x k rows. The merge rule
of a user with several preferred types lives here once, as `MERGE_ORDER`; the
evaluation applies the same order with Spark (`coldstart.evaluation.lists.merge_lists`).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pandas as pd

SEGMENT_SEPARATOR = "|"
# between the types of a profile key, `26-35|Advanced|cycling,yoga` (SPEC §10)
TYPE_SEPARATOR = ","
RESULT_COLUMNS = ("rank", "workout_id", "score", "segment_key", "title")

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


def recommend_for(profile: Profile | Mapping[str, object], recommendations: pd.DataFrame, k: int = 5) -> pd.DataFrame:
    """The list of a new user: their segments' lists merged round-robin by rank, cut at k.

    `recommendations` holds `segment_key, workout_id, score, rank` (segment_recommendations.csv),
    optionally `title`. Returns RESULT_COLUMNS (`title` empty when unknown).
    """
    user = Profile.from_any(profile)
    check_profile(user, recommendations)
    lists = recommendations[recommendations["segment_key"].isin(user.segment_keys())]
    merged = merge_round_robin(lists, k)
    if "title" not in merged.columns:
        merged = merged.assign(title="")
    return merged.assign(title=merged["title"].fillna(""))[list(RESULT_COLUMNS)]
