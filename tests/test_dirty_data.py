"""Dirty inputs: random corruption never crashes validation; injected bad rows change nothing else."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coldstart import synthetic
from coldstart.config import Config
from coldstart.pipeline import count_cut, reject_counts, validate_inputs
from coldstart.progress import Stages
from coldstart.sources import read_inputs
from tests.helpers import load_job, workout, write_inputs

recommend_job = load_job("recommend")

GOOD_SESSION = "{i},1,1,1,2025-03-01T10:00:00.25"
USERS = "user_id,age_group,fitness_level,preferred_types\n1,18-25,Beginner,yoga\n"
FEEDBACK = "feedback_id,session_id,user_id,workout_id,liked,feedback_time\n"
LINE_BREAKS = {ord("\n"), ord("\r")}


def corrupt(line: str, how: str, data: st.DataObject) -> bytes:
    raw = line.encode()
    if how == "truncate":
        return raw[: data.draw(st.integers(0, len(raw)))]
    if how == "extra_commas":
        return raw + b"," * data.draw(st.integers(1, 3))
    if how == "stray_quote":
        at = data.draw(st.integers(0, len(raw)))
        return raw[:at] + b'"' + raw[at:]
    if how == "garbage":
        return data.draw(st.binary(min_size=1, max_size=40).filter(lambda b: not set(b) & LINE_BREAKS))
    field = data.draw(st.integers(0, 4))  # "huge_number"
    parts = line.split(",")
    parts[field] = str(data.draw(st.integers(10**18, 10**40)))
    return ",".join(parts).encode()


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_corruption_never_crashes_and_every_line_is_counted(spark, tmp_path_factory, data):
    kinds = ["truncate", "extra_commas", "stray_quote", "garbage", "huge_number"]
    lines = [GOOD_SESSION.format(i=i).encode() for i in range(1, 11)]
    for _ in range(data.draw(st.integers(1, 6))):
        position = data.draw(st.integers(0, len(lines) - 1))
        lines[position] = corrupt(GOOD_SESSION.format(i=100 + position), data.draw(st.sampled_from(kinds)), data)
    directory = write_inputs(tmp_path_factory.mktemp("fuzz"), USERS, "", FEEDBACK, [workout(1, "yoga", ["a"])])
    header = b"session_id,user_id,workout_id,completed,timestamp\n"
    (directory / "sessions.csv").write_bytes(header + b"".join(line + b"\n" for line in lines))

    inputs = validate_inputs(read_inputs(spark, str(directory)), Config(), Stages())
    counts = reject_counts(inputs, count_cut(inputs, None, Stages()))["sessions"]
    # empty lines are not rows; every other line is read, and accepted or rejected
    assert counts["read"] == sum(1 for line in lines if line)
    assert counts["read"] == counts["accepted"] + counts["rejected"]
    assert inputs["sessions"].rejects.count() == counts["rejected"]


def inject(clean: Path, dirty: Path) -> dict[str, dict[str, int]]:
    """Copy a generated dataset adding ~0.5% bad rows of every kind that carry no information."""
    shutil.copytree(clean, dirty)
    sessions = (clean / "sessions.csv").read_text().splitlines()
    feedback = (clean / "feedback.csv").read_text().splitlines()
    users = (clean / "users.csv").read_text().splitlines()
    s, f, u = sessions[1:6], feedback[1:4], users[1:2]
    bad_sessions = [
        "90000001,1,1,1,2025-01-01T00:00:00,extra",  # malformed_line
        ",1,1,1,2025-01-01T00:00:00",  # null_key
        "90000002,one,1,1,2025-01-01T00:00:00",  # bad_id
        "90000003,1,1,yes,2025-01-01T00:00:00",  # bad_completed
        "90000004,1,1,1,01/01/2025",  # bad_timestamp
        *s,  # exact duplicates
        "90000005,99999999,1,1,2025-01-01T00:00:00",  # unknown_user
        "90000006,1,99999999,1,2025-01-01T00:00:00",  # unknown_workout
    ]
    bad_feedback = [
        '90000001,1,1,1,"1,2025-01-01T00:00:00Z',  # malformed_line
        "90000002,1,1,1,2,2025-01-01T00:00:00Z",  # bad_liked
        "90000003,1,1,1,1,",  # bad_timestamp
        *f,  # exact duplicates
        "90000004,1,99999999,1,1,2025-01-01T00:00:00Z",  # unknown_user
    ]
    bad_users = ["u1,18-25,Beginner,yoga", *u]  # bad_id, exact duplicate
    for name, extra in (("sessions", bad_sessions), ("feedback", bad_feedback), ("users", bad_users)):
        with open(dirty / f"{name}.csv", "a") as fh:
            fh.writelines(line + "\n" for line in extra)
    catalog = json.loads((clean / "augmented_workouts.json").read_text())
    catalog += [catalog[0], {**catalog[1], "workout_id": "x1"}]  # duplicate, bad_id
    (dirty / "augmented_workouts.json").write_text(json.dumps(catalog))
    return {
        "sessions": {"malformed_line": 1, "null_key": 1, "bad_id": 1, "bad_completed": 1, "bad_timestamp": 1,
                     "duplicate": len(s), "unknown_user": 1, "unknown_workout": 1},
        "feedback": {"malformed_line": 1, "bad_liked": 1, "bad_timestamp": 1, "duplicate": len(f),
                     "unknown_user": 1},
        "users": {"bad_id": 1, "duplicate": 1},
        "catalog": {"bad_id": 1, "duplicate": 1},
    }


@pytest.mark.slow
def test_injected_bad_rows_are_counted_and_change_no_recommendation(spark, tmp_path):
    synthetic.generate(str(tmp_path / "clean"), users=300, workouts=300)
    injected = inject(tmp_path / "clean", tmp_path / "dirty")
    for name in ("clean", "dirty"):
        assert recommend_job.main(["--input", str(tmp_path / name), "--output", str(tmp_path / f"out_{name}")]) == 0
    report = json.loads((tmp_path / "out_dirty" / "run_report.json").read_text())
    assert report["rejects"] == injected
    for name in ("segment_recommendations.csv", "profile_recommendations.csv", "instructor_flags.csv"):
        assert (tmp_path / "out_dirty" / name).read_text() == (tmp_path / "out_clean" / name).read_text()
