"""Every count the job reports or scores with, one aggregation per table.

- Users: rows per reason, and the accepted users per category (age group, level, types).
- Events (SPEC §3-4): sessions and feedback with their membership, grouped by (reason,
  after as_of, workout, age-level code). One query gives the reject counts, the events
  after as_of, the default as_of (the latest accepted session) and the engagement counts:
  `v, c, n, s` of the segment (the events with `in_segment`) and that slice's share of the
  workout's global `V, C, N, S`. A session counts for at most one segment, so no user is
  exploded. The result is bounded by reasons x workouts x codes: it is collected.
The evaluation counts its training cut with the same `count_events`.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import pandas as pd
import pyarrow as pa
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from coldstart.membership import UserGroup
from coldstart.validation import RAW_PROFILE, Validated, reason_name, with_user_profile

COUNT_KEYS = ("workout_id", "al_code")
EVENT_KEYS = ("reason", "after_as_of", *COUNT_KEYS)
# `reason` of accepted rows while they are grouped (no reason code is negative)
ACCEPTED_KEY = -1
EVENT_TABLES = ("sessions", "feedback")
SESSION_COUNTS = ("views", "completions", "part_views", "part_completions")
FEEDBACK_COUNTS = ("feedbacks", "likes", "part_feedbacks", "part_likes")
# per event table: its four counts (segment events and positives, all events and positives), its
# 0/1 outcome and its time
EVENT_COLUMNS = {
    "sessions": (SESSION_COUNTS, "completed", "timestamp"),
    "feedback": (FEEDBACK_COUNTS, "liked", "feedback_time"),
}
# the same four counts under one name for both tables, so that their counts form one query
COMMON_COUNTS = ("segment_events", "segment_positives", "events", "positives")


def _reason_key() -> Column:
    """`reason` as a grouping key that is never null: `ACCEPTED_KEY` for accepted rows.

    Spark's generated fast hash map takes only rows whose grouping keys are all non-null,
    and `reason` is null on every accepted row.
    """
    return F.coalesce(F.col("reason"), F.lit(ACCEPTED_KEY)).alias("reason")


def _reason_from_key() -> Column:
    """`reason` back from `_reason_key` after the aggregation (null: accepted)."""
    return F.nullif(F.col("reason"), F.lit(ACCEPTED_KEY)).alias("reason")


@dataclass(frozen=True)
class UserCounts:
    reasons: Counter[str | None]  # rows per reason name, None: accepted
    groups: tuple[UserGroup, ...]  # the accepted users by category


def count_users(users: Validated) -> UserCounts:
    """Users per reason, and accepted users per category as written, each category combination
    normalised once (SPEC §1), in one aggregation: collected, it is bounded by the categories."""
    accepted = F.col("reason").isNull()
    rows = (users.flagged.groupBy(_reason_key(), *(F.when(accepted, F.col(c)).alias(c) for c in RAW_PROFILE))
            .agg(F.count("*").alias("users")).withColumn("reason", _reason_from_key())
            .transform(with_user_profile).collect())
    reasons: Counter[str | None] = Counter()
    for r in rows:
        reasons[reason_name(r["reason"])] += r["users"]
    groups = tuple(UserGroup(tuple(r[c] for c in RAW_PROFILE), r["age_group"], r["fitness_level"],
                             tuple(r["preferred_types"]), int(r["users"]))
                   for r in rows if r["reason"] is None)
    return UserCounts(reasons, groups)


def event_counts(events_df: DataFrame, outcome: str, keys: tuple[str, ...], names: tuple[str, ...],
                 latest: str | None = None) -> DataFrame:
    """Per key: events and positives in the segment (`in_segment`), all events and positives
    (`names`, in that order), and with `latest` the latest time as `part_last_played`."""
    in_segment = F.col("in_segment")
    is_positive = F.col(outcome) == 1
    aggregates = [
        F.count(F.when(in_segment, 1)).alias(names[0]),
        F.count(F.when(in_segment & is_positive, 1)).alias(names[1]),
        F.count("*").alias(names[2]),
        F.count(F.when(is_positive, 1)).alias(names[3]),
    ]
    if latest is not None:
        aggregates.append(F.max(latest).alias("part_last_played"))
    return events_df.groupBy(*keys).agg(*aggregates)


def _table_counts(events_df: DataFrame, table: str, as_of_micros: int | None) -> DataFrame:
    """One event table counted by `EVENT_KEYS`, in the common columns."""
    counts, outcome, time_column = EVENT_COLUMNS[table]
    accepted = F.col("reason").isNull()
    after = F.lit(False) if as_of_micros is None else F.unix_micros(time_column) > F.lit(as_of_micros)
    keyed = events_df.select(
        _reason_key(),
        (accepted & after).alias("after_as_of"),
        # rejected rows are counted by reason only
        *(F.when(accepted, F.col(k)).alias(k) for k in COUNT_KEYS),
        "in_segment", outcome, time_column,
    )
    latest = time_column if table == "sessions" else None
    counted = event_counts(keyed, outcome, EVENT_KEYS, counts, latest)
    last = (F.unix_micros("part_last_played") if latest else F.lit(None)).cast("long")
    return counted.select(
        F.lit(table).alias("dataset"), _reason_from_key(), *EVENT_KEYS[1:],
        *(F.col(c).cast("long").alias(common) for c, common in zip(counts, COMMON_COUNTS, strict=True)),
        last.alias("last_micros"),
    )


def count_frame_dtypes(counts: tuple[str, ...], latest: bool) -> dict[str, str]:
    """The columns of a count frame, in order, with their nullable pandas types: `COUNT_KEYS`,
    `counts`, and with `latest` the slice's latest session time as `last_micros` (microseconds)."""
    columns = [*COUNT_KEYS, *counts, *(["last_micros"] if latest else [])]
    return {c: "Int32" if c == "al_code" else "Int64" for c in columns}


# nullable pandas types for the collected counts: their keys are null on rejected rows
_PANDAS_TYPES = {pa.int32(): pd.Int32Dtype(), pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}


@dataclass(frozen=True)
class EventCounts:
    """The counted event tables: a frame of (dataset, EVENT_KEYS, COMMON_COUNTS, last_micros)."""

    frame: pd.DataFrame

    def _accepted(self, table: str) -> pd.DataFrame:
        f = self.frame
        return f[(f["dataset"] == table) & f["reason"].isna()]

    def rows(self, table: str) -> int:
        return int((self.frame["dataset"] == table).sum())

    def reasons(self, table: str) -> Counter[str | None]:
        """Rows per reason (None: accepted)."""
        f = self.frame[self.frame["dataset"] == table]
        by_code = f.groupby(f["reason"].fillna(ACCEPTED_KEY), sort=False)["events"].sum()
        return Counter({reason_name(None if code == ACCEPTED_KEY else int(code)): int(n)
                        for code, n in by_code.items()})

    def after_as_of(self) -> dict[str, int]:
        out = {}
        for table in EVENT_TABLES:
            accepted = self._accepted(table)
            out[table] = int(accepted.loc[accepted["after_as_of"].astype(bool), "events"].sum())
        return out

    def latest_session(self) -> int | None:
        """The default as_of: the latest accepted session, in microseconds (None without sessions)."""
        latest = self._accepted("sessions")["last_micros"].max()
        return None if pd.isna(latest) else int(latest)

    def accepted_counts(self, table: str) -> pd.DataFrame:
        """Engagement counts of the accepted events up to as_of, keyed by (workout, age-level code),
        with the columns of `count_frame_dtypes`."""
        counts, _, _ = EVENT_COLUMNS[table]
        accepted = self._accepted(table)
        counted = accepted[~accepted["after_as_of"].astype(bool)].rename(
            columns=dict(zip(COMMON_COUNTS, counts, strict=True)))
        dtypes = count_frame_dtypes(counts, latest=table == "sessions")
        return counted[list(dtypes)].astype(dtypes).reset_index(drop=True)


def count_events(sessions_df: DataFrame, feedback_df: DataFrame, as_of_micros: int | None) -> EventCounts:
    """Both event tables (validated, with membership) counted in one query, collected."""
    frames = [_table_counts(df, table, as_of_micros) for df, table in ((sessions_df, "sessions"),
                                                                       (feedback_df, "feedback"))]
    collected = frames[0].unionByName(frames[1]).toArrow()
    return EventCounts(collected.to_pandas(types_mapper=_PANDAS_TYPES.get))
