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
from typing import Any

import pyarrow as pa

from coldstart import mysql, pipeline, sinks
from coldstart.config import Config
from coldstart.flags import flags_table
from coldstart.fs import HadoopFs
from coldstart.jdbc import Jdbc, MysqlError, check_connection
from coldstart.runtime import (
    EXIT_BAD_INPUT,
    EXIT_QUALITY,
    add_config_args,
    build_session,
    config_from_args,
    fail,
    main_guard,
    setup_logging,
)
from coldstart.sources import InputError, read_inputs

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
    profiles = (f", {report['profile_recommendations']} in {report['profiles']} profiles"
                if "profiles" in report else "")
    results = (f"{report['recommendations']} recommendations in {report['segments']} segments{profiles}, "
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
              f"(completion {r['p_completion']:.2f}, like {r['p_like']:.2f}, {counted(r['views'], 'view')}, "
              f"{counted(round(r['days_old']), 'day')} old)")
    print()


def counted(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def database_writer(args: argparse.Namespace, cfg: Config) -> sinks.DatabaseWriter | None:
    if "mysql" not in args.sink:
        return None

    def write(result: pipeline.PipelineResult, run_id: str) -> None:
        mysql.write_results(result, run_id, args.jdbc_url, cfg)

    return write


def main(argv: list[str] | None = None) -> int:
    setup_logging()
    args = parse_args(sys.argv[1:] if argv is None else argv)
    cfg = config_from_args(args)
    spark = build_session("coldstart-recommend")
    fs = HadoopFs(spark)
    run_id = new_run_id()
    try:
        if uses_mysql(args):
            check_connection(spark, Jdbc.from_env(args.jdbc_url))  # fail before any work
        if args.source == "mysql":
            raw = mysql.read_inputs_mysql(spark, args.input, args.jdbc_url, cfg)
        else:
            raw = read_inputs(spark, args.input)
        result = pipeline.run(raw, cfg)
        sink_names = [*(["files"] if "files" in args.sink else []),
                      *([f"mysql {Jdbc.from_env(args.jdbc_url).safe_url}"] if "mysql" in args.sink else [])]
        result.report.update(run_id=run_id, status="ok", sinks=sink_names)
        recommendations, flags = sinks.publish(fs, result, args.output, run_id, files="files" in args.sink,
                                               database=database_writer(args, cfg))
    except (InputError, MysqlError) as exc:
        fail(str(exc), EXIT_BAD_INPUT)
    except pipeline.QualityError as exc:
        exc.report.update(run_id=run_id, status="failed: too many rejected rows")
        sinks.publish_rejects(fs, exc.report, exc.validated, args.output, run_id)
        fail(f"{exc} (rejects and run_report.json written to {args.output}; previous recommendations kept)",
             EXIT_QUALITY)
    log.info("instructor flags:\n%s", flags_table(flags.to_pylist(), SHOWN_FLAGS))
    print_summary(result.report, recommendations, args.output)
    spark.catalog.clearCache()  # a session that runs the job again (tests, notebooks) starts clean
    return 0


if __name__ == "__main__":
    main_guard(main)
