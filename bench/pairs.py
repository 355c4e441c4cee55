"""Alternating pairs: two variants of the job on the same data, A B A B ..., timed from launch to exit.

    .venv/bin/python bench/pairs.py --users 10000000 --pairs 3 --a ../base --b . \\
        [--a-set KEY=VALUE ...] [--b-set KEY=VALUE ...] [--a-opts "..."] [--b-opts "..."]

A variant is a checkout (its ./spark-submit.sh and jobs/recommend.py, run with this venv) plus
`--set` options. Absolute times swing between hours on a shared machine; pairs run minutes
apart, so their ratio is the number to read. Prints one line per run and the mean ratio B/A, also
split at the job's first stage (its log's first `stage ...: started` line): the start-up before it
(JVM, session, imports) and the work after it, each with its own ratio. Each run's log is kept in
output/pairs/<A|B>.log.
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# the jobs' log format (coldstart.runtime.setup_logging), local time
FIRST_STAGE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) INFO coldstart: stage \w+: started", re.M)


def first_stage(log_text: str) -> float | None:
    """The epoch time of the job's first `stage ...: started` line (None: no such line)."""
    found = FIRST_STAGE.search(log_text)
    return None if found is None else datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()


def run(checkout: Path, data: Path, out: Path, sets: list[str], opts: str) -> tuple[float, float | None]:
    """(seconds from launch to exit, seconds from launch to the first stage)."""
    env = {k: v for k, v in os.environ.items() if k != "SPARK_HOME"}
    env.update(COLDSTART_VENV=str(REPO / ".venv"),
               COLDSTART_SPARK_OPTS=f"--conf spark.ui.showConsoleProgress=false {opts}".strip())
    command = [str(checkout / "spark-submit.sh"), str(checkout / "jobs" / "recommend.py"), "--input", str(data),
               "--output", str(out), *(a for s in sets for a in ("--set", s))]
    log_path = out.with_suffix(".log")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    launched, started = time.time(), time.perf_counter()
    with log_path.open("w") as log:
        subprocess.run(command, cwd=checkout, env=env, check=True, stdout=log, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - started
    stage = first_stage(log_path.read_text())
    return seconds, None if stage is None else stage - launched


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
    startups: dict[str, list[float | None]] = {"A": [], "B": []}
    for i in range(args.pairs):
        for name in ("A", "B") if i % 2 == 0 else ("B", "A"):
            checkout, sets, opts = variants[name]
            seconds, startup = run(checkout, data, REPO / "output" / "pairs" / name, sets, opts)
            times[name].append(seconds)
            startups[name].append(startup)
            split = "" if startup is None else f", start-up {startup:.1f} s + work {seconds - startup:.1f} s"
            print(f"pair {i + 1} {name}: {seconds:.1f} s{split}  (load {os.getloadavg()[0]:.1f})", flush=True)
    summary("launch to exit", times["A"], times["B"])
    if all(s is not None for name in startups for s in startups[name]):
        summary("start-up", startups["A"], startups["B"])
        summary("work after start-up", *([t - s for t, s in zip(times[n], startups[n], strict=True)]
                                          for n in ("A", "B")))
    return 0


def summary(what: str, a: list[float], b: list[float]) -> None:
    ratios = [y / x for x, y in zip(a, b, strict=True)]
    print(f"{what}: A mean {statistics.mean(a):.1f} s, B mean {statistics.mean(b):.1f} s, "
          f"B/A per pair {', '.join(f'{r:.3f}' for r in ratios)}, mean {statistics.mean(ratios):.3f}")


if __name__ == "__main__":
    sys.exit(main())
