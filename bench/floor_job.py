"""The engine's floor for bench/scale.py: scan sessions and feedback Parquet, count rows per workout.

    ./spark-submit.sh bench/floor_job.py --input DIR

Both tables in one Spark session, the way the job reads them (one scan each); the per-workout
counts (one row per catalog workout) come back to the driver, so the scan cannot be skipped.
Prints one JSON line: seconds spent in the session (start-up excluded) and rows per table.
"""
from __future__ import annotations

import argparse
import json
import time

from pyspark.sql import SparkSession

TABLES = ("sessions", "feedback")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", required=True, help="a directory with sessions.parquet and feedback.parquet")
    args = parser.parse_args()
    spark = SparkSession.builder.appName("coldstart-floor").getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    started = time.perf_counter()
    rows = {}
    for table in TABLES:
        per_workout = spark.read.parquet(f"{args.input}/{table}.parquet").groupBy("workout_id").count().collect()
        rows[table] = sum(r["count"] for r in per_workout)
    seconds = time.perf_counter() - started
    print(json.dumps({"floor_seconds": round(seconds, 3), "rows": rows}))
    spark.stop()


if __name__ == "__main__":
    main()
