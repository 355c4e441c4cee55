"""The onboarding lookup: normalisation, the round-robin merge rule (pandas and Spark), the command."""
from __future__ import annotations

import random

import pandas as pd
import pytest

from coldstart.lookup import Profile, UnknownProfileValue, merge_round_robin, recommend_for
from tests.helpers import load_job

# two segments of one user, plus a segment of another age group
RECS = pd.DataFrame(
    [
        ("26-35|Advanced|cycling", 20, 0.95, 1),
        ("26-35|Advanced|cycling", 21, 0.50, 2),
        ("26-35|Advanced|cycling", 22, 0.40, 3),
        ("26-35|Advanced|yoga", 10, 0.90, 1),
        ("26-35|Advanced|yoga", 11, 0.80, 2),
        ("26-35|Advanced|yoga", 12, 0.70, 3),
        ("18-25|Beginner|yoga", 13, 0.99, 1),
    ],
    columns=["segment_key", "workout_id", "score", "rank"],
)


def test_profile_is_normalised_like_the_inputs():
    profile = Profile.of(" 26-35 ", "  advanced", " Yoga, CYCLING ,yoga,, ")
    assert profile == Profile("26-35", "Advanced", ("yoga", "cycling"))
    assert Profile.of("18-25", "very advanced", ["x"]).fitness_level == "Very Advanced"  # initcap: every word


def test_merge_takes_all_rank_1_items_first_highest_score_first():
    result = recommend_for({"age_group": "26-35", "fitness_level": "advanced", "types": "yoga,cycling"}, RECS, k=5)
    # rank 1: 20 (0.95) before 10 (0.90); rank 2: 11 (0.80) before 21 (0.50); rank 3: 12 (0.70) ...cut at 5
    assert result["workout_id"].tolist() == [20, 10, 11, 21, 12]
    assert result["rank"].tolist() == [1, 2, 3, 4, 5]
    assert result["list_key"].tolist()[:2] == ["26-35|Advanced|cycling", "26-35|Advanced|yoga"]
    assert list(result.columns) == ["rank", "workout_id", "score", "source", "list_key", "title"]
    assert (result["source"] == "segments").all() and (result["title"] == "").all()


# the profile list of 26-35|Advanced|cycling,yoga (SPEC §10), of another profile, and none of 26-35|Advanced|yoga
PROFILE_RECS = pd.DataFrame(
    [
        ("26-35|Advanced|cycling,yoga", 31, 0.6, 2),
        ("26-35|Advanced|cycling,yoga", 30, 1.0, 1),
        ("26-35|Advanced|cycling,yoga", 32, 0.4, 3),
        ("26-35|Advanced|cycling", 40, 1.0, 1),
    ],
    columns=["profile_key", "workout_id", "score", "rank"],
)


def test_the_profile_list_answers_when_the_job_made_one():
    # "yoga, cycling" is the profile cycling,yoga (types sorted), whatever the order stated
    result = recommend_for(Profile.of("26-35", "advanced", "Yoga, cycling"), RECS, k=2,
                           profile_recommendations=PROFILE_RECS)
    assert result["workout_id"].tolist() == [30, 31]  # by rank, cut at k
    assert result["rank"].tolist() == [1, 2]
    assert (result["source"] == "profile").all()
    assert (result["list_key"] == "26-35|Advanced|cycling,yoga").all()


def test_without_a_profile_list_the_segments_are_merged():
    # no list for 26-35|Advanced|yoga: its segment's list, as without profile lists at all
    result = recommend_for(Profile.of("26-35", "Advanced", "yoga"), RECS, k=5, profile_recommendations=PROFILE_RECS)
    assert result["workout_id"].tolist() == [10, 11, 12]
    assert (result["source"] == "segments").all()
    # an unknown type is still an error, profile lists or not
    with pytest.raises(UnknownProfileValue):
        recommend_for(Profile.of("26-35", "Advanced", "yoga,chess"), RECS, profile_recommendations=PROFILE_RECS)


def test_merge_ties_go_to_the_lower_workout_id_and_duplicates_keep_their_first_place():
    items = pd.DataFrame(
        [("a", 7, 0.5, 1), ("b", 3, 0.5, 1), ("a", 9, 0.9, 2), ("b", 7, 0.8, 2), ("b", 4, 0.1, 3)],
        columns=["segment_key", "workout_id", "score", "rank"],
    )
    merged = merge_round_robin(items, k=10)
    # rank 1 tie at 0.5: 3 before 7; rank 2: 9, then 7 again (already placed: dropped); rank 3: 4
    assert merged["workout_id"].tolist() == [3, 7, 9, 4]
    assert merged["rank"].tolist() == [1, 2, 3, 4]


def test_fewer_items_than_k_and_titles_when_given():
    with_titles = RECS.assign(title=RECS["workout_id"].map(lambda w: f"Workout {w}"))
    result = recommend_for(Profile.of("18-25", "Beginner", "yoga"), with_titles, k=5)
    assert result["workout_id"].tolist() == [13]
    assert result["title"].tolist() == ["Workout 13"]


@pytest.mark.parametrize(("profile", "message"), [
    (("40-50", "Advanced", "yoga"), "unknown age group '40-50'; valid: 18-25, 26-35"),
    (("26-35", "Expert", "yoga"), "unknown fitness level 'Expert'; valid: Advanced, Beginner"),
    (("26-35", "Advanced", "yoga,chess"), "unknown workout type 'chess'; valid: cycling, yoga"),
    (("26-35", "Advanced", " , "), "no workout type given; valid: cycling, yoga"),
])
def test_unknown_profile_values_list_the_valid_ones(profile, message):
    with pytest.raises(UnknownProfileValue) as err:
        recommend_for(Profile.of(*profile), RECS)
    assert str(err.value) == message


def test_spark_merge_applies_the_same_rule(spark):
    """The evaluation's Spark merge against the lookup's pandas merge on random lists with ties and repeats."""
    from coldstart.evaluation.lists import as_lists, merge_lists

    rng = random.Random(7)
    rows = [(user, seg, rng.randint(1, 8), float(rng.choice([0.1, 0.5, 0.5, 0.9])), rank)
            for user in range(40) for seg in range(rng.randint(0, 3)) for rank in range(1, rng.randint(1, 5))]
    items = pd.DataFrame(rows, columns=["user_id", "segment_key", "workout_id", "score", "rank"])
    users = spark.createDataFrame(pd.DataFrame({"user_id": range(40)}))
    lists = as_lists(merge_lists(spark.createDataFrame(items), k=4), users)
    got = {r["user_id"]: list(r["items"]) for r in lists.collect()}
    for user in range(40):
        expected = merge_round_robin(items[items["user_id"] == user], k=4)["workout_id"].tolist()
        assert got[user] == expected, user


@pytest.fixture
def recs_dir(tmp_path):
    RECS.to_csv(tmp_path / "segment_recommendations.csv", index=False)
    (tmp_path / "augmented_workouts.json").write_text('[{"workout_id": "w20", "title": "Hill, Sprints"}]')
    return tmp_path


def test_command_prints_csv_with_titles(recs_dir, capsys):
    job = load_job("recommend_user")
    status = job.main(["--recs", str(recs_dir), "--age-group", "26-35", "--level", "advanced",
                       "--types", "yoga,cycling", "--k", "3", "--format", "csv", "--input", str(recs_dir)])
    assert status == 0
    assert capsys.readouterr().out.splitlines() == [
        "rank,workout_id,score,source,list_key,title",
        '1,20,0.95,segments,26-35|Advanced|cycling,"Hill, Sprints"',
        "2,10,0.9,segments,26-35|Advanced|yoga,",
        "3,11,0.8,segments,26-35|Advanced|yoga,",
    ]


def test_command_answers_from_profile_recommendations_csv(recs_dir, capsys):
    PROFILE_RECS.to_csv(recs_dir / "profile_recommendations.csv", index=False)
    job = load_job("recommend_user")
    assert job.main(["--recs", str(recs_dir), "--age-group", "26-35", "--level", "advanced",
                     "--types", "cycling,yoga", "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "rank,workout_id,score,source,list_key,title",
        "1,30,1.0,profile,\"26-35|Advanced|cycling,yoga\",",
        "2,31,0.6,profile,\"26-35|Advanced|cycling,yoga\",",
        "3,32,0.4,profile,\"26-35|Advanced|cycling,yoga\",",
    ]
    assert job.main(["--recs", str(recs_dir), "--age-group", "26-35", "--level", "advanced", "--types", "yoga"]) == 0
    assert "(from the segments' lists, merged)" in capsys.readouterr().out


def test_command_table_and_unknown_type(recs_dir, capsys):
    job = load_job("recommend_user")
    assert job.main(["--recs", str(recs_dir), "--age-group", "26-35", "--level", "Advanced", "--types", "yoga"]) == 0
    out = capsys.readouterr().out
    assert "Top 5 for 26-35 | Advanced | yoga" in out and "0.9000" in out
    with pytest.raises(SystemExit) as exit_info:
        job.main(["--recs", str(recs_dir), "--age-group", "26-35", "--level", "Advanced", "--types", "chess"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err == "error: unknown workout type 'chess'; valid: cycling, yoga\n"
