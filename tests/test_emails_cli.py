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
    return {**os.environ, "FAREWELL_DATA_DIR": str(tmp_path / "var"), "FAREWELL_SECRET_KEY": "cli-secret"}


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


def test_serve_demo_puts_the_farewell_in_the_mail_folder(env, site_id, tmp_path):
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "sidecar", "serve", "--demo", "--port", str(port)], cwd=ROOT,
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/healthz", process=process)
        deadline = time.monotonic() + 20
        mail = tmp_path / "var" / "mail" / "new"
        while time.monotonic() < deadline and not list(mail.glob("*.eml")):
            time.sleep(0.2)
        [first, *_] = sorted(mail.glob("*.eml"))
        message = message_from_bytes(first.read_bytes(), policy=default_policy)
        assert message["Subject"] == "Votre résiliation Mon Club est confirmée"
    finally:
        process.terminate()
        process.wait(timeout=15)
