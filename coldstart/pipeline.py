"""The batch job end to end, sources and sinks excluded: raw frames in, results and report out."""
from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from coldstart.codes import Codes
from coldstart.config import Config
from coldstart.engagement import (
    CANDIDATE_SCHEMA,
    FEEDBACK_COUNTS,
    SESSION_COUNTS,
    WORKOUT_COUNTS_SCHEMA,
    count_frame,
    feedback_counts,
    join_counts,
    session_counts,
    to_spark,
    with_raw_score,
    with_smoothed_rates,
    with_views_norm,
    workout_counts,
)
from coldstart.flags import flag_instructors, instructor_counts
from coldstart.freshness import filter_up_to, format_micros, parse_as_of, with_days_old, with_score
from coldstart.intake import ValidatedInputs, check_quality, reject_counts, summarize_events, validate_inputs
from coldstart.mmr import TagVectors
from coldstart.progress import Stages
from coldstart.rerank import rerank, tag_vectors
from coldstart.segments import candidates, segment_user_stats
from coldstart.sources import RawInputs
from coldstart.validation import Validated

log = logging.getLogger(__name__)

__all__ = ["Clean", "PipelineResult", "QualityError", "aggregate", "clean_inputs", "recommend", "reject_counts",
           "run", "score", "validate_inputs"]


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
    codes: Codes
    after_as_of: dict[str, int] = field(default_factory=dict)


@dataclass
class PipelineResult:
    recommendations: DataFrame
    flags: DataFrame
    validated: dict[str, Validated]
    report: dict[str, Any]


def clean_inputs(validated: ValidatedInputs, cfg: Config, stages: Stages) -> Clean:
    """Accepted rows, events cut at as_of (the latest accepted session unless set), with category names.

    For callers that filter the events further (evaluation cuts them in time and by
    user); the job itself counts in one pass with `intake.summarize_events`.
    """
    codes = validated.codes
    sessions = codes.with_names(validated["sessions"].accepted)
    feedback = codes.with_names(validated["feedback"].accepted)
    after: dict[str, int] = {}
    if cfg.as_of:
        as_of = parse_as_of(cfg.as_of)
        for name, df, column in (("sessions", sessions, "timestamp"), ("feedback", feedback, "feedback_time")):
            after[name] = stages.count(f"{name}_after_as_of", df.filter(
                F.unix_micros(column) > F.lit(as_of)).count())
        sessions = filter_up_to(sessions, "timestamp", as_of)
        feedback = filter_up_to(feedback, "feedback_time", as_of)
    else:
        latest = sessions.agg(F.max(F.unix_micros("timestamp"))).first()
        as_of = None if latest is None else latest[0]
    return Clean(validated["users"].accepted, sessions, feedback, validated["catalog"].accepted, as_of, codes, after)


def aggregate(clean: Clean, stages: Stages) -> tuple[DataFrame, DataFrame]:
    """(candidates with their counts and last_played, per-workout global counts): both small, local."""
    with stages.stage("aggregate"):
        # bounded by workouts x segment codes: collected, like the job's event summary
        sessions = count_frame(
            session_counts(clean.sessions).withColumn("last_micros", F.unix_micros("part_last_played")).collect(),
            SESSION_COUNTS, latest=True)
        feedback = count_frame(feedback_counts(clean.feedback).collect(), FEEDBACK_COUNTS, latest=False)
        catalog = clean.catalog.select("workout_id", "workout_type").toPandas()
        base_df, workouts_df, n_candidates = _candidate_table(
            clean.catalog.sparkSession, clean.codes, catalog, sessions, feedback)
        stages.count("candidates", n_candidates)
        return base_df, workouts_df


def _candidate_table(spark: SparkSession, codes: Codes, catalog: pd.DataFrame, sessions: pd.DataFrame,
                     feedback: pd.DataFrame) -> tuple[DataFrame, DataFrame, int]:
    """(candidates with their counts, per-workout global counts, number of candidates).

    Both tables are bounded by segments x catalog, and the counts and the catalog (`candidates`
    uses its `workout_id` and `workout_type`) are already on the driver: they are joined there and
    handed to Spark as local relations. As Spark joins of cached tables they took a dozen small
    jobs (~2 s at any scale, measured at 1M users).
    """
    base = join_counts(candidates(codes, catalog), sessions, feedback)
    return (to_spark(spark, base, CANDIDATE_SCHEMA),
            to_spark(spark, workout_counts(sessions, feedback), WORKOUT_COUNTS_SCHEMA), len(base))


def _flags(workouts_df: DataFrame, catalog: DataFrame, cfg: Config, as_of: str | None,
           stages: Stages) -> tuple[DataFrame, int]:
    """The instructor flags (cached) and their number."""
    with stages.stage("flags"):
        flags = flag_instructors(instructor_counts(workouts_df, catalog), cfg.smoothing, cfg.flags, as_of).cache()
        return flags, stages.count("instructor_flags", flags.count())


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
    # one sorted partition (segments x k rows): a global orderBy would sample its input for range
    # bounds first, and so run the pandas UDF twice
    return rerank(score(base_df, as_of_micros, cfg), vectors, cfg.mmr).repartition(1).sortWithinPartitions(
        "segment_key", "rank")


def run(raw: RawInputs, cfg: Config, stages: Stages | None = None) -> PipelineResult:
    """Validate, count, score, rerank, flag. Raises QualityError above the reject limit."""
    stages = stages or Stages()
    inputs = validate_inputs(raw, stages, cfg)
    as_of_micros = parse_as_of(cfg.as_of) if cfg.as_of else None
    summary = summarize_events(inputs, as_of_micros, stages)
    counts = reject_counts(inputs, stages, summary)
    report: dict[str, Any] = {"inputs": raw.paths, "rows": counts,
                              "rejects": {n: c["reasons"] for n, c in counts.items()}, "config": cfg.to_dict()}
    failures = check_quality(counts, cfg.quality.max_reject_fraction)
    if failures:
        report["timings"] = stages.timings
        raise QualityError("too many rejected rows: " + "; ".join(failures), report, dict(inputs))

    if as_of_micros is None:
        as_of_micros = summary.latest_session()
    as_of = format_micros(as_of_micros)
    log.info("as_of = %s", as_of)
    report.update(as_of=as_of, events_after_as_of=summary.after_as_of())
    catalog = inputs["catalog"].accepted
    report.update(segment_user_stats(inputs.user_groups, inputs.codes))
    # The flags need neither the scores nor the rerank: they run in a thread beside them. Each of
    # these small queries leaves a core idle while the driver plans it; together they fill it.
    # (Their stage timings overlap.)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="coldstart-flags") as pool:
        with stages.stage("aggregate"):
            # one collect of the catalog for the candidates and the TF-IDF: bounded by the catalog
            catalog_local = catalog.select("workout_id", "workout_type", "tags").toPandas()
            base_df, workouts_df, n_candidates = _candidate_table(
                catalog.sparkSession, inputs.codes, catalog_local,
                summary.accepted_counts("sessions"), summary.accepted_counts("feedback"))
            flags_future = pool.submit(_flags, workouts_df, catalog, cfg, as_of, stages)
            stages.count("candidates", n_candidates)
        with stages.stage("tfidf"):
            vectors = tag_vectors(catalog_local)
        with stages.stage("score_and_rerank"):
            recommendations = recommend(base_df, as_of_micros, vectors, cfg).cache()
            report["recommendations"] = stages.count("recommendations", recommendations.count())
        flags, report["instructor_flags"] = flags_future.result()
    report["timings"] = stages.timings
    return PipelineResult(recommendations, flags, dict(inputs), report)
