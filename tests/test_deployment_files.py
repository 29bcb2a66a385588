"""The compose file is valid for Debian's docker-compose (no engine runs here, so only validation)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def compose_config(compose_file: Path, env_file: Path | None):
    docker_compose = shutil.which("docker-compose")
    assert docker_compose, "docker-compose is missing: run `make test`, which installs it"
    args = [docker_compose, "-f", str(compose_file)]
    if env_file:
        args += ["--env-file", str(env_file)]
    return subprocess.run([*args, "config", "-q"], capture_output=True, text=True, cwd=compose_file.parent,
                          env={"PATH": "/usr/bin:/bin"}, timeout=60)


def test_the_compose_file_validates_with_the_example_env():
    result = compose_config(ROOT / "docker-compose.yml", ROOT / ".env.example")
    assert result.returncode == 0, result.stderr


def test_the_compose_file_refuses_to_run_without_secrets(tmp_path):
    empty = tmp_path / "empty.env"
    empty.write_text("")
    result = compose_config(ROOT / "docker-compose.yml", empty)
    assert result.returncode != 0
    assert "set MARIADB_ROOT_PASSWORD" in result.stderr or "set FAREWELL_DB_PASSWORD" in result.stderr


def test_the_validator_would_catch_a_broken_file(tmp_path):
    broken = tmp_path / "docker-compose.yml"
    broken.write_text((ROOT / "docker-compose.yml").read_text().replace("restart: unless-stopped", "restartt: 1", 1))
    assert compose_config(broken, ROOT / ".env.example").returncode != 0


@pytest.mark.parametrize("service", ["mariadb", "sidecar", "jobs", "wordpress", "mailpit"])
def test_every_service_of_the_stack_is_there(service):
    assert f"\n  {service}:\n" in (ROOT / "docker-compose.yml").read_text()
