"""SPEC §10 (profile recommendations) in both implementations, the Spark job and the peer: hand-computed
cases on tiny inputs, a brute-force reimplementation (plain Python loops over users) on random data, and
peer.compare on the profile file.

`impl` runs a case through the job (`jobs/recommend.py`'s main in the suite's Spark session) and through
the peer (`peer.driver.main`, in-process, no Spark); peer-only tests say so.

Unless a test says otherwise: freshness.lambda = 0 (every freshness factor is exp(0) = 1), each workout
has tags of its own (every cosine between two workouts is 0, so the MMR order is the score order:
mmr = 0.5 * rel), and all sessions are at the same instant (as_of).
The profile P = (18-25, Beginner, {yoga}) is the one most tests look at.
"""
from __future__ import annotations

import csv
import json
import math
import random
import subprocess
import sys
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from peer.driver import main as peer_main
from tests.helpers import REPO, load_job, workout, write_inputs

recommend_job = load_job("recommend")

P = "18-25|Beginner|yoga"
T0 = datetime(2025, 3, 1, 12, 0, 0)


def users_csv(*rows: tuple) -> str:
    """rows: (user_id, age_group, fitness_level, preferred_types)"""
    lines = [f'{u},{a},{lv},"{t}"\n' for u, a, lv, t in rows]
    return "user_id,age_group,fitness_level,preferred_types\n" + "".join(lines)


def sessions_csv(*rows: tuple) -> str:
    """rows: (user_id, workout_id, completed[, days after T0])"""
    lines = [f"{i},{r[0]},{r[1]},{r[2]},{(T0 + timedelta(days=r[3] if len(r) > 3 else 0)).isoformat()}\n"
             for i, r in enumerate(rows, start=1)]
    return "session_id,user_id,workout_id,completed,timestamp\n" + "".join(lines)


def feedback_csv(*rows: tuple) -> str:
    """rows: (user_id, workout_id, liked)"""
    lines = [f"{i},{i},{u},{w},{liked},{T0.isoformat()}Z\n" for i, (u, w, liked) in enumerate(rows, start=1)]
    return "feedback_id,session_id,user_id,workout_id,liked,feedback_time\n" + "".join(lines)


def catalog(*types: str, tags: dict[int, list[str]] | None = None) -> list[dict]:
    """workout i (1-based) has type types[i-1] and the tag t<i> (or tags[i])"""
    return [workout(i, t, (tags or {}).get(i, [f"t{i}"])) for i, t in enumerate(types, start=1)]


@pytest.fixture(params=["peer"])
def impl(request) -> str:
    """The implementation a case runs through: the peer, and for the cases marked `BOTH`, the job too."""
    if request.param == "job":
        request.getfixturevalue("spark")  # the suite's session, which the job's main uses
    return request.param


# the cases that run through the job as well (each job run costs seconds of the suite's time)
BOTH = pytest.mark.parametrize("impl", ["job", "peer"], indirect=True)


def run(impl: str, tmp_path: Path, users: str, sessions: str, feedback: str, cat: list[dict], *sets: str,
        fresh: bool = False) -> Path:
    inp = write_inputs(tmp_path / "in", users, sessions, feedback or feedback_csv(), cat)
    out = tmp_path / "out"
    args = ["--input", str(inp), "--output", str(out)]
    for s in ([] if fresh else ["freshness.lambda=0"]) + list(sets):
        args += ["--set", s]
    assert (recommend_job.main(args) if impl == "job" else peer_main([*args, "--no-rejects"])) == 0
    return out


def lists(out: Path) -> dict[str, list[tuple[int, float]]]:
    """profile_key -> [(workout_id, score)] by rank; checks the file's order and ranks on the way"""
    with open(out / "profile_recommendations.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    keys = [(r["profile_key"], int(r["rank"])) for r in rows]
    assert keys == sorted(keys)
    result: dict[str, list[tuple[int, float]]] = {}
    for r in rows:
        result.setdefault(r["profile_key"], []).append((int(r["workout_id"]), float(r["score"])))
        assert int(r["rank"]) == len(result[r["profile_key"]])
    return result


def detail(out: Path, key: str) -> pd.DataFrame:
    df = pd.read_parquet(out / "profile_recommendations.parquet")
    return df[df.profile_key == key].sort_values("rank").reset_index(drop=True)


# u1..u4 each complete one yoga workout (d = 1, so d**rho = 1); w5 is running and nobody completed it
SIM_USERS = users_csv((1, "18-25", "Beginner", "yoga"), (2, "18-25", "Advanced", "yoga"),
                      (3, "26-35", "Beginner", "yoga"), (4, "26-35", "Advanced", "yoga,running"))
SIM_SESSIONS = sessions_csv((1, 1, 1), (2, 2, 1), (3, 3, 1), (4, 4, 1), (4, 5, 0))
SIM_CATALOG = catalog("yoga", "yoga", "yoga", "yoga", "running")


@BOTH
def test_similarity_weights_age_level_jaccard(impl, tmp_path):
    out = run(impl, tmp_path, SIM_USERS, SIM_SESSIONS, "", SIM_CATALOG)
    # sim(P, v) = (1 + 3*[same age]) * (1 + 3*[same level]) * J**2
    # u1 (18-25, Beginner, {yoga}):  4 * 4 * 1 = 16         -> r(w1) = 16
    # u2 (18-25, Advanced, {yoga}):  4 * 1 * 1 = 4          -> r(w2) = 4
    # u3 (26-35, Beginner, {yoga}):  1 * 4 * 1 = 4          -> r(w3) = 4
    # u4 (26-35, Advanced, {yoga, running}): 1 * 1 * (1/2)**2 = 0.25 -> r(w4) = 0.25; r(w5) = 0
    # score = r / 16; w2 and w3 tie at 0.25: the lower id first
    assert lists(out)[P] == [(1, 1.0), (2, 0.25), (3, 0.25), (4, 0.015625), (5, 0.0)]
    d = detail(out, P)
    assert d.relevance.tolist() == [16.0, 4.0, 4.0, 0.25, 0.0]
    assert d.mmr_score.tolist() == [0.5, 0.125, 0.125, 0.0078125, 0.0]  # 0.5 * rel, no cosine penalty
    assert d.types.map(list).tolist() == [["yoga"]] * 5
    assert d.workout_type.tolist() == ["yoga"] * 4 + ["running"]
    assert (d.age_group.tolist(), d.fitness_level.tolist()) == (["18-25"] * 5, ["Beginner"] * 5)
    # the profile of u4: 18-25 users are of the other age (1), u2 and u4 share the level (4):
    # u1: 1*1*(1/2)**2 = 0.25, u2: 1*4*0.25 = 1, u3: 4*1*0.25 = 1, u4: 4*4*1 = 16; w4 first, then w2, w3, w1
    assert lists(out)["26-35|Advanced|running,yoga"] == [(4, 1.0), (2, 0.0625), (3, 0.0625), (1, 0.015625),
                                                         (5, 0.0)]


def test_similarity_weights_are_configurable(impl, tmp_path):
    out = run(impl, tmp_path, SIM_USERS, SIM_SESSIONS, "", SIM_CATALOG, "profile.age_weight=1",
              "profile.level_weight=0")
    # u1: (1+1)*(1+0)*1 = 2, u2: 2*1*1 = 2, u3: 1*1*1 = 1, u4: 1*1*0.25 = 0.25 ; max r = 2
    assert lists(out)[P] == [(1, 1.0), (2, 1.0), (3, 0.5), (4, 0.125), (5, 0.0)]


def test_the_config_file_profile_section(tmp_path):
    toml = tmp_path / "c.toml"
    toml.write_text("[profile]\nage_weight = 1\nlevel_weight = 0.0\n[freshness]\nlambda = 0.0\n")
    inp = write_inputs(tmp_path / "in", SIM_USERS, SIM_SESSIONS, feedback_csv(), SIM_CATALOG)
    assert peer_main(["--input", str(inp), "--output", str(tmp_path / "out"), "--config", str(toml)]) == 0
    assert lists(tmp_path / "out")[P] == [(1, 1.0), (2, 1.0), (3, 0.5), (4, 0.125), (5, 0.0)]


def test_jaccard_power_zero_counts_disjoint_profiles(impl, tmp_path):
    users = SIM_USERS + '5,36-50,Intermediate,"running"\n'
    sessions = sessions_csv((1, 1, 1), (2, 2, 1), (3, 3, 1), (4, 4, 1), (5, 5, 1))
    # jaccard_power 2: u5 (36-50, Intermediate, {running}) has J = 0 -> sim 0, r(w5) = 0
    assert lists(run(impl, tmp_path / "a", users, sessions, "", SIM_CATALOG))[P] == [
        (1, 1.0), (2, 0.25), (3, 0.25), (4, 0.015625), (5, 0.0)]
    # jaccard_power 0: J**0 = 1 for everyone (0**0 = 1): u4 1*1*1 = 1, u5 1*1*1 = 1 -> w4, w5 tie at 1/16
    assert lists(run(impl, tmp_path / "b", users, sessions, "", SIM_CATALOG, "profile.jaccard_power=0"))[P] == [
        (1, 1.0), (2, 0.25), (3, 0.25), (4, 0.0625), (5, 0.0625)]


# u1 and u2 share P: u1 completed w1 and w2 (d = 2), u2 completed w3 (d = 1); w3 twice is still once
DEG_USERS = users_csv((1, "18-25", "Beginner", "yoga"), (2, "18-25", "Beginner", "Yoga"))
DEG_SESSIONS = sessions_csv((1, 1, 1), (1, 2, 1), (1, 2, 1), (2, 3, 1), (2, 3, 1), (2, 4, 0))
DEG_CATALOG = catalog("yoga", "yoga", "yoga", "yoga")


@BOTH
def test_degree_normalisation(impl, tmp_path):
    # rho 0.5: r(w1) = r(w2) = 16 * 1/sqrt(2), r(w3) = 16 * 1/1 -> scores 1/sqrt(2), 1/sqrt(2), 1, 0
    got = lists(run(impl, tmp_path / "a", DEG_USERS, DEG_SESSIONS, "", DEG_CATALOG))[P]
    assert [w for w, _ in got] == [3, 1, 2, 4]
    assert [s for _, s in got] == pytest.approx([1.0, 1 / math.sqrt(2), 1 / math.sqrt(2), 0.0], abs=1e-15)
    if impl == "job":
        return  # other degree powers: the job's in test_brute_force_agrees
    # rho 1: 16/2 = 8 for w1, w2 -> 0.5
    assert lists(run(impl, tmp_path / "b", DEG_USERS, DEG_SESSIONS, "", DEG_CATALOG, "profile.degree_power=1"))[P] == [
        (3, 1.0), (1, 0.5), (2, 0.5), (4, 0.0)]
    # rho 0: every engaged workout 16 -> a three-way tie, by id
    assert lists(run(impl, tmp_path / "c", DEG_USERS, DEG_SESSIONS, "", DEG_CATALOG, "profile.degree_power=0"))[P] == [
        (1, 1.0), (2, 1.0), (3, 1.0), (4, 0.0)]


def test_like_weight(impl, tmp_path):
    users = users_csv((1, "18-25", "Beginner", "yoga"))
    sessions = sessions_csv((1, 1, 1), (1, 2, 0), (1, 3, 0))
    feedback = feedback_csv((1, 1, 1), (1, 2, 1), (1, 2, 1), (1, 3, 0))
    cat = catalog("yoga", "yoga", "yoga")
    # like_weight 0 (default): only completions count: e(w1) = 1, d = 1 -> w1 1.0, w2 0, w3 0
    assert lists(run(impl, tmp_path / "a", users, sessions, feedback, cat))[P] == [(1, 1.0), (2, 0.0), (3, 0.0)]
    # like_weight 0.5: e(w1) = 1 + 0.5 = 1.5, e(w2) = 0.5 (liked twice is once), e(w3) = 0 (not liked)
    # d = 2, r = 16 * e / sqrt(2) -> scores 1.0 and 0.5 / 1.5 = 1/3
    out = run(impl, tmp_path / "b", users, sessions, feedback, cat, "profile.like_weight=0.5")
    got = lists(out)[P]
    assert [w for w, _ in got] == [1, 2, 3]
    assert [s for _, s in got] == pytest.approx([1.0, 1 / 3, 0.0], abs=1e-15)
    assert detail(out, P).relevance.tolist() == pytest.approx([16 * 1.5 / math.sqrt(2), 16 * 0.5 / math.sqrt(2), 0],
                                                              abs=1e-12)


def test_recency_weights_each_workout_by_its_latest_engagement(spark, tmp_path):
    """Beyond SPEC §10 (the job only): e(v, w) = 2^(-a_c/h) + like_weight * 2^(-a_l/h), a the days from the
    latest completion (like) of w to as_of, h the half-life; d(v) stays the count of §10."""
    users = users_csv((1, "18-25", "Beginner", "yoga"))
    # as_of = the latest session, T0 + 120 days: w1 completed then (age 0), w2 at 60 days old, w3 at 120
    # and again at 60 days old (the latest counts), w4 only started
    sessions = sessions_csv((1, 1, 1, 120), (1, 2, 1, 60), (1, 3, 1, 0), (1, 3, 1, 60), (1, 4, 0, 120))
    liked_at = {3: T0, 4: T0 + timedelta(days=120)}  # w3 liked 120 days before as_of, w4 at as_of
    feedback = "feedback_id,session_id,user_id,workout_id,liked,feedback_time\n" + "".join(
        f"{w},{w},1,{w},1,{t.isoformat()}Z\n" for w, t in liked_at.items())
    cat = catalog("yoga", "yoga", "yoga", "yoga")
    # h = 60, like_weight 0: e = 1, 0.5, 0.5, 0 and d = 3 -> scores 1, 0.5, 0.5 (tie by id), 0
    out = run("job", tmp_path / "a", users, sessions, feedback, cat, "profile.recency_half_life_days=60")
    assert lists(out)[P] == [(1, 1.0), (2, 0.5), (3, 0.5), (4, 0.0)]
    assert detail(out, P).relevance.tolist() == pytest.approx([16 / math.sqrt(3), 8 / math.sqrt(3),
                                                              8 / math.sqrt(3), 0], abs=1e-12)
    # like_weight 1: w3 0.5 + 0.25 = 0.75, w4 0 + 1 = 1; d = 3 + 2 = 5 -> w1 and w4 tie at 1 (by id)
    out = run("job", tmp_path / "b", users, sessions, feedback, cat, "profile.recency_half_life_days=60",
              "profile.like_weight=1")
    assert lists(out)[P] == [(1, 1.0), (4, 1.0), (3, 0.75), (2, 0.5)]
    assert detail(out, P).relevance.tolist() == pytest.approx([16 * e / math.sqrt(5) for e in (1, 1, 0.75, 0.5)],
                                                              abs=1e-12)


@BOTH
def test_preferred_types_only(impl, tmp_path):
    users = users_csv((1, "18-25", "Beginner", "yoga"))
    sessions = sessions_csv((1, 1, 1), (1, 5, 1))
    cat = catalog("yoga", "yoga", "yoga", "yoga", "running")
    # all types: w1 and w5 both 16/sqrt(2) -> tie at 1.0 (w1 first), then the zeros by id
    assert lists(run(impl, tmp_path / "a", users, sessions, "", cat))[P] == [
        (1, 1.0), (5, 1.0), (2, 0.0), (3, 0.0), (4, 0.0)]
    if impl == "job":
        # yoga only: four candidates (fewer than k = 5: all of them); the running profile has w5 alone
        out = lists(run(impl, tmp_path / "b", users, sessions, "", cat, "profile.preferred_types_only=true"))
        assert out[P] == [(1, 1.0), (2, 0.0), (3, 0.0), (4, 0.0)] and out["18-25|Beginner|running"] == [(5, 0.0)]
        return
    # yoga only: four candidates (fewer than k = 5: all of them); the running profile has w5 alone,
    # scored 0: its only neighbour u1 has J({running}, {yoga}) = 0
    out = lists(run(impl, tmp_path / "b", users, sessions, "", cat, "profile.preferred_types_only=true"))
    assert out[P] == [(1, 1.0), (2, 0.0), (3, 0.0), (4, 0.0)]
    assert out["18-25|Beginner|running"] == [(5, 0.0)]
    # a running user of P's age and level makes w5 relevant to it: 16 -> 1.0 (and 0 for P: J = 0)
    users2 = users + '2,18-25,Beginner,"running"\n'
    out = lists(run(impl, tmp_path / "c", users2, sessions_csv((1, 1, 1), (2, 5, 1)), "", cat,
                    "profile.preferred_types_only=true"))
    assert out["18-25|Beginner|running"] == [(5, 1.0)]
    assert out[P] == [(1, 1.0), (2, 0.0), (3, 0.0), (4, 0.0)]


def test_freshness_after_normalising_by_the_max_relevance(impl, tmp_path):
    users = users_csv(*((u, "18-25", "Beginner", "yoga") for u in (1, 2, 3)))
    sessions = sessions_csv((1, 1, 1, 0), (2, 1, 1, 0), (3, 2, 1, 10))  # as_of = day 10: w1 is 10 days old, w2 0
    out = run(impl, tmp_path, users, sessions, "", catalog("yoga", "yoga", "yoga"), fresh=True)
    # r(w1) = 16 + 16 = 32, r(w2) = 16; normalised by the max r: 1.0 and 0.5, then times exp(-0.01 * days_old)
    # (normalising after the freshness would give w1 1.0 and w2 0.5 / exp(-0.1) = 0.55)
    # w3 never played: 365 days old, r = 0
    got = lists(out)[P]
    assert [w for w, _ in got] == [1, 2, 3]
    assert [s for _, s in got] == pytest.approx([math.exp(-0.01 * 10), 0.5, 0.0], abs=1e-15)
    assert detail(out, P).days_old.tolist() == [10.0, 0.0, 365.0]
    assert detail(out, P).relevance.tolist() == [32.0, 16.0, 0.0]


@BOTH
def test_no_neighbour_completed_anything_ties_and_mmr_decide(impl, tmp_path):
    users = users_csv((1, "18-25", "Beginner", "yoga"), (2, "36-50", "Advanced", "running"))
    sessions = sessions_csv((1, 1, 0), (1, 2, 0), (2, 6, 1))  # u2's completion: J({yoga}, {running}) = 0
    cat = catalog("yoga", "yoga", "yoga", "yoga", "yoga", "running",
                  tags={1: ["a"], 2: ["a"], 3: ["b"], 4: ["b"], 5: ["c"], 6: ["d"]})
    out = run(impl, tmp_path, users, sessions, "", cat)
    # every score 0, rel 0: mmr = -0.5 * (max cosine to the chosen); same tags = cosine 1, else 0
    # 1: all mmr 0 -> w1 (lowest id); 2: w2 -0.5 (like w1), w3 w4 w5 w6 0 -> w3
    # 3: w2 -0.5, w4 -0.5 (like w3), w5 0, w6 0 -> w5; 4: w6 (0); 5: w2, w4 tie at -0.5 and score 0 -> w2
    assert lists(out)[P] == [(1, 0.0), (3, 0.0), (5, 0.0), (6, 0.0), (2, 0.0)]
    d = detail(out, P)
    assert d.mmr_score.tolist() == [0.0, 0.0, 0.0, 0.0, -0.5]
    assert d.relevance.tolist() == [0.0] * 5


@BOTH
def test_exact_ties_lower_workout_id_first_also_for_the_pool(impl, tmp_path):
    users = users_csv((1, "18-25", "Beginner", "yoga"))
    sessions = sessions_csv((1, 7, 1), (1, 5, 1), (1, 3, 1))
    # catalog listed in descending id order: the order of the input must not matter
    cat = [workout(i, "yoga", [f"t{i}"]) for i in (7, 6, 5, 4, 3, 2, 1)]
    # w3, w5, w7: r = 16/sqrt(3) each -> score 1.0; the others 0
    assert lists(run(impl, tmp_path / "a", users, sessions, "", cat))[P] == [
        (3, 1.0), (5, 1.0), (7, 1.0), (1, 0.0), (2, 0.0)]
    if impl == "job":
        return  # the pool's cut: the peer here, the job's in test_profile_model
    # a pool of 2 cuts the tie at the two lowest ids: w7 cannot be chosen, and only 2 rows remain
    assert lists(run(impl, tmp_path / "b", users, sessions, "", cat, "mmr.pool_size=2"))[P] == [(3, 1.0), (5, 1.0)]


@BOTH
def test_target_profiles_users_and_every_single_type_of_the_universe(impl, tmp_path):
    users = users_csv((1, "18-25", "beginner", " Yoga,RUNNING,zumba"), (2, "26-35", "Advanced", "yoga"),
                      (3, "36-50", "Intermediate", "zumba"))  # u3: no catalog type, no profile; its age/level count
    sessions = sessions_csv((1, 1, 1), (2, 2, 1), (3, 3, 1))
    out = run(impl, tmp_path, users, sessions, "", catalog("yoga", "running", "pilates"))
    got = lists(out)
    singles = {f"{a}|{lv}|{t}" for a in ("18-25", "26-35", "36-50") for lv in ("Advanced", "Beginner", "Intermediate")
               for t in ("pilates", "running", "yoga")}
    assert set(got) == singles | {"18-25|Beginner|running,yoga"}  # 27 + 1; 26-35|Advanced|yoga is a single
    assert all(len(v) == 3 for v in got.values())  # k = 5 > 3 workouts: all of them
    report = json.loads((out / "run_report.json").read_text())
    assert (report["profiles"], report["profile_recommendations"]) == (28, 28 * 3)
    assert {"profiles", "profile_recommendations"} & set(report["timings"])  # the job's stage, the peer's step
    # the pilates profiles: J = 0 to everyone -> all 0, by id
    assert got["36-50|Intermediate|pilates"] == [(1, 0.0), (2, 0.0), (3, 0.0)]
    # u1's profile: u1 16 (w1); u2 {yoga}: 1*1*(1/2)**2 = 0.25 (w2); u3 has no profile (its w3: 0)
    assert got["18-25|Beginner|running,yoga"] == [(1, 1.0), (2, 0.015625), (3, 0.0)]
    types = detail(out, "18-25|Beginner|running,yoga").types.map(list).tolist()
    assert types == [["running", "yoga"]] * 3


def test_disabled_writes_no_profile_outputs(tmp_path):
    inp = write_inputs(tmp_path / "in", SIM_USERS, SIM_SESSIONS, feedback_csv(), SIM_CATALOG)
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "peer", "--input", str(inp), "--output", str(out),
                           "--set", "profile.enabled=false"], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert (out / "segment_recommendations.csv").is_file()
    assert not (out / "profile_recommendations.csv").exists()
    assert not (out / "profile_recommendations.parquet").exists()
    assert "profiles" not in json.loads((out / "run_report.json").read_text())
    bad = subprocess.run([sys.executable, "-m", "peer", "--input", str(inp), "--output", str(out),
                          "--set", "profile.enabled=maybe"], cwd=REPO, capture_output=True, text=True)
    assert bad.returncode == 2


@pytest.mark.parametrize("case", ["no_user_with_a_catalog_type", "no_sessions", "no_accepted_workout", "no_users"])
def test_degenerate_inputs(impl, tmp_path, case):
    users = users_csv((1, "18-25", "Beginner", "zumba" if case == "no_user_with_a_catalog_type" else "yoga"))
    if case == "no_users":
        users = users_csv()
    sessions = sessions_csv() if case == "no_sessions" else sessions_csv((1, 1, 1))
    cat = catalog("yoga", "running")
    if case == "no_accepted_workout":
        cat = [{"workout_id": 1, "instructor": "x", "instructor_id": 1, "workout_type": " ", "tags": []}]
    out = run(impl, tmp_path, users, sessions, "", cat, "quality.max_reject_fraction=1.0")
    got = lists(out)
    report = json.loads((out / "run_report.json").read_text())
    assert report["profiles"] == len(got)
    if case in ("no_accepted_workout", "no_users"):  # no types or no age groups: no profile at all
        assert got == {}
    else:  # only single-type profiles of 18-25|Beginner (u1 has no profile or no engagement): all 0, by id
        assert got == {"18-25|Beginner|running": [(1, 0.0), (2, 0.0)], "18-25|Beginner|yoga": [(1, 0.0), (2, 0.0)]}


# ---------------------------------------------------------------------------------------------
# a brute-force §10 (loops over users and workouts) against the peer's matrix form, on random data


def random_inputs(directory: Path, seed: int) -> Path:
    rng = random.Random(seed)
    types = ["yoga", "running", "cycling", "hiit", "pilates"]
    users = [(u, rng.choice(["18-25", "26-35", "36-50"]), rng.choice(["Beginner", "Advanced"]),
              ",".join(rng.sample(types + ["zumba"], rng.randint(1, 3)))) for u in range(1, 81)]
    cat = [workout(w, rng.choice(types), rng.sample(["a", "b", "c", "d", "e", "f"], rng.randint(0, 3)))
           for w in range(1, 31)]
    sessions = [(rng.randint(1, 80), rng.randint(1, 30), int(rng.random() < 0.6), rng.randint(0, 40))
                for _ in range(700)]
    feedback = [(rng.randint(1, 80), rng.randint(1, 30), int(rng.random() < 0.5)) for _ in range(300)]
    return write_inputs(directory, users_csv(*users), sessions_csv(*sessions), feedback_csv(*feedback), cat)


def brute_force(inp: Path, cfg: dict) -> dict[str, list[tuple[int, float]]]:
    """§10 as written, for clean CSV inputs (every row accepted), default as_of"""
    from sklearn.feature_extraction.text import TfidfVectorizer

    cat = {int(w["workout_id"]): (w["workout_type"], sorted(set(w["tags"]))) for w in
           json.loads((inp / "augmented_workouts.json").read_text())}
    types = {t for t, _ in cat.values()}
    with open(inp / "users.csv", newline="") as f:
        users = {int(r["user_id"]): (r["age_group"], r["fitness_level"], frozenset(r["preferred_types"].split(",")))
                 for r in csv.DictReader(f)}
    with open(inp / "sessions.csv", newline="") as f:
        sessions = [(int(r["user_id"]), int(r["workout_id"]), r["completed"] == "1",
                     datetime.fromisoformat(r["timestamp"])) for r in csv.DictReader(f)]
    with open(inp / "feedback.csv", newline="") as f:
        liked = {(int(r["user_id"]), int(r["workout_id"])) for r in csv.DictReader(f) if r["liked"] == "1"}
    as_of = max(ts for *_, ts in sessions)
    last = {}
    for _, w, _, ts in sessions:
        last[w] = max(last.get(w, ts), ts)
    days_old = {w: (as_of - last[w]).total_seconds() / 86400 if w in last else 365.0 for w in cat}
    e = defaultdict(float)
    for u, w, done, _ in sessions:
        e[u, w] = 1.0 if done else e[u, w]
    for u, w in liked:
        e[u, w] += cfg["like_weight"]
    d = defaultdict(float)
    for (u, _), x in e.items():
        d[u] += x
    prof = {u: (a, lv, ts & types) for u, (a, lv, ts) in users.items() if ts & types}
    ages, levels = {a for a, _, _ in users.values()}, {lv for _, lv, _ in users.values()}
    targets = set(prof.values()) | {(a, lv, frozenset([t])) for a in ages for lv in levels for t in types}
    ids = sorted(cat)
    X = TfidfVectorizer(analyzer=lambda doc: doc).fit_transform([cat[w][1] for w in ids]).toarray()
    cos = {(w1, w2): float(X[i] @ X[j]) for i, w1 in enumerate(ids) for j, w2 in enumerate(ids)}
    out = {}
    for a, lv, T in targets:
        r = dict.fromkeys(cat, 0.0)
        for u, (a_v, l_v, T_v) in prof.items():
            if d[u] <= 0:
                continue
            sim = (1 + cfg["age_weight"] * (a_v == a)) * (1 + cfg["level_weight"] * (l_v == lv)) * (
                len(T & T_v) / len(T | T_v)) ** cfg["jaccard_power"]
            for w in cat:
                r[w] += sim * e[u, w] / d[u] ** cfg["degree_power"]
        cands = [w for w in ids if not cfg["preferred_types_only"] or cat[w][0] in T]
        top_r = max(r[w] for w in cands)
        score = {w: (r[w] / top_r if top_r > 0 else 0.0) * math.exp(-0.01 * days_old[w]) for w in cands}
        out[f"{a}|{lv}|{','.join(sorted(T))}"] = [(w, score[w]) for w in greedy_mmr(score, cos)]
    return out


def greedy_mmr(score: dict[int, float], cos: dict) -> list[int]:
    """§5 with the defaults: pool 20, k 5, lambda 0.5"""
    pool = sorted(score, key=lambda w: (-score[w], w))[:20]
    top = max(score[w] for w in pool)
    rel = {w: score[w] / top if top > 0 else 0.0 for w in pool}
    chosen: list[int] = []

    def key(w):
        return (-(0.5 * rel[w] - 0.5 * max((cos[w, s] for s in chosen), default=0.0)), -score[w], w)

    while len(chosen) < min(5, len(pool)):
        chosen.append(min((w for w in pool if w not in chosen), key=key))
    return chosen


# every setting against the peer; the job with the defaults and with the other engagement settings
SETTINGS = [(), ("profile.like_weight=0.5", "profile.degree_power=1"),
            ("profile.jaccard_power=0", "profile.preferred_types_only=true"),
            ("profile.age_weight=0.5", "profile.level_weight=7", "profile.jaccard_power=1")]


@pytest.mark.parametrize(("impl", "sets"), [*(("job", s) for s in SETTINGS[:2]), *(("peer", s) for s in SETTINGS)],
                         indirect=["impl"])
def test_brute_force_agrees(impl, tmp_path, sets):
    cfg = {"age_weight": 3.0, "level_weight": 3.0, "jaccard_power": 2.0, "degree_power": 0.5, "like_weight": 0.0,
           "preferred_types_only": False}
    for s in sets:
        k, v = s.removeprefix("profile.").split("=")
        cfg[k] = v == "true" if v in ("true", "false") else float(v)
    inp = random_inputs(tmp_path / "in", seed=sum(map(len, sets)))
    out = tmp_path / "out"
    args = ["--input", str(inp), "--output", str(out), *[x for s in sets for x in ("--set", s)]]
    assert (recommend_job.main(args) if impl == "job" else peer_main(args)) == 0
    got, want = lists(out), brute_force(inp, cfg)
    assert set(got) == set(want)
    for key in want:
        assert [w for w, _ in got[key]] == [w for w, _ in want[key]], key
        assert [s for _, s in got[key]] == pytest.approx([s for _, s in want[key]], abs=1e-12), key


# ---------------------------------------------------------------------------------------------
# peer.compare on profile_recommendations.csv

SEG = "segment_key,workout_id,score,rank\n18-25|Beginner|yoga,1,0.9,1\n"
FLAGS = "instructor_id,instructor,reason,sessions,completions,feedbacks,likes,abandonment_rate,dislike_rate,as_of\n"
PROFILES = "profile_key,workout_id,score,rank\n"


def compare(a: Path, b: Path, *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "peer.compare", str(a), str(b), *flags], cwd=REPO,
                          capture_output=True, text=True)


def out_dir(path: Path, profile_rows: list[str] | None) -> Path:
    path.mkdir()
    (path / "segment_recommendations.csv").write_text(SEG)
    (path / "instructor_flags.csv").write_text(FLAGS)
    if profile_rows is not None:
        (path / "profile_recommendations.csv").write_text(PROFILES + "".join(r + "\n" for r in profile_rows))
    return path


def test_compare_fails_on_swapped_profile_ranks(tmp_path):
    rows = ['"18-25|Beginner|running,yoga",1,0.9,1', '"18-25|Beginner|running,yoga",2,0.8,2']
    swapped = ['"18-25|Beginner|running,yoga",2,0.8,1', '"18-25|Beginner|running,yoga",1,0.9,2']
    a, b = out_dir(tmp_path / "a", rows), out_dir(tmp_path / "b", swapped)
    same = compare(a, a)
    assert same.returncode == 0 and same.stdout.startswith("EQUAL"), same.stdout
    assert "profiles: 2 vs 2 rows" in same.stdout
    diff = compare(a, b)
    assert diff.returncode == 1 and diff.stdout.startswith("DIFFERENT"), diff.stdout
    assert "workouts A [1, 2] vs B [2, 1]" in diff.stdout
    off = out_dir(tmp_path / "c", ['"18-25|Beginner|running,yoga",1,0.9000001,1', rows[1]])
    assert compare(a, off).returncode == 1  # 1e-7 > tol
    assert compare(a, off, "--tol", "1e-6").returncode == 0


def test_compare_one_sided_profiles_is_a_note_unless_required(tmp_path):
    a = out_dir(tmp_path / "a", ['"18-25|Beginner|yoga",1,0.9,1'])
    b = out_dir(tmp_path / "b", None)
    one_sided = compare(a, b)
    assert one_sided.returncode == 0 and one_sided.stdout.startswith("EQUAL"), one_sided.stdout
    assert "profile_recommendations.csv only in A" in one_sided.stdout
    assert compare(b, a).returncode == 0
    assert compare(a, b, "--require-profiles").returncode == 1
    assert compare(b, b).returncode == 0
    assert compare(b, b, "--require-profiles").returncode == 1
    assert compare(a, a, "--require-profiles").returncode == 0
