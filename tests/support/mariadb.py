"""A throw-away MariaDB server for the tests: its own data folder, a free port, no systemd."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from .net import free_port
from .processes import stop_gracefully


class MariaDB:
    host = "127.0.0.1"
    user = "root"
    password = ""

    def __init__(self, base_dir: Path):
        self.base_dir = Path(base_dir)
        self.datadir = self.base_dir / "data"
        self.socket = self.base_dir / "mariadb.sock"
        self.log = self.base_dir / "mariadb.log"
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def start(self) -> "MariaDB":
        for tool in ("mariadb-install-db", "mariadbd", "mariadb"):
            if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
                raise RuntimeError(f"{tool} is missing: run `make test` (it installs mariadb-server)")
        if not self.datadir.exists():
            self.base_dir.mkdir(parents=True, exist_ok=True)
            subprocess.run(
                ["mariadb-install-db", "--no-defaults", "--user=root", f"--datadir={self.datadir}",
                 "--auth-root-authentication-method=normal", "--skip-test-db"],
                check=True, capture_output=True,
            )
        self.process = subprocess.Popen(
            [_mariadbd(), "--no-defaults", "--user=root", f"--datadir={self.datadir}", f"--socket={self.socket}",
             f"--port={self.port}", "--bind-address=127.0.0.1", f"--log-error={self.log}",
             "--innodb-buffer-pool-size=256M",
             # Throw-away data: trade durability for speed, as tests restart nothing mid-commit
             # except on purpose (those tests restart cleanly with shutdown).
             "--innodb-flush-log-at-trx-commit=2", "--skip-log-bin", "--max-connections=500"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        self._wait_ready()
        return self

    def _wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mariadbd exited with {self.process.returncode}; see {self.log}")
            if self.sql("SELECT 1", check=False).returncode == 0:
                return
            time.sleep(0.2)
        raise TimeoutError(f"MariaDB did not start within {timeout} s; see {self.log}")

    def sql(self, statement: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["mariadb", "--no-defaults", f"--socket={self.socket}", "-uroot", "-e", statement],
            check=check, capture_output=True, text=True,
        )

    def url(self, database: str) -> str:
        return f"mysql+mysqlconnector://root@{self.host}:{self.port}/{database}?charset=utf8mb4"

    def create_database(self, name: str) -> str:
        self.sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drops it even when a test that failed left a session inside it: that session's open
        transaction would hold a metadata lock, and DROP DATABASE waits for it (lock_wait_timeout,
        a year by default) — a whole suite hung there once."""
        sessions = self.sql(f"SELECT id FROM information_schema.PROCESSLIST WHERE db = '{name}'").stdout.split()[1:]
        for session in sessions:
            self.sql(f"KILL {int(session)}", check=False)  # it may have ended meanwhile
        self.sql(f"SET SESSION lock_wait_timeout = 60; DROP DATABASE IF EXISTS `{name}`")

    def stop(self) -> None:
        """A clean shutdown; the data folder stays, so start() brings the same data back."""
        stop_gracefully(self.process, timeout=60)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


def _mariadbd() -> str:
    return shutil.which("mariadbd") or "/usr/sbin/mariadbd"

