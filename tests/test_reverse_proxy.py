"""The production reverse proxy, for real: deploy/nginx.conf run by nginx in front of two sidecar
replicas, each a gunicorn started with deploy/gunicorn.conf.py and FAREWELL_TRUSTED_PROXIES=1, as
docker-compose.yml runs them (no docker engine needed).

The committed file stays the compose one. The test substitutes only what a local run must change
(the upstream's address, the listen port, a TLS listener for the https case) and wraps it in the
main configuration the nginx image provides (paths for pid, logs and temporary files under the
test's folder). Each substitution must find its text exactly once, so a change to the file that
this test does not follow fails here instead of passing untested.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from sidecar import db
from sidecar.domain.login_tokens import mint
from sidecar.domain.rate_limits import UNSUBSCRIBE, client_bucket
from sidecar.domain.sites import create_site
from sidecar.signing import sign
from sidecar.storage.rate_limits import hits_by_bucket
from sidecar.storage.tables import events
from tests.conftest import ROOT, make_event
from tests.support.net import wait_for_http
from tests.support.processes import stop_gracefully

pytestmark = pytest.mark.slow

SECRET_KEY = "reverse-proxy-test-key-0123"
NGINX_CONF = ROOT / "deploy" / "nginx.conf"


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    assert found, "nginx is missing: run `make test`, which installs it (scripts/install-test-deps)"
    return found


def substitute(text: str, replacements: list[tuple[str, str]]) -> str:
    for old, new in replacements:
        assert text.count(old) == 1, f"deploy/nginx.conf no longer has {old!r} exactly once: update this test"
        text = text.replace(old, new)
    return text


def render(folder: Path, replicas: list[int], port: int, tls_port: int) -> Path:
    """deploy/nginx.conf for a local run, and the main configuration that includes it."""
    servers = "".join(f"    server 127.0.0.1:{replica};\n" for replica in replicas)
    site = substitute(NGINX_CONF.read_text(), [
        # Compose's DNS gives "sidecar" one address per replica: here, one line per replica.
        ("    server sidecar:8000;\n", servers),
        # "Terminate TLS here": a TLS listener beside the plain one, as an operator would add.
        ("    listen 80;\n", f"    listen 127.0.0.1:{port};\n"
                            f"    listen 127.0.0.1:{tls_port} ssl;\n"
                            f"    ssl_certificate {folder / 'cert.pem'};\n"
                            f"    ssl_certificate_key {folder / 'key.pem'};\n"),
    ])
    (folder / "default.conf").write_text(site)
    temp = folder / "temp"
    temp.mkdir()
    # What the nginx image's /etc/nginx/nginx.conf holds around conf.d, with this run's paths.
    (folder / "nginx.conf").write_text(f"""
daemon off;
worker_processes 1;
pid {folder / 'nginx.pid'};
error_log {folder / 'error.log'} notice;
{'user root;' if os.geteuid() == 0 else ''}
events {{ worker_connections 256; }}
http {{
    default_type application/octet-stream;
    keepalive_timeout 65;
    client_body_temp_path {temp / 'body'};
    proxy_temp_path {temp / 'proxy'};
    fastcgi_temp_path {temp / 'fastcgi'};
    uwsgi_temp_path {temp / 'uwsgi'};
    scgi_temp_path {temp / 'scgi'};
    include {folder / 'default.conf'};
}}
""")
    return folder / "nginx.conf"


def distinct_free_ports(count: int) -> list[int]:
    """Free ports, all different: each socket stays bound until every port is chosen (one at a
    time, two replicas could be given the same one, and one would then answer for both)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def json_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]


@dataclass
class Replica:
    port: int
    log_path: Path
    process: subprocess.Popen

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def access(self) -> list[dict]:
        return [line for line in json_lines(self.log_path) if line.get("logger") == "sidecar.access"]

    def stop(self) -> None:
        stop_gracefully(self.process, timeout=30)


@dataclass
class Stack:
    url: str
    https_url: str
    cert: Path
    replicas: list[Replica]
    nginx_log: Path
    checked: subprocess.CompletedProcess
    engine: sa.Engine
    site: dict

    def nginx_request_ids(self, expected: set[str]) -> set[str]:
        """The request ids of nginx's access lines, once they hold ``expected`` (nginx writes a
        line after the response is sent, so it may come just after the client has its answer)."""
        return settled(lambda: {line["request_id"] for line in json_lines(self.nginx_log)}, expected)

    def nginx_lines(self, ids: set[str]) -> list[dict]:
        self.nginx_request_ids(ids)
        return [line for line in json_lines(self.nginx_log) if line["request_id"] in ids]


def settled(read, expected: set, seconds: float = 30.0) -> set:
    """``read()`` once it includes ``expected``, or its last value after ``seconds`` (bounded poll)."""
    deadline = time.monotonic() + seconds
    found = read()
    while not expected <= found and time.monotonic() < deadline:
        time.sleep(0.05)
        found = read()
    return found


def start_replica(folder: Path, database_url: str, public_url: str, name: str, port: int) -> Replica:
    env = {**os.environ, "FAREWELL_DATABASE_URL": database_url, "FAREWELL_DATA_DIR": str(folder),
           "FAREWELL_SECRET_KEY": SECRET_KEY, "FAREWELL_BIND": f"127.0.0.1:{port}", "WEB_WORKERS": "1",
           "PROMETHEUS_MULTIPROC_DIR": str(folder / f"metrics-{name}"), "FAREWELL_LOG_FORMAT": "json",
           "FAREWELL_PUBLIC_URL": public_url, "FAREWELL_METRICS_TOKEN": "",
           # As in docker-compose.yml: the proxy is the one hop trusted.
           "FAREWELL_TRUSTED_PROXIES": "1"}
    log_path = folder / f"{name}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py"], cwd=ROOT,
                                   env=env, stdout=log, stderr=subprocess.STDOUT)
    return Replica(port, log_path, process)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    nginx = nginx_binary()
    folder = tmp_path_factory.mktemp("reverse-proxy")
    database_url = f"sqlite:///{folder / 'farewell.db'}"
    engine = db.create_engine(database_url)
    db.migrate(engine)
    site = create_site(engine, "https://club.example.org", "Le Club", "Europe/Paris", "fr_FR")
    port, tls_port, *replica_ports = distinct_free_ports(4)
    url = f"http://127.0.0.1:{port}"
    replicas = [start_replica(folder, database_url, url, name, replica_port)
                for name, replica_port in zip(("replica-a", "replica-b"), replica_ports)]
    nginx_process = None
    try:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem")],
                       check=True, capture_output=True, timeout=30)
        conf = render(folder, [replica.port for replica in replicas], port, tls_port)
        base = [nginx, "-p", str(folder), "-e", str(folder / "error.log"), "-c", str(conf)]
        checked = subprocess.run([*base, "-t"], capture_output=True, text=True, timeout=30)
        assert checked.returncode == 0, checked.stderr
        for replica in replicas:
            wait_for_http(replica.url + "/healthz", process=replica.process)
        nginx_log = folder / "nginx-access.log"
        with open(nginx_log, "wb") as log:  # the file's access_log /dev/stdout
            nginx_process = subprocess.Popen(base, stdout=log, stderr=subprocess.STDOUT)
        wait_for_http(url + "/healthz", process=nginx_process)
        for replica in replicas:
            assert replica.process.poll() is None, replica.log_path.read_text()[-2000:]
        yield Stack(url, f"https://127.0.0.1:{tls_port}", folder / "cert.pem", replicas, nginx_log, checked,
                    engine, site)
    finally:
        if nginx_process is not None:
            nginx_process.terminate()
            nginx_process.wait(timeout=30)
        for replica in replicas:
            replica.stop()
        engine.dispose()


def post_event(stack: Stack, webhook_id: str, body: str | None = None) -> requests.Response:
    body = body if body is not None else json.dumps(make_event())
    headers = {"Content-Type": "application/json",
               **sign(stack.site["secret"], webhook_id, body, datetime.now(timezone.utc))}
    return requests.post(f"{stack.url}/v1/sites/{stack.site['id']}/events", data=body.encode(), headers=headers,
                         timeout=10)


def test_nginx_accepts_the_compose_configuration(stack):
    assert "syntax is ok" in stack.checked.stderr and "test is successful" in stack.checked.stderr


def test_requests_reach_both_replicas_and_the_clients_request_id_passes_through(stack):
    ids = [f"client-{n}.trace_x" for n in range(12)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda id_: requests.get(stack.url + "/healthz", headers={"X-Request-Id": id_},
                                                         timeout=10), ids))
    assert [answer.status_code for answer in answers] == [200] * len(ids)
    assert [answer.headers["X-Request-Id"] for answer in answers] == ids
    answered_by = [{line["request_id"] for line in replica.access()} & set(ids) for replica in stack.replicas]
    assert all(answered_by), f"one replica answered every request: {answered_by}"
    assert sorted(answered_by[0] | answered_by[1]) == sorted(ids) and not answered_by[0] & answered_by[1]
    # nginx's own line carries the same id, so its log and the app's can be joined.
    assert set(ids) <= stack.nginx_request_ids(set(ids))

    # An id that is not a sane token: nginx makes its own, which the app keeps and echoes.
    answer = requests.get(stack.url + "/healthz", headers={"X-Request-Id": "has space<script>"}, timeout=10)
    given = answer.headers["X-Request-Id"]
    assert answer.status_code == 200 and len(given) == 32 and given != "has space<script>"
    assert given in stack.nginx_request_ids({given})
    assert given in {line["request_id"] for replica in stack.replicas for line in replica.access()}


def test_a_signed_event_through_the_proxy_is_stored_once(stack):
    body = json.dumps(make_event())
    assert post_event(stack, "msg_through_proxy", body).status_code == 202
    assert post_event(stack, "msg_through_proxy", body).status_code == 200  # the bridge's retry: a duplicate
    with stack.engine.connect() as conn:
        stored = conn.execute(sa.select(sa.func.count()).select_from(events).where(
            events.c.webhook_id == "msg_through_proxy")).scalar_one()
    assert stored == 1


def test_the_app_sees_the_address_nginx_reports_and_a_forwarded_for_cannot_choose_it(stack):
    """nginx sets X-Forwarded-For to its peer; the app trusts that one hop, so a client's own
    header does not pick its rate-limit bucket (else every request could claim a new address)."""
    sent = 41  # over two windows of 60 s at most, one of them holds more than UNSUBSCRIBE's 20
    statuses = [requests.get(f"{stack.url}/u/NOT-A-TOKEN-{n}", timeout=10,
                             headers={"X-Forwarded-For": f"203.0.113.{n + 1}"}).status_code for n in range(sent)]
    assert 429 in statuses and set(statuses) <= {404, 429}, statuses
    # The header does reach a replica's own port as the trusted hop's word: only nginx stands between.
    direct = requests.get(f"{stack.replicas[0].url}/u/NOT-A-TOKEN", headers={"X-Forwarded-For": "198.51.100.7"},
                          timeout=10)
    assert direct.status_code == 404
    with stack.engine.connect() as conn:
        buckets = hits_by_bucket(conn, "unsubscribe:")
    assert buckets == {client_bucket(SECRET_KEY, UNSUBSCRIBE, "127.0.0.1"): sent,
                       client_bucket(SECRET_KEY, UNSUBSCRIBE, "198.51.100.7"): 1}


@pytest.mark.parametrize("path", ["/metrics", "/metrics?name[]=farewell_events_total", "//metrics", "/%6Detrics",
                                  "/./metrics", "/metrics/"])
def test_metrics_are_not_served_through_the_proxy(stack, path):
    answer = requests.get(stack.url + path, timeout=10)
    assert answer.status_code == 404 and "farewell_" not in answer.text
    # A replica's own port serves them (loopback, no token): the proxy's 404 is what keeps them private.
    assert requests.get(stack.replicas[0].url + "/metrics", timeout=10).status_code == 200


def test_the_dashboard_cookie_is_secure_over_https_and_a_client_cannot_claim_https(stack):
    def sign_in(base: str, **kwargs) -> requests.Response:
        token = mint(stack.site["secret"], stack.site["id"], 1, "owner@example.org", "Owner", "fr_FR")
        answer = requests.get(f"{base}/admin/login", params={"token": token}, allow_redirects=False, timeout=10,
                              **kwargs)
        assert answer.status_code == 303, answer.text  # signed in, on to the overview
        return answer

    over_https = sign_in(stack.https_url, verify=str(stack.cert))
    assert "farewell_admin=" in over_https.headers["Set-Cookie"]
    assert "; secure" in over_https.headers["Set-Cookie"].lower()
    # nginx sets X-Forwarded-Proto to its own scheme: a client's header over plain http changes nothing.
    over_http = sign_in(stack.url, headers={"X-Forwarded-Proto": "https"})
    assert "farewell_admin=" in over_http.headers["Set-Cookie"]
    assert "; secure" not in over_http.headers["Set-Cookie"].lower()


def test_bodies_over_the_limits_are_refused(stack):
    too_big_event = post_event(stack, "msg_too_big", json.dumps(make_event(note="x" * 70_000)))
    assert too_big_event.status_code == 413 and too_big_event.json()["error"]  # the app's 64 KiB cap
    over_proxy_cap = requests.post(f"{stack.url}/v1/sites/{stack.site['id']}/events", data=b"x" * (1024 * 1024 + 1),
                                   headers={"Content-Type": "application/json"}, timeout=10)
    assert over_proxy_cap.status_code == 413 and "nginx" in over_proxy_cap.text  # nginx's client_max_body_size
    with stack.engine.connect() as conn:
        assert conn.execute(sa.select(events.c.id).where(events.c.webhook_id == "msg_too_big")).first() is None


def test_with_one_replica_stopped_requests_still_succeed_through_the_other(stack):
    """Last in this module: it stops a replica for good."""
    survivor, stopped = stack.replicas
    stopped.stop()
    ids = [f"after-stop-{n}" for n in range(6)]
    statuses = [requests.get(stack.url + "/healthz", headers={"X-Request-Id": id_}, timeout=10).status_code
                for id_ in ids]
    assert statuses == [200] * len(ids)
    assert set(ids) <= {line["request_id"] for line in survivor.access()}
    # nginx tried the stopped one, got no connection, and passed the request on (then marks it down).
    tried = [line["upstream"] for line in stack.nginx_lines(set(ids))]
    assert any(upstream.startswith(f"127.0.0.1:{stopped.port}, 127.0.0.1:{survivor.port}") for upstream in tried), \
        tried
    assert post_event(stack, "msg_during_outage").status_code == 202
