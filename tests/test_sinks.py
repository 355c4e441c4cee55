"""SPEC §7 file outputs written from the driver (exact doubles, Spark's layout, empty rejects) and publishing."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession

from coldstart import sinks
from coldstart.flags import FLAG_COLUMNS
from coldstart.fs import HadoopFs
from coldstart.pipeline import PipelineResult
from coldstart.rerank import RECOMMENDATION_COLUMNS
from coldstart.validation import Validated


def test_small_csv_keeps_the_table_order_and_writes_doubles_exactly(spark: SparkSession, tmp_path: Path) -> None:
    df = spark.createDataFrame([("b|x", 2, 0.1 + 0.2, 1), ("a|x", 1, 1 / 3, 2), ("a|y", 3, None, 3)],
                               "segment_key string, workout_id long, score double, rank int")
    path = tmp_path / "out.csv"
    sinks.write_small_csv(HadoopFs(spark), df.toArrow(), str(path))
    # 0.1 + 0.2 = 0.30000000000000004 and 1/3 in full: Python's shortest round-trip repr; null -> empty field
    assert path.read_text() == ("segment_key,workout_id,score,rank\n"
                                "b|x,2,0.30000000000000004,1\n"
                                "a|x,1,0.3333333333333333,2\n"
                                "a|y,3,,3\n")


def test_small_parquet_reads_back_in_spark_with_the_same_schema(spark: SparkSession, tmp_path: Path) -> None:
    df = spark.createDataFrame([("a|x", 1, 0.5, 1), ("a|x", 7, None, 2)],
                               "segment_key string, workout_id long, score double, rank int")
    out = tmp_path / "recs.parquet"
    sinks.write_small_parquet(HadoopFs(spark), df.toArrow(), str(out))
    # (and their .crc checksums on a local file system, as Spark's own writes)
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == ["_SUCCESS", "part-00000.parquet"]
    assert_df_equality(spark.read.parquet(str(out)), df, ignore_nullable=True)


def test_a_dataset_without_rejects_gets_an_empty_file_of_the_rejects_schema(spark: SparkSession,
                                                                           tmp_path: Path) -> None:
    flagged = spark.createDataFrame([(1, None, "r1"), (2, 3, "r2")], "user_id long, reason int, record string")
    validated = {"users": Validated("users", flagged.filter("reason is null"), ("user_id",)),
                 "sessions": Validated("sessions", flagged, ("user_id",))}
    counts = {"users": {"rejected": 0}, "sessions": {"rejected": 1}}
    sinks.write_rejects(HadoopFs(spark), validated, counts, str(tmp_path))
    empty = spark.read.parquet(str(tmp_path / "rejects" / "users"))
    written = spark.read.parquet(str(tmp_path / "rejects" / "sessions"))
    assert empty.count() == 0
    def columns(df):
        return [(f.name, f.dataType) for f in df.schema.fields]

    assert empty.schema == written.schema  # read back: all nullable
    assert columns(empty) == columns(validated["users"].rejects)
    # reason code 3 is the fourth reason of SPEC §9
    assert [tuple(r) for r in written.collect()] == [("sessions", "null_field", "r2")]


def test_list_gives_every_entry_of_a_directory_once(spark: SparkSession, tmp_path: Path) -> None:
    fs = HadoopFs(spark)
    (tmp_path / "empty").mkdir()
    assert fs.list(str(tmp_path / "empty")) == []
    names = ["a", "b c", "d,e", "f\\g", "é ü", "out.tmp-1", "[x]"]
    for name in names:
        (tmp_path / "full" / name).mkdir(parents=True)
    (tmp_path / "full" / "file.txt").write_text("x")
    listed = fs.list(str(tmp_path / "full"))
    # qualified paths (file:/...), one per entry, the names as on disk
    assert all(p.startswith("file:/") for p in listed)
    assert sorted(p.rsplit("/", 1)[-1] for p in listed) == sorted([*names, "file.txt"])


# ---- publish: the whole output of a run at once --------------------------------------------------


def a_result(spark: SparkSession, score: float) -> PipelineResult:
    """A run's results as the pipeline gives them: one recommendation, one flag, one rejected user."""
    recommendation = {c: None for c in RECOMMENDATION_COLUMNS} | {
        "segment_key": "18-25|Beginner|yoga", "workout_id": 7, "score": score, "rank": 1}
    types = {"segment_key": "string", "age_group": "string", "fitness_level": "string", "workout_type": "string",
             "workout_id": "long", "rank": "int", "views": "long", "completions": "long", "feedbacks": "long",
             "likes": "long"}
    schema = ", ".join(f"{c} {types.get(c, 'double')}" for c in RECOMMENDATION_COLUMNS)
    recommendations = spark.createDataFrame([tuple(recommendation[c] for c in RECOMMENDATION_COLUMNS)], schema)
    flags = spark.createDataFrame([(3, "Coach 3", "high_dislike", 60, 10, 30, 2, 0.8, 0.9, "2025-01-01T00:00:00")],
                                  ", ".join(f"{c} {t}" for c, t in zip(FLAG_COLUMNS, (
                                      "long", "string", "string", "long", "long", "long", "long", "double",
                                      "double", "string"), strict=True)))
    users = spark.createDataFrame([(1, None, "1,a"), (2, 2, "x,b")], "user_id long, reason int, record string")
    validated = {"users": Validated("users", users, ("user_id",))}
    report = {"rows": {"users": {"rejected": 1}}, "as_of": "2025-01-01T00:00:00", "score": score}
    return PipelineResult(recommendations, flags, validated, report)


def entries(directory: Path) -> set[str]:
    return {p.name for p in directory.iterdir() if not p.name.startswith(".")}


def test_publish_replaces_the_outputs_whole(spark: SparkSession, tmp_path: Path) -> None:
    out = tmp_path / "out"
    fs = HadoopFs(spark)
    sinks.publish(fs, a_result(spark, 0.5), str(out), "run1")
    (out / "left_by_hand.txt").write_text("x")
    recommendations, flags = sinks.publish(fs, a_result(spark, 0.25), str(out), "run2")
    assert entries(out) == {"segment_recommendations.csv", "segment_recommendations.parquet",
                            "instructor_flags.csv", "instructor_flags.parquet", "run_report.json", "rejects"}
    assert (out / "segment_recommendations.csv").read_text() == (
        "segment_key,workout_id,score,rank\n18-25|Beginner|yoga,7,0.25,1\n")
    assert json.loads((out / "run_report.json").read_text())["score"] == 0.25
    assert [tuple(r) for r in spark.read.parquet(str(out / "rejects" / "users")).collect()] == [
        ("users", "bad_id", "x,b")]
    assert recommendations.num_rows == 1 and flags.column("reason").to_pylist() == ["high_dislike"]
    assert entries(tmp_path) == {"out"}  # no staging or old copies left beside it


def test_a_failed_database_write_leaves_the_previous_outputs(spark: SparkSession, tmp_path: Path) -> None:
    out = tmp_path / "out"
    fs = HadoopFs(spark)
    sinks.publish(fs, a_result(spark, 0.5), str(out), "run1")
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    seen: list[set[str]] = []

    def failing_database(result, run_id) -> None:
        seen.append(entries(tmp_path))  # called before anything is swapped in
        assert (run_id, result.report["score"], result.recommendations.count()) == ("run2", 0.25, 1)
        raise RuntimeError("database down")

    with pytest.raises(RuntimeError, match="database down"):
        sinks.publish(fs, a_result(spark, 0.25), str(out), "run2", database=failing_database)
    assert seen == [{"out", "out.tmp-run2"}]
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert entries(tmp_path) == {"out"}


def test_database_only_keeps_the_previous_result_files(spark: SparkSession, tmp_path: Path) -> None:
    out = tmp_path / "out"
    fs = HadoopFs(spark)
    sinks.publish(fs, a_result(spark, 0.5), str(out), "run1")
    written = []
    sinks.publish(fs, a_result(spark, 0.25), str(out), "run2", files=False,
                  database=lambda result, run_id: written.append(run_id))
    assert written == ["run2"]
    # the result files are the first run's, the report the second's
    assert "0.5" in (out / "segment_recommendations.csv").read_text()
    assert json.loads((out / "run_report.json").read_text())["score"] == 0.25


def test_publish_rejects_keeps_the_previous_results(spark: SparkSession, tmp_path: Path) -> None:
    out = tmp_path / "out"
    fs = HadoopFs(spark)
    sinks.publish(fs, a_result(spark, 0.5), str(out), "run1")
    failed = a_result(spark, 0.25)
    sinks.publish_rejects(fs, {**failed.report, "status": "failed"}, failed.validated, str(out), "run2")
    assert "0.5" in (out / "segment_recommendations.csv").read_text()
    assert json.loads((out / "run_report.json").read_text())["status"] == "failed"
    assert entries(tmp_path) == {"out"}
