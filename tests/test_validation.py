"""SPEC §1 normalisation and §9 rejects: one test per reason, exact counts, the reason order."""
from __future__ import annotations

import json

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from coldstart import membership, validation
from coldstart.codes import Codes
from coldstart.config import Config
from coldstart.counting import count_users
from coldstart.membership import UserGroup, segment_user_stats
from coldstart.pipeline import count_cut, reject_counts, validate_inputs
from coldstart.progress import Stages
from coldstart.schemas import CORRUPT, ROW_ORDER, SOURCE_FILE
from coldstart.sources import read_inputs
from coldstart.validation import duplicate_buckets, validate_catalog, validate_users
from tests.helpers import workout, write_inputs

USERS = """user_id,age_group,fitness_level,preferred_types
1,18-25,beginner,"Yoga, yoga ,running"
2, 26-35 ,ADVANCED,yoga
3,26-35,Advanced,running
,18-25,Beginner,yoga
u4,18-25,Beginner,yoga
5,,Beginner,yoga
6,18-25, ,yoga
1,36-45,Advanced,running
7,18-25,Beginner,yoga,extra
8,18-25
9,18-25,Beginner,"yoga
10,18-25,Beginner,"yo"ga
"""
# expected users: accepted 1, 2, 3 | null_key 1 | bad_id 1 | null_field 2 | duplicate 1 | malformed_line 4

SESSIONS = """session_id,user_id,workout_id,completed,timestamp
1,1,w1,1,2025-03-01T10:00:00
2,1,1,0,2025-03-02T10:00:00.5
3,2,2,1,2025-03-03T10:00:00
3,2,2,0,2025-03-04T10:00:00
4,,1,1,2025-03-01T10:00:00
5,1,x1,1,2025-03-01T10:00:00
6,1,1,2,2025-03-01T10:00:00
7,1,1,1,yesterday
8,1,1,1,
9,99,1,1,2025-03-01T10:00:00
10,1,999,1,2025-03-01T10:00:00
11,5,1,1,2025-03-01T10:00:00
12,1,1,1,2025-03-01T10:00:00,x
13,1,1,,2025-03-01T10:00:00
14,1,99999999999999999999,1,2025-03-01T10:00:00
2,1,1,0,2025-03-02T10:00:00.5
"""
# session 3: the later row (2025-03-04, not completed) is kept; session 2 appears twice, identical
# user 5 was rejected (null_field): its session is unknown_user

FEEDBACK = """feedback_id,session_id,user_id,workout_id,liked,feedback_time
1,1,1,1,1,2025-03-01T11:00:00Z
2,2,1,1,yes,2025-03-02T11:00:00Z
3,3,2,2,0,2025-03-04T11:00:00Z
4,3,2,2,1,not-a-time
5,77,1,1,1,2025-03-01T11:00:00Z
6,1,1,3,1,2025-03-01T11:00:00Z
"""
# feedback 5 names a session that does not exist: feedback is not checked against session_id
# feedback 6 is on workout 3, whose catalog row has no type: unknown_workout

CATALOG = [
    workout("w1", "Yoga", ["Calm", "calm", " core "]),
    workout(2, "yoga", []),
    {**workout("w3", "", ["x"])},
    {**workout(None, "yoga", [])},
    workout("x12", "yoga", []),
    workout("w2", "running", ["duplicate of 2"]),
]


def validate_and_count(spark, directory):
    result = validate_inputs(read_inputs(spark, str(directory)), Config(), Stages())
    return result, reject_counts(result, count_cut(result, None, Stages()))


@pytest.fixture(scope="module")
def validated(spark, tmp_path_factory):
    return validate_and_count(spark, write_inputs(tmp_path_factory.mktemp("dirty"), USERS, SESSIONS, FEEDBACK,
                                                  CATALOG))


def test_users_reasons_and_counts(validated):
    _, counts = validated
    assert counts["users"] == {
        "read": 12, "accepted": 3, "rejected": 9,
        "reasons": {"malformed_line": 4, "null_key": 1, "bad_id": 1, "null_field": 2, "duplicate": 1},
    }


def test_users_are_normalised_and_first_duplicate_kept(validated):
    result, _ = validated
    users = {r["user_id"]: r for r in result["users"].accepted.collect()}
    assert users[1]["age_group"] == "18-25"  # the first row of user 1 is kept
    assert users[1]["fitness_level"] == "Beginner"
    assert sorted(users[1]["preferred_types"]) == ["running", "yoga"]  # a set, trimmed, lower-case
    assert (users[2]["age_group"], users[2]["fitness_level"]) == ("26-35", "Advanced")


def test_malformed_lines_keep_their_original_text(validated):
    result, _ = validated
    records = {r["record"] for r in result["users"].rejects.filter("reason = 'malformed_line'").collect()}
    assert records == {"7,18-25,Beginner,yoga,extra", "8,18-25", '9,18-25,Beginner,"yoga', '10,18-25,Beginner,"yo"ga'}


def test_sessions_reasons_and_counts(validated):
    _, counts = validated
    assert counts["sessions"] == {
        "read": 16, "accepted": 3, "rejected": 13,
        "reasons": {"malformed_line": 1, "null_key": 1, "bad_id": 2, "bad_completed": 2, "bad_timestamp": 2,
                    "duplicate": 2, "unknown_user": 2, "unknown_workout": 1},
    }


def test_duplicate_sessions_keep_the_latest_timestamp(validated):
    result, _ = validated
    kept = {r["session_id"]: r for r in result["sessions"].accepted.collect()}
    assert sorted(kept) == [1, 2, 3]
    assert kept[3]["completed"] == 0  # the 2025-03-04 row
    assert kept[1]["workout_id"] == 1  # "w1" -> 1
    assert kept[2]["timestamp"].microsecond == 500000
    assert set(result["sessions"].accepted.columns) == {"session_id", "user_id", "workout_id", "completed",
                                                         "timestamp"}
    # the join that finds unknown ids brings the codes counting needs: user 2 is 26-35|Advanced
    # (al_code 1 * 2 levels + 0), prefers yoga (the only type, bit 0); workout 2 is yoga (index 0)
    flagged = {r["session_id"]: r for r in result["sessions"].flagged.filter("reason is null").collect()}
    assert (flagged[3]["al_code"], flagged[3]["type_set"], flagged[3]["type_idx"]) == (2, 1, 0)


def test_feedback_reasons_and_counts(validated):
    _, counts = validated
    assert counts["feedback"] == {
        "read": 6, "accepted": 3, "rejected": 3,
        "reasons": {"bad_liked": 1, "bad_timestamp": 1, "unknown_workout": 1},
    }


def test_catalog_reasons_and_normalisation(validated):
    result, counts = validated
    assert counts["catalog"] == {
        "read": 6, "accepted": 2, "rejected": 4,
        "reasons": {"null_key": 1, "bad_id": 1, "null_field": 1, "duplicate": 1},
    }
    catalog = {r["workout_id"]: r for r in result["catalog"].accepted.collect()}
    assert catalog[1]["workout_type"] == "yoga" and sorted(catalog[1]["tags"]) == ["calm", "core"]
    assert catalog[2]["workout_type"] == "yoga"  # the first of the two rows with id 2


def test_rejects_carry_dataset_reason_and_record(validated):
    result, _ = validated
    row = result["sessions"].rejects.filter("reason = 'unknown_workout'").first()
    assert row["dataset"] == "sessions" and row["record"] == "10,1,999,1,2025-03-01T10:00:00"


def test_reason_order_first_applicable_wins(spark, tmp_path):
    # null key and bad timestamp and bad completed at once: null_key comes first in SPEC §9
    sessions = "session_id,user_id,workout_id,completed,timestamp\n,1,1,7,never\n1,1,1,7,never\n1,1,1,1,never\n"
    inputs = write_inputs(tmp_path, USERS, sessions, "feedback_id,session_id,user_id,workout_id,liked,feedback_time\n",
                          CATALOG)
    _, counts = validate_and_count(spark, inputs)
    assert counts["sessions"]["reasons"] == {"null_key": 1, "bad_completed": 1, "bad_timestamp": 1}


def test_completed_at_instead_of_completed(spark, tmp_path):
    sessions = ("session_id,user_id,workout_id,completed_at,timestamp\n"
                "1,1,1,2025-03-01T10:30:00,2025-03-01T10:00:00\n"
                "2,1,1,,2025-03-01T11:00:00\n"
                "3,1,1,half past,2025-03-01T12:00:00\n")
    inputs = write_inputs(tmp_path, USERS, sessions, "feedback_id,session_id,user_id,workout_id,liked,feedback_time\n",
                          CATALOG)
    result, counts = validate_and_count(spark, inputs)
    completed = {r["session_id"]: r["completed"] for r in result["sessions"].accepted.collect()}
    assert completed == {1: 1, 2: 0}
    assert counts["sessions"]["reasons"] == {"bad_completed": 1}


def test_parquet_inputs_follow_the_same_rules(spark, tmp_path):
    write_inputs(tmp_path, USERS, SESSIONS, FEEDBACK, CATALOG)
    (tmp_path / "sessions.csv").unlink()
    rows = [(1, 1, "w1", 1, "2025-03-01T10:00:00"), (2, None, "1", 1, "2025-03-01T10:00:00"),
            (3, 1, "1", 1, None), (3, 1, "1", 0, "2025-03-02T10:00:00")]
    spark.createDataFrame(rows, "session_id long, user_id long, workout_id string, completed int, timestamp string") \
        .write.parquet(str(tmp_path / "sessions.parquet"))
    _, counts = validate_and_count(spark, tmp_path)
    assert counts["sessions"] == {"read": 4, "accepted": 2, "rejected": 2,
                                  "reasons": {"null_key": 1, "bad_timestamp": 1}}


def test_json_lines_catalog_is_accepted(spark, tmp_path):
    write_inputs(tmp_path, USERS, SESSIONS, FEEDBACK, CATALOG)
    (tmp_path / "augmented_workouts.json").write_text("\n".join(json.dumps(w) for w in CATALOG) + "\n")
    _, counts = validate_and_count(spark, tmp_path)
    assert counts["catalog"]["accepted"] == 2 and counts["catalog"]["read"] == 6


def raw_catalog(spark, rows: list[tuple], instructor_id_type: str = "string"):
    """Catalog rows (workout_id, instructor_id, workout_type) with the columns `read_catalog` gives."""
    return spark.createDataFrame(
        [(w, f"Workout {n}", "Coach", i, t, "beginner", "30", ["calm"], None, "f", n)
         for n, (w, i, t) in enumerate(rows)],
        f"workout_id string, title string, instructor string, instructor_id {instructor_id_type}, "
        f"workout_type string, fitness_level string, duration string, tags array<string>, "
        f"{CORRUPT} string, {SOURCE_FILE} string, {ROW_ORDER} long")


def assert_catalog_reasons(spark, raw, reasons: list[str | None], accepted: list[tuple[int, int]]):
    """The reason of each raw row in order (None: accepted); the accepted (workout_id, instructor_id)."""
    catalog = validate_catalog(raw)
    got = catalog.flagged.select(ROW_ORDER, "reason")
    codes = [None if r is None else validation.REASON_CODE[r] for r in reasons]
    expected = spark.createDataFrame(list(enumerate(codes)), f"{ROW_ORDER} long, reason int")
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)
    kept = catalog.accepted.select("workout_id", "instructor_id")
    expected_kept = spark.createDataFrame(accepted, "workout_id long, instructor_id long")
    assert_df_equality(kept, expected_kept, ignore_row_order=True, ignore_nullable=True)


def test_catalog_null_or_empty_instructor_id_is_null_key(spark):
    """SPEC §9: instructor_id is an id column; null, empty or blank is `null_key`, like a missing workout_id."""
    raw = raw_catalog(spark, [("w1", "7", "yoga"), ("w2", None, "yoga"), ("w3", "", "yoga"), ("w4", "  ", "yoga")])
    assert_catalog_reasons(spark, raw, [None, "null_key", "null_key", "null_key"], [(1, 7)])
    typed = raw_catalog(spark, [("w1", 7, "yoga"), ("w2", None, "yoga")], instructor_id_type="long")
    assert_catalog_reasons(spark, typed, [None, "null_key"], [(1, 7)])


def test_catalog_instructor_id_not_an_integer_is_bad_id(spark):
    """The integer rule of the other int ids: `abc` and `3.5` are `bad_id`; surrounding blanks are trimmed."""
    raw = raw_catalog(spark, [("w1", "7", "yoga"), ("w2", "abc", "yoga"), ("w3", "3.5", "yoga"),
                              ("w4", " 12 ", "yoga")])
    assert_catalog_reasons(spark, raw, [None, "bad_id", "bad_id", None], [(1, 7), (4, 12)])


def test_catalog_missing_instructor_id_wins_over_a_bad_workout_id(spark):
    """SPEC §9 order: `null_key` (either id missing) before `bad_id` (either id not an integer)
    before `null_field`."""
    raw = raw_catalog(spark, [("x1", None, "yoga"), ("x2", "abc", "yoga"), ("w3", "abc", ""), ("w4", None, ""),
                              ("5", "8", "yoga")])
    assert_catalog_reasons(spark, raw, ["null_key", "bad_id", "bad_id", "null_key", None], [(5, 8)])


def test_duplicate_buckets_are_the_128_id_groups_holding_a_repeat(spark):
    """Bucket = id >> 7 (floor division by 128, negatives included); a bucket has a repeat
    when it has more rows than distinct ids (bits set, 64 per word). Rejected rows count too
    (the search reads the ids alone); rows without an id do not."""
    ids = [0, 63, 64, 127, 128, 128, 255, -1, -128, -129, -129, 300, 350, 500, None, None]
    reasons = [None] * 13 + [1, 1, 1]
    rows = [(i, r) for i, r in zip(ids, reasons, strict=True)] + [(500, 1)]  # two rejected rows of id 500
    df = spark.createDataFrame(rows, "session_id long, reason int")
    found = sorted(r["_bucket"] for r in duplicate_buckets(df, "session_id").collect())
    # bucket 0: 0, 63, 64, 127 -> 4 rows, 4 bits (words 0, 0, 1, 1): no
    # bucket 1: 128, 128, 255 -> 3 rows, 2 bits: yes; bucket -1: -1, -128 -> no; bucket -2: -129 twice -> yes
    # bucket 2: 300, 350 -> no; bucket 3: 500, 500 (both rejected) -> yes, a candidate; null ids: no bucket
    assert found == [-2, 1, 3]


def test_one_duplicate_search_keeps_the_datasets_apart(spark):
    """`search_duplicates` groups every dataset's ids in one aggregation, by (dataset, bucket):
    the same id in two datasets is no repeat, and each dataset gets only its own buckets."""
    users = spark.createDataFrame([("5",), ("7",), ("7",), ("x",)], "user_id string")  # 'x': no id, no bucket
    sessions = spark.createDataFrame([(5,), (70,), (130,), (130,), (300,)], "session_id long")
    catalog = spark.createDataFrame([("w5",), ("5",)], "workout_id string")  # w5 and 5: one workout id, twice
    feedback = spark.createDataFrame([(5,)], "feedback_id long")
    found = validation.search_duplicates({"catalog": catalog, "users": users, "sessions": sessions,
                                          "feedback": feedback})
    # users: 7, 7 -> bucket 7 >> 7 = 0; sessions: 5, 70, 130, 130 -> buckets 0 (5, 70: no repeat) and
    # 1 (130 twice); 300 alone in bucket 2; catalog: 5 twice -> bucket 0; feedback: 5 once -> nothing.
    # Users' and sessions' id 5 (both bucket 0) are not a repeat of each other.
    assert found.counts == {"users": 1, "sessions": 1, "catalog": 1}
    got = {name: sorted(r["_bucket"] for r in found.of(name)[0].collect()) for name in found.datasets}
    assert got == {"catalog": [0], "users": [0], "sessions": [1], "feedback": []}
    assert found.of("feedback")[1] == 0


def test_a_rejected_repeat_does_not_make_a_duplicate(spark):
    """Duplicates are among the rows not rejected so far: a repeat that is already rejected
    (here for its timestamp) leaves the accepted row alone, although its bucket is searched."""
    rows = [(1, 10, None, "2025-03-01 10:00:00", 0), (1, 10, 6, None, 1),  # id 1: second row bad_timestamp
            (2, 10, None, "2025-03-01 10:00:00", 2), (2, 10, None, "2025-03-02 10:00:00", 3)]  # id 2: a repeat
    df = spark.createDataFrame([(*r[:4], "f", r[4]) for r in rows],
                               f"session_id long, user_id long, reason int, timestamp string, "
                               f"{SOURCE_FILE} string, {ROW_ORDER} long").withColumn("timestamp", F.col("timestamp")
                                                                                    .cast("timestamp"))
    flagged = validation._flag_duplicates(df, "sessions", F.col("timestamp").desc(),
                                          validation.search_duplicates({"sessions": df}))
    got = sorted((r["session_id"], r[ROW_ORDER], r["reason"]) for r in flagged.collect())
    duplicate = validation.REASON_CODE["duplicate"]
    # id 1: row 0 kept (row 1 was rejected before); id 2: the later row 3 kept, row 2 a duplicate
    assert got == [(1, 0, None), (1, 1, 6), (2, 2, duplicate), (2, 3, None)]


def test_duplicates_flagged_the_same_with_a_shuffle_join(spark, tmp_path, monkeypatch):
    """Past BROADCAST_BUCKETS_MAX duplicate buckets the losers are found by a shuffle join:
    same reasons, same kept rows as the broadcast path."""
    inputs = write_inputs(tmp_path, USERS, SESSIONS, FEEDBACK, CATALOG)
    broadcast, broadcast_counts = validate_and_count(spark, inputs)
    monkeypatch.setattr(validation, "BROADCAST_BUCKETS_MAX", 0)
    shuffled, shuffled_counts = validate_and_count(spark, inputs)
    assert shuffled_counts == broadcast_counts
    for name in ("users", "sessions"):
        assert sorted(shuffled[name].accepted.collect()) == sorted(broadcast[name].accepted.collect())


def test_segment_user_stats_from_user_groups():
    codes = Codes(("18-25", "26-35"), ("Beginner",), ("running", "yoga"))

    def group(age: str, types: tuple[str, ...], users: int) -> UserGroup:
        return UserGroup((age, "beginner", ",".join(types)), age, "Beginner", types, users)

    groups = (group("18-25", ("yoga", "chess"), 3), group("18-25", ("running", "yoga"), 2),
              group("26-35", ("yoga",), 4))
    stats = segment_user_stats(groups, codes)
    # 18-25|Beginner|running 2, 18-25|Beginner|yoga 3 + 2 = 5, 26-35|Beginner|running 0, 26-35|Beginner|yoga 4
    assert stats == {"segments": 4,
                     "users_per_segment": {"min": 0, "median": 3.0, "max": 5, "segments_without_users": 1},
                     "unknown_preferred_types": {"chess": 3}}


def test_preferred_types_lose_any_whitespace_around_commas(spark):
    """SPEC §1: types trimmed, lower-case, a set; Java's \\s around commas, not only spaces."""
    rows = [("1", "yoga,\trunning"), ("2", "Yoga ,CARDIO"), ("3", "hiit cardio,yoga"), ("4", "yoga,\r\nyoga")]
    raw = spark.createDataFrame(
        [(i, "18-25", "beginner", types, None, "f", n) for n, (i, types) in enumerate(rows)],
        f"user_id string, age_group string, fitness_level string, preferred_types string, "
        f"{CORRUPT} string, {SOURCE_FILE} string, {ROW_ORDER} long")
    got = {r["user_id"]: r["preferred_types"] for r in validate_users(raw).accepted.collect()}
    assert got == {1: ["yoga", "running"], 2: ["yoga", "cardio"], 3: ["hiit cardio", "yoga"], 4: ["yoga"]}


def test_users_are_counted_and_normalised_per_profile_as_written(spark, monkeypatch):
    """Users are counted by reason and by (age group, level, preferred types) as written, each
    of those normalised once; the users get their group's codes by a join on it."""
    rows = [("1", "18-25", "beginner", "yoga,running"), ("2", "18-25", "beginner", "yoga,running"),
            ("3", "18-25", "Beginner", "Running , YOGA"), ("4", " 26-35", "advanced", "yoga,chess"),
            ("5", "26-35", "", "yoga"), ("u6", "18-25", "beginner", "yoga")]
    raw = spark.createDataFrame(
        [(*r, None, "f", n) for n, r in enumerate(rows)],
        f"user_id string, age_group string, fitness_level string, preferred_types string, "
        f"{CORRUPT} string, {SOURCE_FILE} string, {ROW_ORDER} long")
    users = validate_users(raw)
    counts = count_users(users)
    assert counts.reasons == {None: 4, "null_field": 1, "bad_id": 1}
    assert sorted((g.raw, g.age_group, g.fitness_level, g.preferred_types, g.users) for g in counts.groups) == [
        ((" 26-35", "advanced", "yoga,chess"), "26-35", "Advanced", ("yoga", "chess"), 1),  # trimmed, title case
        (("18-25", "Beginner", "Running , YOGA"), "18-25", "Beginner", ("running", "yoga"), 1),  # user 3
        (("18-25", "beginner", "yoga,running"), "18-25", "Beginner", ("yoga", "running"), 2),  # users 1 and 2
    ]
    codes = membership.codes_from(counts.groups, ("running", "yoga"))  # running: bit 0 (1), yoga: bit 1 (2)
    assert (codes.age_groups, codes.levels) == (("18-25", "26-35"), ("Advanced", "Beginner"))
    # al_code = age index * 2 levels + level index: 18-25|Beginner = 0 * 2 + 1 = 1, 26-35|Advanced = 1 * 2 + 0 = 2
    expected = spark.createDataFrame([(1, 1, 3), (2, 1, 3), (3, 1, 3), (4, 2, 2)],
                                     "user_id long, al_code int, type_set long")
    assert_df_equality(membership.user_codes(users, counts.groups, codes), expected, ignore_row_order=True,
                       ignore_nullable=True)
    # past BROADCAST_PROFILES_MAX the same join runs as a shuffle join
    monkeypatch.setattr(membership, "BROADCAST_PROFILES_MAX", 0)
    assert_df_equality(membership.user_codes(users, counts.groups, codes), expected, ignore_row_order=True,
                       ignore_nullable=True)
