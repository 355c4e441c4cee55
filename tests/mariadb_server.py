"""A private MariaDB server for the tests: temp datadir, free port on 127.0.0.1, one database and user.

The server is Debian's `mariadb-server`, started by hand (apt does not start it, and
the tests must not touch a system instance). Ready in about a second; `stop()`
shuts it down and removes its data directory.
"""
from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

# Debian puts the server in /usr/sbin, which is not on every PATH
SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin"])
BINARIES = {
    "server": ("mariadbd", "mysqld"),
    "install": ("mariadb-install-db", "mysql_install_db"),
    "client": ("mariadb", "mysql"),
    "admin": ("mariadb-admin", "mysqladmin"),
}
READY_TIMEOUT_S = 30.0
POLL_S = 0.1
SHUTDOWN_TIMEOUT_S = 20.0
# small and unsafe on power loss: a throwaway test server
SERVER_TUNING = (
    "--innodb-buffer-pool-size=32M",
    "--innodb-log-file-size=16M",
    "--innodb-flush-log-at-trx-commit=0",
    "--skip-log-bin",
    "--max-connections=50",
)


class ServerUnavailable(RuntimeError):
    """The MariaDB binaries are not installed (the tests skip, or fail when MySQL is required)."""


def find_binaries() -> dict[str, str]:
    found: dict[str, str] = {}
    for role, names in BINARIES.items():
        path = next((p for p in (shutil.which(n, path=SEARCH_PATH) for n in names) if p), None)
        if path is None:
            raise ServerUnavailable(f"no {' or '.join(names)} on PATH or in /usr/sbin (apt-get install mariadb-server)")
        found[role] = path
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class MariaDbServer:
    """One running server; `url` is what the job takes, `user`/`password` what it reads from the env."""

    binaries: dict[str, str]
    base: Path
    port: int
    process: subprocess.Popen | None = None
    database: str = "coldstart"
    user: str = "coldstart"
    password: str = ""

    @property
    def datadir(self) -> Path:
        return self.base / "data"

    @property
    def socket(self) -> Path:
        return self.base / "mysqld.sock"

    @property
    def url(self) -> str:
        return f"jdbc:mysql://127.0.0.1:{self.port}/{self.database}"

    def env(self) -> dict[str, str]:
        """Credentials the way the job reads them."""
        return {"COLDSTART_DB_USER": self.user, "COLDSTART_DB_PASSWORD": self.password}

    def sql(self, statements: str) -> str:
        """Run SQL as root over the socket; tab-separated output without headers."""
        result = subprocess.run(
            [self.binaries["client"], "--no-defaults", f"--socket={self.socket}", "-uroot",
             "--batch", "--skip-column-names", "-e", statements],
            capture_output=True, text=True, check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"mariadb client failed: {result.stderr.strip()}")
        return result.stdout

    def _install(self) -> None:
        self.datadir.mkdir(parents=True)
        subprocess.run(
            [self.binaries["install"], "--no-defaults", f"--datadir={self.datadir}",
             "--auth-root-authentication-method=normal", "--skip-test-db", *self._user_arg()],
            capture_output=True, text=True, check=True,
        )

    @staticmethod
    def _user_arg() -> list[str]:
        # mariadbd refuses to run as root unless told to
        return ["--user=root"] if os.geteuid() == 0 else []

    def _launch(self) -> None:
        log = open(self.base / "mariadbd.log", "w")  # noqa: SIM115 (kept open for the server's lifetime)
        self.process = subprocess.Popen(
            [self.binaries["server"], "--no-defaults", f"--datadir={self.datadir}", f"--socket={self.socket}",
             f"--port={self.port}", "--bind-address=127.0.0.1", "--skip-name-resolve",
             "--character-set-server=utf8mb4", "--collation-server=utf8mb4_unicode_ci",
             f"--pid-file={self.base / 'mariadbd.pid'}", *SERVER_TUNING, *self._user_arg()],
            stdout=log, stderr=subprocess.STDOUT,
        )
        log.close()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"mariadbd exited: {(self.base / 'mariadbd.log').read_text()[-2000:]}")
            ping = subprocess.run([self.binaries["admin"], "--no-defaults", f"--socket={self.socket}",
                                   "-uroot", "ping"], capture_output=True, check=False)
            if ping.returncode == 0:
                return
            time.sleep(POLL_S)
        raise RuntimeError(f"mariadbd not ready after {READY_TIMEOUT_S:.0f} s")

    def _create_database(self) -> None:
        # --skip-name-resolve: the account host must be the address, not `localhost`
        self.sql(
            f"CREATE DATABASE {self.database} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;"
            f"CREATE USER '{self.user}'@'127.0.0.1' IDENTIFIED BY '{self.password}';"
            f"GRANT ALL PRIVILEGES ON {self.database}.* TO '{self.user}'@'127.0.0.1';"
        )

    def start(self) -> MariaDbServer:
        self._install()
        self._launch()
        self._wait_ready()
        self._create_database()
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            subprocess.run([self.binaries["admin"], "--no-defaults", f"--socket={self.socket}", "-uroot",
                            "shutdown"], capture_output=True, check=False)
            try:
                self.process.wait(timeout=SHUTDOWN_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.base, ignore_errors=True)


def start_server() -> MariaDbServer:
    """Install a fresh datadir under /tmp (short: the socket path has a length limit) and start."""
    binaries = find_binaries()
    base = Path(tempfile.mkdtemp(prefix="coldstart-mariadb-"))
    server = MariaDbServer(binaries, base, free_port(), password=secrets.token_urlsafe(12))
    try:
        return server.start()
    except Exception:
        server.stop()
        raise
