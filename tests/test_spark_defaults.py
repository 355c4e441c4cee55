"""Settings of conf/spark-defaults.conf that only work together.

The duplicate search (`validation.duplicate_buckets`) aggregates by (`_dataset` int, `_bucket`
long) into (`_rows` long, `_bits` long), and its rows should stay in Spark's generated fast hash
map (`spark.sql.codegen.aggregate.fastHashMap.capacityBit`). That map keeps its rows in one memory
page (`spark.buffer.pageSize`) and stops taking rows once the page is full, whatever its capacity:
a page made smaller for the collector's sake would silently send the rows back to the slower map.
"""
from __future__ import annotations

from tests.helpers import REPO

MIB = 1024**2


def spark_defaults() -> dict[str, str]:
    settings = {}
    for line in (REPO / "conf" / "spark-defaults.conf").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, value = line.split(None, 1)
            settings[key] = value.strip()
    return settings


def size_in_bytes(text: str) -> int:
    units = {"k": 1024, "m": MIB, "g": 1024 * MIB}
    return int(text[:-1]) * units[text[-1].lower()] if text[-1].lower() in units else int(text)


def fast_map_record_bytes(key_fields: int, value_fields: int) -> int:
    """Spark's FixedLengthRowBasedKeyValueBatch record: key row, value row, an 8-byte link.

    An UnsafeRow of n fixed-width fields: one 8-byte null-bit word per 64 fields, 8 bytes per field.
    """
    def row(n: int) -> int:
        return 8 * ((n + 63) // 64) + 8 * n
    return row(key_fields) + row(value_fields) + 8


def test_row_layout_by_hand() -> None:
    # 2 key fields: 8 (null bits) + 2 * 8 = 24; 2 value fields: 24; link: 8 -> 56
    assert fast_map_record_bytes(2, 2) == 56


def test_one_page_holds_the_duplicate_search_fast_map() -> None:
    settings = spark_defaults()
    capacity = 1 << int(settings["spark.sql.codegen.aggregate.fastHashMap.capacityBit"])
    page = size_in_bytes(settings["spark.buffer.pageSize"])
    # 2^18 rows * 56 bytes = 14.0 MiB <= 16 MiB
    assert capacity * fast_map_record_bytes(2, 2) <= page, (capacity, page)
    # and not much larger (at most twice the need, 28 MiB): the collector paid for Spark's 64 MiB pages
    assert page <= 2 * capacity * fast_map_record_bytes(2, 2), (capacity, page)
