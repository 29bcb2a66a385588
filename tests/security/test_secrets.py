"""Secrets never leave the process: the admin token, the secret key, a site's secret and the
database password appear in no answer (body or header) and in nothing the server prints, whatever
goes wrong — bad signatures, unknown paths and methods, an oversized body, the database stopped.

A real sidecar process on its own MariaDB (stopped mid-test), with a password on its account."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime, timedelta, timezone

import requests

from sidecar.domain.login_tokens import mint
from sidecar.signing import sign
from tests.conftest import make_event
from tests.support.sidecar import SidecarProcess

ADMIN_TOKEN = "admin-token-Zq8vXw3N5rTy"
SECRET_KEY = "secret-key-Hk2pL9sQ4mVb7w"
DB_PASSWORD = "db-pass-Rf6yU1oE7cJn"


def _answers(server: SidecarProcess, http: requests.Session) -> list[requests.Response]:
    """Every kind of refusal and failure an outsider (or a confused bridge) can cause."""
    events = f"{server.url}/v1/sites/{server.site_id}/events"
    body = json.dumps(make_event())
    good = sign(server.secret, f"msg_{uuid.uuid4().hex}", body)
    stale = sign(server.secret, "msg_stale", body, datetime.now(timezone.utc) - timedelta(minutes=6))
    wrong_key = sign("whsec_" + base64.b64encode(b"w" * 32).decode(), "msg_wrong", body)
    json_type = {"Content-Type": "application/json"}
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    return [
        http.post(events, data=body, headers={**json_type, **wrong_key}),
        http.post(events, data=body, headers={**json_type, **stale}),
        http.post(events, data=body, headers={**json_type, **good, "webhook-signature": "v1,garbage"}),
        http.post(events, data="x" * 70_000, headers={**json_type, **good}),
        http.post(events, data=b"\xff", headers={**json_type, **good}),
        http.get(f"{server.url}/no/such/page"),
        http.delete(events, headers=admin),
        http.get(f"{server.url}/v1/sites/{server.site_id}/cancellations", headers=admin),
        http.get(f"{server.url}/v1/sites/{server.site_id}/cancellations",
                 headers={"Authorization": f"Bearer {ADMIN_TOKEN}x"}),
        http.get(f"{server.url}/v1/sites/{server.site_id}/cancellations?cursor=%7B%7D&limit=-1", headers=admin),
        http.get(f"{server.url}/admin/login", params={"token": mint(server.secret, server.site_id, 1, "o@x.org", "O",
                                                                    "fr_FR", lifetime=61)}),
        http.get(f"{server.url}/admin/"),
        http.get(f"{server.url}/u/not-a-link"),
        http.get(f"{server.url}/openapi.json"),
        http.get(f"{server.url}/healthz"),
        http.post(events, data=body, headers={**json_type, **sign(server.secret, f"msg_{uuid.uuid4().hex}", body)}),
    ]


def test_no_secret_appears_in_answers_or_in_the_servers_output(own_mariadb, tmp_path):
    mariadb = own_mariadb
    server = None
    try:
        mariadb.create_database("farewell")
        mariadb.sql(f"CREATE USER 'farewell'@'127.0.0.1' IDENTIFIED BY '{DB_PASSWORD}'; "
                    f"GRANT ALL ON farewell.* TO 'farewell'@'127.0.0.1'")
        url = f"mysql+mysqlconnector://farewell:{DB_PASSWORD}@127.0.0.1:{mariadb.port}/farewell?charset=utf8mb4"
        server = SidecarProcess(url, tmp_path / "sidecar", admin_token=ADMIN_TOKEN,
                                extra_env={"FAREWELL_SECRET_KEY": SECRET_KEY}).start()
        site_key = server.secret.removeprefix("whsec_")
        secrets = [ADMIN_TOKEN, SECRET_KEY, DB_PASSWORD, site_key, base64.b64decode(site_key).hex()]
        with requests.Session() as http:
            up = _answers(server, http)
            assert up[-1].status_code == 202 and up[5].status_code == 404 and up[6].status_code == 405
            assert up[3].status_code == 413 and {r.status_code for r in up[:3]} == {401}
            mariadb.stop()
            down = _answers(server, http)
            assert down[-1].status_code == 503 and down[-2].status_code == 503  # the event, /healthz
            assert down[10].status_code == 503  # the sign-in page needs the database too
        server.stop()
        output = server.log_path.read_text(errors="replace")
        assert "unavailable" in output.lower() or "error" in output.lower()  # the outage was logged...
        for response in up + down:
            seen = response.text + json.dumps(dict(response.headers))
            for secret in secrets:
                assert secret not in seen, (response.request.method, response.url, response.status_code)
        for secret in secrets:
            assert secret not in output  # ...without any secret
    finally:
        if server is not None:
            server.stop()
