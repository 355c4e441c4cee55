"""Readers for the input directory of SPEC §1: raw frames, schemas declared, nothing scored.

Every column is read as it stands (CSV: strings) so that validation can say why a
value is unusable instead of Spark silently turning it into null.
"""
from __future__ import annotations

import csv
import logging
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from coldstart.fs import HadoopFs
from coldstart.schemas import CATALOG, CORRUPT, EVENT_DATASETS, RAW_LINE, ROW_ORDER, SOURCE_FILE, Dataset

log = logging.getLogger(__name__)

CATALOG_SCHEMA = T.StructType(
    [
        T.StructField("workout_id", T.StringType()),
        T.StructField("title", T.StringType()),
        T.StructField("instructor", T.StringType()),
        T.StructField("instructor_id", T.StringType()),
        T.StructField("workout_type", T.StringType()),
        T.StructField("fitness_level", T.StringType()),
        T.StructField("duration", T.StringType()),
        T.StructField("tags", T.ArrayType(T.StringType())),
        T.StructField(CORRUPT, T.StringType()),
    ]
)


class InputError(Exception):
    """A missing dataset or column: the run stops before any work (exit status 2)."""


@dataclass(frozen=True)
class RawInputs:
    """The four datasets as read, one frame each, plus where each came from."""

    users: DataFrame
    sessions: DataFrame
    feedback: DataFrame
    catalog: DataFrame
    paths: dict[str, str]

    def frame(self, name: str) -> DataFrame:
        return getattr(self, name)


def _header_columns(line: str) -> list[str]:
    return [c.strip() for c in next(csv.reader([line.lstrip("\ufeff")]), [])]


def _check_columns(dataset: Dataset, path: str, present: list[str]) -> None:
    missing = [c for c in dataset.required if c not in present]
    if dataset.one_of and not any(c in present for c in dataset.one_of):
        missing.append(" or ".join(dataset.one_of))
    if missing:
        raise InputError(f"{path}: missing required column(s): {', '.join(missing)}")


def _with_row_order(df: DataFrame) -> DataFrame:
    # file path + monotonically increasing id follow the order of rows within each file.
    # input_file_name(), not _metadata.file_path: a scan that references `_metadata` computes
    # every metadata field for every row, its row index included, even in queries that never
    # use the path
    return df.withColumn(SOURCE_FILE, F.input_file_name()).withColumn(
        ROW_ORDER, F.monotonically_increasing_id()
    )


# RFC 4180 line: fields either without quotes and commas, or quoted with "" inside.
# Spark's CSV parser forgives stray and unterminated quotes; SPEC §9 calls them malformed.
# The quoted form is tried first: possessive quantifiers never come back to try it after an empty plain field.
STRICT_CSV_LINE = r'^(?:"(?:[^"]|"")*+"|[^",]*+)(?:,(?:"(?:[^"]|"")*+"|[^",]*+))*+$'


def read_csv(spark: SparkSession, dataset: Dataset, path: str) -> DataFrame:
    """A CSV with header, as its lines plus the parsed string columns and the corrupt-record column.

    Lines are read as text and parsed with `from_csv`, so that every row keeps its
    original line (for `rejects/`) and a line with broken quoting can be told apart.
    Empty lines are not rows.
    """
    header_line = HadoopFs(spark).first_line(path).lstrip("\ufeff")
    header = _header_columns(header_line)
    _check_columns(dataset, path, header)
    if len(set(header)) != len(header):
        raise InputError(f"{path}: duplicate column names in header: {header}")
    ddl = ", ".join(f"`{c}` STRING" for c in header) + f", `{CORRUPT}` STRING"
    options = {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT, "escape": '"'}
    line = F.col("value")
    lines = _with_row_order(spark.read.text(path)).filter(
        (line != "") & (F.regexp_replace(line, "^\ufeff", "") != header_line))
    parsed = lines.select(
        line.alias(RAW_LINE),
        F.from_csv(line, ddl, options).alias("row"),
        line.rlike(STRICT_CSV_LINE).alias("_strict"),
        SOURCE_FILE, ROW_ORDER,
    )
    corrupt = F.when(~F.col("_strict"), F.col(RAW_LINE)).otherwise(F.col(f"row.{CORRUPT}"))
    return parsed.select(
        *(F.col(f"row.`{c}`").alias(c) for c in dataset.columns if c in header),
        corrupt.alias(CORRUPT), RAW_LINE, SOURCE_FILE, ROW_ORDER,
    )


def read_schema(file_schema: T.StructType) -> T.StructType:
    """The schema a Parquet dataset is read with: its own, timestamps without time zone read as `timestamp`.

    SPEC §1: all timestamps are UTC, so a wall-clock timestamp (`timestamp_ntz`) is the
    same instant as its micros read as `timestamp`. Reading it so skips a per-row time-zone
    conversion (java.time) that a cast would do on every event.
    """
    return T.StructType([
        T.StructField(f.name, T.TimestampType(), f.nullable, f.metadata)
        if isinstance(f.dataType, T.TimestampNTZType) else f
        for f in file_schema
    ])


def read_parquet(spark: SparkSession, dataset: Dataset, path: str) -> DataFrame:
    df = spark.read.parquet(path)
    _check_columns(dataset, path, df.columns)
    schema = read_schema(df.schema)
    if schema != df.schema:
        df = spark.read.schema(schema).parquet(path)
    return _with_row_order(df).select(
        *(c for c in dataset.columns if c in df.columns),
        F.lit(None).cast("string").alias(CORRUPT), SOURCE_FILE, ROW_ORDER,
    )


def read_catalog(spark: SparkSession, path: str) -> DataFrame:
    """`augmented_workouts.json`: a JSON array of objects, or JSON Lines."""
    fs = HadoopFs(spark)
    multi_line = fs.first_line(path).lstrip("\ufeff \t").startswith("[")
    # the catalog is small: inferring its keys once is how a missing column is told from nulls
    present = spark.read.option("multiLine", multi_line).json(path).columns
    _check_columns(CATALOG, path, present)
    df = (
        spark.read.schema(CATALOG_SCHEMA)
        .option("multiLine", multi_line)
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", CORRUPT)
        .json(path)
    )
    return _with_row_order(df).select(*CATALOG.columns, CORRUPT, SOURCE_FILE, ROW_ORDER)


def locate(fs: HadoopFs, input_dir: str, dataset: Dataset) -> tuple[str, str]:
    """(path, format) of a dataset: Parquet preferred over CSV when both exist."""
    base = input_dir.rstrip("/")
    if dataset is CATALOG:
        candidates = [(f"{base}/{dataset.file_stem}.json", "json")]
    else:
        candidates = [(f"{base}/{dataset.file_stem}.parquet", "parquet"), (f"{base}/{dataset.file_stem}.csv", "csv")]
    for path, fmt in candidates:
        if fs.exists(path):
            return path, fmt
    names = " or ".join(p.rsplit("/", 1)[-1] for p, _ in candidates)
    raise InputError(f"{base}: missing dataset {dataset.name} ({names})")


def read_inputs(spark: SparkSession, input_dir: str, event_frames: dict[str, DataFrame] | None = None) -> RawInputs:
    """Read the catalog and the event datasets from `input_dir`.

    `event_frames` supplies some event datasets from elsewhere (MySQL); those are
    not looked for on disk. All datasets are located and their columns checked
    before any of them is parsed, so a missing one fails fast.
    """
    fs = HadoopFs(spark)
    event_frames = event_frames or {}
    located = {d.name: locate(fs, input_dir, d) for d in (*EVENT_DATASETS, CATALOG) if d.name not in event_frames}
    frames: dict[str, DataFrame] = {}
    for dataset in (*EVENT_DATASETS, CATALOG):
        if dataset.name in event_frames:
            _check_columns(dataset, dataset.name, event_frames[dataset.name].columns)
            frames[dataset.name] = event_frames[dataset.name]
        else:
            frames[dataset.name] = _read(spark, dataset, *located[dataset.name])
    paths = {name: path for name, (path, _) in located.items()}
    return RawInputs(paths=paths, **frames)


def _read(spark: SparkSession, dataset: Dataset, path: str, fmt: str) -> DataFrame:
    log.info("reading %s from %s (%s)", dataset.name, path, fmt)
    if fmt == "csv":
        return read_csv(spark, dataset, path)
    if fmt == "parquet":
        return read_parquet(spark, dataset, path)
    return read_catalog(spark, path)
