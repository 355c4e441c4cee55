"""Scale benchmark: the job on generated Parquet data at several user counts, against the engine's floor.

    .venv/bin/python bench/scale.py                       # 100k, 1M, 5M and 10M users (minutes; a quiet machine)
    .venv/bin/python bench/scale.py --users 100000        # one size
    .venv/bin/python bench/scale.py --users 100000 --no-append --event-log

For each size: generate the data once into data/bench/users_N (jobs/generate_data.py --format parquet,
reused afterwards), run `./spark-submit.sh jobs/recommend.py` on it, then `./spark-submit.sh
bench/floor_job.py` (scan sessions and feedback, count rows per workout), then the single-process
peer `bench/pandas_peer.py` (the whole SPEC in pandas/numpy, written apart from the job) on the same
data, whose results `bench/compare_outputs.py` compares with the job's (same workouts, same order,
scores within 1e-9). All are timed from launch to exit (the Spark ones with JVM start, the same for
both: each maps its class-data archive, see COLDSTART_CDS in spark-submit.sh; a run that writes the
archive is run again), and the process tree's memory is sampled every 0.5 s. The peer is skipped when
the machine's available memory is below what it would need (PEER_GIB_PER_MILLION_USERS, measured).
The Markdown table goes to stdout and is appended to BENCHMARKS.md with the command and the machine.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.dataset as ds
import pyspark

REPO = Path(__file__).resolve().parent.parent
DEFAULT_USERS = (100_000, 1_000_000, 5_000_000, 10_000_000)
SAMPLE_S = 0.5
GENERATED_MARK = ".generated"  # written last: a directory without it is a half-written one
QUIET_OPTS = "--conf spark.ui.showConsoleProgress=false"
# what spark-submit.sh says when a run writes the class-data archive (see COLDSTART_CDS there)
CDS_FIRST_RUN = "writing the driver's class-data archive"
GIB = 1024**3
# the peer's peak RSS per million users (measured: 1.2 GiB at 1M, 4.2 at 5M, 8.1 at 10M) and the
# margin kept free beside it: a size whose need exceeds the available memory skips the peer
PEER_GIB_PER_MILLION_USERS = 0.85
PEER_BASE_GIB = 0.5
PEER_MARGIN = 1.5


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
    # the floor's driver maps a class-data archive too (COLDSTART_CDS=on; the default archives only the
    # main job), so that job / floor compares like with like
    env.update(SPARK_MASTER=master, COLDSTART_SPARK_OPTS=f"{QUIET_OPTS} {spark_opts}".strip(), COLDSTART_CDS="on")
    return env


def run_warm(cmd: list[str], env: dict[str, str], log_path: Path) -> Run:
    """`run_measured`, again if that run was the one that wrote the driver's class-data archive:
    the first run of a job on a machine pays for writing it (~20 s), later runs map it."""
    run = run_measured(cmd, env, log_path)
    if CDS_FIRST_RUN in log_path.read_text(errors="replace"):
        print(f"{Path(cmd[1]).name} wrote its class-data archive; running it again", file=sys.stderr)
        run = run_measured(cmd, env, log_path)
    return run


def meminfo_gib(field: str) -> float:
    """One field of /proc/meminfo (`MemTotal`, `MemAvailable`), in GiB."""
    kib = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
               if line.startswith(f"{field}:"))
    return kib / 1024**2


def run_peer(users: int, data: Path, out: Path) -> tuple[Run | None, str]:
    """The pandas peer on `data` (None when it would not fit in memory), and the comparison's verdict."""
    need = (PEER_BASE_GIB + PEER_GIB_PER_MILLION_USERS * users / 1e6) * PEER_MARGIN
    available = meminfo_gib("MemAvailable")
    if available < need:
        return None, f"peer skipped: needs ~{need:.0f} GiB, {available:.0f} GiB available"
    peer = run_measured([sys.executable, "-m", "peer", "--input", str(data),
                         "--output", str(out / "peer")], dict(os.environ), out / "peer.log")
    if peer.status != 0:
        return peer, f"peer exited with {peer.status}"
    compared = subprocess.run([sys.executable, "-m", "peer.compare", str(out / "result"),
                               str(out / "peer")], capture_output=True, text=True, cwd=REPO)
    return peer, compared.stdout.strip().splitlines()[0] if compared.stdout.strip() else compared.stderr.strip()


def bench_size(users: int, args: argparse.Namespace) -> dict:
    data = ensure_data(args.data_dir, users)
    sessions, feedback = count_rows(data, "sessions"), count_rows(data, "feedback")
    out = args.output_dir / f"users_{users}"
    out.mkdir(parents=True, exist_ok=True)
    env = submit_env(args.master, args.spark_opts)
    load_before = os.getloadavg()[0]
    job = run_warm([str(REPO / "spark-submit.sh"), str(REPO / "jobs" / "recommend.py"),
                    "--input", str(data), "--output", str(out / "result")], env, out / "job.log")
    floor = run_warm([str(REPO / "spark-submit.sh"), str(REPO / "bench" / "floor_job.py"),
                      "--input", str(data)], env, out / "floor.log")
    peer, verdict = run_peer(users, data, out) if args.peer and job.status == 0 else (None, "peer not run")
    print(f"{users:,} users: {verdict}", file=sys.stderr)
    floor_scan = json.loads(floor.stdout.strip().splitlines()[-1])["floor_seconds"] if floor.status == 0 else None
    for name, run in (("job", job), ("floor", floor)):
        if run.status != 0:
            print(f"{name} at {users:,} users exited with {run.status}; see {out / (name + '.log')}", file=sys.stderr)
    return {"users": users, "sessions": sessions, "feedback": feedback, "job": job, "floor": floor,
            "floor_scan_s": floor_scan, "peer": peer, "verdict": verdict,
            "load": (load_before, os.getloadavg()[0])}


def gib(n: int) -> str:
    return f"{n / GIB:.2f} GiB"


def table(rows: list[dict]) -> str:
    lines = ["| users | sessions | job wall s | job CPU s | rows/s | peak RSS driver JVM | peak RSS python workers "
             "| peak RSS total | floor s | floor scan s | job/floor | peer s | peer peak RSS | job/peer "
             "| results equal | load 1-min before/after |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
             "| :-- | ---: |"]
    for r in rows:
        job, floor = r["job"], r["floor"]
        job_s = f"{job.wall_s:.1f}" if job.status == 0 else f"failed ({job.status}) after {job.wall_s:.0f}"
        floor_s = f"{floor.wall_s:.1f}" if floor.status == 0 else f"failed ({floor.status})"
        rate = f"{(r['sessions'] + r['feedback']) / job.wall_s:,.0f}" if job.status == 0 else "-"
        scan = f"{r['floor_scan_s']:.1f}" if r["floor_scan_s"] is not None else "-"
        ratio = f"{job.wall_s / floor.wall_s:.2f}" if job.status == 0 and floor.status == 0 else "-"
        peer = r["peer"]
        peer_ok = peer is not None and peer.status == 0
        peer_cells = ([f"{peer.wall_s:.1f}", gib(peer.peaks.total),
                       f"{job.wall_s / peer.wall_s:.2f}" if job.status == 0 else "-"] if peer_ok else ["-", "-", "-"])
        equal = "yes" if r["verdict"].startswith("EQUAL") else f"no: {r['verdict']}" if peer_ok else r["verdict"]
        cells = [f"{r['users']:,}", f"{r['sessions']:,}", job_s, f"{job.cpu_s:.0f}", rate, gib(job.peaks.jvm),
                 gib(job.peaks.python_workers), gib(job.peaks.total), floor_s, scan, ratio, *peer_cells, equal,
                 f"{r['load'][0]:.1f} / {r['load'][1]:.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.machine())
    java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr.splitlines()[0]
    return (f"{os.cpu_count()} cores ({cpu}), {meminfo_gib('MemTotal'):.0f} GiB RAM, {platform.system()} "
            f"{platform.release()}; {java}; Python {platform.python_version()}, pyspark {pyspark.__version__}")


def report(rows: list[dict], args: argparse.Namespace) -> str:
    command = " ".join(shlex.quote(a) for a in [".venv/bin/python", "bench/scale.py", *sys.argv[1:]])
    return (f"## {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n\n"
            f"- command: `{command}` (master `{args.master}`, driver settings of conf/spark-defaults.conf"
            f"{', extra: ' + args.spark_opts if args.spark_opts else ''})\n"
            f"- machine: {machine()}\n\n{table(rows)}\n")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, nargs="+", default=list(DEFAULT_USERS), help="user counts to run")
    parser.add_argument("--data-dir", type=Path, default=REPO / "data" / "bench")
    parser.add_argument("--output-dir", type=Path, default=REPO / "output" / "bench")
    parser.add_argument("--master", default="local[*]")
    parser.add_argument("--spark-opts", default="", help="extra spark-submit options (COLDSTART_SPARK_OPTS)")
    parser.add_argument("--event-log", action="store_true",
                        help="write Spark event logs to OUTPUT_DIR/events (for the history server)")
    parser.add_argument("--no-peer", dest="peer", action="store_false",
                        help="skip the pandas peer (bench/pandas_peer.py) and the comparison of results")
    parser.add_argument("--no-append", action="store_true", help="print the table only, leave BENCHMARKS.md alone")
    args = parser.parse_args()
    if args.event_log:
        events = args.output_dir / "events"
        events.mkdir(parents=True, exist_ok=True)
        args.spark_opts += f" --conf spark.eventLog.enabled=true --conf spark.eventLog.dir=file://{events}"
        args.spark_opts = args.spark_opts.strip()
    return args


def main() -> int:
    args = parse_args()
    rows = [bench_size(users, args) for users in args.users]
    text = report(rows, args)
    print(text)
    if not args.no_append:
        path = REPO / "BENCHMARKS.md"
        with open(path, "a") as fh:
            fh.write(("\n" if path.exists() and path.stat().st_size else "") + text)
        print(f"appended to {path}", file=sys.stderr)
    ran_ok = all(r["job"].status == 0 and r["floor"].status == 0 for r in rows)
    # a peer that ran and disagrees with the job is a failed benchmark, whatever the times
    disagree = [r["users"] for r in rows if r["peer"] is not None and not r["verdict"].startswith("EQUAL")]
    if disagree:
        print(f"the peer failed or its results differ from the job's at {disagree} users: see output/bench",
              file=sys.stderr)
    return 0 if ran_ok and not disagree else 1


if __name__ == "__main__":
    sys.exit(main())
