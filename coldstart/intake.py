"""Validation of all four datasets, and the one pass over each event table that counts it.

Users and the catalog are persisted (narrow, without the reject text): every later
step reads them. The event tables are never persisted: one aggregation per table,
grouped by (reason, after as_of, workout, segment code), gives at once the reject
counts, the events after as_of, the default as_of and the engagement counts. The
rejects are written by a second pass, and only when there are any.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from coldstart.codes import Codes, build_codes
from coldstart.config import Config
from coldstart.engagement import COUNT_KEYS, feedback_counts, session_counts
from coldstart.progress import Stages
from coldstart.sources import RawInputs
from coldstart.validation import (
    REASONS,
    Validated,
    validate_catalog,
    validate_feedback,
    validate_sessions,
    validate_users,
)

log = logging.getLogger(__name__)

DATASETS = ("users", "catalog", "sessions", "feedback")
SUMMARY_KEYS = ("reason", "after_as_of") + COUNT_KEYS
# the column of an event summary that counts its rows
EVENT_ROWS = {"sessions": "part_views", "feedback": "part_feedbacks"}


@dataclass(frozen=True)
class ValidatedInputs(Mapping[str, Validated]):
    """The four validated datasets by name, plus the category codes and the compact users."""

    datasets: dict[str, Validated]
    codes: Codes
    users_compact: DataFrame

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


def validate_inputs(raw: RawInputs, stages: Stages, cfg: Config | None = None) -> ValidatedInputs:
    """Flag every row of every dataset (SPEC §9); users and catalog are persisted and encoded."""
    cfg = cfg or Config()
    with stages.stage("validate"):
        users = _kept(validate_users(raw.users))
        catalog = _kept(validate_catalog(raw.catalog))
        codes = build_codes(users.accepted, catalog.accepted)
        users_compact = users.accepted.select(
            "user_id",
            codes.al_code(F.col("age_group"), F.col("fitness_level")).alias("al_code"),
            codes.type_set(F.col("preferred_types")).alias("type_set"),
        ).persist(StorageLevel.MEMORY_AND_DISK)
        n_users = stages.count("users_accepted", users_compact.count())
        broadcast = n_users <= cfg.scale.broadcast_users_max
        sessions = validate_sessions(raw.sessions, users_compact, catalog.accepted, codes, broadcast)
        feedback = validate_feedback(raw.feedback, users_compact, catalog.accepted, codes, broadcast)
    log.info("codes: %d age groups, %d levels, %d workout types",
             len(codes.age_groups), len(codes.levels), len(codes.types))
    datasets = {"users": users, "catalog": catalog, "sessions": sessions, "feedback": feedback}
    return ValidatedInputs(datasets, codes, users_compact)


def _summary_frame(validated: Validated, time_column: str, as_of_micros: int | None) -> DataFrame:
    accepted = F.col("reason").isNull()
    after = F.lit(False) if as_of_micros is None else F.unix_micros(time_column) > F.lit(as_of_micros)
    return validated.flagged.select(
        "reason",
        (accepted & after).alias("after_as_of"),
        *(F.when(accepted, F.col(k)).alias(k) for k in COUNT_KEYS),
        "in_segment", "completed" if validated.dataset == "sessions" else "liked", time_column,
    )


def summarize_events(inputs: ValidatedInputs, as_of_micros: int | None, stages: Stages) -> dict[str, DataFrame]:
    """One pass per event table: counts by (reason, after as_of, workout, segment code), cached (small)."""
    with stages.stage("count_events"):
        sessions = session_counts(_summary_frame(inputs["sessions"], "timestamp", as_of_micros), SUMMARY_KEYS)
        feedback = feedback_counts(_summary_frame(inputs["feedback"], "feedback_time", as_of_micros), SUMMARY_KEYS)
        summaries = {"sessions": sessions.cache(), "feedback": feedback.cache()}
        for name, df in summaries.items():
            stages.count(f"{name}_summary", df.count())
    return summaries


def reject_counts(inputs: Mapping[str, Validated], stages: Stages,
                  summaries: dict[str, DataFrame] | None = None) -> dict[str, dict[str, Any]]:
    """Per dataset: rows read, accepted, rejected, and rejected per reason (SPEC §9 order).

    With `summaries`, the event tables are counted from them instead of another pass.
    """
    out: dict[str, dict[str, Any]] = {}
    with stages.stage("count_rejects"):
        for name in DATASETS:  # each collect below is one row per reason
            if summaries is not None and name in summaries:
                rows = summaries[name].groupBy("reason").agg(F.sum(EVENT_ROWS[name]).alias("count")).collect()
            else:
                rows = inputs[name].flagged.groupBy("reason").count().collect()
            by_reason = {r["reason"]: int(r["count"]) for r in rows}
            accepted = by_reason.pop(None, 0)
            reasons = {reason: by_reason[reason] for reason in REASONS if reason in by_reason}
            rejected = sum(reasons.values())
            out[name] = {"read": accepted + rejected, "accepted": accepted, "rejected": rejected, "reasons": reasons}
            log.info("  %s: %d read, %d accepted, %d rejected %s",
                     name, accepted + rejected, accepted, rejected, reasons)
    return out


def check_quality(counts: dict[str, dict[str, Any]], max_fraction: float) -> list[str]:
    """Datasets whose rejected share of rows read exceeds the limit, as messages."""
    failures = []
    for name, c in counts.items():
        if c["read"] and c["rejected"] / c["read"] > max_fraction:
            failures.append(f"{name}: {c['rejected']} of {c['read']} rows rejected "
                            f"({c['rejected'] / c['read']:.2%} > {max_fraction:.2%})")
    return failures


def accepted_counts(summary_df: DataFrame) -> DataFrame:
    """The engagement counts of the accepted events up to as_of, keyed by (workout, segment code)."""
    keep = F.col("reason").isNull() & ~F.col("after_as_of")
    return summary_df.filter(keep).drop("reason", "after_as_of")


def after_as_of(summaries: dict[str, DataFrame]) -> dict[str, int]:
    return {name: int(df.filter(F.col("reason").isNull() & F.col("after_as_of"))
                      .agg(F.coalesce(F.sum(EVENT_ROWS[name]), F.lit(0))).first()[0])
            for name, df in summaries.items()}


def latest_session(summaries: dict[str, DataFrame]) -> int | None:
    """The default as_of: the latest accepted session, in microseconds (None without sessions)."""
    row = summaries["sessions"].filter(F.col("reason").isNull()).agg(
        F.max(F.unix_micros("part_last_played"))).first()
    return None if row is None else row[0]
