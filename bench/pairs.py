"""Alternating pairs: two variants of the job on the same data, A B A B ..., timed from launch to exit.

    .venv/bin/python bench/pairs.py --users 10000000 --pairs 3 --a ../base --b . \\
        [--a-set KEY=VALUE ...] [--b-set KEY=VALUE ...] [--a-opts "..."] [--b-opts "..."]

A variant is a checkout (its ./spark-submit.sh and jobs/recommend.py, run with this venv) plus
`--set` options. Absolute times swing between hours on a shared machine; pairs run minutes
apart, so their ratio is the number to read. Prints one line per run and the mean ratio B/A.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def run(checkout: Path, data: Path, out: Path, sets: list[str], opts: str) -> float:
    env = {k: v for k, v in os.environ.items() if k != "SPARK_HOME"}
    env.update(COLDSTART_VENV=str(REPO / ".venv"),
               COLDSTART_SPARK_OPTS=f"--conf spark.ui.showConsoleProgress=false {opts}".strip())
    command = [str(checkout / "spark-submit.sh"), str(checkout / "jobs" / "recommend.py"), "--input", str(data),
               "--output", str(out), *(a for s in sets for a in ("--set", s))]
    started = time.perf_counter()
    subprocess.run(command, cwd=checkout, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, required=True, help="data/bench/users_N (made by bench/scale.py)")
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--a", type=Path, required=True, help="checkout of variant A")
    parser.add_argument("--b", type=Path, required=True, help="checkout of variant B")
    parser.add_argument("--a-set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--b-set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--a-opts", default="", help="extra spark-submit options of A (COLDSTART_SPARK_OPTS)")
    parser.add_argument("--b-opts", default="", help="extra spark-submit options of B")
    args = parser.parse_args()
    data = REPO / "data" / "bench" / f"users_{args.users}"
    variants = {"A": (args.a.resolve(), args.a_set, args.a_opts), "B": (args.b.resolve(), args.b_set, args.b_opts)}
    times: dict[str, list[float]] = {"A": [], "B": []}
    for i in range(args.pairs):
        for name in ("A", "B") if i % 2 == 0 else ("B", "A"):
            checkout, sets, opts = variants[name]
            seconds = run(checkout, data, REPO / "output" / "pairs" / name, sets, opts)
            times[name].append(seconds)
            print(f"pair {i + 1} {name}: {seconds:.1f} s  (load {os.getloadavg()[0]:.1f})", flush=True)
    ratios = [b / a for a, b in zip(times["A"], times["B"], strict=True)]
    print(f"A mean {statistics.mean(times['A']):.1f} s, B mean {statistics.mean(times['B']):.1f} s, "
          f"B/A per pair {', '.join(f'{r:.3f}' for r in ratios)}, mean {statistics.mean(ratios):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
