"""The job against the peer (python -m peer), an implementation of SPEC.md written apart from it, on dirty data.

The two share no code: where they agree on this dataset (tests/dirty.py: mixed case, ties, types
with fewer than k workouts, every reject reason), a release check by another implementation of the
SPEC should agree too. Both run with every rejected row allowed (the dataset is dirtier than the
1% limit).
"""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime

import pytest

from tests.dirty import MANY_TYPES, write_dirty, write_many_types
from tests.helpers import REPO, load_job

recommend_job = load_job("recommend")
ALLOW_REJECTS = ["--set", "quality.max_reject_fraction=1.0"]


def run_peer(input_dir: str, output_dir: str) -> None:
    subprocess.run([sys.executable, "-m", "peer", "--input", input_dir, "--output", output_dir, *ALLOW_REJECTS],
                   check=True, capture_output=True, cwd=REPO)


def compare(a: str, b: str, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "peer.compare", *options, a, b], capture_output=True, text=True,
                          cwd=REPO)


@pytest.mark.slow
def test_job_and_independent_peer_agree_on_dirty_data(spark, tmp_path):
    data = str(write_dirty(tmp_path / "dirty"))
    job_out, peer_out = str(tmp_path / "job"), str(tmp_path / "peer")
    assert recommend_job.main(["--input", data, "--output", job_out, *ALLOW_REJECTS]) == 0
    run_peer(data, peer_out)

    verdict = compare(job_out, peer_out, "--require-profiles")
    assert verdict.returncode == 0, verdict.stdout + verdict.stderr
    job_report = json.loads((tmp_path / "job" / "run_report.json").read_text())
    peer_report = json.loads((tmp_path / "peer" / "run_report.json").read_text())
    assert job_report["rows"] == peer_report["rows"]
    assert datetime.fromisoformat(job_report["as_of"]) == datetime.fromisoformat(peer_report["as_of"])
    # the dataset reaches what it is for: rows rejected in every dataset
    assert all(job_report["rows"][name]["rejected"] for name in ("users", "catalog", "sessions", "feedback"))


@pytest.mark.slow
def test_job_and_independent_peer_agree_past_63_types(spark, tmp_path):
    """More types than a type mask has bits: the users' types go as arrays of indices, each type has
    fewer than k workouts, and the MMR's groups (one per type) are many and small."""
    from coldstart.codes import Codes

    assert not Codes((), (), tuple(f"t{i}" for i in range(MANY_TYPES))).uses_mask
    data = str(write_many_types(tmp_path / "many"))
    job_out, peer_out = str(tmp_path / "job"), str(tmp_path / "peer")
    assert recommend_job.main(["--input", data, "--output", job_out]) == 0
    run_peer(data, peer_out)

    verdict = compare(job_out, peer_out, "--require-profiles")
    assert verdict.returncode == 0, verdict.stdout + verdict.stderr
    report = json.loads((tmp_path / "job" / "run_report.json").read_text())
    # 3 age groups x 3 levels x 70 types, each with its 4 workouts
    assert report["segments"] == 3 * 3 * MANY_TYPES
    assert report["recommendations"] == 3 * 3 * MANY_TYPES * 4


def test_compare_outputs_fails_on_a_swapped_rank(tmp_path):
    """The comparison the test above relies on can fail: two workouts of one segment swapped."""
    header = "segment_key,workout_id,score,rank\n"
    rows = ["18-25|Beginner|yoga,1,0.9,1", "18-25|Beginner|yoga,2,0.8,2"]
    flags = "instructor_id,instructor,reason,sessions,completions,feedbacks,likes,abandonment_rate,dislike_rate,as_of\n"
    swapped = ["18-25|Beginner|yoga,2,0.8,1", "18-25|Beginner|yoga,1,0.9,2"]
    for name, lines in (("a", rows), ("b", swapped)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "segment_recommendations.csv").write_text(header + "\n".join(lines) + "\n")
        (tmp_path / name / "instructor_flags.csv").write_text(flags)
    assert compare(str(tmp_path / "a"), str(tmp_path / "a")).returncode == 0
    assert compare(str(tmp_path / "a"), str(tmp_path / "b")).returncode == 1
