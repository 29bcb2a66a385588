"""A signature opens the one route it was made for (docs/PROTOCOL.md, "Signing a request").

Every signed route but the events route takes only signatures bound to its method and path (fw2), so
a request captured on one route is refused by every other, within the five minutes too; the events
route stays plain Standard Webhooks (v1). Before, the signed string was id.timestamp.body alone: a
signed privacy/export replayed to privacy/erase erased the member.

The signed routes are found by asking every route of the app's url_map, so a new route cannot be
forgotten here; the OpenAPI document must list the same ones.
"""

from __future__ import annotations

import json
import uuid

import pytest

from sidecar.signing import sign
from tests.conftest import make_event
from tests.support.recording_site import Site

# The bridge's requests carry a small JSON body (privacy, site-info, events) or none (ping, survey, summary).
BODY = json.dumps({"email": "ana@example.org", "admin_email": "owner@example.org"})
STANDARD_WEBHOOKS_ROUTE = ("POST", "/v1/sites/<site_id>/events")
REFUSED = {401: "invalid_signature", 426: "signature_scheme_outdated"}


def _path(rule: str, site_id: str) -> str:
    return rule.replace("<site_id>", site_id)


def _send(client, method: str, path: str, body: str, headers: dict):
    return client.open(path, method=method, data=body.encode() if method != "GET" else None,
                       headers={"Content-Type": "application/json", **headers})


def _signed_for(secret: str, method: str, rule: str, site_id: str, body: str) -> dict:
    """The headers the bridge sends to this route: Standard Webhooks on the events route, fw2 elsewhere."""
    webhook_id = f"msg_{uuid.uuid4().hex}"
    if (method, rule) == STANDARD_WEBHOOKS_ROUTE:
        return sign(secret, webhook_id, body)
    return sign(secret, webhook_id, body, method=method, path=_path(rule, site_id))


@pytest.fixture
def signed_routes(app, client, site) -> list[tuple[str, str]]:
    """(method, rule) of every route that checks a bridge signature: those that answer a request
    with a made-up signature by refusing the signature."""
    found = []
    probe = {"webhook-id": "msg_probe", "webhook-timestamp": "1700000000", "webhook-signature": "v1,AAAA"}
    for rule in app.url_map.iter_rules():
        path = rule.rule
        for argument in rule.arguments:
            path = path.replace(f"<{argument}>", site["id"] if argument == "site_id" else "1")
            path = path.replace(f"<int:{argument}>", "1")
        if "<" in path:
            continue  # a converter this probe cannot fill in; none of the bridge's routes has one
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            answer = _send(client, method, path, BODY if method != "GET" else "", probe)
            if answer.status_code == 401 and (answer.get_json(silent=True) or {}).get("error") == "invalid_signature":
                found.append((method, rule.rule))
    return sorted(found)


def test_the_signed_routes_found_are_the_ones_the_openapi_document_lists(client, signed_routes):
    spec = client.get("/openapi.json").json
    documented = sorted(
        (method.upper(), path.replace("{site_id}", "<site_id>"))
        for path, operations in spec["paths"].items() for method, operation in operations.items()
        if isinstance(operation, dict)
        and any(parameter["name"] == "webhook-signature" for parameter in operation.get("parameters", [])))
    assert signed_routes == documented
    # The probe finds them all: these seven at least, the events route among them.
    assert STANDARD_WEBHOOKS_ROUTE in signed_routes and len(signed_routes) >= 7, signed_routes


def test_every_signed_route_refuses_a_request_signed_for_another_route(client, site, signed_routes):
    for method, rule in signed_routes:
        body = BODY if method != "GET" else ""
        headers = _signed_for(site["secret"], method, rule, site["id"], body)
        own = _send(client, method, _path(rule, site["id"]), body, headers)
        assert own.status_code not in REFUSED, f"{method} {rule} refuses its own signature: {own.get_json()}"
        for other_method, other_rule in signed_routes:
            if (other_method, other_rule) == (method, rule):
                continue
            # The captured request, sent within the five minutes to another route: same headers, same body.
            answer = _send(client, other_method, _path(other_rule, site["id"]), body, headers)
            assert REFUSED.get(answer.status_code) == answer.get_json()["error"], (
                f"signed for {method} {rule}, {other_method} {other_rule} answered "
                f"{answer.status_code} {answer.get_json()}")


def test_a_signed_export_replayed_to_erase_erases_nothing(client, post_event, site):
    assert post_event(make_event()).status_code == 202
    body = json.dumps({"email": "ana@example.org"})
    export = f"/v1/sites/{site['id']}/privacy/export"
    captured = sign(site["secret"], "fwb_req_export", body, method="POST", path=export)
    exported = client.post(export, data=body, headers={"Content-Type": "application/json", **captured})
    assert exported.status_code == 200 and exported.json["data"]

    replayed = client.post(f"/v1/sites/{site['id']}/privacy/erase", data=body,
                           headers={"Content-Type": "application/json", **captured})
    assert replayed.status_code == 401 and replayed.json["error"] == "invalid_signature"
    again = sign(site["secret"], "fwb_req_again", body, method="POST", path=export)
    assert client.post(export, data=body, headers={"Content-Type": "application/json", **again}).json["data"] == \
        exported.json["data"]


def test_an_older_bridge_signing_with_standard_webhooks_is_told_to_update(client, site, signed_routes):
    for method, rule in signed_routes:
        if (method, rule) == STANDARD_WEBHOOKS_ROUTE:
            continue
        body = BODY if method != "GET" else ""
        older = sign(site["secret"], f"msg_{uuid.uuid4().hex}", body)  # v1, as bridges before fw2 sign
        answer = _send(client, method, _path(rule, site["id"]), body, older)
        assert answer.status_code == 426, (method, rule, answer.get_json())
        assert answer.get_json()["error"] == "signature_scheme_outdated"
        assert "update the Farewell bridge plugin" in answer.get_json()["message"]
        # A made-up v1 signature is not "outdated": it is refused like any bad signature, and learns nothing.
        forged = {**older, "webhook-signature": "v1," + "A" * 43 + "="}
        refused = _send(client, method, _path(rule, site["id"]), body, forged)
        assert (refused.status_code, refused.get_json()) == (
            401, {"error": "invalid_signature", "signature_scheme": "fw2"})


def test_the_events_route_stays_plain_standard_webhooks(client, site):
    body = json.dumps(make_event())
    events = f"/v1/sites/{site['id']}/events"
    bound = sign(site["secret"], "msg_bound", body, method="POST", path=events)
    refused = client.post(events, data=body, headers={"Content-Type": "application/json", **bound})
    assert (refused.status_code, refused.json) == (401, {"error": "invalid_signature"})
    plain = sign(site["secret"], "msg_plain", body)
    assert client.post(events, data=body, headers={"Content-Type": "application/json", **plain}).status_code == 202


def _bridge(status: int, answer: dict) -> Site:
    """A bridge on loopback that answers every request with ``answer`` and keeps what it was sent."""
    site = Site()
    site.status, site.body = status, json.dumps(answer).encode()
    return site


def test_the_sidecar_signs_each_call_to_the_bridge_for_its_route_and_names_an_older_bridge():
    from sidecar import bridge
    from sidecar.domain.sites import new_secret
    from sidecar.signing import InvalidSignature, verify
    from tests.support.net import LOOPBACK_NETWORKS

    with _bridge(401, {"error": "invalid_signature", "message": "The request is not signed …"}) as older, \
            _bridge(401, {"error": "invalid_signature", "signature_scheme": "fw2", "message": "wrong secret"}) as newer:
        site = {"id": "site_x", "url": older.url(), "secret": new_secret()}
        with pytest.raises(bridge.BridgeRefused) as refused:
            bridge.call(site, "mail", {"x": 1}, "mail_1", allowed_networks=LOOPBACK_NETWORKS)
        assert "older than this sidecar (update the Farewell bridge plugin)" in str(refused.value)
        with pytest.raises(bridge.BridgeRefused) as refused:
            bridge.call({**site, "url": newer.url()}, "coupons", {"x": 1}, "coupon_1", allowed_networks=LOOPBACK_NETWORKS)
        assert str(refused.value) == "HTTP 401 invalid_signature: wrong secret"
    [sent] = older.received
    verify([site["secret"]], sent["body"], sent["headers"], method="POST", path="/farewell/v1/mail")
    with pytest.raises(InvalidSignature):
        verify([site["secret"]], sent["body"], sent["headers"], method="POST", path="/farewell/v1/coupons")


def test_the_sidecar_never_signs_a_call_with_a_site_secret_that_breaks_the_rule():
    from sidecar import bridge
    from tests.support.net import LOOPBACK_NETWORKS

    with _bridge(200, {"status": "sent"}) as listening:
        for secret in ("whsec_", "whsec_<paste here>", "whsec_c2hvcnQ="):
            with pytest.raises(bridge.BridgeRefused) as refused:
                bridge.call({"id": "site_x", "url": listening.url(), "secret": secret}, "mail", {"x": 1}, "mail_1",
                            allowed_networks=LOOPBACK_NETWORKS)
            assert refused.value.error == "invalid_secret"
    assert listening.received == []
