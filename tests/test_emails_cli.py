"""The command line around emails: per-site settings, and `serve --demo` putting the sequence in
the mail folder so a newcomer can see it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path

import pytest

from tests.support.net import free_port, wait_for_http

ROOT = Path(__file__).resolve().parents[1]


def run(env, *args):
    return subprocess.run([sys.executable, "-m", "sidecar", *args], cwd=ROOT, env=env, capture_output=True, text=True)


@pytest.fixture
def env(tmp_path):
    return {**os.environ, "FAREWELL_DATA_DIR": str(tmp_path / "var"),
            "FAREWELL_SECRET_KEY": "cli-secret-key-24-chars!"}


@pytest.fixture
def site_id(env):
    added = run(env, "sites", "add", "--url", "http://localhost", "--name", "Mon Club", "--locale", "fr_FR",
                "--timezone", "Europe/Paris")
    return json.loads(added.stdout)["site_id"]


def test_sites_set_checks_and_stores_the_email_settings(env, site_id):
    result = run(env, "sites", "set", site_id, "--support-email", "aide@club.example",
                 "--postal-address", r"12 rue des Lilas\n75011 Paris", "--discount-percent", "25")
    assert result.returncode == 0, result.stderr
    settings = json.loads(result.stdout)
    assert settings["postal_address"] == "12 rue des Lilas\n75011 Paris"
    assert (settings["discount_percent"], settings["coupon_days"]) == (25, 14)
    bad = run(env, "sites", "set", site_id, "--support-email", "not an address")
    assert bad.returncode == 2 and bad.stderr.startswith("error: support_email must be an email address")
    assert run(env, "sites", "set", site_id, "--discount-percent", "95").returncode == 2
    assert run(env, "sites", "set", "site_nope", "--coupon-days", "3").returncode == 2
    reset = json.loads(run(env, "sites", "set", site_id, "--discount-percent", "").stdout)
    assert reset["discount_percent"] == 20 and reset["support_email"] == "aide@club.example"


def test_serve_demo_puts_the_farewell_in_its_own_mail_folder_and_leaves_the_real_site_alone(env, site_id, tmp_path):
    var = tmp_path / "var"
    real_database = (var / "farewell.db").read_bytes()
    port = free_port()
    # FAREWELL_DATABASE_URL names the real database: the demo keeps to its own folder all the same.
    demo_env = {**env, "FAREWELL_DATABASE_URL": f"sqlite:///{var / 'farewell.db'}"}
    demo_env.pop("FAREWELL_PUBLIC_URL", None)
    process = subprocess.Popen([sys.executable, "-m", "sidecar", "serve", "--demo", "--port", str(port)], cwd=ROOT,
                               env=demo_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/healthz", process=process)
        deadline = time.monotonic() + 60  # returns as soon as the farewell is written
        mail = var / "demo" / "mail" / "new"
        while time.monotonic() < deadline and not list(mail.glob("*.eml")):
            time.sleep(0.2)
        [first, *_] = sorted(mail.glob("*.eml"))
        message = message_from_bytes(first.read_bytes(), policy=default_policy)
        assert message["Subject"] == "Your Demo membership site cancellation is confirmed"
        # FAREWELL_PUBLIC_URL is unset: links point where the server is, on its port.
        assert f"http://127.0.0.1:{port}/u/" in message.get_body(("plain",)).get_content()
    finally:
        process.terminate()
        process.wait(timeout=15)
    assert (var / "farewell.db").read_bytes() == real_database
    assert not (var / "mail").exists()
    listed = [json.loads(line) for line in run(env, "sites", "list").stdout.splitlines()]
    assert [site["site_id"] for site in listed] == [site_id]
