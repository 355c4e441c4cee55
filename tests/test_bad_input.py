"""SPEC §9 and §7 at the job level: exit statuses, the reject limit, atomic replacement."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from coldstart import sinks, synthetic
from coldstart.fs import HadoopFs
from tests.conftest import submit_args
from tests.helpers import REPO, load_job

recommend_job = load_job("recommend")
RESULT_FILES = ("segment_recommendations.csv", "instructor_flags.csv")


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file under `directory` (results only, not rejects/ or the report) by relative path."""
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*"))
            if p.is_file() and not str(p.relative_to(directory)).startswith(("rejects", "run_report", ".run_report"))}


@pytest.fixture(scope="module")
def small_inputs(tmp_path_factory):
    directory = tmp_path_factory.mktemp("small") / "in"
    synthetic.generate(str(directory), users=300, workouts=120)
    return directory


@pytest.fixture(scope="module")
def previous_outputs(spark, small_inputs, tmp_path_factory) -> Path:
    """A successful run's outputs, made once: the tests copy them as 'the previous outputs'."""
    out = tmp_path_factory.mktemp("previous") / "out"
    assert run_main(["--input", str(small_inputs), "--output", str(out)]) == 0
    return out


def copy_previous(previous: Path, tmp_path: Path) -> Path:
    out = tmp_path / "out"
    shutil.copytree(previous, out)
    return out


def run_main(args: list[str]) -> int:
    try:
        return recommend_job.main(args)
    except SystemExit as exc:
        return exc.code


def test_missing_dataset_is_one_line_and_exit_2(spark, small_inputs, tmp_path, capsys):
    broken = tmp_path / "in"
    broken.mkdir()
    for name in ("users.csv", "sessions.csv", "augmented_workouts.json"):
        (broken / name).write_bytes((small_inputs / name).read_bytes())
    assert run_main(["--input", str(broken), "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and "missing dataset feedback" in err[-1] and "feedback.csv" in err[-1]
    assert not (tmp_path / "out").exists()


def test_missing_column_names_file_and_column(spark, small_inputs, tmp_path, capsys):
    broken = tmp_path / "in"
    broken.mkdir()
    for name in ("users.csv", "feedback.csv", "augmented_workouts.json"):
        (broken / name).write_bytes((small_inputs / name).read_bytes())
    lines = (small_inputs / "sessions.csv").read_text().splitlines()
    # drop the `timestamp` column everywhere: a schema problem, not a row problem
    (broken / "sessions.csv").write_text("\n".join(line.rsplit(",", 1)[0] for line in lines) + "\n")
    assert run_main(["--input", str(broken), "--output", str(tmp_path / "out")]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert "sessions.csv" in last and "missing required column(s): timestamp" in last


def test_a_bad_config_value_is_exit_2(spark, small_inputs, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        recommend_job.main_guard(lambda: recommend_job.main(
            ["--input", str(small_inputs), "--output", str(tmp_path), "--set", "mmr.k=many"]))
    assert exc.value.code == 2
    assert "mmr.k" in capsys.readouterr().err


def test_too_many_rejects_exit_3_and_previous_results_stay(spark, small_inputs, previous_outputs, tmp_path):
    out = copy_previous(previous_outputs, tmp_path)
    before = snapshot(out)
    assert set(RESULT_FILES) <= set(before)

    dirty = tmp_path / "dirty"
    dirty.mkdir()
    for p in small_inputs.iterdir():
        (dirty / p.name).write_bytes(p.read_bytes())
    feedback_rows = len((small_inputs / "feedback.csv").read_text().splitlines()) - 1
    bad = max(2, feedback_rows // 50)  # 2% > 1%
    with open(dirty / "feedback.csv", "a") as fh:
        fh.writelines(f"{900000 + i},1,1,1,maybe,2025-01-01T00:00:00Z\n" for i in range(bad))

    assert run_main(["--input", str(dirty), "--output", str(out)]) == 3
    assert snapshot(out) == before  # byte for byte
    report = json.loads((out / "run_report.json").read_text())
    assert report["status"].startswith("failed")
    assert report["rejects"]["feedback"] == {"bad_liked": bad}
    assert report["rows"]["feedback"]["read"] == feedback_rows + bad
    assert (out / "rejects" / "feedback").is_dir()
    assert not list(tmp_path.glob("out.tmp-*")) and not list(tmp_path.glob("out.old-*"))


def test_reject_limit_is_configurable(spark, small_inputs, tmp_path):
    dirty = tmp_path / "dirty"
    dirty.mkdir()
    for p in small_inputs.iterdir():
        (dirty / p.name).write_bytes(p.read_bytes())
    with open(dirty / "users.csv", "a") as fh:
        fh.writelines(f"x{i},18-25,Beginner,yoga\n" for i in range(20))  # 20 of 320 rows: 6%
    out = tmp_path / "out"
    assert run_main(["--input", str(dirty), "--output", str(out), "--set", "quality.max_reject_fraction=0.1",
                     "--set", "profile.enabled=false"]) == 0
    assert json.loads((out / "run_report.json").read_text())["rejects"]["users"] == {"bad_id": 20}


def test_recover_restores_outputs_cut_mid_swap_and_removes_leftovers(spark, tmp_path):
    fs = HadoopFs(spark)
    out = tmp_path / "out"
    old = tmp_path / "out.old-run1"
    old.mkdir()
    (old / "segment_recommendations.csv").write_text("previous\n")
    (tmp_path / "out.tmp-run1").mkdir()
    sinks.recover(fs, str(out))
    assert (out / "segment_recommendations.csv").read_text() == "previous\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_kill_9_mid_write_leaves_previous_outputs(spark, small_inputs, previous_outputs, tmp_path):
    out = copy_previous(previous_outputs, tmp_path)
    before = snapshot(out)

    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "SPARK_LOCAL_IP": "127.0.0.1",
           # tiny inputs: run as the tests' own session does (conftest.py)
           "SPARK_CONF_DIR": str(REPO / "conf"), "PYSPARK_SUBMIT_ARGS": submit_args()}
    # SPEC §10's lists are not what this test is about: without them the job reaches its write sooner
    args = ["--input", str(small_inputs), "--output", str(out), "--set", "mmr.k=3", "--set", "profile.enabled=false"]
    proc = subprocess.Popen([sys.executable, str(REPO / "jobs" / "recommend.py"), *args],
                            env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    try:
        # the job writes into out.tmp-<run_id> once the results are computed: kill it then
        while not list(tmp_path.glob("out.tmp-*")):
            assert proc.poll() is None, "the job ended before it started writing"
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert snapshot(out) == before  # intact and readable
    assert list(tmp_path.glob("out.tmp-*"))  # the killed run's leftovers

    assert run_main(args) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert len((out / "segment_recommendations.csv").read_text().splitlines()) - 1 == 3 * json.loads(
        (out / "run_report.json").read_text())["segments"]
