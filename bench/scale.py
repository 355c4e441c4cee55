"""Scale benchmark: the job at several user counts, with and without profiles, against DuckDB and the peer.

    .venv/bin/python bench/scale.py                       # 100k, 1M, 5M and 10M users (a quiet machine: minutes)
    .venv/bin/python bench/scale.py --users 100000        # one size
    .venv/bin/python bench/scale.py --pairs 3 --write     # 3 alternating pairs per size; the table into BENCHMARKS.md

For each size: generate the data once into data/bench/users_N (jobs/generate_data.py --format parquet,
reused afterwards); run `./spark-submit.sh jobs/recommend.py` on it without SPEC §10's profiles
(`--set profile.enabled=false`) and with them (the default), alternating when `--pairs` > 1; run DuckDB
on the same Parquet (bench/duckdb_floor.py, 2 threads: the segment and per-workout counts, the job's
heavy part without profiles; then, timed apart, SPEC §10's training side, whose cost over the counts
is the single-node reference for the job's with / without profiles); run the peer (`python -m peer`,
the whole SPEC in pandas/numpy, written apart from the job) and compare its results with the job's
(`python -m peer.compare --require-profiles`: same workouts, same order, scores within 1e-9,
segments, flags and profiles). Everything is timed from launch to exit, JVM start included, and the
process tree's memory is sampled every 0.5 s. The peer is skipped when the machine's available
memory is below what it would need (PEER_GIB_PER_MILLION_USERS).
The Markdown table goes to stdout; `--write` puts it into BENCHMARKS.md between the scale markers.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.dataset as ds
import pyspark

REPO = Path(__file__).resolve().parent.parent
DEFAULT_USERS = (100_000, 1_000_000, 5_000_000, 10_000_000)
SAMPLE_S = 0.5
GENERATED_MARK = ".generated"  # written last: a directory without it is a half-written one
QUIET_OPTS = "--conf spark.ui.showConsoleProgress=false"
NO_PROFILES = ("--set", "profile.enabled=false")
GIB = 1024**3
# the peer's peak RSS per million users (measured: ~1.3 GiB at 1M, ~8 at 10M) and the margin kept
# free beside it: a size whose need exceeds the available memory skips the peer
PEER_GIB_PER_MILLION_USERS = 0.85
PEER_BASE_GIB = 0.5
PEER_MARGIN = 1.5
BEGIN, END = "<!-- scale:begin -->", "<!-- scale:end -->"


@dataclass
class Peaks:
    """Peak resident memory of one process tree, by role, in bytes (each the max over samples)."""

    jvm: int = 0
    python_workers: int = 0
    total: int = 0
    samples: int = 0


def _proc_table() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command line) for every process we can read."""
    table: dict[int, tuple[int, str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # exited while we looked
            continue
        table[int(entry.name)] = (int(stat.rsplit(")", 1)[1].split()[1]), cmdline)
    return table


def _rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _role(cmdline: str) -> str:
    if "java" in cmdline.split(" ", 1)[0]:
        return "jvm"
    if "pyspark.daemon" in cmdline or "pyspark.worker" in cmdline:
        return "python_workers"
    return "other"  # the Python driver, the bash of spark-submit.sh


def sample_tree(root: int, peaks: Peaks, stop: threading.Event) -> None:
    """Every SAMPLE_S: the RSS of root's descendants, summed by role (forked Python workers share
    pages with their daemon, so their sum is an upper bound)."""
    while not stop.is_set():
        table = _proc_table()
        children: dict[int, list[int]] = {}
        for pid, (ppid, _) in table.items():
            children.setdefault(ppid, []).append(pid)
        tree, todo = [], [root]
        while todo:
            pid = todo.pop()
            tree.append(pid)
            todo.extend(children.get(pid, []))
        by_role: dict[str, int] = {}
        for pid in tree:
            role = _role(table.get(pid, (0, ""))[1])
            by_role[role] = by_role.get(role, 0) + _rss(pid)
        peaks.jvm = max(peaks.jvm, by_role.get("jvm", 0))
        peaks.python_workers = max(peaks.python_workers, by_role.get("python_workers", 0))
        peaks.total = max(peaks.total, sum(by_role.values()))
        peaks.samples += 1
        stop.wait(SAMPLE_S)


@dataclass
class Run:
    status: int
    wall_s: float
    cpu_s: float  # user + system of the tree (what the kernel charged to it and its reaped children)
    peaks: Peaks
    stdout: str


def run_measured(cmd: list[str], env: dict[str, str], log_path: Path) -> Run:
    """Run `cmd` to completion; wall time and peak RSS of its process tree; stderr to `log_path`."""
    peaks, stop = Peaks(), threading.Event()
    started = time.perf_counter()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=log)
        sampler = threading.Thread(target=sample_tree, args=(proc.pid, peaks, stop), daemon=True)
        sampler.start()
        stdout = proc.stdout.read()  # a few lines: the pipe cannot fill up
        proc.stdout.close()
        # wait4 rather than wait: on a shared machine the CPU time means more than the wall time
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    stop.set()
    sampler.join()
    return Run(proc.returncode, wall, usage.ru_utime + usage.ru_stime, peaks, stdout.decode(errors="replace"))


def ensure_data(data_root: Path, users: int) -> Path:
    """data_root/users_N with Parquet events, generated once (plain Python: no Spark needed)."""
    directory = data_root / f"users_{users}"
    if (directory / GENERATED_MARK).is_file():
        print(f"reusing {directory}", file=sys.stderr)
        return directory
    print(f"generating {users:,} users into {directory}", file=sys.stderr)
    subprocess.run([sys.executable, str(REPO / "jobs" / "generate_data.py"), "--output", str(directory),
                    "--users", str(users), "--format", "parquet"], cwd=REPO, check=True)
    (directory / GENERATED_MARK).write_text(f"{users}\n")
    return directory


def count_rows(directory: Path, table: str) -> int:
    return ds.dataset(directory / f"{table}.parquet", format="parquet").count_rows()  # footers only


def submit_env(master: str, spark_opts: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "SPARK_HOME"}
    env.update(SPARK_MASTER=master, COLDSTART_SPARK_OPTS=f"{QUIET_OPTS} {spark_opts}".strip())
    return env


def run_peer(users: int, data: Path, job_out: Path, out: Path) -> tuple[Run | None, str]:
    """The peer on `data` (None when it would not fit in memory), and the comparison's verdict."""
    need = (PEER_BASE_GIB + PEER_GIB_PER_MILLION_USERS * users / 1e6) * PEER_MARGIN
    available = meminfo_gib("MemAvailable")
    if available < need:
        return None, f"peer skipped: needs ~{need:.0f} GiB, {available:.0f} GiB available"
    peer = run_measured([sys.executable, "-m", "peer", "--input", str(data), "--output", str(out / "peer")],
                        dict(os.environ), out / "peer.log")
    if peer.status != 0:
        return peer, f"peer exited with {peer.status}"
    compared = subprocess.run([sys.executable, "-m", "peer.compare", "--require-profiles", str(job_out),
                               str(out / "peer")], capture_output=True, text=True, cwd=REPO)
    return peer, compared.stdout.strip().splitlines()[0] if compared.stdout.strip() else compared.stderr.strip()


def run_floor(data: Path, out: Path) -> tuple[Run, dict[str, float]]:
    """DuckDB's counts and, timed apart, its SPEC §10 training side (seconds inside the process)."""
    floor = run_measured([sys.executable, str(REPO / "bench" / "duckdb_floor.py"), "--input", str(data),
                          "--threads", "2", "--profiles"], dict(os.environ), out / "floor.log")
    printed = json.loads(floor.stdout.strip().splitlines()[-1]) if floor.status == 0 else {}
    return floor, {k: float(printed[k]) for k in ("floor_seconds", "profile_seconds") if k in printed}


@dataclass
class Size:
    users: int
    sessions: int
    feedback: int
    without: list[Run] = field(default_factory=list)  # the job with profile.enabled=false
    with_profiles: list[Run] = field(default_factory=list)
    floor: Run | None = None
    floor_inside: dict[str, float] = field(default_factory=dict)  # floor_seconds, profile_seconds
    peer: Run | None = None
    verdict: str = "peer not run"


def bench_size(users: int, args: argparse.Namespace) -> Size:
    data = ensure_data(args.data_dir, users)
    out = args.output_dir / f"users_{users}"
    out.mkdir(parents=True, exist_ok=True)
    size = Size(users, count_rows(data, "sessions"), count_rows(data, "feedback"))
    env = submit_env(args.master, args.spark_opts)
    job = [str(REPO / "spark-submit.sh"), str(REPO / "jobs" / "recommend.py"), "--input", str(data)]
    for i in range(args.pairs):
        for profiles in ((False, True) if i % 2 == 0 else (True, False)):
            name = "with" if profiles else "without"
            run = run_measured([*job, "--output", str(out / name), *(() if profiles else NO_PROFILES)], env,
                               out / f"job_{name}.log")
            (size.with_profiles if profiles else size.without).append(run)
            print(f"{users:,} users, profiles {'on' if profiles else 'off'}: {run.wall_s:.1f} s "
                  f"(exit {run.status})", file=sys.stderr)
    size.floor, size.floor_inside = run_floor(data, out)
    if args.peer and size.with_profiles[-1].status == 0:
        size.peer, size.verdict = run_peer(users, data, out / "with", out)
    print(f"{users:,} users: {size.verdict}", file=sys.stderr)
    return size


def gib(n: int) -> str:
    return f"{n / GIB:.2f} GiB"


def mean_wall(runs: list[Run]) -> float | None:
    ok = [r.wall_s for r in runs if r.status == 0]
    return statistics.mean(ok) if len(ok) == len(runs) and ok else None


def table(sizes: list[Size]) -> str:
    lines = ["| users | sessions | job s, no profiles | job s, with profiles | with / without | job peak RSS "
             "| DuckDB floor s | job (no profiles) / floor | DuckDB + §10 / DuckDB | peer s | peer peak RSS "
             "| job / peer | results equal |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | :-- |"]
    for s in sizes:
        off, on = mean_wall(s.without), mean_wall(s.with_profiles)
        inside, profile = s.floor_inside.get("floor_seconds"), s.floor_inside.get("profile_seconds")
        # the floor process's launch to exit, without its §10 part (timed inside it, after the counts)
        floor = s.floor.wall_s - (profile or 0.0) if s.floor is not None and s.floor.status == 0 else None
        peer = s.peer.wall_s if s.peer is not None and s.peer.status == 0 else None
        peak = max((r.peaks.total for r in s.with_profiles), default=0)
        cells = [f"{s.users:,}", f"{s.sessions:,}", f"{off:.1f}" if off else "failed", f"{on:.1f}" if on else "failed",
                 f"{on / off:.2f}" if on and off else "-", gib(peak),
                 f"{floor:.1f} ({inside:.1f} inside)" if floor and inside else "-",
                 f"{off / floor:.2f}" if off and floor else "-",
                 f"{(inside + profile) / inside:.2f}" if inside and profile else "-",
                 f"{peer:.1f}" if peer else "-", gib(s.peer.peaks.total) if peer else "-",
                 f"{on / peer:.2f}" if on and peer else "-",
                 "yes" if s.verdict.startswith("EQUAL") else s.verdict]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def meminfo_gib(field: str) -> float:
    """One field of /proc/meminfo (`MemTotal`, `MemAvailable`), in GiB."""
    kib = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
               if line.startswith(f"{field}:"))
    return kib / 1024**2


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.machine())
    java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr.splitlines()[0]
    return (f"{os.cpu_count()} cores ({cpu}), {meminfo_gib('MemTotal'):.0f} GiB RAM, {platform.system()} "
            f"{platform.release()}; {java}; Python {platform.python_version()}, pyspark {pyspark.__version__}")


def report(sizes: list[Size], args: argparse.Namespace) -> str:
    command = " ".join(shlex.quote(a) for a in [".venv/bin/python", "bench/scale.py", *sys.argv[1:]])
    pairs = f"; job times are means of {args.pairs} alternating runs" if args.pairs > 1 else ""
    return (f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with `{command}` (master `{args.master}`, "
            f"conf/spark-defaults.conf{', extra: ' + args.spark_opts if args.spark_opts else ''}{pairs}) "
            f"on {machine()}.\n\n{table(sizes)}\n")


def write_benchmarks(text: str) -> None:
    """Replace the table between the scale markers of BENCHMARKS.md."""
    path = REPO / "BENCHMARKS.md"
    page = path.read_text()
    if BEGIN not in page or END not in page:
        raise SystemExit(f"{path}: no {BEGIN} ... {END} section to replace")
    head, rest = page.split(BEGIN, 1)
    path.write_text(f"{head}{BEGIN}\n{text}{END}{rest.split(END, 1)[1]}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, nargs="+", default=list(DEFAULT_USERS), help="user counts to run")
    parser.add_argument("--pairs", type=int, default=1, help="runs of the job per setting, alternating")
    parser.add_argument("--data-dir", type=Path, default=REPO / "data" / "bench")
    parser.add_argument("--output-dir", type=Path, default=REPO / "output" / "bench")
    parser.add_argument("--master", default="local[*]")
    parser.add_argument("--spark-opts", default="", help="extra spark-submit options (COLDSTART_SPARK_OPTS)")
    parser.add_argument("--no-peer", dest="peer", action="store_false",
                        help="skip the peer (python -m peer) and the comparison of results")
    parser.add_argument("--write", action="store_true", help="put the table into BENCHMARKS.md")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    sizes = [bench_size(users, args) for users in args.users]
    text = report(sizes, args)
    print(text)
    if args.write:
        write_benchmarks(text)
        print("written to BENCHMARKS.md", file=sys.stderr)
    failed = [s.users for s in sizes if mean_wall(s.without) is None or mean_wall(s.with_profiles) is None]
    # a peer that ran and disagrees with the job is a failed benchmark, whatever the times
    disagree = [s.users for s in sizes if s.peer is not None and not s.verdict.startswith("EQUAL")]
    if failed or disagree:
        print(f"job failures at {failed}, results different from the peer's at {disagree}: see output/bench",
              file=sys.stderr)
    return 0 if not failed and not disagree else 1


if __name__ == "__main__":
    sys.exit(main())
