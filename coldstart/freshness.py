"""SPEC §4: as_of, days_old, and the decayed score.

Times travel as microseconds since the epoch (UTC): a Python datetime handed to
Spark would be read in the driver's local time zone.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from coldstart.config import ConfigError, Freshness

SECONDS_PER_DAY = 86400.0
MICROS_PER_SECOND = 1_000_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_MICROSECOND = timedelta(microseconds=1)


def parse_as_of(text: str) -> int:
    """ISO-8601 (naive means UTC, `Z` accepted) -> microseconds since the epoch."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(f"as_of: not an ISO-8601 time: {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - EPOCH) // ONE_MICROSECOND


def format_micros(micros: int | None) -> str | None:
    """Microseconds since the epoch -> `2025-03-05T06:32:41.016619` (UTC, no zone), for reports."""
    if micros is None:
        return None
    return (EPOCH + micros * ONE_MICROSECOND).replace(tzinfo=None).isoformat()


def filter_up_to(df: DataFrame, time_column: str, as_of_micros: int) -> DataFrame:
    """Events after as_of have not happened yet."""
    return df.filter(F.unix_micros(time_column) <= F.lit(as_of_micros))


def with_days_old(df: DataFrame, as_of_micros: int | None, freshness: Freshness) -> DataFrame:
    """days_old = max(0, (as_of - last_played) seconds / 86400); unplayed workouts get unplayed_days."""
    if as_of_micros is None:
        return df.withColumn("days_old", F.lit(freshness.unplayed_days))
    seconds = (F.lit(as_of_micros) - F.unix_micros("last_played")) / F.lit(float(MICROS_PER_SECOND))
    days = F.greatest(F.lit(0.0), seconds / F.lit(SECONDS_PER_DAY))
    return df.withColumn(
        "days_old", F.when(F.col("last_played").isNull(), F.lit(freshness.unplayed_days)).otherwise(days)
    )


def with_score(df: DataFrame, freshness: Freshness) -> DataFrame:
    return df.withColumn("score", F.col("raw_score") * F.exp(-F.lit(freshness.lambda_) * F.col("days_old")))
