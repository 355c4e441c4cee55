"""File outputs of SPEC §7, replaced whole: a reader sees the old outputs or the new ones.

Everything is written into a fresh sibling directory `<output>.tmp-<run_id>` and
swapped in with renames at the end. A run killed half-way leaves the previous
outputs untouched; the next run removes its leftovers (and, if it was killed
between the two renames of the swap, puts the previous outputs back first).
"""
from __future__ import annotations

import csv
import io
import json
import logging
from typing import Any

from pyspark.sql import Column, DataFrame

from coldstart.flags import FLAG_COLUMNS, flag_order
from coldstart.fs import HadoopFs
from coldstart.rerank import RECOMMENDATION_COLUMNS
from coldstart.validation import Validated

log = logging.getLogger(__name__)

CSV_COLUMNS = ("segment_key", "workout_id", "score", "rank")
REPORT = "run_report.json"
REJECTS = "rejects"
TMP_MARK, OLD_MARK = ".tmp-", ".old-"


def write_small_csv(fs: HadoopFs, df: DataFrame, path: str, sort_by: tuple[str | Column, ...]) -> None:
    """One CSV file with a header at `path`, floats written in full (shortest round-trip) precision.

    Only for results, bounded by segments x k or by instructors: the rows come to the
    driver so that Python writes each double exactly (the JVM's Double.toString on
    Java 17 is not always round-trip exact).
    """
    rows = df.orderBy(*sort_by).collect()  # bounded by segments x k, never by users
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(df.columns)
    writer.writerows(["" if v is None else v for v in row] for row in rows)
    fs.write_text(path, buffer.getvalue())


def write_rejects(validated: dict[str, Validated], counts: dict[str, dict[str, Any]], directory: str) -> None:
    """`rejects/<dataset>/`: Parquet with the original line or values and the reason.

    A dataset without rejects gets an empty directory of the same schema, without
    another pass over its rows.
    """
    for name, v in validated.items():
        rejects = v.rejects
        if not counts[name]["rejected"]:
            rejects = rejects.sparkSession.createDataFrame([], rejects.schema)
        rejects.write.mode("overwrite").parquet(f"{directory}/{REJECTS}/{name}")


def write_report(fs: HadoopFs, report: dict[str, Any], directory: str) -> None:
    fs.write_text(f"{directory}/{REPORT}", json.dumps(report, indent=2, sort_keys=False, default=str) + "\n")


def write_results(fs: HadoopFs, recommendations: DataFrame, flags: DataFrame, directory: str) -> None:
    write_small_csv(fs, recommendations.select(*CSV_COLUMNS), f"{directory}/segment_recommendations.csv",
                     ("segment_key", "rank"))
    recommendations.select(*RECOMMENDATION_COLUMNS).coalesce(1).write.mode("overwrite").parquet(
        f"{directory}/segment_recommendations.parquet")
    write_small_csv(fs, flags.select(*FLAG_COLUMNS), f"{directory}/instructor_flags.csv", flag_order())
    flags.select(*FLAG_COLUMNS).coalesce(1).write.mode("overwrite").parquet(f"{directory}/instructor_flags.parquet")


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
