"""SPEC §8 against a real MariaDB server (started here, on 127.0.0.1, with a temp datadir).

Without the server binaries or the JDBC jar these tests skip, unless
COLDSTART_REQUIRE_MYSQL=1 (CI), where they fail.
"""
from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd
import pytest
from pyspark.sql import DataFrame, SparkSession

from coldstart import mysql
from coldstart.config import Config, Mysql
from coldstart.jdbc import Jdbc, MysqlError, connection, redact_url
from coldstart.pipeline import PipelineResult
from tests.conftest import MARIADB_JDBC_JAR, QUICK_JIT
from tests.mariadb_server import MariaDbServer, ServerUnavailable, free_port, start_server

REPO = Path(__file__).resolve().parent.parent
REQUIRE_ENV = "COLDSTART_REQUIRE_MYSQL"
SUBPROCESS_TIMEOUT_S = 120
JOB_DRIVER_MEMORY = "512m"
READS_AFTER_SWAP_S = 0.2
FLAGS_SCHEMA = ("instructor_id long, instructor string, reason string, sessions long, completions long, "
                "feedbacks long, likes long, abandonment_rate double, dislike_rate double, as_of string")

# 4 users, 5 workouts (one never played, one with a 4-byte UTF-8 instructor name), microsecond
# timestamps, `w`-prefixed ids: enough for every column type to make the trip
USERS_CSV = """user_id,age_group,fitness_level,preferred_types
1,18-25,beginner,"yoga,cycling"
2,18-25,Beginner,yoga
3,26-35,Advanced,"cycling,YOGA"
4,26-35,advanced,cycling
"""
SESSIONS_CSV = """session_id,user_id,workout_id,completed,timestamp
1,1,w1,1,2025-03-01T06:00:00.125000
2,1,w3,0,2025-03-01T07:00:00
3,2,w1,1,2025-03-02T06:00:00.500001
4,2,w2,0,2025-03-02T07:30:00
5,2,w2,0,2025-03-03T07:30:00
6,3,w3,1,2025-03-03T08:00:00
7,3,w1,0,2025-03-04T09:00:00
8,4,w4,1,2025-03-04T10:00:00
9,4,w3,1,2025-03-05T06:32:41.016619
10,1,w2,0,2025-03-05T06:00:00
"""
FEEDBACK_CSV = """feedback_id,session_id,user_id,workout_id,liked,feedback_time
1,1,1,w1,1,2025-03-01T06:30:00Z
2,3,2,w1,1,2025-03-02T06:30:00.250000Z
3,4,2,w2,0,2025-03-02T08:00:00Z
4,5,2,w2,0,2025-03-03T08:00:00Z
5,6,3,w3,1,2025-03-03T08:30:00Z
6,8,4,w4,0,2025-03-04T10:30:00Z
"""
CATALOG = [
    {"workout_id": "w1", "title": "Calm", "instructor": "Ben Brooks", "instructor_id": 10,
     "workout_type": "yoga", "fitness_level": "beginner", "duration": 20, "tags": ["calm", "flexibility"]},
    {"workout_id": "w2", "title": "Power", "instructor": "Zoë 🧘 Ōkubo", "instructor_id": 11,
     "workout_type": "yoga", "fitness_level": "advanced", "duration": 30, "tags": ["power"]},
    {"workout_id": "w3", "title": "Spin", "instructor": "Ben Brooks", "instructor_id": 10,
     "workout_type": "cycling", "fitness_level": "beginner", "duration": 45, "tags": ["intervals", "music"]},
    {"workout_id": "w4", "title": "Beat", "instructor": "Zoë 🧘 Ōkubo", "instructor_id": 11,
     "workout_type": "cycling", "fitness_level": "advanced", "duration": 30, "tags": ["music"]},
    {"workout_id": 5, "title": "New", "instructor": "Cy Chen", "instructor_id": 12,
     "workout_type": "yoga", "fitness_level": "beginner", "duration": 15, "tags": []},
]
# thresholds low enough for the tiny data to raise flags of both reasons
FLAG_OVERRIDES = ("--set", "flags.min_sessions=2", "--set", "flags.min_feedback=2",
                  "--set", "flags.max_abandonment=0.45", "--set", "flags.max_dislike=0.45")


def _unavailable(reason: str) -> None:
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"MySQL tests required ({REQUIRE_ENV}=1) but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def db() -> Any:
    """A private server, with the job's credentials in the environment while it runs."""
    if not os.path.isfile(MARIADB_JDBC_JAR):
        _unavailable(f"no JDBC driver jar at {MARIADB_JDBC_JAR} (apt-get install libmariadb-java)")
    try:
        server = start_server()
    except ServerUnavailable as exc:
        _unavailable(str(exc))
    with pytest.MonkeyPatch.context() as env:
        for key, value in server.env().items():
            env.setenv(key, value)
        yield server
    server.stop()


@pytest.fixture(scope="module")
def tiny_input(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("tiny_input")
    (directory / "users.csv").write_text(USERS_CSV)
    (directory / "sessions.csv").write_text(SESSIONS_CSV)
    (directory / "feedback.csv").write_text(FEEDBACK_CSV)
    (directory / "augmented_workouts.json").write_text(json.dumps(CATALOG, ensure_ascii=False), encoding="utf-8")
    return directory


@pytest.fixture(scope="module")
def loaded(db: MariaDbServer, tiny_input: Path) -> MariaDbServer:
    """The tiny dataset's event tables, loaded by jobs/load_mysql.py."""
    assert load_job("load_mysql").main(["--input", str(tiny_input), "--jdbc-url", db.url]) == 0
    return db


def load_job(name: str) -> ModuleType:
    """`jobs/<name>.py` as a module (jobs are scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(f"mysql_test_job_{name}", REPO / "jobs" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read_table(spark: SparkSession, url: str, table: str) -> pd.DataFrame:
    """A whole table through Spark's JDBC source (times as text, as the job reads them)."""
    options = {**Jdbc.from_env(url).spark_options(), "dbtable": table}
    if table in (mysql.TOP_WORKOUTS, mysql.PROFILE_TOP_WORKOUTS, mysql.FLAGS):
        options["customSchema"] = "as_of STRING"
    return spark.read.format("jdbc").options(**options).load().toPandas()


def canonical(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Same rows in the same order with comparable types: ids as text, as_of as a timestamp."""
    out = df.copy()
    if "as_of" in out:
        out["as_of"] = pd.to_datetime(out["as_of"])
    if "instructor_id" in out:
        out["instructor_id"] = out["instructor_id"].astype(str)
    return out.sort_values(keys).reset_index(drop=True)


def query_all(conn: Any, sql: str, columns: int) -> list[tuple[Any, ...]]:
    stmt = conn.createStatement()
    try:
        rs = stmt.executeQuery(sql)
        rows = []
        while rs.next():
            rows.append(tuple(rs.getObject(i + 1) for i in range(columns)))
        return rows
    finally:
        stmt.close()


@pytest.mark.mysql
def test_round_trip_mysql_to_mysql_equals_files_to_files(spark: SparkSession, loaded: MariaDbServer,
                                                         tiny_input: Path, tmp_path: Path) -> None:
    db = loaded
    for table, rows in (("users", 4), ("sessions", 10), ("feedback", 6)):
        assert len(read_table(spark, db.url, table)) == rows

    recommend = load_job("recommend")
    files_out, mysql_out = tmp_path / "files_out", tmp_path / "mysql_out"
    assert recommend.main(["--input", str(tiny_input), "--output", str(files_out), *FLAG_OVERRIDES]) == 0
    assert recommend.main(["--input", str(tiny_input), "--output", str(mysql_out), "--source", "mysql",
                           "--sink", "mysql", "--jdbc-url", db.url, *FLAG_OVERRIDES]) == 0

    report = json.loads((mysql_out / "run_report.json").read_text())
    top = read_table(spark, db.url, mysql.TOP_WORKOUTS)
    flags = read_table(spark, db.url, mysql.FLAGS)
    assert set(top["run_id"]) == set(flags["run_id"]) == {report["run_id"]}
    assert (mysql_out / "rejects").is_dir() and not (mysql_out / "segment_recommendations.csv").exists()
    assert report["inputs"]["sessions"].endswith("mysql:sessions")

    keys = ["segment_key", "rank"]
    expected_top = pd.read_csv(files_out / "segment_recommendations.csv")
    assert len(expected_top) > 0
    pd.testing.assert_frame_equal(canonical(top[list(expected_top.columns)], keys), canonical(expected_top, keys),
                                  check_dtype=False)
    assert (pd.to_datetime(top["as_of"]) == pd.Timestamp(report["as_of"])).all()

    # SPEC §10's lists, in the third table of the same swap
    profiles = read_table(spark, db.url, mysql.PROFILE_TOP_WORKOUTS)
    expected_profiles = pd.read_csv(files_out / "profile_recommendations.csv")
    assert set(profiles["run_id"]) == {report["run_id"]} and len(expected_profiles) > 0
    keys = ["profile_key", "rank"]
    pd.testing.assert_frame_equal(canonical(profiles[list(expected_profiles.columns)], keys),
                                  canonical(expected_profiles, keys), check_dtype=False)

    expected_flags = pd.read_csv(files_out / "instructor_flags.csv")
    assert set(expected_flags["reason"]) == {"high_abandonment", "high_dislike"}  # the test exercises both
    assert "Zoë 🧘 Ōkubo" in set(flags["instructor"])  # utf8mb4 end to end
    keys = ["instructor_id", "reason"]
    pd.testing.assert_frame_equal(canonical(flags[list(expected_flags.columns)], keys),
                                  canonical(expected_flags, keys), check_dtype=False)


@pytest.mark.mysql
def test_reads_are_partitioned_by_id_range(spark: SparkSession, loaded: MariaDbServer) -> None:
    jdbc = Jdbc.from_env(loaded.url)
    assert mysql.id_bounds(spark, jdbc, "sessions") == (1, 10)
    sessions = mysql.read_table(spark, jdbc, "sessions", partitions=3)
    assert sessions.rdd.getNumPartitions() == 3
    rows = sessions.orderBy("_row_order").collect()
    assert [r["session_id"] for r in rows] == list(range(1, 11))  # every row, once
    assert {r["_source_file"] for r in rows} == {"mysql:sessions"} and rows[0]["_corrupt_record"] is None
    assert rows[8]["timestamp"] == "2025-03-05 06:32:41.016619"  # text: no JVM time zone on the way


def a_result(recommendations: DataFrame, flags: DataFrame) -> PipelineResult:
    """What `mysql.write_results` takes of a run: its results (no profile lists) and as_of."""
    return PipelineResult(recommendations, flags, {}, {"as_of": None})


def top_workouts(spark: SparkSession, run_id: str, rows: int, partitions: int = 1) -> DataFrame:
    """`rows` rows of cold_start_top_workouts for one run (one segment each)."""
    return spark.createDataFrame(
        [(f"18-25|Beginner|type{i}", 1, i, 1.0 / (i + 1), "2025-01-01T00:00:00", run_id) for i in range(rows)],
        "segment_key string, rank int, workout_id long, score double, as_of string, run_id string",
    ).repartition(partitions)


@pytest.mark.mysql
def test_readers_see_one_complete_run_during_a_rewrite(spark: SparkSession, db: MariaDbServer) -> None:
    runs = {"old-run": 7, "new-run": 400}
    mysql.write_table_atomic(top_workouts(spark, "old-run", runs["old-run"]), db.url, mysql.TOP_WORKOUTS, 100)
    seen: list[list[tuple[Any, ...]]] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def poll() -> None:
        try:
            with connection(spark, Jdbc.from_env(db.url)) as conn:
                while not done.is_set():
                    seen.append(query_all(conn, "SELECT run_id, COUNT(*) FROM cold_start_top_workouts "
                                                "GROUP BY run_id", 2))
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    reader = threading.Thread(target=poll, daemon=True)
    reader.start()
    try:
        # small insert batches from several tasks: the staging table fills slowly while the reader polls
        new_df = top_workouts(spark, "new-run", runs["new-run"], partitions=4)
        mysql.write_results(a_result(new_df, spark.createDataFrame([], FLAGS_SCHEMA)), "new-run", db.url,
                            dataclasses.replace(Config(), mysql=Mysql(write_batch_size=5)))
        time.sleep(READS_AFTER_SWAP_S)
    finally:
        done.set()
        reader.join()
    assert not errors, errors
    assert all(len(rows) == 1 for rows in seen), [rows for rows in seen if len(rows) != 1][:3]
    observed = {rows[0] for rows in seen}
    assert observed == set(runs.items()), observed  # both runs, each complete, never anything else
    assert len(seen) > len(observed)  # the reader polled during the write, not just once per side


@pytest.mark.mysql
def test_failed_write_keeps_the_old_rows(spark: SparkSession, db: MariaDbServer) -> None:
    mysql.write_table_atomic(top_workouts(spark, "old-run", 3), db.url, mysql.TOP_WORKOUTS, batch_size=100)
    duplicate_keys = spark.createDataFrame(
        [("a|B|c", 1, 1, 0.5, None, "bad-run"), ("a|B|c", 1, 2, 0.4, None, "bad-run")],
        "segment_key string, rank int, workout_id long, score double, as_of string, run_id string",
    )
    with pytest.raises(MysqlError, match=f"cannot write to {db.url}"):
        mysql.write_table_atomic(duplicate_keys, db.url, mysql.TOP_WORKOUTS, batch_size=100)
    assert db.sql("SELECT run_id, COUNT(*) FROM coldstart.cold_start_top_workouts GROUP BY run_id") == "old-run\t3\n"
    assert "staging" not in db.sql("SHOW TABLES FROM coldstart")


@pytest.mark.mysql
def test_flags_ids_are_bigint_and_an_older_text_column_still_takes_them(spark: SparkSession,
                                                                         db: MariaDbServer) -> None:
    """schema.sql makes `flags.instructor_id` BIGINT. A table made when it was VARCHAR(64) keeps that
    type (CREATE TABLE IF NOT EXISTS, staging table LIKE it) and takes the ids as their text."""
    flags = spark.createDataFrame([(7, "Ann", "high_dislike", 10, 5, 25, 4, 0.5, 0.76, None),
                                   (10, "Bob", "high_abandonment", 60, 9, 0, 0, 0.83, 0.5, None)], FLAGS_SCHEMA)
    column_type = ("SELECT DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'coldstart' "
                   "AND TABLE_NAME = 'flags' AND COLUMN_NAME = 'instructor_id'")
    rows = "SELECT instructor_id, reason FROM coldstart.flags ORDER BY reason"
    cfg = Config()
    db.sql("DROP TABLE IF EXISTS coldstart.flags")
    try:
        mysql.write_results(a_result(top_workouts(spark, "new-run", 1), flags), "new-run", db.url, cfg)
        assert db.sql(column_type) == "bigint\n"
        assert db.sql(rows) == "10\thigh_abandonment\n7\thigh_dislike\n"
        db.sql("ALTER TABLE coldstart.flags MODIFY instructor_id VARCHAR(64) NOT NULL")  # the older DDL
        mysql.write_results(a_result(top_workouts(spark, "next-run", 1), flags), "next-run", db.url, cfg)
        assert db.sql(column_type) == "varchar\n"
        assert db.sql(rows) == "10\thigh_abandonment\n7\thigh_dislike\n"
    finally:
        db.sql("DROP TABLE IF EXISTS coldstart.flags")  # the next write makes it from schema.sql


def _run_job(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    """`python jobs/recommend.py` with the driver jar, as spark-submit.sh would add it (its build step
    shares one zip between concurrent runs, so two jobs are not started through it at once here)."""
    submit_args = (f"--jars {MARIADB_JDBC_JAR} --driver-memory {JOB_DRIVER_MEMORY}"
                   f" --driver-java-options {QUICK_JIT} pyspark-shell")
    return subprocess.Popen(
        [sys.executable, str(REPO / "jobs" / "recommend.py"), *args], cwd=REPO,
        env={**os.environ, "PYSPARK_SUBMIT_ARGS": submit_args, "SPARK_CONF_DIR": str(REPO / "conf"), **env},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.mysql
def test_bad_credentials_or_unreachable_server_exit_2_with_one_line(db: MariaDbServer, tiny_input: Path,
                                                                     tmp_path: Path) -> None:
    secret = "not-the-password-4711"
    unreachable = f"jdbc:mysql://127.0.0.1:{free_port()}/coldstart?password={secret}"
    cases = {
        "wrong password": (db.url, {"COLDSTART_DB_PASSWORD": secret}, "Access denied"),
        "unreachable": (unreachable, {}, "onnect"),
    }
    # both jobs at once: each is mostly a JVM start
    running = {
        name: _run_job(["--input", str(tiny_input), "--output", str(tmp_path / name), "--source", "mysql",
                       "--sink", "files,mysql", "--jdbc-url", url], env)
        for name, (url, env, _) in cases.items()
    }
    for name, proc in running.items():
        url, _, cause = cases[name]
        _, stderr = proc.communicate(timeout=SUBPROCESS_TIMEOUT_S)
        assert proc.returncode == 2, (name, stderr[-2000:])
        errors = [line for line in stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1, (name, stderr[-2000:])
        assert f"cannot connect to {redact_url(url)}:" in errors[0] and cause in errors[0]
        assert secret not in stderr and "Traceback" not in stderr and "\tat " not in stderr
        assert not (tmp_path / name).exists()  # stopped before any work


def test_redact_url_blanks_passwords() -> None:
    assert redact_url("jdbc:mysql://h:3306/db?user=u&password=p1&ssl=true") == \
        "jdbc:mysql://h:3306/db?user=u&password=***&ssl=true"
    assert redact_url("jdbc:mysql://u:p2@h:3306/db") == "jdbc:mysql://u:***@h:3306/db"
    assert redact_url("jdbc:mysql://h:3306/db") == "jdbc:mysql://h:3306/db"
    assert "p3" not in repr(Jdbc("jdbc:mysql://h/db", "u", "p3"))
