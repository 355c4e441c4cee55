"""spark-submit entry point of the batch job: top workouts per segment, instructor flags, report.

    ./spark-submit.sh jobs/recommend.py --input DIR --output DIR [--config FILE] [--set KEY=VALUE ...]
"""
from __future__ import annotations

import argparse
import logging
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

if __package__ in (None, "") and not any(Path(p, "coldstart").is_dir() for p in sys.path if p):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without install

from pyspark.sql import functions as F  # noqa: E402

from coldstart import pipeline, sinks  # noqa: E402
from coldstart.fs import HadoopFs  # noqa: E402
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

log = logging.getLogger("coldstart.recommend")
SHOWN_SEGMENTS = 3


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", required=True, help="input directory (SPEC §1 datasets, CSV or Parquet)")
    parser.add_argument("--output", required=True, help="output directory, replaced whole by a successful run")
    add_config_args(parser)
    return parser.parse_args(argv)


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:8]


def print_summary(result: pipeline.PipelineResult, output: str) -> None:
    rows = result.recommendations.filter(
        F.col("segment_key").isin(
            [r["segment_key"] for r in result.recommendations.select("segment_key").distinct()
             .orderBy("segment_key").limit(SHOWN_SEGMENTS).collect()])
    ).orderBy("segment_key", "rank").collect()  # a few segments x k rows
    report = result.report
    print(f"\nOutputs in {output}: segment_recommendations.csv ({report['recommendations']} rows, "
          f"{report['segments']} segments), segment_recommendations.parquet/, instructor_flags.csv "
          f"({report['instructor_flags']} flags), run_report.json, rejects/")
    print(f"as_of {report['as_of']}; rows rejected: "
          + ", ".join(f"{n} {c['rejected']}" for n, c in report["rows"].items()))
    segment = None
    for r in rows:
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
    fs = HadoopFs(spark)
    run_id = new_run_id()
    try:
        raw = read_inputs(spark, args.input)
    except InputError as exc:
        fail(str(exc), EXIT_BAD_INPUT)
    sinks.recover(fs, args.output)
    staging = sinks.staging_dir(fs, args.output, run_id)
    try:
        result = pipeline.run(raw, cfg)
    except pipeline.QualityError as exc:
        exc.report.update(run_id=run_id, status="failed: too many rejected rows")
        sinks.write_rejects(exc.validated, exc.report["rows"], staging)
        sinks.write_report(fs, exc.report, staging)
        sinks.swap_entries(fs, staging, args.output, (sinks.REJECTS, sinks.REPORT), run_id)
        fail(f"{exc} (rejects and run_report.json written to {args.output}; previous recommendations kept)",
             EXIT_QUALITY)
    result.report.update(run_id=run_id, status="ok")
    sinks.write_rejects(result.validated, result.report["rows"], staging)
    sinks.write_results(fs, result.recommendations, result.flags, staging)
    sinks.write_report(fs, result.report, staging)
    sinks.swap_in(fs, staging, args.output, run_id)
    log.info("outputs replaced in %s (run %s)", args.output, run_id)
    print_summary(result, args.output)
    return 0


if __name__ == "__main__":
    main_guard(main)
