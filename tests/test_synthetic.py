"""The synthetic data generator: determinism, sizes, formats and the behaviour the model relies on (no Spark)."""
from __future__ import annotations

import hashlib
import json
import re
import runpy
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from coldstart import synthetic

END = pd.Timestamp("2025-12-31T00:00:00")
# three chunks of 100 users: the chunk seams are exercised by every small run
SMALL = {"users": 300, "chunk_users": 100}
HEADERS = {
    "users.csv": "user_id,age_group,fitness_level,preferred_types",
    "sessions.csv": "session_id,user_id,workout_id,completed,timestamp",
    "feedback.csv": "feedback_id,session_id,user_id,workout_id,liked,feedback_time",
}
PRIOR, PRIOR_WEIGHT = 2, 4  # Beta(2, 2) smoothing of SPEC §6


def _digests(directory: Path) -> dict[str, str]:
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def default_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("default")
    return out, synthetic.generate(str(out))


@pytest.fixture(scope="module")
def frames(default_run: tuple[Path, dict]) -> dict[str, pd.DataFrame]:
    out, _ = default_run
    catalog = synthetic.build_catalog()
    return {
        "users": pd.read_csv(out / "users.csv"),
        "sessions": pd.read_csv(out / "sessions.csv", parse_dates=["timestamp"]),
        "feedback": pd.read_csv(out / "feedback.csv"),
        "catalog": catalog,
        "joined": (pd.read_csv(out / "sessions.csv", parse_dates=["timestamp"])
                   .merge(pd.read_csv(out / "users.csv"), on="user_id", how="inner")
                   .merge(catalog, on="workout_id", how="inner", suffixes=("_user", "_workout"))),
    }


def test_default_sizes_match_the_original_data(default_run: tuple[Path, dict], frames: dict) -> None:
    _, counts = default_run
    assert counts["users"] == len(frames["users"]) == 2000
    assert counts["sessions"] == len(frames["sessions"])
    assert counts["feedback"] == len(frames["feedback"])
    assert counts["sessions"] == pytest.approx(34_300, rel=0.05)
    assert counts["feedback"] == pytest.approx(14_400, rel=0.06)
    assert counts["bad_instructor_ids"] == list(synthetic.BAD_INSTRUCTOR_IDS)


@pytest.mark.parametrize("fmt", synthetic.FORMATS)
def test_same_seed_gives_identical_bytes_and_another_seed_does_not(tmp_path: Path, fmt: str) -> None:
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        synthetic.generate(str(tmp_path / name), seed=seed, fmt=fmt, **SMALL)
    first, again, other = (_digests(tmp_path / n) for n in "abc")
    assert first == again
    assert len(first) == (4 if fmt == "csv" else 10)  # 3 part files per Parquet dataset
    assert all(first[name] != other[name] for name in first)


def test_chunks_are_independent_of_the_total(tmp_path: Path) -> None:
    synthetic.generate(str(tmp_path / "one"), users=100, chunk_users=100)
    synthetic.generate(str(tmp_path / "three"), **SMALL)
    one, three = ((tmp_path / d / "sessions.csv").read_text() for d in ("one", "three"))
    assert three.startswith(one)


def test_csv_layout(default_run: tuple[Path, dict]) -> None:
    out, _ = default_run
    lines = {name: (out / name).read_text().splitlines() for name in HEADERS}
    assert {name: rows[0] for name, rows in lines.items()} == HEADERS
    assert any(re.fullmatch(r'\d+,[^,]+,[A-Za-z]+,"[a-z]+(,[a-z]+){1,2}"', row) for row in lines["users.csv"][1:])
    assert all(re.fullmatch(r"\d+,\d+,\d+,[01],\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}", row)
               for row in lines["sessions.csv"][1:])
    assert all(re.fullmatch(r"\d+,\d+,\d+,\d+,[01],\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", row)
               for row in lines["feedback.csv"][1:])
    catalog = json.loads((out / "augmented_workouts.json").read_text())
    assert catalog[0]["workout_id"] == "w1"
    assert set(catalog[0]) == {"workout_id", "title", "instructor", "instructor_id", "workout_type",
                               "fitness_level", "duration", "tags"}


def test_ids_are_sequential_and_consistent(frames: dict) -> None:
    users, sessions, feedback = frames["users"], frames["sessions"], frames["feedback"]
    assert users["user_id"].tolist() == list(range(1, len(users) + 1))
    assert sessions["session_id"].tolist() == list(range(1, len(sessions) + 1))
    assert feedback["feedback_id"].tolist() == list(range(1, len(feedback) + 1))
    assert sessions["workout_id"].between(1, 600).all()
    rated = feedback.merge(sessions, on="session_id", how="inner", suffixes=("", "_session"))
    assert len(rated) == len(feedback)
    assert (rated["user_id"] == rated["user_id_session"]).all()
    assert (rated["workout_id"] == rated["workout_id_session"]).all()
    feedback_time = pd.to_datetime(rated["feedback_time"]).dt.tz_localize(None)
    assert (feedback_time >= rated["timestamp"]).all() and (feedback_time <= END).all()
    assert (feedback_time - rated["timestamp"]).median() < pd.Timedelta(hours=2)


def test_users_and_catalog_cover_every_segment(frames: dict) -> None:
    users, catalog = frames["users"], frames["catalog"]
    assert set(users["age_group"]) == set(synthetic.AGE_GROUPS)
    assert set(users["fitness_level"]) == set(synthetic.LEVELS)
    types = users["preferred_types"].str.split(",")
    assert types.map(len).between(1, 3).all() and (types.map(len) == types.map(set).map(len)).all()
    assert set().union(*types) == set(synthetic.WORKOUT_TYPES)
    assert catalog["workout_type"].value_counts().min() >= 20
    assert catalog.groupby(["workout_type", "fitness_level"]).size().size == 36
    n_tags = catalog["tags"].map(len)
    assert (n_tags.between(2, 5) | (n_tags == 0)).all() and 0.005 < (n_tags == 0).mean() < 0.1
    assert set().union(*catalog["tags"]) == set(synthetic.TAGS)
    assert catalog["instructor_id"].nunique() == synthetic.N_INSTRUCTORS
    assert catalog.groupby("instructor_id")["instructor"].nunique().eq(1).all()


def test_sessions_follow_signup_release_and_spread_over_weeks(frames: dict) -> None:
    joined = frames["joined"]
    ts_us = joined["timestamp"].to_numpy().astype("datetime64[us]").astype(np.int64)
    assert (ts_us >= joined["release_us"]).all()
    assert joined["timestamp"].between(END - pd.Timedelta(days=365), END).all()
    per_user = joined.groupby("user_id")["timestamp"].agg(["min", "max", "size"])
    busy = per_user[per_user["size"] >= 5]
    assert (busy["max"] - busy["min"]).median() > pd.Timedelta(days=21)


def test_choices_follow_preferences_level_and_age(frames: dict) -> None:
    joined = frames["joined"]
    preferred = [t in p.split(",") for t, p in zip(joined["workout_type"], joined["preferred_types"], strict=True)]
    assert 0.8 < np.mean(preferred) < 0.9
    assert (joined["fitness_level_user"] == joined["fitness_level_workout"]).mean() > 0.65
    walking = joined["workout_type"].eq("walking").groupby(joined["age_group"]).mean()
    assert walking["51+"] > 2 * walking["18-25"]


def test_outcomes_depend_on_quality_and_level_fit(frames: dict) -> None:
    joined = frames["joined"]
    good = joined["quality"] > joined["quality"].quantile(2 / 3)
    poor = joined["quality"] < joined["quality"].quantile(1 / 3)
    assert joined.loc[good, "completed"].mean() > joined.loc[poor, "completed"].mean() + 0.1
    harder = joined["level_idx"] > joined["fitness_level_user"].map(synthetic.LEVELS.index)
    assert joined.loc[harder, "completed"].mean() < joined.loc[~harder, "completed"].mean() - 0.1


def test_bad_instructors_stand_out(frames: dict) -> None:
    instructor = frames["catalog"].set_index("workout_id")["instructor_id"]
    sessions = frames["sessions"].assign(instructor_id=lambda d: d["workout_id"].map(instructor))
    feedback = frames["feedback"].assign(instructor_id=lambda d: d["workout_id"].map(instructor))
    done = sessions.groupby("instructor_id")["completed"].agg(["sum", "size"])
    liked = feedback.groupby("instructor_id")["liked"].agg(["sum", "size"])
    abandonment = 1 - (done["sum"] + PRIOR) / (done["size"] + PRIOR_WEIGHT)
    dislike = 1 - (liked["sum"] + PRIOR) / (liked["size"] + PRIOR_WEIGHT)
    flagged = set(abandonment[(abandonment > 0.6) & (dislike > 0.6) & (done["size"] >= 50)].index)
    assert flagged == set(synthetic.BAD_INSTRUCTOR_IDS)
    assert abandonment.drop(list(synthetic.BAD_INSTRUCTOR_IDS)).max() < 0.45


def test_parquet_holds_the_same_rows_as_csv(tmp_path: Path) -> None:
    synthetic.generate(str(tmp_path / "csv"), **SMALL)
    synthetic.generate(str(tmp_path / "pq"), fmt="parquet", **SMALL)
    parts = sorted(p.name for p in (tmp_path / "pq" / "sessions.parquet").iterdir())
    assert parts == ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    sessions = pq.read_table(tmp_path / "pq" / "sessions.parquet")
    assert sessions.schema.field("timestamp").type == pa.timestamp("us")
    for name, ts in (("users", None), ("sessions", "timestamp"), ("feedback", "feedback_time")):
        from_parquet = pq.read_table(tmp_path / "pq" / f"{name}.parquet").to_pandas()
        from_csv = pd.read_csv(tmp_path / "csv" / f"{name}.csv")
        if ts:
            from_csv[ts] = pd.to_datetime(from_csv[ts]).dt.tz_localize(None).astype("datetime64[us]")
        pd.testing.assert_frame_equal(from_parquet, from_csv, check_dtype=False)
    assert (tmp_path / "pq" / "augmented_workouts.json").is_file()


def test_switching_format_leaves_no_stale_copy(tmp_path: Path) -> None:
    synthetic.generate(str(tmp_path), users=20)
    synthetic.generate(str(tmp_path), users=20, fmt="parquet")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "augmented_workouts.json", "feedback.parquet", "sessions.parquet", "users.parquet"]


@pytest.mark.parametrize("kwargs", [{"fmt": "json"}, {"workouts": 35}, {"users": 0}])
def test_bad_arguments_are_refused(tmp_path: Path, kwargs: dict) -> None:
    with pytest.raises(ValueError):
        synthetic.generate(str(tmp_path), **kwargs)


def test_cli_writes_the_datasets(tmp_path: Path) -> None:
    main = runpy.run_path(str(Path(__file__).parents[1] / "jobs" / "generate_data.py"))["main"]
    assert main(["--output", str(tmp_path), "--users", "50", "--format", "parquet", "--seed", "3"]) == 0
    assert len(pq.read_table(tmp_path / "users.parquet")) == 50
    assert main(["--output", str(tmp_path), "--workouts", "5"]) == 2


def test_more_types_extend_the_twelve(tmp_path: Path) -> None:
    """`types=20`: the 12 types and 8 more, each with workouts of every level; users pick among all 20."""
    synthetic.generate(str(tmp_path), users=3000, workouts=400, types=20)
    catalog = pd.DataFrame(json.loads((tmp_path / "augmented_workouts.json").read_text()))
    users = pd.read_csv(tmp_path / "users.csv")
    names = synthetic.Types.of(20).names
    assert names[:12] == synthetic.WORKOUT_TYPES and len(set(names)) == 20
    assert set(catalog["workout_type"]) == set(names)
    assert catalog.groupby(["workout_type", "fitness_level"]).size().size == 20 * 3
    assert set().union(*users["preferred_types"].str.split(",")) == set(names)
    # the same 20 types whatever the seed; the default stays the 12
    assert synthetic.Types.of(20).tags == synthetic.Types.of(20).tags
    assert synthetic.Types.of().names == synthetic.WORKOUT_TYPES
