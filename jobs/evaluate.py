"""spark-submit entry point of the offline evaluation: baselines, pipeline variants and a tuned config.

    ./spark-submit.sh jobs/evaluate.py --input DIR --output DIR [--config FILE] [--set KEY=VALUE ...] [--tune]

Writes evaluation.csv, evaluation.md, evaluation.png, per_user.parquet and tuned.toml
under --output. The grid of `[tune]` is always searched (it makes the segment_tuned row);
--tune also prints every grid point's validation nDCG.
"""
from __future__ import annotations

import argparse
import logging
import sys

import pandas as pd

from coldstart import pipeline
from coldstart.evaluation import Evaluation, evaluate
from coldstart.evaluation.report import write_evaluation
from coldstart.evaluation.run import tuned_config
from coldstart.evaluation.split import EvalData
from coldstart.progress import Stages
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

log = logging.getLogger("coldstart.evaluate")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", required=True, help="input directory (SPEC §1 datasets, CSV or Parquet)")
    parser.add_argument("--output", required=True, help="directory for the evaluation outputs")
    parser.add_argument("--tune", action="store_true", help="also print the validation nDCG of every grid point")
    add_config_args(parser)
    return parser.parse_args(argv)


def print_summary(ev: Evaluation, output: str, show_grid: bool) -> None:
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.float_format", "{:.4f}".format):
        print(f"\nTest cutoff {ev.info['test_cutoff']}, validation cutoff {ev.info['validation_cutoff']}; "
              f"{ev.info['test']['users']} new users, {ev.info['test']['without_relevant']} without a relevant item")
        print(ev.table.to_string(index=False))
        print("\nnDCG differences, paired bootstrap over users (95 %):")
        print(ev.intervals.to_string(index=False))
        for family, tuning in ev.tunings.items():
            if show_grid:
                grid = pd.DataFrame([{"candidate": c.label, **c.overrides, "validation_ndcg": m["ndcg"]}
                                     for c, m in tuning.results])
                print(f"\n{family} grid:\n" + grid.to_string(index=False))
            print(f"\ntuned {family}: {tuning.best.label} {tuning.best.overrides} "
                  f"(validation nDCG {tuning.ndcg:.4f})")
    print(f"outputs in {output}: evaluation.csv, evaluation.md, evaluation.png, per_user.parquet, tuned.toml\n")


def main(argv: list[str] | None = None) -> int:
    setup_logging()
    args = parse_args(sys.argv[1:] if argv is None else argv)
    cfg = config_from_args(args)
    spark = build_session("coldstart-evaluate")
    stages = Stages()
    try:
        raw = read_inputs(spark, args.input)
    except InputError as exc:
        fail(str(exc), EXIT_BAD_INPUT)
    inputs = pipeline.validate_inputs(raw, cfg, stages)
    counts = pipeline.reject_counts(inputs, pipeline.count_cut(inputs, None, stages))
    failures = pipeline.check_quality(counts, cfg.quality.max_reject_fraction)
    if failures:
        fail("too many rejected rows: " + "; ".join(failures) + " (run jobs/recommend.py for the rejects)",
             EXIT_QUALITY)
    ev = evaluate(EvalData.of(inputs), cfg, stages)
    write_evaluation(ev, tuned_config(ev.tunings), args.output)
    log.info("timings: %s", stages.timings)
    print_summary(ev, args.output, args.tune)
    return 0


if __name__ == "__main__":
    main_guard(main)
