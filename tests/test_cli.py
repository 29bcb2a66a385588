"""The command line: machine-readable output on stdout, one clear error line otherwise."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import run

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def cli(db_url, tmp_path):
    return lambda *args: run(*args, env_extra={"FAREWELL_DATABASE_URL": db_url}, data_dir=tmp_path)


def test_sites_add_prints_one_json_object(cli):
    result = cli("sites", "add", "--url", "https://club.example.org", "--name", "Le Club",
                 "--timezone", "Europe/Paris", "--locale", "fr_FR")
    assert result.returncode == 0, result.stderr
    created = json.loads(result.stdout)
    assert set(created) == {"site_id", "secret"}
    assert created["secret"].startswith("whsec_")
    listed = [json.loads(line) for line in cli("sites", "list").stdout.splitlines()]
    assert [(s["site_id"], s["name"], s["timezone"], s["locale"]) for s in listed] == [
        (created["site_id"], "Le Club", "Europe/Paris", "fr_FR")
    ]
    assert "secret" not in json.dumps(listed)


def test_sites_add_if_none_adds_only_the_first(cli):
    first = cli("sites", "add", "--url", "https://a.example.org", "--name", "A", "--if-none")
    assert json.loads(first.stdout)["site_id"]
    second = cli("sites", "add", "--url", "https://b.example.org", "--name", "B", "--if-none")
    assert second.returncode == 0 and second.stdout == ""
    assert len(cli("sites", "list").stdout.splitlines()) == 1


def test_rotate_secret_prints_a_new_secret(cli):
    created = json.loads(cli("sites", "add", "--url", "https://a.example.org", "--name", "A").stdout)
    rotated = cli("sites", "rotate-secret", created["site_id"])
    assert rotated.returncode == 0
    assert rotated.stdout.strip().startswith("whsec_") and rotated.stdout.strip() != created["secret"]
    assert "24 hours" in rotated.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (("sites", "add", "--url", "ftp://x", "--name", "X"), "--url"),
        (("sites", "add", "--url", "https://x.org", "--name", "X", "--timezone", "Mars/Olympus"), "--timezone"),
        (("sites", "add", "--url", "https://x.org", "--name", " "), "--name"),
        (("sites", "rotate-secret", "site_nope"), "no site"),
    ],
)
def test_bad_arguments_give_one_error_line_and_exit_2(cli, args, message):
    result = cli(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unreachable_database_is_one_clear_line(tmp_path):
    url = "mysql+mysqlconnector://farewell:s3cret@127.0.0.1:1/farewell"
    result = run("sites", "list", env_extra={"FAREWELL_DATABASE_URL": url}, data_dir=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("error: cannot reach the database at mysql+mysqlconnector://farewell:***@")
    assert "s3cret" not in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unsupported_database_url_is_refused(tmp_path):
    result = run("migrate", env_extra={"FAREWELL_DATABASE_URL": "postgresql://x/y"}, data_dir=tmp_path)
    assert result.returncode == 1
    assert "FAREWELL_DATABASE_URL" in result.stderr


def test_the_secret_key_is_generated_once_and_kept(tmp_path):
    from sidecar import config

    first = config.load({"FAREWELL_DATA_DIR": str(tmp_path)})["SECRET_KEY"]
    again = config.load({"FAREWELL_DATA_DIR": str(tmp_path)})["SECRET_KEY"]
    assert first == again and len(first) > 40
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("name", ["FAREWELL_SECRET_KEY", "FAREWELL_ADMIN_TOKEN", "FAREWELL_METRICS_TOKEN"])
def test_a_short_secret_in_the_environment_stops_the_start_up_with_one_line(tmp_path, name):
    """A placeholder or a test value copied to production would open the admin API or forge links."""
    result = run("sites", "list", env_extra={name: "change-me-token"}, data_dir=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {name} is 15 characters long; use at least 24") and \
        "Traceback" not in result.stderr
    assert "change-me-token" not in result.stderr
    assert run("sites", "list", env_extra={name: "x" * 24}, data_dir=tmp_path).returncode == 0


def test_a_stored_secret_key_emptied_by_hand_is_refused(tmp_path):
    (tmp_path / "secret_key").write_text("\n")
    result = run("sites", "list", data_dir=tmp_path)
    assert result.returncode == 2 and "secret_key holds 0 characters; it needs at least 24" in result.stderr


def test_jobs_starts_and_exits_cleanly(tmp_path):
    env = {**os.environ, "FAREWELL_DATA_DIR": str(tmp_path)}
    env.pop("FAREWELL_DATABASE_URL", None)
    result = subprocess.run([sys.executable, "-m", "jobs", "--once"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "jobs stopped" in result.stderr


def test_wordpress_mail_needs_a_real_sender_address(tmp_path):
    result = run("sites", "list", env_extra={"FAREWELL_MAIL_URL": "wordpress://"}, data_dir=tmp_path)
    assert result.returncode == 2
    assert "FAREWELL_MAIL_FROM must be a real address" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("host, port, public_url", [
    ("127.0.0.1", 8000, "http://127.0.0.1:8000"),
    ("192.168.1.20", 8080, "http://192.168.1.20:8080"),
    ("farewell.lan", 9000, "http://farewell.lan:9000"),
    # Every interface is no one address: links use the loopback one (and `serve` says so).
    ("0.0.0.0", 8080, "http://127.0.0.1:8080"),
    ("::", 8080, "http://[::1]:8080"),
])
def test_the_public_url_defaults_to_the_address_served(tmp_path, host, port, public_url):
    from sidecar import config

    env = {"FAREWELL_DATA_DIR": str(tmp_path)}
    assert config.load(env, served_at=(host, port))["FAREWELL_PUBLIC_URL"] == public_url
    explicit = config.load({**env, "FAREWELL_PUBLIC_URL": "https://farewell.example.org/"}, served_at=(host, port))
    assert explicit["FAREWELL_PUBLIC_URL"] == "https://farewell.example.org"


def test_make_run_takes_host_and_port(tmp_path):
    def served(*variables):
        # Under `make test` the environment carries MAKELEVEL and MAKEFLAGS: a nested make would then
        # print "Entering/Leaving directory" lines around the recipe.
        outer = {k: v for k, v in os.environ.items() if k not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS")}
        dry = subprocess.run(["make", "--no-print-directory", "-n", "run", *variables], cwd=ROOT,
                             capture_output=True, text=True, env={**outer, "HOST": "a-shell-hostname"}, timeout=60)
        return dry.stdout.splitlines()[-1]

    assert served().endswith("-m sidecar serve --host 127.0.0.1 --port 8000")
    assert served("HOST=0.0.0.0", "PORT=8080").endswith("-m sidecar serve --host 0.0.0.0 --port 8080")


def test_sites_add_if_none_adds_nothing_in_demo_mode(tmp_path):
    # `FAREWELL_DEMO=1 make run`: the demo makes its own site in its own folder, at every start.
    result = run("sites", "add", "--url", "http://localhost", "--name", "My membership site", "--if-none",
                 env_extra={"FAREWELL_DEMO": "1"}, data_dir=tmp_path)
    assert result.returncode == 0 and result.stdout == "" and "demo" in result.stderr
    assert not (tmp_path / "farewell.db").exists() and not (tmp_path / "demo" / "farewell.db").exists()
