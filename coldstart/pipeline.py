"""The batch job end to end, sources and sinks excluded: raw frames in, results and report out.

    validate (SPEC §9) -> membership (§2) + counting (§3-4) -> candidates -> score -> MMR (§5)
                                                          \\-> instructor flags (§6)
"""
from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from coldstart.codes import Codes
from coldstart.config import Config, Profile
from coldstart.counting import EVENT_TABLES, EventCounts, UserCounts, count_events, count_users
from coldstart.engagement import (
    CANDIDATE_SCHEMA,
    WORKOUT_COUNTS_SCHEMA,
    WORKOUT_DAYS_SCHEMA,
    join_counts,
    to_spark,
    with_raw_score,
    with_smoothed_rates,
    with_views_norm,
    workout_counts,
)
from coldstart.flags import flag_instructors, instructor_counts
from coldstart.freshness import format_micros, parse_as_of, with_days_old, with_score
from coldstart.membership import codes_from, segment_user_stats, user_codes, with_segment, workout_codes
from coldstart.mmr import TagVectors
from coldstart.profile_model import Catalog, Engagement
from coldstart.profiles import engagement_matrices, profile_engagement, recommend_profiles, targets, weights_of
from coldstart.progress import Stages
from coldstart.rerank import rerank
from coldstart.segments import candidates
from coldstart.sources import RawInputs
from coldstart.tags import tag_vectors
from coldstart.validation import (
    DUPLICATE_KEYS,
    REASONS,
    Validated,
    reason_name,
    search_duplicates,
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


@dataclass(frozen=True)
class ValidatedInputs(Mapping[str, Validated]):
    """The four validated datasets by name, the users' counts and the category codes."""

    datasets: dict[str, Validated]
    users: UserCounts
    codes: Codes

    def __getitem__(self, name: str) -> Validated:
        return self.datasets[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.datasets)

    def __len__(self) -> int:
        return len(self.datasets)


@dataclass
class PipelineResult:
    recommendations: DataFrame
    flags: DataFrame
    validated: dict[str, Validated]
    report: dict[str, Any]
    profile_recommendations: DataFrame | None = None  # with profile.enabled


def validate_inputs(raw: RawInputs, cfg: Config, stages: Stages) -> ValidatedInputs:
    """Every row of every dataset flagged (SPEC §9); the users counted; the catalog persisted."""
    with stages.stage("validate"):
        duplicates = search_duplicates({name: raw.frame(name) for name in DUPLICATE_KEYS})
        log.info("duplicate buckets: %s", duplicates.counts or "none")
        catalog = validate_catalog(raw.catalog, duplicates).persisted()
        # the catalog's types: bounded by the catalog, not by users
        types = [r["workout_type"] for r in catalog.accepted.select("workout_type").distinct().collect()]
        users = validate_users(raw.users, duplicates)
        user_counts = count_users(users)
        codes = codes_from(user_counts.groups, types)
        n_users = stages.count("users_accepted", user_counts.reasons[None])
        broadcast = n_users <= cfg.scale.broadcast_users_max
        # the events' id check brings the users' and workouts' codes along (see `_with_known_ids`);
        # each event query joins the users, whose codes are computed once
        members = user_codes(users, user_counts.groups, codes)
        workouts = workout_codes(catalog.accepted, codes)
        sessions = validate_sessions(raw.sessions, members, workouts, broadcast, duplicates)
        feedback = validate_feedback(raw.feedback, members, workouts, broadcast, duplicates)
    log.info("codes: %d age groups, %d levels, %d workout types",
             len(codes.age_groups), len(codes.levels), len(codes.types))
    datasets = {"users": users, "catalog": catalog, "sessions": sessions, "feedback": feedback}
    return ValidatedInputs(datasets, user_counts, codes)


def cut_events(inputs: ValidatedInputs, table: str, exclude_users: DataFrame | None) -> DataFrame:
    """An event table's validated rows, without the events of `exclude_users` (user_id)."""
    events = inputs[table].flagged
    if exclude_users is None:
        return events
    return events.join(F.broadcast(exclude_users.select("user_id")), on="user_id", how="left_anti")


def count_cut(inputs: ValidatedInputs, as_of_micros: int | None, stages: Stages,
              exclude_users: DataFrame | None = None) -> EventCounts:
    """The event counts up to as_of (SPEC §3-4), without the events of `exclude_users` (user_id).

    The job counts everything; the evaluation passes its time cut and its new users.
    """
    with stages.stage("count_events"):
        tables = [with_segment(cut_events(inputs, name, exclude_users), inputs.codes) for name in EVENT_TABLES]
        counts = count_events(*tables, as_of_micros)
        for name in EVENT_TABLES:
            stages.count(f"{name}_counted", counts.rows(name))
    return counts


def _count_entry(name: str, by_reason: Mapping[str | None, int]) -> dict[str, Any]:
    by_reason = dict(by_reason)
    accepted = by_reason.pop(None, 0)
    reasons = {reason: by_reason[reason] for reason in REASONS if by_reason.get(reason)}
    rejected = sum(reasons.values())
    log.info("  %s: %d read, %d accepted, %d rejected %s", name, accepted + rejected, accepted, rejected, reasons)
    return {"read": accepted + rejected, "accepted": accepted, "rejected": rejected, "reasons": reasons}


def reject_counts(inputs: ValidatedInputs, events: EventCounts) -> dict[str, dict[str, Any]]:
    """Per dataset: rows read, accepted, rejected, and rejected per reason (SPEC §9 order)."""
    catalog_reasons = inputs["catalog"].flagged.select("reason").collect()  # one row per workout
    out = {"users": _count_entry("users", inputs.users.reasons),
           "catalog": _count_entry("catalog", Counter(reason_name(r["reason"]) for r in catalog_reasons))}
    for name in EVENT_TABLES:
        out[name] = _count_entry(name, events.reasons(name))
    return out


def check_quality(counts: dict[str, dict[str, Any]], max_fraction: float) -> list[str]:
    """Datasets whose rejected share of rows read exceeds the limit, as messages."""
    failures = []
    for name, c in counts.items():
        if c["read"] and c["rejected"] / c["read"] > max_fraction:
            failures.append(f"{name}: {c['rejected']} of {c['read']} rows rejected "
                            f"({c['rejected'] / c['read']:.2%} > {max_fraction:.2%})")
    return failures


def candidate_table(spark: SparkSession, codes: Codes, catalog: pd.DataFrame,
                    events: EventCounts) -> tuple[DataFrame, DataFrame]:
    """(every segment's candidates with their counts, per-workout global counts), as Spark frames.

    Both are bounded by segments x catalog and their inputs are on the driver already: they
    are joined there (pandas) and handed to Spark as local relations.
    """
    sessions, feedback = events.accepted_counts("sessions"), events.accepted_counts("feedback")
    base = join_counts(candidates(codes, catalog), sessions, feedback)
    return (to_spark(spark, base, CANDIDATE_SCHEMA),
            to_spark(spark, workout_counts(sessions, feedback), WORKOUT_COUNTS_SCHEMA))


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
    inputs = validate_inputs(raw, cfg, stages)
    as_of_micros = parse_as_of(cfg.as_of) if cfg.as_of else None
    events = count_cut(inputs, as_of_micros, stages)
    counts = reject_counts(inputs, events)
    report: dict[str, Any] = {"inputs": raw.paths, "rows": counts,
                              "rejects": {n: c["reasons"] for n, c in counts.items()}, "config": cfg.to_dict()}
    failures = check_quality(counts, cfg.quality.max_reject_fraction)
    if failures:
        report["timings"] = stages.timings
        raise QualityError("too many rejected rows: " + "; ".join(failures), report, dict(inputs))

    if as_of_micros is None:
        as_of_micros = events.latest_session()
    as_of = format_micros(as_of_micros)
    log.info("as_of = %s", as_of)
    report.update(as_of=as_of, events_after_as_of=events.after_as_of())
    report.update(segment_user_stats(inputs.users.groups, inputs.codes))
    catalog = inputs["catalog"].accepted
    with stages.stage("candidates"):
        # the catalog on the driver, for the candidates and the TF-IDF: bounded by the catalog
        catalog_local = catalog.select("workout_id", "workout_type", "tags").toPandas()
        base_df, workouts_df = candidate_table(catalog.sparkSession, inputs.codes, catalog_local, events)
        stages.count("candidates", base_df.count())
    with stages.stage("tfidf"):
        vectors = tag_vectors(catalog_local)
    with stages.stage("score_and_rerank"):
        recommendations = recommend(base_df, as_of_micros, vectors, cfg).cache()
        report["recommendations"] = stages.count("recommendations", recommendations.count())
    with stages.stage("flags"):
        flags = flag_instructors(instructor_counts(workouts_df, catalog), cfg.smoothing, cfg.flags, as_of).cache()
        report["instructor_flags"] = stages.count("instructor_flags", flags.count())
    profile_lists = None
    if cfg.profile.enabled:
        cut = parse_as_of(cfg.as_of) if cfg.as_of else None  # the default as_of cuts nothing (see counting)
        profile_lists = recommend_for_profiles(inputs, cut, as_of_micros, workouts_df, catalog_local, vectors, cfg,
                                               stages)
        report["profiles"] = stages.rows["profiles"]
        report["profile_recommendations"] = stages.rows["profile_recommendations"]
    report["timings"] = stages.timings
    return PipelineResult(recommendations, flags, dict(inputs), report, profile_lists)


def profile_catalog(workouts_df: DataFrame, catalog: pd.DataFrame, codes: Codes, as_of_micros: int | None,
                    vectors: TagVectors, cfg: Config) -> Catalog:
    """The catalog for SPEC §10: each workout's type index and §4's days_old (computed as for the segments)."""
    last_played = workouts_df.select("workout_id", F.unix_micros("last_played").alias("last_micros")).toPandas()
    workouts = catalog[["workout_id", "workout_type"]].merge(last_played, on="workout_id", how="left")
    days = (to_spark(workouts_df.sparkSession, workouts.astype({"last_micros": "Int64"}), WORKOUT_DAYS_SCHEMA)
            .transform(with_days_old, as_of_micros, cfg.freshness).select("workout_id", "days_old").toPandas())
    workouts = workouts.merge(days, on="workout_id", how="left")
    return Catalog.of(workouts.assign(type_idx=[codes.types.index(t) for t in workouts["workout_type"]]), vectors)


def engagement_of(inputs: ValidatedInputs, cut_micros: int | None, as_of_micros: int | None, settings: Profile,
                  catalog: Catalog, stages: Stages, exclude_users: DataFrame | None = None) -> Engagement:
    """SPEC §10's training side: every source profile's engagement with each workout, up to the cut
    (None: no cut), without the events of `exclude_users` (the evaluation's new users)."""
    with stages.stage("profile_engagement"):
        sessions, feedback = (cut_events(inputs, name, exclude_users) for name in EVENT_TABLES)
        # bounded by profiles x workouts: collected
        rows = profile_engagement(sessions, feedback, cut_micros, inputs.codes, settings, as_of_micros).toPandas()
        stages.count("profile_engagement", len(rows))
    return engagement_matrices(rows, inputs.codes, catalog.workout_ids)


def recommend_for_profiles(inputs: ValidatedInputs, cut_micros: int | None, as_of_micros: int | None,
                           workouts_df: DataFrame, catalog: pd.DataFrame, vectors: TagVectors, cfg: Config,
                           stages: Stages) -> DataFrame:
    """SPEC §10: every profile's list (`profiles.PROFILE_RECOMMENDATION_COLUMNS`), cached."""
    codes = inputs.codes
    profile_catalog_ = profile_catalog(workouts_df, catalog, codes, as_of_micros, vectors, cfg)
    engagement = engagement_of(inputs, cut_micros, as_of_micros, cfg.profile, profile_catalog_, stages)
    with stages.stage("profiles"):
        found = targets(inputs.users.groups, codes)
        stages.count("profiles", len(found))
        lists = recommend_profiles(workouts_df.sparkSession, codes, found, engagement, profile_catalog_,
                                   weights_of(cfg)).cache()
        stages.count("profile_recommendations", lists.count())
    return lists
