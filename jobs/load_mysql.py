"""spark-submit entry point: load a SPEC §1 dataset's event tables into MySQL / MariaDB.

    COLDSTART_DB_USER=... COLDSTART_DB_PASSWORD=... \\
    ./spark-submit.sh jobs/load_mysql.py --input DIR --jdbc-url jdbc:mysql://HOST:PORT/DB

Creates the tables of conf/sql/schema.sql when absent, then replaces the rows of
`users`, `sessions` and `feedback` (all three swapped in at once) by the rows of the
input that validation accepts: typed tables cannot hold a `w12x` id or a broken line.
Rejected rows are counted here and are not loaded. The catalog stays a file.
"""
from __future__ import annotations

import argparse
import logging
import sys

from coldstart import mysql, pipeline
from coldstart.jdbc import Jdbc, MysqlError, check_connection
from coldstart.progress import Stages
from coldstart.runtime import (
    EXIT_BAD_INPUT,
    add_config_args,
    build_session,
    config_from_args,
    fail,
    main_guard,
    setup_logging,
)
from coldstart.sources import InputError, read_inputs

log = logging.getLogger("coldstart.load_mysql")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", required=True, help="input directory (SPEC §1 datasets, CSV or Parquet)")
    parser.add_argument("--jdbc-url", required=True, help="jdbc:mysql://HOST:PORT/DB (credentials from the env)")
    add_config_args(parser)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    setup_logging()
    args = parse_args(sys.argv[1:] if argv is None else argv)
    cfg = config_from_args(args)
    spark = build_session("coldstart-load-mysql")
    try:
        check_connection(spark, Jdbc.from_env(args.jdbc_url))
        stages = Stages()
        validated = pipeline.validate_inputs(read_inputs(spark, args.input), cfg, stages)
        counts = pipeline.reject_counts(validated, pipeline.count_cut(validated, None, stages))
        mysql.write_tables_atomic(mysql.event_frames(validated), args.jdbc_url, cfg.mysql.write_batch_size)
    except (InputError, MysqlError) as exc:
        fail(str(exc), EXIT_BAD_INPUT)
    for name in mysql.TABLE_COLUMNS:
        c = counts[name]
        print(f"{name}: {c['accepted']} rows loaded, {c['rejected']} rejected {c['reasons'] or ''}".rstrip())
    return 0


if __name__ == "__main__":
    main_guard(main)
