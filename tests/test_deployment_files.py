"""The compose file is valid for Debian's docker-compose, and says what docs/DEPLOY.md promises.

No docker engine runs here: this validates and reads the resolved configuration, it starts nothing."""

from __future__ import annotations

import functools
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


@pytest.mark.parametrize("service", ["mariadb", "migrate", "sidecar", "jobs", "proxy", "wordpress", "mailpit"])
def test_every_service_of_the_stack_is_there(service):
    assert f"\n  {service}:\n" in (ROOT / "docker-compose.yml").read_text()


def resolved(env: dict[str, str] | None = None) -> dict:
    """The compose file as docker-compose resolves it with the example env (plus ``env``)."""
    return _resolved(tuple(sorted((env or {}).items())))


@functools.lru_cache(maxsize=None)
def _resolved(env: tuple) -> dict:
    import yaml

    result = subprocess.run([shutil.which("docker-compose"), "-f", str(ROOT / "docker-compose.yml"), "--env-file",
                             str(ROOT / ".env.example"), "config"], capture_output=True, text=True, cwd=ROOT,
                            env={"PATH": "/usr/bin:/bin", **dict(env)}, timeout=60)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)["services"]


def test_web_and_jobs_run_as_replicas_set_from_the_environment():
    services = resolved()
    assert services["sidecar"]["deploy"]["replicas"] == 2
    assert services["jobs"]["deploy"]["replicas"] == 2
    scaled = resolved({"SIDECAR_REPLICAS": "5", "JOBS_REPLICAS": "3"})
    assert (scaled["sidecar"]["deploy"]["replicas"], scaled["jobs"]["deploy"]["replicas"]) == (5, 3)


def test_only_the_proxy_publishes_a_port_and_the_sidecar_trusts_exactly_that_hop():
    services = resolved()
    assert "ports" not in services["sidecar"]  # replicas could not share one host port
    assert services["proxy"]["ports"][0]["target"] == 80
    assert services["sidecar"]["environment"]["FAREWELL_TRUSTED_PROXIES"] == "1"
    assert any("deploy/nginx.conf:/etc/nginx/conf.d/default.conf" in volume for volume in services["proxy"]["volumes"])
    nginx = (ROOT / "deploy" / "nginx.conf").read_text()
    assert "server sidecar:8000" in nginx and "X-Forwarded-Proto" in nginx
    assert "location = /metrics" in nginx  # never published through the proxy


def test_the_schema_is_migrated_once_before_web_and_jobs_start():
    services = resolved()
    assert services["migrate"]["command"] == ["python", "-m", "sidecar", "migrate"]
    for service in ("sidecar", "jobs"):
        assert services[service]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


@pytest.mark.parametrize("service", ["mariadb", "sidecar", "jobs", "proxy"])
def test_every_long_running_service_has_a_healthcheck(service):
    assert "/healthz" in " ".join(resolved()[service]["healthcheck"]["test"]) or service == "mariadb"


def test_the_image_serves_with_the_gunicorn_config_and_its_access_log_stays_off():
    assert "gunicorn -c deploy/gunicorn.conf.py" in (ROOT / "Dockerfile").read_text()
    config = (ROOT / "deploy" / "gunicorn.conf.py").read_text()
    assert "accesslog = None" in config and '"gunicorn.access": {"level": "CRITICAL"' in config
    assert "def child_exit" in config and "mark_process_dead" in config


def test_the_sidecar_may_call_the_stacks_wordpress_and_no_other_private_address():
    """WordPress has a fixed address on the compose network; FAREWELL_BRIDGE_ALLOWED_NETWORKS allows
    that address only (not the whole network, where MariaDB and Mailpit are), and the sidecar reads it."""
    import ipaddress

    import yaml

    from sidecar.config import bridge_allowed_networks

    result = subprocess.run([shutil.which("docker-compose"), "-f", str(ROOT / "docker-compose.yml"), "--env-file",
                             str(ROOT / ".env.example"), "config"], capture_output=True, text=True, cwd=ROOT,
                            env={"PATH": "/usr/bin:/bin"}, timeout=60)
    assert result.returncode == 0, result.stderr
    stack = yaml.safe_load(result.stdout)
    [subnet] = [ipaddress.ip_network(c["subnet"]) for c in stack["networks"]["default"]["ipam"]["config"]]
    wordpress = ipaddress.ip_address(stack["services"]["wordpress"]["networks"]["default"]["ipv4_address"])
    assert wordpress in subnet
    for service in ("migrate", "sidecar", "jobs"):
        allowed = bridge_allowed_networks(stack["services"][service]["environment"]["FAREWELL_BRIDGE_ALLOWED_NETWORKS"])
        assert allowed == (ipaddress.ip_network(f"{wordpress}/32"),), service
