"""The job end to end: generated sample, other category sets, outputs as SPEC §7 says."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest

from coldstart import synthetic
from tests.helpers import load_job, workout, write_inputs

recommend_job = load_job("recommend")


@pytest.fixture(scope="module")
def sample_run(spark, tmp_path_factory):
    """The default generated sample (2,000 users, 600 workouts) through the job's main."""
    base = tmp_path_factory.mktemp("sample")
    synthetic.generate(str(base / "in"))
    assert recommend_job.main(["--input", str(base / "in"), "--output", str(base / "out")]) == 0
    return base


def test_sample_gives_144_segments_of_five(sample_run):
    out = sample_run / "out"
    with open(out / "segment_recommendations.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["segment_key", "workout_id", "score", "rank"]
    recs = pd.DataFrame(rows[1:], columns=rows[0]).astype({"workout_id": int, "score": float, "rank": int})
    assert len(recs) == 720
    assert recs["segment_key"].nunique() == 144
    assert (recs.groupby("segment_key")["rank"].apply(list) == pd.Series([[1, 2, 3, 4, 5]] * 144).values).all()
    # sorted by segment_key, rank
    assert list(zip(recs["segment_key"], recs["rank"], strict=True)) == sorted(
        zip(recs["segment_key"], recs["rank"], strict=True))
    # no duplicate workout within a segment
    assert not recs.duplicated(["segment_key", "workout_id"]).any()


def test_every_listed_workout_has_the_segment_type(sample_run):
    recs = pd.read_csv(sample_run / "out" / "segment_recommendations.csv")
    catalog = pd.read_json(sample_run / "in" / "augmented_workouts.json")
    ids = catalog["workout_id"].str.lstrip("w").astype(int)
    types = dict(zip(ids, catalog["workout_type"].str.lower(), strict=True))
    assert (recs["workout_id"].map(types) == recs["segment_key"].str.split("|").str[2]).all()


def test_parquet_has_the_diagnostic_columns_and_same_rows(sample_run):
    out = sample_run / "out"
    parquet = pd.read_parquet(out / "segment_recommendations.parquet").sort_values(["segment_key", "rank"])
    expected = {"segment_key", "workout_id", "score", "rank", "age_group", "fitness_level", "workout_type",
                "mmr_score", "raw_score", "p_completion", "p_like", "views_norm", "type_views_norm", "days_old",
                "views", "completions", "feedbacks", "likes"}
    assert expected <= set(parquet.columns)
    recs = pd.read_csv(out / "segment_recommendations.csv", float_precision="round_trip")
    assert parquet["workout_id"].tolist() == recs["workout_id"].tolist()
    # the CSV keeps full precision: it round-trips to the same doubles
    assert parquet["score"].tolist() == recs["score"].tolist()
    # score = raw_score * exp(-0.01 * days_old), recomputed from the diagnostics
    decayed = parquet["raw_score"] * (-0.01 * parquet["days_old"]).map(__import__("math").exp)
    assert (decayed - parquet["score"]).abs().max() < 1e-12


def test_run_report_counts_and_config(sample_run):
    report = json.loads((sample_run / "out" / "run_report.json").read_text())
    assert report["status"] == "ok"
    assert report["segments"] == 144
    assert report["recommendations"] == 720
    for name in ("users", "sessions", "feedback", "catalog"):
        rows = report["rows"][name]
        assert rows["read"] == rows["accepted"] + rows["rejected"]
    assert report["rows"]["users"]["read"] == 2000
    assert report["config"]["mmr"]["k"] == 5
    assert set(report["timings"]) >= {"validate", "count_events", "candidates", "score_and_rerank", "flags"}
    assert report["users_per_segment"]["max"] >= report["users_per_segment"]["median"] >= 0


MIXED_USERS = """user_id,age_group,fitness_level,preferred_types
1,18-25,beginner,"Yoga, CYCLING"
2,26-35, Advanced ,"yoga,yoga"
3,36-45,Intermediate,HIIT
4,46-55,Beginner,"pilates"
5,56+,advanced,"hiit,dance"
"""
MIXED_SESSIONS = """session_id,user_id,workout_id,completed,timestamp
1,1,w1,1,2025-03-05T06:32:41.016619
2,2,1,0,2025-03-06T06:32:41
3,3,3,1,2025-03-07T06:32:41
"""
MIXED_FEEDBACK = """feedback_id,session_id,user_id,workout_id,liked,feedback_time
1,1,1,1,1,2025-03-05T07:00:00Z
"""


def test_other_category_sets_give_their_own_universe(spark, tmp_path):
    catalog = [workout("w1", "Yoga", ["Calm", "calm "]), workout(2, " yoga", ["core"]),
               workout("w3", "HIIT", ["sweat"]), workout("w4", "Cycling", [])]
    inputs = write_inputs(tmp_path / "in", MIXED_USERS, MIXED_SESSIONS, MIXED_FEEDBACK, catalog)
    assert recommend_job.main(["--input", str(inputs), "--output", str(tmp_path / "out")]) == 0
    recs = pd.read_csv(tmp_path / "out" / "segment_recommendations.csv")
    # 5 age groups x 3 levels (title-cased, trimmed) x 3 catalog types (yoga, hiit, cycling; pilates and
    # dance have no workout and are ignored)
    assert recs["segment_key"].nunique() == 5 * 3 * 3
    assert "36-45|Intermediate|hiit" in set(recs["segment_key"])
    assert not recs["segment_key"].str.contains("pilates|dance|Yoga").any()
    # yoga has two workouts (fewer than k): both listed, in every yoga segment
    assert recs[recs["segment_key"].str.endswith("|yoga")].groupby("segment_key").size().eq(2).all()
    report = json.loads((tmp_path / "out" / "run_report.json").read_text())
    assert report["unknown_preferred_types"] == {"dance": 1, "pilates": 1}
    assert report["users_per_segment"]["segments_without_users"] == 45 - 5  # u1, u2, u3, u5 -> 5 segments


def test_set_overrides_reach_the_job(spark, tmp_path):
    catalog = [workout(i, "yoga", [f"t{i % 3}"]) for i in range(1, 13)]
    sessions = "session_id,user_id,workout_id,completed,timestamp\n" + "".join(
        f"{i},1,{i % 12 + 1},{i % 2},2025-03-0{i % 9 + 1}T00:00:00\n" for i in range(1, 40))
    inputs = write_inputs(tmp_path / "in", "user_id,age_group,fitness_level,preferred_types\n1,18-25,Beginner,yoga\n",
                          sessions, MIXED_FEEDBACK.splitlines()[0] + "\n", catalog)
    out = tmp_path / "out"
    args = ["--input", str(inputs), "--output", str(out), "--set", "mmr.k=10", "--set", "smoothing.prior=hierarchical",
            "--set", "as_of=2025-03-05T00:00:00"]
    assert recommend_job.main(args) == 0
    recs = pd.read_csv(out / "segment_recommendations.csv")
    assert recs.groupby("segment_key").size().tolist() == [10]
    report = json.loads((out / "run_report.json").read_text())
    assert report["as_of"] == "2025-03-05T00:00:00"
    # sessions on days 6..9 are after as_of: left out, counted, not rejected
    after = sum(1 for i in range(1, 40) if i % 9 + 1 > 5)
    assert report["events_after_as_of"]["sessions"] == after
    assert report["rows"]["sessions"]["rejected"] == 0
    parquet = pd.read_parquet(out / "segment_recommendations.parquet")
    assert parquet["views"].sum() <= 39 - after


def test_csv_and_parquet_inputs_give_the_same_recommendations(spark, tmp_path):
    for fmt in ("csv", "parquet"):
        synthetic.generate(str(tmp_path / fmt), users=150, workouts=60, fmt=fmt)
        assert recommend_job.main(["--input", str(tmp_path / fmt), "--output", str(tmp_path / f"out_{fmt}")]) == 0
    from_csv = Path(tmp_path / "out_csv" / "segment_recommendations.csv").read_text()
    from_parquet = Path(tmp_path / "out_parquet" / "segment_recommendations.csv").read_text()
    assert from_csv == from_parquet
