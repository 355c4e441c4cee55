"""SPEC §8: the event tables read over JDBC, the result tables written and swapped in at once.

Reads are split by id range (MIN/MAX of the id, `mysql.read_partitions` partitions).
Times are read as text and parsed by validation in UTC: a JDBC `getTimestamp` would
apply the JVM's time zone. Writes go the other way, as `yyyy-MM-dd HH:mm:ss.SSSSSS` text
formatted in the session time zone (UTC), which the server stores as is in DATETIME(6).

A write fills staging tables (`<table>__staging`, made `LIKE` the real ones), then one
`RENAME TABLE` swaps all of them in, then the old copies are dropped: a reader sees the
old rows or the new rows, never a mix or an empty table, and a failed write leaves the
old rows in place. One writing run at a time per database (as for the output directory).
"""
from __future__ import annotations

import dataclasses
import logging

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from coldstart.config import Config
from coldstart.flags import FLAG_COLUMNS
from coldstart.jdbc import Jdbc, connection, ensure_schema, execute, query_row, translated
from coldstart.pipeline import PipelineResult
from coldstart.schemas import CORRUPT, EVENT_DATASETS, FEEDBACK, ROW_ORDER, SESSIONS, SOURCE_FILE, USERS
from coldstart.sources import RawInputs, read_inputs
from coldstart.validation import Validated

log = logging.getLogger(__name__)

TOP_WORKOUTS = "cold_start_top_workouts"
PROFILE_TOP_WORKOUTS = "cold_start_profile_top_workouts"
FLAGS = "flags"
TOP_WORKOUT_COLUMNS = ("segment_key", "rank", "workout_id", "score", "as_of", "run_id")
PROFILE_TOP_WORKOUT_COLUMNS = ("profile_key", "rank", "workout_id", "score", "as_of", "run_id")
FLAG_TABLE_COLUMNS = (*FLAG_COLUMNS, "run_id")
# the id each event table is keyed and split by
ID_COLUMNS = {USERS.name: "user_id", SESSIONS.name: "session_id", FEEDBACK.name: "feedback_id"}
# the columns of each event table (SPEC §1; sessions keep `completed`, not `completed_at`)
TABLE_COLUMNS = {
    USERS.name: USERS.required,
    SESSIONS.name: (*SESSIONS.required, "completed"),
    FEEDBACK.name: FEEDBACK.required,
}
TIME_COLUMNS = {SESSIONS.name: ("timestamp",), FEEDBACK.name: ("feedback_time",)}
DATETIME_TEXT = "yyyy-MM-dd HH:mm:ss.SSSSSS"
STAGING_SUFFIX, OLD_SUFFIX = "__staging", "__old"


def _quote(name: str) -> str:
    return f"`{name}`"


def source_name(table: str) -> str:
    """What `_source_file` and the run report say a row came from."""
    return f"mysql:{table}"


# ---- source ------------------------------------------------------------------------------------------------


def id_bounds(spark: SparkSession, jdbc: Jdbc, table: str) -> tuple[int, int] | None:
    """(MIN, MAX) of the table's id column, None for an empty table."""
    column = _quote(ID_COLUMNS[table])
    with connection(spark, jdbc) as conn, translated(jdbc, f"cannot read {table} from"):
        row = query_row(conn, f"SELECT MIN({column}), MAX({column}) FROM {_quote(table)}", 2)
    if row is None or row[0] is None:
        return None
    return int(row[0]), int(row[1])


def _partition_options(bounds: tuple[int, int] | None, table: str, partitions: int) -> dict[str, str]:
    if bounds is None or bounds[0] == bounds[1] or partitions < 2:
        return {}
    # the bounds only set the stride: rows outside them land in the first or last partition
    return {"partitionColumn": ID_COLUMNS[table], "lowerBound": str(bounds[0]), "upperBound": str(bounds[1]),
            "numPartitions": str(partitions)}


def read_table(spark: SparkSession, jdbc: Jdbc, table: str, partitions: int) -> DataFrame:
    """One event table as the CSV reader would give it: SPEC columns plus the bookkeeping columns."""
    options = {**jdbc.spark_options(), "dbtable": _quote(table),
               **_partition_options(id_bounds(spark, jdbc, table), table, partitions)}
    if table in TIME_COLUMNS:
        options["customSchema"] = ", ".join(f"{c} STRING" for c in TIME_COLUMNS[table])
    with translated(jdbc, f"cannot read {table} from"):
        df = spark.read.format("jdbc").options(**options).load()
    return df.select(
        *TABLE_COLUMNS[table],
        F.lit(None).cast("string").alias(CORRUPT),
        F.lit(source_name(table)).alias(SOURCE_FILE),
        F.col(ID_COLUMNS[table]).cast("long").alias(ROW_ORDER),
    )


def read_event_tables(spark: SparkSession, jdbc_url: str, cfg: Config) -> dict[str, DataFrame]:
    """users, sessions, feedback over JDBC, partitioned by id range."""
    jdbc = Jdbc.from_env(jdbc_url)
    return {d.name: read_table(spark, jdbc, d.name, cfg.mysql.read_partitions) for d in EVENT_DATASETS}


def read_inputs_mysql(spark: SparkSession, input_dir: str, jdbc_url: str, cfg: Config) -> RawInputs:
    """The event tables from MySQL, the catalog from `input_dir`."""
    raw = read_inputs(spark, input_dir, read_event_tables(spark, jdbc_url, cfg))
    safe_url = Jdbc.from_env(jdbc_url).safe_url
    paths = {d.name: f"{safe_url} {source_name(d.name)}" for d in EVENT_DATASETS} | raw.paths
    return dataclasses.replace(raw, paths=paths)


# ---- sink --------------------------------------------------------------------------------------------------


def _stage(jdbc: Jdbc, table: str, df: DataFrame, batch_size: int) -> None:
    (df.write.format("jdbc").options(**jdbc.spark_options())
     .option("dbtable", _quote(table + STAGING_SUFFIX)).option("batchsize", str(batch_size))
     .mode("append").save())


def _swap_statements(tables: list[str]) -> list[str]:
    """One RENAME for every table (all swap together), then the old copies go."""
    renames = ", ".join(f"{_quote(t)} TO {_quote(t + OLD_SUFFIX)}, {_quote(t + STAGING_SUFFIX)} TO {_quote(t)}"
                        for t in tables)
    return [f"RENAME TABLE {renames}", *(f"DROP TABLE IF EXISTS {_quote(t + OLD_SUFFIX)}" for t in tables)]


def write_tables_atomic(frames: dict[str, DataFrame], jdbc_url: str, batch_size: int) -> None:
    """Replace each table's rows by its frame's; the tables change together, at once."""
    if not frames:
        return
    jdbc = Jdbc.from_env(jdbc_url)
    spark = next(iter(frames.values())).sparkSession
    tables = list(frames)
    ensure_schema(spark, jdbc)
    with connection(spark, jdbc) as conn, translated(jdbc, "cannot write to"):
        # leftovers of a run killed mid-write go first
        execute(conn, [f"DROP TABLE IF EXISTS {_quote(t + s)}" for t in tables for s in (STAGING_SUFFIX, OLD_SUFFIX)])
        execute(conn, [f"CREATE TABLE {_quote(t + STAGING_SUFFIX)} LIKE {_quote(t)}" for t in tables])
        try:
            for table, df in frames.items():
                log.info("writing %s (staging)", table)
                _stage(jdbc, table, df, batch_size)
            execute(conn, _swap_statements(tables))
        finally:
            execute(conn, [f"DROP TABLE IF EXISTS {_quote(t + STAGING_SUFFIX)}" for t in tables])
    log.info("replaced %s in %s", ", ".join(tables), jdbc.safe_url)


def write_table_atomic(df: DataFrame, jdbc_url: str, table: str, batch_size: int) -> None:
    write_tables_atomic({table: df}, jdbc_url, batch_size)


def _datetime_text(column: str) -> F.Column:
    return F.date_format(column, DATETIME_TEXT).alias(column)


def result_frames(result: PipelineResult, run_id: str) -> dict[str, DataFrame]:
    """The rows of `cold_start_top_workouts`, `flags` and (with profiles) `cold_start_profile_top_workouts`."""
    tagged = {"as_of": F.lit(result.report["as_of"]).cast("string"), "run_id": F.lit(run_id)}
    frames = {TOP_WORKOUTS: result.recommendations.withColumns(tagged).select(*TOP_WORKOUT_COLUMNS),
              FLAGS: result.flags.withColumn("run_id", tagged["run_id"]).select(*FLAG_TABLE_COLUMNS)}
    if result.profile_recommendations is not None:
        frames[PROFILE_TOP_WORKOUTS] = result.profile_recommendations.withColumns(tagged).select(
            *PROFILE_TOP_WORKOUT_COLUMNS)
    return frames


def write_results(result: PipelineResult, run_id: str, jdbc_url: str, cfg: Config) -> None:
    """The result tables, swapped in together."""
    write_tables_atomic(result_frames(result, run_id), jdbc_url, cfg.mysql.write_batch_size)


def event_frames(validated: dict[str, Validated]) -> dict[str, DataFrame]:
    """Accepted event rows in the columns of the MySQL tables (types as comma-separated text)."""
    users = validated[USERS.name].accepted.withColumn(
        "preferred_types", F.concat_ws(",", F.array_sort("preferred_types")))
    frames = {USERS.name: users, SESSIONS.name: validated[SESSIONS.name].accepted,
              FEEDBACK.name: validated[FEEDBACK.name].accepted}
    return {
        name: df.select(*(_datetime_text(c) if c in TIME_COLUMNS.get(name, ()) else F.col(c)
                          for c in TABLE_COLUMNS[name]))
        for name, df in frames.items()
    }
