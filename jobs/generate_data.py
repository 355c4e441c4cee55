"""Write the synthetic input datasets of SPEC §1 (plain Python: spark-submit runs it, Spark is not needed).

    spark-submit --py-files coldstart.zip jobs/generate_data.py --output data/ --users 2000
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

try:
    from coldstart import synthetic
except ImportError:  # run as `python jobs/generate_data.py` from a checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from coldstart import synthetic

log = logging.getLogger("generate_data")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", required=True, help="directory to write the datasets into")
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--format", dest="fmt", choices=synthetic.FORMATS, default="csv",
                        help="format of users/sessions/feedback; the catalog is always JSON")
    parser.add_argument("--workouts", type=int, default=600)
    parser.add_argument("--types", type=int, default=len(synthetic.WORKOUT_TYPES),
                        help="workout types (default %(default)s; more than 12 adds generated ones)")
    parser.add_argument("--chunk-users", type=int, default=200_000, help="users generated and written at a time")
    parser.add_argument("--end", default="2025-12-31T00:00:00", help="latest possible timestamp (UTC)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    started = time.perf_counter()
    try:
        counts = synthetic.generate(args.output, users=args.users, seed=args.seed, fmt=args.fmt,
                                    workouts=args.workouts, chunk_users=args.chunk_users, end=args.end,
                                    types=args.types)
    except ValueError as err:
        log.error("%s", err)
        return 2
    log.info("wrote %s to %s in %.1f s", json.dumps(counts), args.output, time.perf_counter() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
