"""spark-submit entry point of the batch job: top workouts per segment, instructor flags, report.

    ./spark-submit.sh jobs/recommend.py --input DIR --output DIR [--config FILE] [--set KEY=VALUE ...]
        [--source files|mysql] [--sink files|mysql|files,mysql] [--jdbc-url jdbc:mysql://HOST:PORT/DB]

With MySQL (SPEC §8) the credentials come from COLDSTART_DB_USER and COLDSTART_DB_PASSWORD;
the catalog is always read from --input, and --output always receives run_report.json and rejects/.
"""
from __future__ import annotations

import argparse
import logging
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, "") and not any(Path(p, "coldstart").is_dir() for p in sys.path if p):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without install

from coldstart.pythonpath import prefer_installed_pyspark  # noqa: E402

prefer_installed_pyspark()  # before pyspark is imported

import pyarrow as pa  # noqa: E402

from coldstart import mysql, pipeline, sinks  # noqa: E402
from coldstart.flags import flags_table  # noqa: E402
from coldstart.fs import HadoopFs  # noqa: E402
from coldstart.jdbc import Jdbc, MysqlError, check_connection  # noqa: E402
from coldstart.runtime import (  # noqa: E402
    EXIT_BAD_INPUT,
    EXIT_QUALITY,
    add_config_args,
    build_session,
    config_from_args,
    fail,
    main_guard,
    setup_logging,
)
from coldstart.sources import InputError, read_inputs  # noqa: E402
from coldstart.warmup import start_warmup  # noqa: E402

log = logging.getLogger("coldstart.recommend")
SHOWN_SEGMENTS = 3
SHOWN_FLAGS = 20
SOURCES = ("files", "mysql")
SINKS = ("files", "mysql")


def parse_sinks(text: str) -> tuple[str, ...]:
    """`files`, `mysql` or `files,mysql` -> the sinks, in a fixed order."""
    chosen = {s.strip() for s in text.split(",") if s.strip()}
    if not chosen or chosen - set(SINKS):
        raise argparse.ArgumentTypeError(f"expected files, mysql or files,mysql, got {text!r}")
    return tuple(s for s in SINKS if s in chosen)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", required=True, help="input directory (SPEC §1 datasets, CSV or Parquet)")
    parser.add_argument("--output", required=True, help="output directory, replaced whole by a successful run")
    parser.add_argument("--source", choices=SOURCES, default="files",
                        help="where users, sessions and feedback come from (default: files)")
    parser.add_argument("--sink", type=parse_sinks, default=("files",), metavar="files|mysql|files,mysql",
                        help="where recommendations and flags go (default: files)")
    parser.add_argument("--jdbc-url", help="jdbc:mysql://HOST:PORT/DB, for --source/--sink mysql")
    add_config_args(parser)
    args = parser.parse_args(argv)
    if uses_mysql(args) and not args.jdbc_url:
        parser.error("--jdbc-url is required with --source mysql or --sink mysql")
    return args


def uses_mysql(args: argparse.Namespace) -> bool:
    return args.source == "mysql" or "mysql" in args.sink


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:8]


def print_summary(report: dict[str, Any], recommendations: pa.Table, output: str) -> None:
    """The counts, then the first few segments of `recommendations` (sorted by segment_key, rank)."""
    results = (f"{report['recommendations']} recommendations in {report['segments']} segments, "
               f"{report['instructor_flags']} instructor flags")
    print(f"\n{results} -> {' and '.join(report['sinks'])}; run_report.json and rejects/ in {output}")
    print(f"as_of {report['as_of']}; rows rejected: "
          + ", ".join(f"{n} {c['rejected']}" for n, c in report["rows"].items()))
    shown = sorted(set(recommendations.column("segment_key").to_pylist()))[:SHOWN_SEGMENTS]
    segment = None
    for r in recommendations.to_pylist():
        if r["segment_key"] not in shown:
            continue
        if r["segment_key"] != segment:
            segment = r["segment_key"]
            print(f"\n  {segment}")
        print(f"    {r['rank']}. workout {r['workout_id']:>6}  score {r['score']:.4f}  "
              f"(completion {r['p_completion']:.2f}, like {r['p_like']:.2f}, {r['views']} views, "
              f"{r['days_old']:.0f} days old)")
    print()


def main(argv: list[str] | None = None) -> int:
    setup_logging()
    args = parse_args(sys.argv[1:] if argv is None else argv)
    cfg = config_from_args(args)
    spark = build_session("coldstart-recommend")
    start_warmup(spark)  # while the inputs' headers are read (coldstart/warmup.py)
    fs = HadoopFs(spark)
    run_id = new_run_id()
    try:
        if uses_mysql(args):
            check_connection(spark, Jdbc.from_env(args.jdbc_url))  # fail before any work
        if args.source == "mysql":
            raw = mysql.read_inputs_mysql(spark, args.input, args.jdbc_url, cfg)
        else:
            raw = read_inputs(spark, args.input)
    except (InputError, MysqlError) as exc:
        fail(str(exc), EXIT_BAD_INPUT)
    sinks.recover(fs, args.output)
    staging = sinks.staging_dir(fs, args.output, run_id)
    try:
        result = pipeline.run(raw, cfg)
    except pipeline.QualityError as exc:
        exc.report.update(run_id=run_id, status="failed: too many rejected rows")
        sinks.write_rejects(fs, exc.validated, exc.report["rows"], staging)
        sinks.write_report(fs, exc.report, staging)
        sinks.swap_entries(fs, staging, args.output, (sinks.REJECTS, sinks.REPORT), run_id)
        fail(f"{exc} (rejects and run_report.json written to {args.output}; previous recommendations kept)",
             EXIT_QUALITY)
    sink_names = [*(["files"] if "files" in args.sink else []),
                  *([f"mysql {Jdbc.from_env(args.jdbc_url).safe_url}"] if "mysql" in args.sink else [])]
    result.report.update(run_id=run_id, status="ok", sinks=sink_names)
    sinks.write_rejects(fs, result.validated, result.report["rows"], staging)
    recommendations, flags = sinks.collect_results(result.recommendations, result.flags)
    if "files" in args.sink:
        sinks.write_results(fs, recommendations, flags, staging)
    if "mysql" in args.sink:
        try:  # before the files swap: a failed write leaves both the tables and the files as they were
            mysql.write_results(result.recommendations, result.flags, result.report["as_of"], run_id,
                                args.jdbc_url, cfg)
        except MysqlError as exc:
            fs.delete(staging)
            fail(str(exc), EXIT_BAD_INPUT)
    sinks.write_report(fs, result.report, staging)
    if "files" in args.sink:
        sinks.swap_in(fs, staging, args.output, run_id)
    else:  # results went to MySQL only: previous result files, if any, stay
        sinks.swap_entries(fs, staging, args.output, (sinks.REJECTS, sinks.REPORT), run_id)
    log.info("outputs replaced in %s (run %s)", args.output, run_id)
    log.info("instructor flags:\n%s", flags_table(flags.to_pylist(), SHOWN_FLAGS))
    print_summary(result.report, recommendations, args.output)
    spark.catalog.clearCache()  # a session that runs the job again (tests, notebooks) starts clean
    return 0


if __name__ == "__main__":
    main_guard(main)
