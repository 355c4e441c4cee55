"""Publishing a run (SPEC §7-8): result files, rejects and report replaced whole, MySQL first.

Everything is written into a fresh sibling directory `<output>.tmp-<run_id>` and
swapped in with renames at the end. A run killed half-way leaves the previous
outputs untouched; the next run removes its leftovers (and, if it was killed
between the two renames of the swap, puts the previous outputs back first).
The MySQL tables are swapped in before the files: a failed database write leaves
both the tables and the files as they were.
"""
from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql.pandas.types import to_arrow_schema

from coldstart.flags import FLAG_COLUMNS
from coldstart.fs import HadoopFs
from coldstart.pipeline import PipelineResult
from coldstart.profiles import PROFILE_RECOMMENDATION_COLUMNS
from coldstart.rerank import RECOMMENDATION_COLUMNS
from coldstart.validation import Validated

log = logging.getLogger(__name__)

CSV_COLUMNS = ("segment_key", "workout_id", "score", "rank")
PROFILE_CSV_COLUMNS = ("profile_key", "workout_id", "score", "rank")
REPORT = "run_report.json"
REJECTS = "rejects"
TMP_MARK, OLD_MARK = ".tmp-", ".old-"


def write_small_csv(fs: HadoopFs, table: pa.Table, path: str) -> None:
    """One CSV file with a header at `path`, rows in the table's order, floats in full (shortest
    round-trip) precision: Python writes each double exactly (the JVM's Double.toString on Java 17
    is not always round-trip exact)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(table.column_names)
    columns = [column.to_pylist() for column in table.columns]
    writer.writerows(["" if v is None else v for v in row] for row in zip(*columns, strict=True))
    fs.write_text(path, buffer.getvalue())


def write_small_parquet(fs: HadoopFs, table: pa.Table, directory: str) -> None:
    """A Parquet directory laid out as Spark writes one (a part file and `_SUCCESS`), from the driver.

    For tables already on the driver (results, bounded by segments x k or by instructors)
    and for empty rejects: a Spark job per file would cost more than the data.
    """
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="snappy")
    fs.write_bytes(f"{directory}/part-00000.parquet", buffer.getvalue())
    fs.write_bytes(f"{directory}/_SUCCESS", b"")


def write_rejects(fs: HadoopFs, validated: dict[str, Validated], counts: dict[str, dict[str, Any]],
                  directory: str) -> None:
    """`rejects/<dataset>/`: Parquet with the original line or values and the reason.

    A dataset without rejects gets an empty file of the same schema, without another pass
    over its rows.
    """
    for name, v in validated.items():
        rejects, path = v.rejects, f"{directory}/{REJECTS}/{name}"
        if counts[name]["rejected"]:
            rejects.write.mode("overwrite").parquet(path)
        else:
            write_small_parquet(fs, to_arrow_schema(rejects.schema).empty_table(), path)


def write_report(fs: HadoopFs, report: dict[str, Any], directory: str) -> None:
    fs.write_text(f"{directory}/{REPORT}", json.dumps(report, indent=2, sort_keys=False, default=str) + "\n")


def write_results(fs: HadoopFs, recommendations: pa.Table, flags: pa.Table, directory: str,
                  profile_recommendations: pa.Table | None = None) -> None:
    """The results as collected: CSV and Parquet of each."""
    write_small_csv(fs, recommendations.select(list(CSV_COLUMNS)), f"{directory}/segment_recommendations.csv")
    write_small_parquet(fs, recommendations.select(list(RECOMMENDATION_COLUMNS)),
                        f"{directory}/segment_recommendations.parquet")
    write_small_csv(fs, flags.select(list(FLAG_COLUMNS)), f"{directory}/instructor_flags.csv")
    write_small_parquet(fs, flags.select(list(FLAG_COLUMNS)), f"{directory}/instructor_flags.parquet")
    if profile_recommendations is not None:
        write_small_csv(fs, profile_recommendations.select(list(PROFILE_CSV_COLUMNS)),
                        f"{directory}/profile_recommendations.csv")
        write_small_parquet(fs, profile_recommendations.select(list(PROFILE_RECOMMENDATION_COLUMNS)),
                            f"{directory}/profile_recommendations.parquet")


def staging_dir(fs: HadoopFs, output: str, run_id: str) -> str:
    staging = f"{fs.qualify(output).rstrip('/')}{TMP_MARK}{run_id}"
    fs.delete(staging)
    return staging


def recover(fs: HadoopFs, output: str) -> None:
    """Remove what an earlier, killed run left beside `output`; restore it if a swap was cut short."""
    output = fs.qualify(output).rstrip("/")
    parent, name = output.rsplit("/", 1)
    if not fs.exists(parent):
        return
    siblings = [p.rstrip("/") for p in fs.list(parent)]
    olds = sorted(p for p in siblings if p.rsplit("/", 1)[-1].startswith(name + OLD_MARK))
    if olds and not fs.exists(output):
        log.warning("restoring previous outputs from %s (an earlier run stopped mid-swap)", olds[-1])
        fs.rename(olds.pop(), output)
    for leftover in olds + [p for p in siblings if p.rsplit("/", 1)[-1].startswith(name + TMP_MARK)]:
        log.info("removing leftover %s", leftover)
        fs.delete(leftover)


def swap_in(fs: HadoopFs, staging: str, output: str, run_id: str) -> None:
    """Replace `output` by `staging`: two renames, then the old copy is deleted."""
    output = fs.qualify(output).rstrip("/")
    old = f"{output}{OLD_MARK}{run_id}"
    if fs.exists(output):
        fs.rename(output, old)
    fs.rename(staging, output)
    fs.delete(old)


def swap_entries(fs: HadoopFs, staging: str, output: str, entries: tuple[str, ...], run_id: str) -> None:
    """Replace only some entries of `output` (the others, e.g. the previous recommendations, stay)."""
    output = fs.qualify(output).rstrip("/")
    if not fs.exists(output):
        swap_in(fs, staging, output, run_id)
        return
    for entry in entries:
        target, old = f"{output}/{entry}", f"{output}/{entry}{OLD_MARK}{run_id}"
        if fs.exists(target):
            fs.rename(target, old)
        fs.rename(f"{staging}/{entry}", target)
        fs.delete(old)
    fs.delete(staging)


# writes a run's result tables to the database: (result, run_id)
DatabaseWriter = Callable[[PipelineResult, str], None]


def publish(fs: HadoopFs, result: PipelineResult, output: str, run_id: str, files: bool = True,
            database: DatabaseWriter | None = None) -> tuple[pa.Table, pa.Table]:
    """A successful run's outputs, all at once: (segment recommendations, flags) as collected (bounded
    by segments x k and by instructors; the profile lists by profiles x k).

    With `files`, the result files replace the previous ones; without (MySQL only), only
    `rejects/` and the report are replaced and any previous result files stay. `database`,
    when given, writes the result tables before anything is swapped in: if it raises, the
    staging directory goes and the previous outputs stay.
    """
    recover(fs, output)
    staging = staging_dir(fs, output, run_id)
    try:
        write_rejects(fs, result.validated, result.report["rows"], staging)
        recommendations, flags = result.recommendations.toArrow(), result.flags.toArrow()
        if files:
            profile_lists = result.profile_recommendations
            write_results(fs, recommendations, flags, staging,
                          profile_lists.toArrow() if profile_lists is not None else None)
        if database is not None:
            database(result, run_id)
        write_report(fs, result.report, staging)
    except BaseException:
        fs.delete(staging)
        raise
    if files:
        swap_in(fs, staging, output, run_id)
    else:
        swap_entries(fs, staging, output, (REJECTS, REPORT), run_id)
    log.info("outputs replaced in %s (run %s)", output, run_id)
    return recommendations, flags


def publish_rejects(fs: HadoopFs, report: dict[str, Any], validated: dict[str, Validated], output: str,
                    run_id: str) -> None:
    """A run stopped by too many rejects: only `rejects/` and the report replace the previous ones."""
    recover(fs, output)
    staging = staging_dir(fs, output, run_id)
    try:
        write_rejects(fs, validated, report["rows"], staging)
        write_report(fs, report, staging)
    except BaseException:
        fs.delete(staging)
        raise
    swap_entries(fs, staging, output, (REJECTS, REPORT), run_id)
