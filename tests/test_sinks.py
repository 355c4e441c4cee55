"""SPEC §7 file outputs written from the driver: exact doubles, Spark's layout, empty rejects."""
from __future__ import annotations

from pathlib import Path

from chispa import assert_df_equality
from pyspark.sql import SparkSession

from coldstart import sinks
from coldstart.fs import HadoopFs
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
    # the same strings as Hadoop's own listing, which `list` uses for other file systems
    jvm_fs = fs._fs(str(tmp_path / "full"))
    hadoop = [str(s.getPath().toString()) for s in jvm_fs.listStatus(fs._path(str(tmp_path / "full")))]
    assert sorted(listed) == sorted(hadoop)
