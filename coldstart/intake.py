"""Validation of all four datasets, and the one pass over the event tables that counts them.

The users are counted by profile (reason, age group, level, preferred types as written),
each distinct profile normalised once: that gives the category codes, the users' reject
counts and the users per segment, and the compact users the event joins broadcast are
the users joined with their profile's codes.
The catalog is persisted narrow. The event tables are never persisted: one query
aggregates both, grouped by (reason, after as_of, workout, segment code), and gives
at once their reject counts, the events after as_of, the default as_of and the
engagement counts; it is bounded by reasons x workouts x segment codes, so it is
collected. The rejects are written by another pass, and only when there are any.
"""
from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa
from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, Row, SparkSession
from pyspark.sql import functions as F

from coldstart.codes import Codes, string_array
from coldstart.config import Config
from coldstart.engagement import COUNT_KEYS, count_frame_dtypes, feedback_counts, session_counts
from coldstart.progress import Stages
from coldstart.sources import RawInputs
from coldstart.validation import (
    DUPLICATE_KEYS,
    RAW_PROFILE,
    REASONS,
    Validated,
    reason_name,
    search_duplicates,
    validate_catalog,
    validate_feedback,
    validate_sessions,
    validate_users,
    with_user_profile,
)

log = logging.getLogger(__name__)

EVENT_DATASETS = ("sessions", "feedback")
SUMMARY_KEYS = ("reason", "after_as_of") + COUNT_KEYS
# `reason` of accepted rows while they are grouped (no reason code is negative)
ACCEPTED_KEY = -1
# per event table: its four count columns (segment events and positives, all events and positives), its time
EVENT_COLUMNS = {
    "sessions": (("views", "completions", "part_views", "part_completions"), "timestamp"),
    "feedback": (("feedbacks", "likes", "part_feedbacks", "part_likes"), "feedback_time"),
}
# the same four counts under one name for both tables, so that their summaries form one query
COMMON_COUNTS = ("segment_events", "segment_positives", "events", "positives")


@dataclass(frozen=True)
class ValidatedInputs(Mapping[str, Validated]):
    """The four validated datasets by name, the category codes, and the user groups.

    `user_groups`: (reason, age_group, fitness_level, preferred_types, users, profiles) rows,
    the category columns null (types empty) for rejected users.
    """

    datasets: dict[str, Validated]
    codes: Codes
    user_groups: tuple[Row, ...]

    def __getitem__(self, name: str) -> Validated:
        return self.datasets[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.datasets)

    def __len__(self) -> int:
        return len(self.datasets)


def _kept(validated: Validated) -> Validated:
    """Persist the flagged rows without the reject text; rejects still come from the full plan."""
    narrow = validated.flagged.drop("record").persist(StorageLevel.MEMORY_AND_DISK)
    return Validated(validated.dataset, narrow, validated.columns, full=validated.flagged)


def _reason_key() -> Column:
    """`reason` as a grouping key that is never null: `ACCEPTED_KEY` for accepted rows.

    Spark's generated fast hash map takes only rows whose grouping keys are all non-null,
    and `reason` is null on every accepted row: with it as a key they all went to the
    general map (measured at 1M users: ~20% of the event summary's CPU).
    """
    return F.coalesce(F.col("reason"), F.lit(ACCEPTED_KEY)).alias("reason")


def _reason_from_key() -> Column:
    """`reason` back from `_reason_key` after the aggregation (null: accepted)."""
    return F.nullif(F.col("reason"), F.lit(ACCEPTED_KEY)).alias("reason")


# past this many distinct accepted profiles, the users are matched to their codes by a shuffle join
BROADCAST_PROFILES_MAX = 200_000


def profile_counts(users: Validated, types: tuple[str, ...]) -> DataFrame:
    """Users counted by (reason, profile as read), each profile normalised once, persisted.

    Users share profiles (age group, level, preferred types as written): normalising
    per distinct profile instead of per user takes the string work off the users' pass.
    Accepted users' profiles get `type_set` (the catalog's types are known first) and
    their unknown types as a comma-joined string, for the report; rejected users are
    counted by reason only.
    """
    accepted = F.col("reason").isNull()
    type_codes = Codes((), (), types)
    known = string_array(types)
    counted = (
        users.flagged.groupBy(_reason_key(), *(F.when(accepted, F.col(k)).alias(k) for k in RAW_PROFILE))
        .agg(F.count("*").alias("users"))
        .withColumn("reason", _reason_from_key())
        .transform(with_user_profile)
    )
    type_set = type_codes.type_set(F.col("preferred_types"))
    n_known = F.bit_count(type_set) if type_codes.uses_mask else F.size(type_set)
    return counted.select(
        "reason", *RAW_PROFILE, "age_group", "fitness_level", type_set.alias("type_set"),
        # only a profile that lists more types than are known has unknown ones
        F.when(F.size("preferred_types") > n_known, F.concat_ws(",", F.array_sort(
            F.array_except("preferred_types", known)))).otherwise(F.lit("")).alias("unknown_types"),
        "users",
    ).persist(StorageLevel.MEMORY_AND_DISK)


def group_users(profiles: DataFrame, types: tuple[str, ...]) -> tuple[Row, ...]:
    """Users and profiles counted by (reason, age group, level, preferred types): bounded by the categories."""
    keys = ("reason", "age_group", "fitness_level", "type_set", "unknown_types")
    groups = profiles.groupBy(*keys).agg(F.sum("users").alias("users"), F.count("*").alias("profiles"))
    type_codes = Codes((), (), types)

    def preferred(g: Row) -> list[str]:
        if g["reason"] is not None:
            return []
        return type_codes.type_names(g["type_set"]) + (g["unknown_types"].split(",") if g["unknown_types"] else [])

    return tuple(
        Row(reason=reason_name(g["reason"]), age_group=g["age_group"], fitness_level=g["fitness_level"],
            preferred_types=preferred(g), users=int(g["users"]), profiles=int(g["profiles"]))
        for g in groups.collect()  # rows per category combination, not per user
    )


def codes_from(user_groups: tuple[Row, ...], types: tuple[str, ...]) -> Codes:
    """Sorted age groups and levels of the accepted users; the catalog's types."""
    accepted = [g for g in user_groups if g["reason"] is None]
    return Codes(tuple(sorted({g["age_group"] for g in accepted})),
                 tuple(sorted({g["fitness_level"] for g in accepted})), types)


def compact_users(users: Validated, profiles: DataFrame, codes: Codes, n_profiles: int) -> DataFrame:
    """Accepted users as (user_id, `al_code`, `type_set`): their profile's codes, by a join on the profile."""
    accepted = F.col("reason").isNull()
    profile_codes = profiles.filter(accepted).select(
        *RAW_PROFILE, codes.al_code(F.col("age_group"), F.col("fitness_level")).alias("al_code"), "type_set")
    if n_profiles <= BROADCAST_PROFILES_MAX:
        profile_codes = F.broadcast(profile_codes)
    return (
        users.flagged.filter(accepted).select("user_id", *RAW_PROFILE)
        .join(profile_codes, on=list(RAW_PROFILE), how="inner")
        .select("user_id", "al_code", "type_set")
    )


def validate_inputs(raw: RawInputs, stages: Stages, cfg: Config | None = None) -> ValidatedInputs:
    """Flag every row of every dataset (SPEC §9); users counted by profile, the catalog persisted."""
    cfg = cfg or Config()
    with stages.stage("validate"):
        duplicates = search_duplicates({name: raw.frame(name) for name in DUPLICATE_KEYS})
        log.info("duplicate buckets: %s", duplicates.counts or "none")
        catalog = _kept(validate_catalog(raw.catalog, duplicates))
        # the catalog's types: bounded by the catalog, not by users
        type_rows = catalog.accepted.select("workout_type").distinct().collect()
        types = tuple(sorted(r["workout_type"] for r in type_rows))
        users = validate_users(raw.users, duplicates)
        profiles = profile_counts(users, types)
        user_groups = group_users(profiles, types)
        codes = codes_from(user_groups, types)
        accepted_groups = [g for g in user_groups if g["reason"] is None]
        n_users = stages.count("users_accepted", sum(g["users"] for g in accepted_groups))
        users_compact = compact_users(users, profiles, codes, sum(g["profiles"] for g in accepted_groups))
        broadcast = n_users <= cfg.scale.broadcast_users_max
        sessions = validate_sessions(raw.sessions, users_compact, catalog.accepted, codes, broadcast, duplicates)
        feedback = validate_feedback(raw.feedback, users_compact, catalog.accepted, codes, broadcast, duplicates)
    log.info("codes: %d age groups, %d levels, %d workout types",
             len(codes.age_groups), len(codes.levels), len(codes.types))
    datasets = {"users": users, "catalog": catalog, "sessions": sessions, "feedback": feedback}
    return ValidatedInputs(datasets, codes, user_groups)


def _summary_frame(validated: Validated, as_of_micros: int | None) -> DataFrame:
    """One event table's counts by (reason, after as_of, workout, segment code), in the common columns."""
    name = validated.dataset
    count_columns, time_column = EVENT_COLUMNS[name]
    accepted = F.col("reason").isNull()
    after = F.lit(False) if as_of_micros is None else F.unix_micros(time_column) > F.lit(as_of_micros)
    flagged = validated.flagged.select(
        _reason_key(),
        (accepted & after).alias("after_as_of"),
        *(F.when(accepted, F.col(k)).alias(k) for k in COUNT_KEYS),
        "in_segment", "completed" if name == "sessions" else "liked", time_column,
    )
    counted = session_counts(flagged, SUMMARY_KEYS) if name == "sessions" else feedback_counts(flagged, SUMMARY_KEYS)
    last = (F.unix_micros("part_last_played") if name == "sessions" else F.lit(None)).cast("long")
    return counted.select(
        F.lit(name).alias("dataset"), _reason_from_key(),
        *SUMMARY_KEYS[1:],
        *(F.col(c).cast("long").alias(common) for c, common in
          zip(count_columns, COMMON_COUNTS, strict=True)),
        last.alias("last_micros"),
    )


# nullable pandas types for the collected summary: its keys are null on rejected rows
_SUMMARY_DTYPES = {pa.int32(): pd.Int32Dtype(), pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}


@dataclass(frozen=True)
class EventSummary:
    """The counted event tables: a frame of (dataset, SUMMARY_KEYS, COMMON_COUNTS, last_micros).

    Collected through Arrow and read with pandas, not as Python rows: the ~14,000 rows (at any
    scale) then cost the driver ~0.15 s less before the scoring starts (measured at 1M users).
    """

    frame: pd.DataFrame

    def _accepted(self, name: str) -> pd.DataFrame:
        f = self.frame
        return f[(f["dataset"] == name) & f["reason"].isna()]

    def rows(self, name: str) -> int:
        return int((self.frame["dataset"] == name).sum())

    def reasons(self, name: str) -> Counter[str | None]:
        """Rows per reason (None: accepted)."""
        f = self.frame[self.frame["dataset"] == name]
        by_code = f.groupby(f["reason"].fillna(ACCEPTED_KEY), sort=False)["events"].sum()
        return Counter({reason_name(None if code == ACCEPTED_KEY else int(code)): int(n)
                        for code, n in by_code.items()})

    def after_as_of(self) -> dict[str, int]:
        out = {}
        for name in EVENT_DATASETS:
            accepted = self._accepted(name)
            out[name] = int(accepted.loc[accepted["after_as_of"].astype(bool), "events"].sum())
        return out

    def latest_session(self) -> int | None:
        """The default as_of: the latest accepted session, in microseconds (None without sessions)."""
        latest = self._accepted("sessions")["last_micros"].max()
        return None if pd.isna(latest) else int(latest)

    def accepted_counts(self, name: str) -> pd.DataFrame:
        """Engagement counts of the accepted events up to as_of, keyed by (workout, segment code)
        (the frame of `engagement.count_frame`)."""
        count_columns, _ = EVENT_COLUMNS[name]
        accepted = self._accepted(name)
        counted = accepted[~accepted["after_as_of"].astype(bool)].rename(
            columns=dict(zip(COMMON_COUNTS, count_columns, strict=True)))
        dtypes = count_frame_dtypes(count_columns, latest=name == "sessions")
        return counted[list(dtypes)].astype(dtypes).reset_index(drop=True)


@contextmanager
def _summary_settings(spark: SparkSession) -> Iterator[None]:
    """Adaptive execution off, and one shuffle partition per core, for the summary's query.

    Adaptive execution plans each broadcast as its own query stage, over its own cached-table
    stage, and then does not see that the two tables' broadcasts of the users are the same:
    without it, the plan reuses one exchange (measured at 10M users: ~8 s per broadcast).
    Without it nothing coalesces the summaries' reduce tasks either, and their rows are few
    (reasons x workouts x segment codes per map task): `spark.sql.shuffle.partitions` tasks
    per table cost more to start than to run (32 tasks: 0.5-0.7 s at 1M users, most of it
    deserialising them).
    """
    settings = {
        "spark.sql.adaptive.enabled": "false",
        "spark.sql.shuffle.partitions": str(min(int(spark.conf.get("spark.sql.shuffle.partitions")),
                                                spark.sparkContext.defaultParallelism)),
    }
    previous = {key: spark.conf.get(key) for key in settings}
    for key, value in settings.items():
        spark.conf.set(key, value)
    try:
        yield
    finally:
        for key, value in previous.items():
            spark.conf.set(key, value)


def summarize_events(inputs: ValidatedInputs, as_of_micros: int | None, stages: Stages) -> EventSummary:
    """Both event tables counted in one query (the users broadcast once), collected: it is small."""
    with stages.stage("count_events"):
        frames = [_summary_frame(inputs[name], as_of_micros) for name in EVENT_DATASETS]
        with _summary_settings(frames[0].sparkSession):
            # reasons x workouts x segment codes, not events
            collected = frames[0].unionByName(frames[1]).toArrow()
        summary = EventSummary(collected.to_pandas(types_mapper=_SUMMARY_DTYPES.get))
        for name in EVENT_DATASETS:
            stages.count(f"{name}_summary", summary.rows(name))
    return summary


def _count_entry(name: str, by_reason: Mapping[str | None, int]) -> dict[str, Any]:
    by_reason = dict(by_reason)
    accepted = by_reason.pop(None, 0)
    reasons = {reason: by_reason[reason] for reason in REASONS if by_reason.get(reason)}
    rejected = sum(reasons.values())
    log.info("  %s: %d read, %d accepted, %d rejected %s", name, accepted + rejected, accepted, rejected, reasons)
    return {"read": accepted + rejected, "accepted": accepted, "rejected": rejected, "reasons": reasons}


def reject_counts(inputs: ValidatedInputs, stages: Stages,
                  summary: EventSummary | None = None) -> dict[str, dict[str, Any]]:
    """Per dataset: rows read, accepted, rejected, and rejected per reason (SPEC §9 order).

    Users and the catalog are counted from what is already on the driver; the event
    tables from `summary`, or by one more pass each without it.
    """
    out: dict[str, dict[str, Any]] = {}
    with stages.stage("count_rejects"):
        user_counts: Counter[str | None] = Counter()
        for g in inputs.user_groups:
            user_counts[g["reason"]] += g["users"]
        out["users"] = _count_entry("users", user_counts)
        catalog_reasons = inputs["catalog"].flagged.select("reason").collect()  # one row per workout
        out["catalog"] = _count_entry("catalog", Counter(reason_name(r["reason"]) for r in catalog_reasons))
        for name in EVENT_DATASETS:
            if summary is not None:
                by_reason = summary.reasons(name)
            else:  # one row per reason
                rows = inputs[name].flagged.groupBy("reason").count().collect()
                by_reason = Counter({reason_name(r["reason"]): int(r["count"]) for r in rows})
            out[name] = _count_entry(name, by_reason)
    return out


def check_quality(counts: dict[str, dict[str, Any]], max_fraction: float) -> list[str]:
    """Datasets whose rejected share of rows read exceeds the limit, as messages."""
    failures = []
    for name, c in counts.items():
        if c["read"] and c["rejected"] / c["read"] > max_fraction:
            failures.append(f"{name}: {c['rejected']} of {c['read']} rows rejected "
                            f"({c['rejected'] / c['read']:.2%} > {max_fraction:.2%})")
    return failures
