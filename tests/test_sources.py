"""SPEC §1 reading: Parquet timestamps, with or without a time zone, are UTC instants; datasets read together."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from coldstart.schemas import SESSIONS
from coldstart.sources import InputError, read_inputs, read_parquet
from tests.helpers import workout, write_inputs


def test_parquet_wall_clock_timestamps_are_read_as_the_utc_instant(spark: SparkSession, tmp_path: Path) -> None:
    wall_clock = datetime(2025, 3, 1, 12, 30, 15, 123000)
    # 2025-03-01T12:30:15.123 UTC: 1,740,832,215 s after the epoch (20,148 days * 86,400 s + 45,015 s), plus 123 ms
    expected_micros = (20_148 * 86_400 + 12 * 3_600 + 30 * 60 + 15) * 1_000_000 + 123_000
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    assert expected_micros == (wall_clock.replace(tzinfo=UTC) - epoch) // timedelta(microseconds=1)
    # the same instant written without a time zone (two units) and with UTC
    for unit, tz in (("ms", None), ("us", None), ("us", "UTC")):
        path = tmp_path / f"sessions_{unit}_{tz}.parquet"
        pq.write_table(pa.table({
            "session_id": [1], "user_id": [2], "workout_id": [3], "completed": pa.array([1], pa.int8()),
            "timestamp": pa.array([wall_clock], pa.timestamp(unit, tz=tz)),
        }), path)
        df = read_parquet(spark, SESSIONS, str(path))
        assert df.schema["timestamp"].dataType == T.TimestampType(), (unit, tz)
        assert df.select(F.unix_micros("timestamp")).first()[0] == expected_micros, (unit, tz)


def test_datasets_are_read_together_and_the_first_bad_one_in_spec_order_is_reported(spark: SparkSession,
                                                                                    tmp_path: Path) -> None:
    """The four readers run in threads; a missing column (SPEC §9: one line naming the file and the column)
    is still reported for the first bad dataset in the order users, sessions, feedback, catalog, as when
    they were read one by one, whichever reader finishes first."""
    users = "user_id,age_group,fitness_level,preferred_types\n1,18-25,beginner,yoga\n"
    feedback = "feedback_id,session_id,user_id,workout_id,liked,feedback_time\n1,1,1,1,1,2025-01-01T00:00:00\n"
    good = write_inputs(tmp_path / "good", users, "session_id,user_id,workout_id,completed,timestamp\n"
                        "1,1,1,1,2025-01-01T00:00:00\n", feedback, [workout(1, "yoga", ["calm"])])
    raw = read_inputs(spark, str(good))
    assert {name: raw.frame(name).count() for name in ("users", "sessions", "feedback", "catalog")} == {
        "users": 1, "sessions": 1, "feedback": 1, "catalog": 1}
    # sessions without `timestamp`, and a catalog without `workout_type`
    no_type = {k: v for k, v in workout(1, "yoga", ["calm"]).items() if k != "workout_type"}
    bad = write_inputs(tmp_path / "bad", users, "session_id,user_id,workout_id,completed\n1,1,1,1\n", feedback,
                       [no_type])
    with pytest.raises(InputError, match=r"sessions\.csv: missing required column\(s\): timestamp"):
        read_inputs(spark, str(bad))
