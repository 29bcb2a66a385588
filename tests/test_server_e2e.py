"""The real server process, driven by a client written from docs/PROTOCOL.md alone.

The client below uses only the standard library (no code of ours), as a third party would.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request

import pytest


def protocol_client_post(base_url: str, site_id: str, secret: str, webhook_id: str, event: dict):
    body = json.dumps(event, ensure_ascii=False).encode("utf-8")
    timestamp = str(int(time.time()))
    key = base64.b64decode(secret[len("whsec_"):])
    signature = base64.b64encode(hmac.new(key, f"{webhook_id}.{timestamp}.".encode() + body, hashlib.sha256).digest())
    request = urllib.request.Request(
        f"{base_url}/v1/sites/{site_id}/events", data=body, method="POST",
        headers={"Content-Type": "application/json", "webhook-id": webhook_id, "webhook-timestamp": timestamp,
                 "webhook-signature": "v1," + signature.decode()},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


EVENT = {
    "type": "subscription.cancelled",
    "occurred_at": "2026-11-29T10:00:00Z",
    "source": "memberpress",
    "initiated_by": "member",
    "member": {"id": "42", "email": "ana@example.org", "first_name": "Anaïs 🌿", "locale": "fr_FR"},
    "subscription": {"id": "sub_7", "plan_id": "3", "plan_name": "Or", "amount": "29.00", "currency": "EUR",
                     "interval": "month", "status": "cancelled", "started_at": "2026-01-03T09:00:00Z",
                     "access_ends_at": "2026-12-03T09:00:00Z"},
}


@pytest.mark.parametrize("backend", ["sqlite", "mariadb"])
def test_a_plain_client_is_accepted_deduplicated_and_listed(backend, sidecar_server, request):
    database_url = request.getfixturevalue("fresh_mariadb_url") if backend == "mariadb" else None
    server = sidecar_server(database_url=database_url)
    assert protocol_client_post(server.url, server.site_id, server.secret, "wh_1", EVENT) == (
        202, {"status": "accepted"})
    assert protocol_client_post(server.url, server.site_id, server.secret, "wh_1", EVENT) == (
        200, {"status": "duplicate"})
    listed = server.get(f"/v1/sites/{server.site_id}/cancellations").json()["items"]
    assert len(listed) == 1
    assert listed[0]["member"]["first_name"] == "Anaïs 🌿"
    assert listed[0]["subscription"]["plan_name"] == "Or"
    assert listed[0]["cancelled_at"] == "2026-11-29T10:00:00Z"


def test_the_server_serves_its_openapi_document(sidecar_server):
    server = sidecar_server()
    spec = server.get("/openapi.json").json()
    assert spec["servers"] == [{"url": server.url}]
