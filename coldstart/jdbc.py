"""JDBC plumbing for the MySQL source and sink: credentials, connections, DDL, clean errors.

Credentials come from the environment only (`COLDSTART_DB_USER`, `COLDSTART_DB_PASSWORD`):
a command line is visible to every user of the machine and lands in shell histories and
Spark's logs. Every error that leaves this module is a `MysqlError` with one line naming
the URL with any password in it blanked out.
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from py4j.protocol import Py4JError, Py4JJavaError
from pyspark.errors import PySparkException
from pyspark.sql import SparkSession

from coldstart.resources import project_text

ENV_USER = "COLDSTART_DB_USER"
ENV_PASSWORD = "COLDSTART_DB_PASSWORD"
# another driver (e.g. MySQL's own com.mysql.cj.jdbc.Driver) goes with its jar in COLDSTART_JDBC_JAR
ENV_DRIVER = "COLDSTART_JDBC_DRIVER"
DEFAULT_DRIVER = "org.mariadb.jdbc.Driver"
# an unreachable host should fail the run quickly, not after the driver's default of minutes
LOGIN_TIMEOUT_S = 10
SCHEMA_SQL = "conf/sql/schema.sql"
SPARK_DRIVER_REGISTRY = "org.apache.spark.sql.execution.datasources.jdbc.DriverRegistry"
REDACTED = "***"
# `password=...` in a query string, `user:password@` in an authority
_URL_SECRETS = (
    re.compile(r"(?i)((?:password|pwd)=)[^&;]*"),
    re.compile(r"(//[^/:@]*:)[^/@]*(@)"),
)


class MysqlError(Exception):
    """A database that cannot be reached, read or written (the job exits with status 2)."""


def redact_url(url: str) -> str:
    """`jdbc:mysql://u:pw@h/db?password=pw` -> `jdbc:mysql://u:***@h/db?password=***`."""
    url = _URL_SECRETS[0].sub(rf"\g<1>{REDACTED}", url)
    return _URL_SECRETS[1].sub(rf"\g<1>{REDACTED}\g<2>", url)


@dataclass(frozen=True)
class Jdbc:
    """Where and as whom to connect. `repr` leaves the password out."""

    url: str
    user: str
    password: str
    driver: str = DEFAULT_DRIVER

    @classmethod
    def from_env(cls, url: str) -> Jdbc:
        return cls(url, os.environ.get(ENV_USER, ""), os.environ.get(ENV_PASSWORD, ""),
                   os.environ.get(ENV_DRIVER, DEFAULT_DRIVER))

    @property
    def safe_url(self) -> str:
        return redact_url(self.url)

    def __repr__(self) -> str:
        return f"Jdbc(url={self.safe_url!r}, user={self.user!r}, driver={self.driver!r})"

    def credentials(self) -> dict[str, str]:
        """user and password as JDBC properties; unset ones are left to the URL."""
        return {k: v for k, v in (("user", self.user), ("password", self.password)) if v}

    def spark_options(self) -> dict[str, str]:
        """Options of Spark's JDBC data source (Spark redacts `password` in its own logs)."""
        return {"url": self.url, "driver": self.driver, **self.credentials()}

    def scrub(self, text: str) -> str:
        """A driver message with the password blanked out wherever it appears."""
        text = text.replace(self.url, self.safe_url)
        return text.replace(self.password, REDACTED) if self.password else text


def _first_line(exc: BaseException) -> str:
    if isinstance(exc, Py4JJavaError):
        message = str(exc.java_exception.getMessage() or exc.java_exception.toString())
    elif isinstance(exc, PySparkException):
        message = exc.getMessage() if hasattr(exc, "getMessage") else str(exc)
    else:
        message = str(exc)
    lines = [line.strip() for line in str(message).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


@contextmanager
def translated(jdbc: Jdbc, action: str) -> Iterator[None]:
    """Turn a JVM/Spark failure into `MysqlError('<action> <url>: <first line>')`."""
    try:
        yield
    except MysqlError:
        raise
    except (Py4JJavaError, Py4JError, PySparkException) as exc:
        raise MysqlError(jdbc.scrub(f"{action} {jdbc.safe_url}: {_first_line(exc)}")) from None


def _jvm(spark: SparkSession) -> Any:
    return spark.sparkContext._jvm


@contextmanager
def connection(spark: SparkSession, jdbc: Jdbc) -> Iterator[Any]:
    """A `java.sql.Connection` on the driver, in autocommit (each DDL statement is its own)."""
    jvm = _jvm(spark)
    with translated(jdbc, "cannot connect to"):
        try:
            # the jar comes through spark.jars (a child class loader): Spark's registry wraps the
            # driver so that java.sql.DriverManager accepts it, as Spark's own JDBC reads do
            getattr(jvm, SPARK_DRIVER_REGISTRY).register(jdbc.driver)
        except Py4JJavaError as exc:
            raise MysqlError(f"JDBC driver {jdbc.driver} not found (its jar is added by spark-submit.sh "
                             f"from COLDSTART_JDBC_JAR): {_first_line(exc)}") from None
        props = jvm.java.util.Properties()
        for key, value in jdbc.credentials().items():
            props.setProperty(key, value)
        jvm.java.sql.DriverManager.setLoginTimeout(LOGIN_TIMEOUT_S)
        conn = jvm.java.sql.DriverManager.getConnection(jdbc.url, props)
    try:
        yield conn
    finally:
        conn.close()


def execute(conn: Any, statements: list[str]) -> None:
    stmt = conn.createStatement()
    try:
        for sql in statements:
            stmt.execute(sql)
    finally:
        stmt.close()


def query_row(conn: Any, sql: str, columns: int) -> tuple[Any, ...] | None:
    """The first row of a query as Python values (None without rows)."""
    stmt = conn.createStatement()
    try:
        rs = stmt.executeQuery(sql)
        if not rs.next():
            return None
        return tuple(rs.getObject(i + 1) for i in range(columns))
    finally:
        stmt.close()


def check_connection(spark: SparkSession, jdbc: Jdbc) -> None:
    """Fail fast, before any work, when the server is unreachable or refuses the credentials."""
    with connection(spark, jdbc) as conn, translated(jdbc, "cannot query"):
        query_row(conn, "SELECT 1", 1)


def schema_statements(path: Path | None = None) -> list[str]:
    """The DDL of `conf/sql/schema.sql`, one statement per item (`--` comments dropped)."""
    ddl = path.read_text(encoding="utf-8") if path else project_text(SCHEMA_SQL)
    text = "\n".join(line.split("--", 1)[0] for line in ddl.splitlines())
    return [s.strip() for s in text.split(";") if s.strip()]


def ensure_schema(spark: SparkSession, jdbc: Jdbc, path: Path | None = None) -> None:
    """Create the tables of SPEC §8 that do not exist yet (the DDL is idempotent)."""
    with connection(spark, jdbc) as conn, translated(jdbc, "cannot create the schema in"):
        execute(conn, schema_statements(path))
