"""The real sidecar as a separate process (``python -m sidecar serve``), for end-to-end tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import requests

from .applier import settle
from .net import LOOPBACK_ALLOWED, free_port, wait_for_http
from .processes import stop_gracefully

ROOT = Path(__file__).resolve().parents[2]
# The tree this module belongs to. A test may point ROOT at another (test_outbox_backlog runs an
# older sidecar from its own tree): that sidecar's site is then added by its own CLI.
THIS_TREE = ROOT



class SidecarProcess:
    def __init__(self, database_url: str, data_dir: Path, admin_token: str = "e2e-admin-token-24-chars",
                 extra_env=None, site: tuple[str, str] | None = None, serve_args=()):
        """``site`` = (site id, secret) of an existing site: a second process for the same site.
        ``serve_args``: more options for ``serve``, e.g. ``("--no-jobs",)``."""
        self.serve_args = list(serve_args)
        self.database_url = database_url
        self.data_dir = Path(data_dir)
        self.admin_token = admin_token
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "FAREWELL_DATABASE_URL": database_url,
            "FAREWELL_DATA_DIR": str(self.data_dir),
            "FAREWELL_ADMIN_TOKEN": admin_token,
            "FAREWELL_PUBLIC_URL": self.url,
            # The test WordPress sites listen on 127.0.0.1.
            "FAREWELL_BRIDGE_ALLOWED_NETWORKS": LOOPBACK_ALLOWED,
            **(extra_env or {}),
        }
        self.process: subprocess.Popen | None = None
        self.log_path = self.data_dir / "sidecar.log"
        if site is not None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        self.site_id, self.secret = site or self._add_site()

    def _cli(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "sidecar", *args], cwd=ROOT, env=self.env, capture_output=True, text=True
        )
        if result.returncode != 0:
            raise RuntimeError(f"sidecar {' '.join(args)} failed: {result.stderr}")
        return result.stdout

    def _add_site(self) -> tuple[str, str]:
        """What `sidecar sites add` does (its database migrated, then the site added, with this
        process's settings), done in the tests' own process: run as a command, the sidecar's imports
        alone took 2 s on a loaded machine, for each of the suite's 80-odd sidecars. The command itself
        is tested in test_cli.py."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if ROOT != THIS_TREE:
            created = json.loads(self._cli("sites", "add", "--url", "http://wordpress.test", "--name", "E2E site"))
            return created["site_id"], created["secret"]
        from sidecar import config, db
        from sidecar.domain.sites import create_site

        settings = config.load(self.env)
        engine = db.create_engine(settings["FAREWELL_DATABASE_URL"])
        try:
            db.migrate(engine)
            site = create_site(engine, "http://wordpress.test", "E2E site",
                               allowed_networks=settings["FAREWELL_BRIDGE_ALLOWED_NETWORKS"],
                               holdout_percent=settings["FAREWELL_HOLDOUT_PERCENT"])
        finally:
            engine.dispose()
        return site["id"], site["secret"]

    def start(self) -> "SidecarProcess":
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sidecar", "serve", "--port", str(self.port), *self.serve_args],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
        )
        log.close()
        try:
            wait_for_http(self.url + "/healthz", process=self.process)
        except RuntimeError as error:  # it exited: say why (a port taken meanwhile, a bad setting …)
            tail = self.log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{error}\n--- last lines of {self.log_path}:\n{tail}") from None
        return self

    def stop(self) -> None:
        stop_gracefully(self.process, timeout=15)
        self.process = None

    def get(self, path: str, **params) -> requests.Response:
        """A call to the admin API, once the events this sidecar accepted are applied (by its own
        applier thread; with --no-jobs, here, as a jobs process would)."""
        settle(self.database_url, applier_running="--no-jobs" not in self.serve_args)
        return requests.get(
            self.url + path, params=params, headers={"Authorization": f"Bearer {self.admin_token}"}, timeout=10
        )


class JobsProcess:
    """The real jobs process (``python -m jobs``), with a log file; ``kill()`` is SIGKILL."""

    def __init__(self, database_url: str, data_dir: Path, mail_url: str, extra_env=None, args=()):
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.args = list(args)
        self.env = {
            **os.environ,
            "FAREWELL_DATABASE_URL": database_url,
            "FAREWELL_DATA_DIR": str(self.data_dir),
            "FAREWELL_MAIL_URL": mail_url,
            "FAREWELL_PUBLIC_URL": "http://127.0.0.1:9",
            **(extra_env or {}),
        }
        self.log_path = self.data_dir / "jobs.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> "JobsProcess":
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen([sys.executable, "-m", "jobs", *self.args], cwd=ROOT, env=self.env,
                                        stdout=log, stderr=subprocess.STDOUT)
        log.close()
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no clean-up, as in a crash or an OOM kill."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def wait(self, timeout: float) -> int:
        return self.process.wait(timeout=timeout)

    def stop(self) -> None:
        stop_gracefully(self.process, timeout=30)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
