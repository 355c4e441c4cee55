"""What every entry point in `jobs/` shares: logging, the session, arguments, exit codes."""
from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Callable, NoReturn

from pyspark.sql import SparkSession

from coldstart.config import Config, ConfigError, load_config, parse_set

EXIT_BAD_INPUT = 2
EXIT_QUALITY = 3

# settings the results depend on, so they do not rest on a conf file being passed
REQUIRED_SPARK_CONF = {"spark.sql.session.timeZone": "UTC"}


def setup_logging(level: int = logging.INFO) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger("py4j").setLevel(logging.WARNING)


def build_session(app_name: str) -> SparkSession:
    """The session of a job: master and tuning come from spark-submit and conf/spark-defaults.conf."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(app_name)
    for key, value in REQUIRED_SPARK_CONF.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    ui = spark.sparkContext.uiWebUrl
    if ui:
        logging.getLogger("coldstart").info("Spark UI at %s while the job runs (%s)", ui, spark.sparkContext.master)
    return spark


def add_config_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="TOML config file (default: conf/coldstart.toml)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override one config key, e.g. --set mmr.k=10 (repeatable)")


def config_from_args(args: argparse.Namespace) -> Config:
    return load_config(args.config, parse_set(args.overrides))


def fail(message: str, status: int) -> NoReturn:
    """One line on stderr, no stack trace, and the exit status of SPEC §9."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(status)


def main_guard(main: Callable[[], int]) -> NoReturn:
    """Run a job's main; a config error is a bad-input error (exit 2) with one line."""
    try:
        status = main()
    except ConfigError as exc:
        fail(str(exc), EXIT_BAD_INPUT)
    sys.exit(status)
