"""SPEC §1 normalisation and §9 rejects: raw frames in, typed rows with a reason out.

Each dataset gets one `reason` column, filled by the checks in the order of SPEC §9
(the first that applies wins); accepted rows are those with no reason. Sessions and
feedback are checked against the accepted users' ids and the accepted catalog's ids.
Validation knows nothing of segments: `membership` and `counting` come after it.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from operator import or_

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from coldstart.codes import string_array
from coldstart.schemas import CATALOG, CORRUPT, FEEDBACK, RAW_LINE, ROW_ORDER, SESSIONS, SOURCE_FILE, USERS, Dataset

REASONS = (
    "malformed_line",
    "null_key",
    "bad_id",
    "null_field",
    "bad_completed",
    "bad_liked",
    "bad_timestamp",
    "duplicate",
    "unknown_user",
    "unknown_workout",
)
# `reason` holds the index of the reason in REASONS (null: accepted) while rows flow through
# Spark: an int is far cheaper than a string to compute and group by for every event; the
# names come back at the edges (`Validated.rejects`, `reason_name`).
REASON_CODE = {name: code for code, name in enumerate(REASONS)}
INT_ID = r"^[+-]?[0-9]+$"
WORKOUT_ID = r"^[wW]?([+-]?[0-9]+)$"


@dataclass(frozen=True)
class Validated:
    """One dataset after validation: every row of `flagged` has `reason` null (accepted) or a code.

    `accepted` is the typed, normalised `columns` of the accepted rows; `rejects` the rows not
    used, with their reason and original record.
    """

    dataset: str
    flagged: DataFrame
    columns: tuple[str, ...]

    @property
    def accepted(self) -> DataFrame:
        return self.flagged.filter(F.col("reason").isNull()).select(*self.columns)

    @property
    def rejects(self) -> DataFrame:
        return self.flagged.filter(F.col("reason").isNotNull()).select(
            F.lit(self.dataset).alias("dataset"), reason_name_column(F.col("reason")).alias("reason"), "record"
        )

    def persisted(self) -> Validated:
        """The same rows, computed once: for small datasets that several queries read (the catalog)."""
        return Validated(self.dataset, self.flagged.persist(StorageLevel.MEMORY_AND_DISK), self.columns)


def reason_name(code: int | None) -> str | None:
    """A `reason` code back to its name (None: accepted)."""
    return None if code is None else REASONS[code]


def reason_name_column(code: Column) -> Column:
    return F.element_at(string_array(REASONS), code + 1)


def _as_text(df: DataFrame, name: str) -> Column:
    """A column as text, untrimmed (typed Parquet/JDBC columns included; booleans as 0/1)."""
    col = F.col(name)
    if isinstance(df.schema[name].dataType, T.BooleanType):
        col = col.cast("int")
    return col.cast("string")


def _trimmed(text: Column) -> Column:
    """Text trimmed; '' counts as missing."""
    text = F.trim(text)
    return F.when(text == "", None).otherwise(text)


def _text(df: DataFrame, name: str) -> Column:
    """A column as trimmed text; '' counts as missing."""
    return _trimmed(_as_text(df, name))


def _timestamp(df: DataFrame, name: str) -> Column:
    if isinstance(df.schema[name].dataType, (T.TimestampType, T.TimestampNTZType, T.DateType)):
        return F.col(name).cast("timestamp")
    return _text(df, name).try_cast("timestamp")


def _is_integral(df: DataFrame, name: str) -> bool:
    # typed Parquet/JDBC columns skip the text checks: a cheap path for hundreds of millions of rows
    return isinstance(df.schema[name].dataType, T.IntegralType)


def _missing(df: DataFrame, name: str) -> Column:
    return F.col(name).isNull() if _is_integral(df, name) else _text(df, name).isNull()


def _int_id(df: DataFrame, name: str) -> Column:
    if _is_integral(df, name):
        return F.col(name).cast("long")
    text = _text(df, name)
    return F.when(text.rlike(INT_ID), text.try_cast("long"))


def _workout_id(df: DataFrame, name: str) -> Column:
    if _is_integral(df, name):
        return F.col(name).cast("long")
    text = _text(df, name)
    return F.when(text.rlike(WORKOUT_ID), F.regexp_extract(text, WORKOUT_ID, 1).try_cast("long"))


def _flag(df: DataFrame, checks: list[tuple[str, Column]]) -> DataFrame:
    """`reason` = the first check that applies, in the given order."""
    reason: Column = F.lit(None).cast("int")
    for name, applies in reversed(checks):
        reason = F.when(applies, F.lit(REASON_CODE[name])).otherwise(reason)
    return df.withColumn("reason", reason)


def _record(df: DataFrame, dataset: Dataset) -> Column:
    """The original line for malformed rows, the original values as JSON otherwise."""
    if RAW_LINE in df.columns:
        return F.col(RAW_LINE)
    original = [c for c in dataset.columns if c in df.columns]
    return F.coalesce(F.col(CORRUPT), F.to_json(F.struct(*original)))


def _with_key_checks(df: DataFrame, dataset: Dataset, ids: dict[str, Column]) -> list[tuple[str, Column]]:
    return [
        ("malformed_line", F.col(CORRUPT).isNotNull()),
        ("null_key", reduce(or_, (_missing(df, name) for name in ids))),
        ("bad_id", reduce(or_, (i.isNull() for i in ids.values()))),
    ]


# ids per duplicate-search bucket (2^BUCKET_BITS), one bit each in WORDS longs: buckets of 128 ids keep
# the number of buckets per task within what Spark's generated aggregation map holds (2^16 keys)
BUCKET_BITS = 7
WORDS = 2
# dirty data with more duplicate buckets than this is joined by a shuffle instead of a broadcast
BROADCAST_BUCKETS_MAX = 100_000


def _id_bucket(key: str) -> Column:
    return F.call_function("shiftright", F.col(key), F.lit(BUCKET_BITS))


def duplicate_buckets(df: DataFrame, key: str, datasets: tuple[str, ...] = ()) -> DataFrame:
    """Buckets of 128 consecutive ids in which some id occurs more than once, among all rows with an id.

    Finding repeated ids must not cost a shuffle of every event: per bucket, the number of
    rows and the OR of one bit per id (in two 64-bit words) are fixed-width sums (a hash
    aggregation whose map-side pass folds ids that sit together in the input), and a bucket
    has a repeat exactly when it has more rows than bits set.
    Rows already rejected count too, so that the scan reads the id column alone (the
    checks that reject rows would cost more than the search): the buckets are a superset
    of those with a repeat among the rows not rejected, and `_flag_duplicates` leaves
    rejected rows out when it ranks the rows of these buckets.
    `datasets`: further grouping columns (`_dataset` when several datasets' ids are searched at once).
    """
    bit = F.call_function("shiftleft", F.lit(1).cast("long"), F.col(key).bitwiseAND(F.lit(63)).cast("int"))
    word = F.call_function("shiftright", F.col(key), F.lit(6)).bitwiseAND(F.lit(WORDS - 1))
    words = [F.bit_or(F.when(word == w, bit)).alias(f"_bits{w}") for w in range(WORDS)]
    bits_set = sum((F.coalesce(F.bit_count(f"_bits{w}"), F.lit(0)) for w in range(1, WORDS)),
                   F.coalesce(F.bit_count("_bits0"), F.lit(0)))
    return (
        df.select(*datasets, key).filter(F.col(key).isNotNull())
        .groupBy(*datasets, _id_bucket(key).alias("_bucket"))
        .agg(F.count("*").alias("_rows"), *words)
        .filter(F.col("_rows") > bits_set)
        .select(*datasets, "_bucket")
    )


# the id by which each dataset's duplicates are found (SPEC §9)
DUPLICATE_KEYS = {"catalog": "workout_id", "users": "user_id", "sessions": "session_id", "feedback": "feedback_id"}


def duplicate_key(raw_df: DataFrame, dataset: str) -> Column:
    """A dataset's duplicate key, parsed as its validation parses it (null: no valid id)."""
    name = DUPLICATE_KEYS[dataset]
    return _workout_id(raw_df, name) if name == "workout_id" else _int_id(raw_df, name)


@dataclass(frozen=True)
class DuplicateSearch:
    """The duplicate buckets of several datasets (`_dataset`, `_bucket`, cached), and their number per dataset."""

    datasets: tuple[str, ...]
    buckets: DataFrame
    counts: dict[str, int]

    def of(self, dataset: str) -> tuple[DataFrame, int]:
        code = self.datasets.index(dataset)
        return self.buckets.filter(F.col("_dataset") == code).select("_bucket"), self.counts.get(dataset, 0)


def search_duplicates(raw: dict[str, DataFrame]) -> DuplicateSearch:
    """`duplicate_buckets` of several raw datasets by their `DUPLICATE_KEYS`, in one aggregation.

    One job instead of one per dataset: a query's planning and scheduling are paid once,
    and the small tables' few scan tasks run beside the event tables' many.
    """
    names = tuple(raw)
    ids = [df.select(F.lit(code).alias("_dataset"), duplicate_key(df, name).alias("_id"))
           for code, (name, df) in enumerate(raw.items())]
    buckets = duplicate_buckets(reduce(DataFrame.unionByName, ids), "_id", ("_dataset",)).cache()
    # one row per dataset that has a repeat
    counts = {names[r["_dataset"]]: int(r["count"]) for r in buckets.groupBy("_dataset").count().collect()}
    if not counts:
        buckets.unpersist()
    return DuplicateSearch(names, buckets, counts)


def _searched(duplicates: DuplicateSearch | None, dataset: str, raw_df: DataFrame) -> DuplicateSearch:
    """`duplicates` when the caller searched several datasets at once, else this dataset's own search."""
    return duplicates if duplicates is not None else search_duplicates({dataset: raw_df})


def _flag_duplicates(df: DataFrame, dataset: str, latest_first: Column | None,
                     duplicates: DuplicateSearch) -> DataFrame:
    """Among rows not rejected so far: keep one per id (`DUPLICATE_KEYS`; latest timestamp, then first in input).

    The buckets with a repeated id come from `search_duplicates` (one small job, cached);
    on clean data there are none and the rows pass through untouched.
    Otherwise only the rows of those buckets not rejected so far are ranked by id, and
    the losers are flagged through a join on the row's unique `_row_order`.
    """
    key = DUPLICATE_KEYS[dataset]
    buckets, n_buckets = duplicates.of(dataset)
    if not n_buckets:
        return df
    small = n_buckets <= BROADCAST_BUCKETS_MAX  # then the losers (about one per bucket) are few too
    if small:
        buckets = F.broadcast(buckets)
    order = ([latest_first] if latest_first is not None else []) + [F.col(SOURCE_FILE), F.col(ROW_ORDER)]
    losers = (
        df.filter(F.col("reason").isNull())
        .withColumn("_bucket", _id_bucket(key))
        .join(buckets, on="_bucket", how="inner")
        .withColumn("_rank", F.row_number().over(Window.partitionBy(key).orderBy(*order)))
        .filter(F.col("_rank") > 1)
        .select(ROW_ORDER, F.lit(True).alias("_duplicate"))
    )
    return (
        df.join(F.broadcast(losers) if small else losers, on=ROW_ORDER, how="left")
        .withColumn("reason", F.when(F.col("_duplicate"), F.lit(REASON_CODE["duplicate"])).otherwise(F.col("reason")))
        .drop("_duplicate")
    )


USER_COLUMNS = ("user_id", "age_group", "fitness_level", "preferred_types")
# A user's category columns as read (text, '' when missing). Millions of users share a few thousand
# of these: whoever handles all users normalises each distinct combination once (`with_user_profile`
# on the grouped rows) instead of once per user.
PROFILE_SOURCES = ("age_group", "fitness_level", "preferred_types")
RAW_PROFILE = tuple(f"_raw_{c}" for c in PROFILE_SOURCES)


def with_user_profile(df: DataFrame) -> DataFrame:
    """`age_group`, `fitness_level`, `preferred_types` (SPEC §1) from the `RAW_PROFILE` columns:
    trimmed; the level in title case; the types a set of trimmed, lower-case names."""
    raw_age, raw_level, raw_types = (F.col(c) for c in RAW_PROFILE)
    listed = F.regexp_replace(F.lower(F.coalesce(_trimmed(raw_types), F.lit(""))), r"\s*,\s*", ",")
    return df.withColumns({
        "age_group": _trimmed(raw_age),
        "fitness_level": F.initcap(_trimmed(raw_level)),
        "preferred_types": F.array_distinct(F.array_remove(F.split(listed, ","), "")),
    })


def validate_users(raw_df: DataFrame, duplicates: DuplicateSearch | None = None) -> Validated:
    """Users flagged by id and field checks and duplicates (the first row of an id is kept); the
    `RAW_PROFILE` columns kept beside the normalised ones."""
    user_id = _int_id(raw_df, "user_id")
    checks = _with_key_checks(raw_df, USERS, {"user_id": user_id}) + [
        ("null_field", _text(raw_df, "age_group").isNull() | _text(raw_df, "fitness_level").isNull()),
    ]
    flagged = (
        raw_df.withColumn("record", _record(raw_df, USERS))
        .transform(_flag, checks)
        .select(
            user_id.alias("user_id"),
            *(F.coalesce(_as_text(raw_df, c), F.lit("")).alias(raw)
              for c, raw in zip(PROFILE_SOURCES, RAW_PROFILE, strict=True)),
            "reason", "record", SOURCE_FILE, ROW_ORDER,
        )
        .transform(_flag_duplicates, "users", None, _searched(duplicates, "users", raw_df))
        .transform(with_user_profile)
    )
    return Validated("users", flagged, USER_COLUMNS)


def validate_catalog(raw_df: DataFrame, duplicates: DuplicateSearch | None = None) -> Validated:
    ids = {"workout_id": _workout_id(raw_df, "workout_id"), "instructor_id": _int_id(raw_df, "instructor_id")}
    workout_type = F.lower(_text(raw_df, "workout_type"))
    checks = _with_key_checks(raw_df, CATALOG, ids) + [
        ("null_field", workout_type.isNull()),
    ]
    tags = F.array_distinct(
        F.filter(F.transform(F.coalesce(F.col("tags"), F.array().cast("array<string>")),
                             lambda t: F.lower(F.trim(t))), lambda t: t.isNotNull() & (t != ""))
    )
    flagged = (
        raw_df.withColumn("record", _record(raw_df, CATALOG))
        .transform(_flag, checks)
        .select(
            ids["workout_id"].alias("workout_id"),
            F.col("title").cast("string").alias("title"),
            F.col("instructor").cast("string").alias("instructor"),
            ids["instructor_id"].alias("instructor_id"),
            workout_type.alias("workout_type"),
            F.initcap(_text(raw_df, "fitness_level")).alias("fitness_level"),
            _text(raw_df, "duration").try_cast("double").alias("duration"),
            tags.alias("tags"),
            "reason", "record", SOURCE_FILE, ROW_ORDER,
        )
        .transform(_flag_duplicates, "catalog", None, _searched(duplicates, "catalog", raw_df))
    )
    columns = ("workout_id", "title", "instructor", "instructor_id",
               "workout_type", "fitness_level", "duration", "tags")
    return Validated("catalog", flagged, columns)


def _binary(df: DataFrame, name: str) -> Column:
    """0/1 (booleans from typed sources count as 1/0); anything else is null."""
    if _is_integral(df, name) or isinstance(df.schema[name].dataType, T.BooleanType):
        value = F.col(name).cast("int")
        return F.when(value.isin(0, 1), value)
    text = _text(df, name)
    return F.when(text.isin("0", "1"), text.cast("int"))


def _completed(raw_df: DataFrame) -> tuple[Column, Column]:
    """(value, is_bad): `completed` 0/1, or `completed_at` (null: abandoned, else a timestamp)."""
    if "completed" in raw_df.columns:
        value = _binary(raw_df, "completed")
        return value, value.isNull()
    at_text = _text(raw_df, "completed_at")
    at = _timestamp(raw_df, "completed_at")
    return F.when(at_text.isNull(), 0).when(at.isNotNull(), 1), at_text.isNotNull() & at.isNull()


def _with_known_ids(flagged: DataFrame, users_df: DataFrame, workouts_df: DataFrame,
                    broadcast_users: bool) -> DataFrame:
    """Flag events whose user is not in `users_df`, then those whose workout is not in `workouts_df`.

    Left joins on `user_id` and `workout_id`; the other columns of both frames come along (null
    for an unknown id). The pipeline passes the users' and workouts' codes (`coldstart.membership`),
    so that the events leave validation with what counting needs: a second join of every event
    with millions of users would cost as much as this one.
    """
    # the right side's own key, renamed, tells a known id from an unknown one (no marker column to broadcast)
    users_side = users_df.withColumnRenamed("user_id", "_known_user_id")
    if broadcast_users:
        users_side = F.broadcast(users_side)
    workouts_side = F.broadcast(workouts_df.withColumnRenamed("workout_id", "_known_workout_id"))
    open_row = F.col("reason").isNull()
    return (
        flagged.join(users_side, on=F.col("user_id") == F.col("_known_user_id"), how="left")
        .join(workouts_side, on=F.col("workout_id") == F.col("_known_workout_id"), how="left")
        .withColumn("reason", F.when(open_row & F.col("_known_user_id").isNull(), F.lit(REASON_CODE["unknown_user"]))
                    .when(open_row & F.col("_known_workout_id").isNull(), F.lit(REASON_CODE["unknown_workout"]))
                    .otherwise(F.col("reason")))
        .drop("_known_user_id", "_known_workout_id")
    )


def _validate_events(raw_df: DataFrame, dataset: Dataset, int_ids: tuple[str, ...],
                     outcome: tuple[str, Column, Column, str], time_column: str,
                     known: tuple[DataFrame, DataFrame, bool],
                     duplicates: DuplicateSearch | None) -> Validated:
    """Sessions or feedback: ids, the 0/1 outcome, the time, duplicates by their id (`DUPLICATE_KEYS`), known ids.

    `outcome` is (column, value, is bad, reason); `known` is (users, workouts, broadcast the users):
    see `_with_known_ids`.
    """
    ids = {n: _int_id(raw_df, n) for n in int_ids}
    ids["workout_id"] = _workout_id(raw_df, "workout_id")
    outcome_name, outcome_value, outcome_bad, outcome_reason = outcome
    time_value = _timestamp(raw_df, time_column)
    checks = _with_key_checks(raw_df, dataset, ids) + [
        (outcome_reason, outcome_bad),
        ("bad_timestamp", time_value.isNull()),
    ]
    flagged = (
        raw_df.withColumn("record", _record(raw_df, dataset))
        .transform(_flag, checks)
        .select(*(c.alias(n) for n, c in ids.items()), outcome_value.alias(outcome_name),
                time_value.alias(time_column), "reason", "record", SOURCE_FILE, ROW_ORDER)
        .transform(_flag_duplicates, dataset.name, F.col(time_column).desc(),
                   _searched(duplicates, dataset.name, raw_df))
        .transform(_with_known_ids, *known)
    )
    return Validated(dataset.name, flagged, (*ids, outcome_name, time_column))


def validate_sessions(raw_df: DataFrame, users_df: DataFrame, workouts_df: DataFrame,
                      broadcast_users: bool = True, duplicates: DuplicateSearch | None = None) -> Validated:
    """`users_df`, `workouts_df`: the accepted users and workouts, keyed by `user_id` and `workout_id`."""
    completed, bad_completed = _completed(raw_df)
    return _validate_events(raw_df, SESSIONS, ("session_id", "user_id"),
                            ("completed", completed, bad_completed, "bad_completed"), "timestamp",
                            (users_df, workouts_df, broadcast_users), duplicates)


def validate_feedback(raw_df: DataFrame, users_df: DataFrame, workouts_df: DataFrame,
                      broadcast_users: bool = True, duplicates: DuplicateSearch | None = None) -> Validated:
    """Like `validate_sessions`; feedback is not checked against `session_id` (SPEC §9)."""
    liked = _binary(raw_df, "liked")
    return _validate_events(raw_df, FEEDBACK, ("feedback_id", "session_id", "user_id"),
                            ("liked", liked, liked.isNull(), "bad_liked"), "feedback_time",
                            (users_df, workouts_df, broadcast_users), duplicates)
