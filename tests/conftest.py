"""One local SparkSession per pytest worker (`make test` runs two; each extra session costs ~5 s)."""
from __future__ import annotations

import os
import shlex
import sys
import time

import pytest

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
os.environ["PYSPARK_PYTHON"] = sys.executable
os.environ.pop("SPARK_HOME", None)
# naive datetimes in test frames mean UTC, whatever the machine says
os.environ["TZ"] = "UTC"
time.tzset()  # a stale SPARK_HOME would win over the venv's pyspark

# short-lived JVMs on tiny data (this session, and the jobs tests start as subprocesses): the
# JIT's optimising tier (C2) costs more CPU than it saves
QUICK_JIT = "-XX:TieredStopAtLevel=1"
# small shuffles: test frames have a handful of rows
TEST_SPARK_CONF = {
    "spark.master": "local[2]",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.driver.memory": "2g",
    "spark.driver.extraJavaOptions": QUICK_JIT,
    # compiling each query's generated code (Janino) and re-planning it at every stage (adaptive
    # execution) cost more than they save here too: this session runs the same queries
    # interpreted and statically planned, as Spark's own suites also do; results do not depend
    # on either. The cluster test's job (spark-submit.sh) and the MySQL CLI tests' jobs keep
    # Spark's defaults (codegen and AQE on): the cluster test compares that run with this session's.
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.codegen.factoryMode": "NO_CODEGEN",
    "spark.sql.adaptive.enabled": "false",
}


# The slowest files first (each runs whole in one pytest worker, `--dist loadfile`), so that the two
# workers finish together; a file not listed runs after these, in collection order.
SLOWEST_FIRST = ("test_evaluation.py", "test_profiles.py", "test_validation.py", "test_bad_input.py",
                 "test_cluster.py", "test_end_to_end.py", "test_dirty_data.py", "test_mysql.py", "test_peer.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return SLOWEST_FIRST.index(name) if name in SLOWEST_FIRST else len(SLOWEST_FIRST)

    items.sort(key=rank)  # stable: a file's tests keep their order


def submit_args() -> str:
    """PYSPARK_SUBMIT_ARGS for a job started as a subprocess that should run as this session does."""
    confs = (f"--conf {shlex.quote(f'{key}={value}')}" for key, value in TEST_SPARK_CONF.items())
    return " ".join(confs) + " pyspark-shell"


@pytest.fixture(scope="session")
def spark():
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName("coldstart-tests")
    for key, value in TEST_SPARK_CONF.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


# The MariaDB JDBC driver (Debian's libmariadb-java) for the `mysql` tests; it must be on the
# classpath when the session starts. Without it those tests skip (or fail under COLDSTART_REQUIRE_MYSQL=1).
MARIADB_JDBC_JAR = os.environ.get("COLDSTART_JDBC_JAR", "/usr/share/java/mariadb-java-client.jar")
if os.path.isfile(MARIADB_JDBC_JAR):
    TEST_SPARK_CONF["spark.jars"] = MARIADB_JDBC_JAR


@pytest.fixture(autouse=True)
def _release_cached_frames():
    """Each job run persists its users, catalog and results; one long session would pile them up."""
    yield
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        active.catalog.clearCache()
