"""The batch job end to end, sources and sinks excluded: raw frames in, results and report out."""
from __future__ import annotations

import logging
import statistics
from dataclasses import dataclass, field
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from coldstart.config import Config
from coldstart.engagement import (
    feedback_counts,
    join_counts,
    session_counts,
    with_raw_score,
    with_smoothed_rates,
    with_views_norm,
    workout_counts,
)
from coldstart.flags import flag_instructors, instructor_counts
from coldstart.freshness import (
    filter_up_to,
    format_micros,
    latest_session_micros,
    parse_as_of,
    with_days_old,
    with_score,
)
from coldstart.mmr import TagVectors
from coldstart.progress import Stages
from coldstart.rerank import catalog_tag_vectors, rerank
from coldstart.segments import candidates, unknown_preferences, user_segments, users_per_segment
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


class QualityError(Exception):
    """Too many rejected rows in a dataset (exit status 3); carries the report so far."""

    def __init__(self, message: str, report: dict[str, Any], validated: dict[str, Validated]) -> None:
        super().__init__(message)
        self.report = report
        self.validated = validated


@dataclass
class Clean:
    """Accepted rows of each dataset, events already cut at as_of."""

    users: DataFrame
    sessions: DataFrame
    feedback: DataFrame
    catalog: DataFrame
    as_of_micros: int | None
    after_as_of: dict[str, int] = field(default_factory=dict)


@dataclass
class PipelineResult:
    recommendations: DataFrame
    flags: DataFrame
    validated: dict[str, Validated]
    report: dict[str, Any]


def validate_inputs(raw: RawInputs, stages: Stages) -> dict[str, Validated]:
    """Flag every row of every dataset; the flagged frames are persisted (read once, used thrice)."""
    with stages.stage("validate"):
        users = validate_users(raw.users)
        catalog = validate_catalog(raw.catalog)
        users_flagged = users.flagged.persist(StorageLevel.MEMORY_AND_DISK)
        catalog_flagged = catalog.flagged.persist(StorageLevel.MEMORY_AND_DISK)
        users = Validated(users.dataset, users_flagged, users.columns)
        catalog = Validated(catalog.dataset, catalog_flagged, catalog.columns)
        sessions = validate_sessions(raw.sessions, users.accepted, catalog.accepted)
        feedback = validate_feedback(raw.feedback, users.accepted, catalog.accepted)
        validated = {"users": users, "catalog": catalog}
        for v in (sessions, feedback):
            validated[v.dataset] = Validated(v.dataset, v.flagged.persist(StorageLevel.MEMORY_AND_DISK), v.columns)
    return validated


def reject_counts(validated: dict[str, Validated], stages: Stages) -> dict[str, dict[str, Any]]:
    """Per dataset: rows read, accepted, rejected, and rejected per reason (SPEC §9 order)."""
    out: dict[str, dict[str, Any]] = {}
    with stages.stage("count_rejects"):
        for name in ("users", "catalog", "sessions", "feedback"):
            rows = validated[name].flagged.groupBy("reason").count().collect()
            by_reason = {r["reason"]: r["count"] for r in rows}
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


def clean_inputs(validated: dict[str, Validated], cfg: Config, stages: Stages) -> Clean:
    """Accepted rows, cut at as_of (the latest accepted session unless set)."""
    sessions, feedback = validated["sessions"].accepted, validated["feedback"].accepted
    after: dict[str, int] = {}
    if cfg.as_of:
        as_of = parse_as_of(cfg.as_of)
        for name, df, column in (("sessions", sessions, "timestamp"), ("feedback", feedback, "feedback_time")):
            after[name] = stages.count(f"{name}_after_as_of", df.filter(
                F.unix_micros(column) > F.lit(as_of)).count())
        sessions = filter_up_to(sessions, "timestamp", as_of)
        feedback = filter_up_to(feedback, "feedback_time", as_of)
    else:
        as_of = latest_session_micros(sessions)
    log.info("as_of = %s", format_micros(as_of))
    return Clean(validated["users"].accepted, sessions, feedback, validated["catalog"].accepted, as_of, after)


def aggregate(clean: Clean, stages: Stages) -> tuple[DataFrame, DataFrame]:
    """(candidates with their counts and last_played, per-workout global counts): both small, cached."""
    with stages.stage("aggregate"):
        sessions_agg = session_counts(clean.sessions).cache()
        feedback_agg = feedback_counts(clean.feedback).cache()
        base_df = join_counts(candidates(clean.users, clean.catalog), sessions_agg, feedback_agg).cache()
        workouts_df = workout_counts(sessions_agg, feedback_agg).cache()
        stages.count("candidates", base_df.count())
    return base_df, workouts_df


def score(base_df: DataFrame, as_of_micros: int | None, cfg: Config) -> DataFrame:
    """SPEC §3-4 on the candidate table: smoothing, views, raw_score, days_old, score."""
    return (
        base_df.transform(with_smoothed_rates, cfg.smoothing)
        .transform(with_views_norm)
        .transform(with_raw_score, cfg.scoring)
        .transform(with_days_old, as_of_micros, cfg.freshness)
        .transform(with_score, cfg.freshness)
    )


def recommend(base_df: DataFrame, as_of_micros: int | None, vectors: TagVectors, cfg: Config) -> DataFrame:
    """Scored candidates -> the top k per segment after MMR, sorted by segment_key, rank."""
    return rerank(score(base_df, as_of_micros, cfg), vectors, cfg.mmr).orderBy("segment_key", "rank")


def _segment_stats(clean: Clean, base_df: DataFrame) -> dict[str, Any]:
    per_segment = users_per_segment(base_df, user_segments(clean.users, clean.catalog))
    counts = sorted(r["users"] for r in per_segment.collect())  # one row per segment
    unknown = {r["workout_type"]: r["users"] for r in unknown_preferences(clean.users, clean.catalog).collect()}
    return {
        "segments": len(counts),
        "users_per_segment": {
            "min": counts[0] if counts else 0,
            "median": statistics.median(counts) if counts else 0,
            "max": counts[-1] if counts else 0,
            "segments_without_users": sum(1 for c in counts if c == 0),
        },
        "unknown_preferred_types": dict(sorted(unknown.items())),
    }


def run(raw: RawInputs, cfg: Config, stages: Stages | None = None) -> PipelineResult:
    """Validate, aggregate, score, rerank, flag. Raises QualityError above the reject limit."""
    stages = stages or Stages()
    validated = validate_inputs(raw, stages)
    counts = reject_counts(validated, stages)
    report: dict[str, Any] = {"inputs": raw.paths, "rows": counts,
                              "rejects": {n: c["reasons"] for n, c in counts.items()}, "config": cfg.to_dict()}
    failures = check_quality(counts, cfg.quality.max_reject_fraction)
    if failures:
        report["timings"] = stages.timings
        raise QualityError("too many rejected rows: " + "; ".join(failures), report, validated)

    clean = clean_inputs(validated, cfg, stages)
    as_of = format_micros(clean.as_of_micros)
    report.update(as_of=as_of, events_after_as_of=clean.after_as_of)
    base_df, workouts_df = aggregate(clean, stages)
    with stages.stage("segments"):
        report.update(_segment_stats(clean, base_df))
    with stages.stage("tfidf"):
        vectors = catalog_tag_vectors(clean.catalog)
    with stages.stage("score_and_rerank"):
        recommendations = recommend(base_df, clean.as_of_micros, vectors, cfg).cache()
        report["recommendations"] = stages.count("recommendations", recommendations.count())
    with stages.stage("flags"):
        flags = flag_instructors(instructor_counts(workouts_df, clean.catalog), cfg.smoothing, cfg.flags, as_of).cache()
        report["instructor_flags"] = stages.count("instructor_flags", flags.count())
    report["timings"] = stages.timings
    return PipelineResult(recommendations, flags, validated, report)
