"""The job on a real Spark standalone cluster (one master, one worker on 127.0.0.1) equals a local-mode run.

The daemons are the ones shipped in the pyspark pip package (`sbin/spark-daemon.sh`; the
package has no start-master.sh). Everything they write goes to a temp dir, and they are
stopped in the fixture's teardown even when the test fails. The cluster run goes through
`./spark-submit.sh`, the way a user runs the job (the driver runs here, client mode), with a
stand-in for a venv-pack archive as the executors' Python (COLDSTART_PYENV_ARCHIVE); the
reference is the same job's main in local mode, in the suite's session, run while the
worker registers.
"""
from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pyspark
import pytest

from coldstart import synthetic
from tests.conftest import QUICK_JIT
from tests.helpers import REPO, load_job

pytestmark = pytest.mark.cluster

PYSPARK_HOME = Path(pyspark.__file__).resolve().parent
MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"
APP_NAME = "coldstart-recommend"
WORKER_CORES, WORKER_MEMORY = "2", "2g"
# the machine is shared: a small driver, an executor that fits the worker, and as many shuffle
# partitions as cores (300 users), as in the suite's local session
JOB_OPTS = ("--driver-memory 1g --conf spark.executor.memory=1g --conf spark.sql.shuffle.partitions=2"
            " --conf spark.default.parallelism=2 --conf spark.ui.showConsoleProgress=false"
            f" --driver-java-options {QUICK_JIT} --conf spark.executor.extraJavaOptions={QUICK_JIT}")
START_TIMEOUT_S = 60.0
JOB_TIMEOUT_S = 300.0
STOP_TIMEOUT_S = 15.0
POLL_S = 0.5
COMPARED_OUTPUTS = ("segment_recommendations.csv", "instructor_flags.csv")
USED_MARK = "used-by-executor"
T = TypeVar("T")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tail(path: Path, lines: int = 25) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.is_file() else f"({path}: none)"


@dataclass(frozen=True)
class Standalone:
    """A running master + worker; `state()` is the master's JSON status."""

    url: str
    webui: str
    base: Path

    @property
    def work_dir(self) -> Path:
        return self.base / "work"

    def state(self) -> dict:
        with urllib.request.urlopen(f"{self.webui}/json/", timeout=5) as resp:
            return json.load(resp)

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{tail(p)}" for p in sorted((self.base / "logs").glob("*.out")))


def daemon_env(base: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "SPARK_NO_DAEMONIZE"}
    # spark-daemon.sh reads SPARK_MASTER as "rsync Spark from there": never pass the job's
    env.pop("SPARK_MASTER", None)
    env.update(SPARK_HOME=str(PYSPARK_HOME), SPARK_CONF_DIR=str(base / "conf"), SPARK_LOG_DIR=str(base / "logs"),
               SPARK_PID_DIR=str(base / "pid"), SPARK_WORKER_DIR=str(base / "work"), SPARK_LOCAL_IP="127.0.0.1",
               SPARK_DAEMON_MEMORY="512m", SPARK_DAEMON_JAVA_OPTS=QUICK_JIT)
    return env


def daemon(action: str, cls: str, base: Path, *args: str) -> None:
    """`spark-daemon.sh start|stop`; its exit status says little (0 on "failed to launch"): callers poll."""
    subprocess.run(["bash", str(PYSPARK_HOME / "sbin" / "spark-daemon.sh"), action, cls, "1", *args],
                   env=daemon_env(base), check=False, capture_output=True, timeout=START_TIMEOUT_S)


def daemon_pids(base: Path) -> list[int]:
    return [int(p.read_text().strip()) for p in (base / "pid").glob("*.pid")]


def is_running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # the state field; a zombie has exited


def stop_cluster(base: Path) -> None:
    """Stop through spark-daemon.sh (SIGTERM: the worker kills its executors); it needs `ps` to find
    the daemons, so whatever is still running after a while gets SIGTERM, then SIGKILL, from here."""
    pids = daemon_pids(base)
    for cls in (WORKER_CLASS, MASTER_CLASS):
        daemon("stop", cls, base)
    for escalation in (signal.SIGTERM, signal.SIGKILL):
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while any(is_running(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(POLL_S)
        for pid in filter(is_running, pids):
            os.kill(pid, escalation)


def wait_for(what: str, check: Callable[[], T], cluster: Standalone, timeout: float = START_TIMEOUT_S) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = check()
        except (OSError, ValueError):  # the web UI is not listening yet, or answered half a page
            found = None
        if found:
            return found
        time.sleep(POLL_S)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}\n{cluster.logs()}")


@pytest.fixture(scope="module")
def standalone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Standalone]:
    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        pytest.skip("no Java: the standalone daemons need a JVM")
    base = tmp_path_factory.mktemp("standalone")
    (base / "conf").mkdir()  # empty: the daemons get Spark's defaults, not the job's conf/
    port, webui_port = free_port(), free_port()
    cluster = Standalone(f"spark://127.0.0.1:{port}", f"http://127.0.0.1:{webui_port}", base)
    try:
        daemon("start", MASTER_CLASS, base, "--host", "127.0.0.1", "--port", str(port),
               "--webui-port", str(webui_port))
        daemon("start", WORKER_CLASS, base, "--host", "127.0.0.1", "--cores", WORKER_CORES,
               "--memory", WORKER_MEMORY, "--webui-port", "0", cluster.url)
        wait_for("the master's web UI", cluster.state, cluster)
        yield cluster  # the worker registers in the background (~6 s): the test waits when it needs it
    finally:
        stop_cluster(base)


def stand_in_pyenv(directory: Path) -> Path:
    """A tiny archive in place of `venv-pack -o env.tar.gz` (hundreds of MB): its `bin/python` leaves a mark
    that an executor ran it, then runs this venv's Python. What is tested is the shipping."""
    python = directory / "pyenv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(f'#!/bin/sh\ntouch "$(dirname "$0")/../{USED_MARK}"\nexec {shlex.quote(sys.executable)} "$@"\n')
    python.chmod(0o755)
    archive = directory / "pyenv.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(python.parent.parent, arcname=".")
    return archive


def run_on_cluster(cluster: Standalone, inputs: Path, output: Path, pyenv: Path) -> None:
    """`SPARK_MASTER=spark://... ./spark-submit.sh jobs/recommend.py` as a user runs it."""
    env = {k: v for k, v in os.environ.items() if k != "SPARK_HOME"}  # a stale one would win over the venv's
    # the driver advertises loopback so that the worker's executor can reach it
    env.update(SPARK_MASTER=cluster.url, COLDSTART_SPARK_OPTS=JOB_OPTS, SPARK_LOCAL_IP="127.0.0.1",
               COLDSTART_PYENV_ARCHIVE=str(pyenv))
    cmd = [str(REPO / "spark-submit.sh"), str(REPO / "jobs" / "recommend.py"), "--input", str(inputs),
           "--output", str(output)]
    log_path = output.parent / f"{output.name}.log"
    with open(log_path, "wb") as log:
        # its own process group: a timeout kills the JVM and the Python driver it started
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        status = proc.wait(timeout=JOB_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        status = None
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert status == 0, f"cluster job exited with {status}:\n{tail(log_path, 40)}\n{cluster.logs()}"


def test_job_runs_on_the_worker_and_matches_local_mode(spark, standalone: Standalone, tmp_path: Path) -> None:
    inputs, local_out, cluster_out = tmp_path / "in", tmp_path / "out_local", tmp_path / "out_cluster"
    synthetic.generate(str(inputs), users=300, workouts=120)
    started = time.monotonic()
    assert load_job("recommend").main(["--input", str(inputs), "--output", str(local_out)]) == 0
    local_s = time.monotonic() - started

    wait_for("the worker to register", lambda: standalone.state()["aliveworkers"] >= 1, standalone)
    started = time.monotonic()
    run_on_cluster(standalone, inputs, cluster_out, stand_in_pyenv(tmp_path))
    print(f"local run {local_s:.1f} s, cluster run {time.monotonic() - started:.1f} s")  # shown by -rP

    # it ran as an application of the master, on the worker's executor: not in local mode
    apps = wait_for("the application to finish",
                    lambda: [a for a in standalone.state()["completedapps"] if a["name"] == APP_NAME], standalone)
    assert len(apps) == 1 and apps[0]["state"] == "FINISHED", apps
    executor_logs = list((standalone.work_dir / apps[0]["id"]).glob("*/stderr"))
    assert executor_logs, f"no executor of {apps[0]['id']} in {standalone.work_dir}"
    assert any("Running task" in p.read_text(errors="replace") for p in executor_logs)
    # the package reached the executor through --py-files, and its Python came from --archives
    executor_dir = executor_logs[0].parent
    assert (executor_dir / "coldstart.zip").is_file()
    assert (executor_dir / "pyenv" / USED_MARK).is_file()

    for name in COMPARED_OUTPUTS:
        assert (cluster_out / name).read_bytes() == (local_out / name).read_bytes(), name
    assert json.loads((cluster_out / "run_report.json").read_text())["status"] == "ok"
