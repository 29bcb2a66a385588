import base64
import hashlib
import hmac
from datetime import datetime, timedelta, timezone

import pytest

from sidecar.domain.sites import new_secret
from sidecar.signing import (InvalidSecret, InvalidSignature, OutdatedScheme, secret_key, secret_problem, sign,
                             verify)

# The Standard Webhooks reference vector (also in docs/PROTOCOL.md and the bridge's PHPUnit tests).
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TS = 1614265330
VECTOR_BODY = '{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_signature_matches_the_reference_vector():
    headers = sign(VECTOR_SECRET, VECTOR_ID, VECTOR_BODY, datetime.fromtimestamp(VECTOR_TS, timezone.utc))
    assert headers == {"webhook-id": VECTOR_ID, "webhook-timestamp": str(VECTOR_TS),
                       "webhook-signature": VECTOR_SIGNATURE}


def test_a_fresh_signature_verifies_and_any_change_breaks_it():
    headers = sign(VECTOR_SECRET, "msg_1", '{"a": 1}')
    verify([VECTOR_SECRET], '{"a": 1}', headers)
    with pytest.raises(InvalidSignature):
        verify([VECTOR_SECRET], '{"a": 2}', headers)
    with pytest.raises(InvalidSignature):
        verify([VECTOR_SECRET], '{"a": 1}', {**headers, "webhook-id": "msg_2"})


def test_one_matching_signature_in_a_list_is_enough():
    headers = sign(VECTOR_SECRET, "msg_1", "{}")
    headers["webhook-signature"] = "v1,AAAA " + headers["webhook-signature"]
    verify([VECTOR_SECRET], "{}", headers)


@pytest.mark.parametrize("skew", [timedelta(seconds=-301), timedelta(seconds=301)])
def test_timestamps_beyond_five_minutes_either_way_are_refused(skew):
    headers = sign(VECTOR_SECRET, "msg_1", "{}", datetime.now(timezone.utc) + skew)
    with pytest.raises(InvalidSignature):
        verify([VECTOR_SECRET], "{}", headers)


@pytest.mark.parametrize("skew", [timedelta(seconds=-240), timedelta(seconds=240)])
def test_four_minutes_of_clock_difference_still_verifies(skew):
    headers = sign(VECTOR_SECRET, "msg_1", "{}", datetime.now(timezone.utc) + skew)
    verify([VECTOR_SECRET], "{}", headers)


@pytest.mark.parametrize(
    "signature", ["", "v1", "v1,", "v1,not base64!", "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", "garbage"]
)
def test_malformed_signature_headers_are_refused_not_crashing(signature):
    headers = sign(VECTOR_SECRET, "msg_1", "{}")
    headers["webhook-signature"] = signature
    with pytest.raises(InvalidSignature):
        verify([VECTOR_SECRET], "{}", headers)


def test_missing_headers_are_refused():
    with pytest.raises(InvalidSignature):
        verify([VECTOR_SECRET], "{}", {})


def test_either_of_two_secrets_verifies_during_rotation():
    new = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk="
    headers = sign(VECTOR_SECRET, "msg_1", "{}")
    verify([new, VECTOR_SECRET], "{}", headers)
    with pytest.raises(InvalidSignature):
        verify([new], "{}", headers)


# Route-bound signatures (fw2): the vector of docs/PROTOCOL.md, also checked by the bridge's PHPUnit tests.
ROUTE_VECTOR_BODY = '{"email":"ana@example.org"}'
ROUTE_VECTOR_PATH = "/v1/sites/site_3kq9x2m7c4ha/privacy/erase"
ROUTE_VECTOR_SIGNATURE = "fw2,W8i48MsyB67h6uCnhzksksYMPyOYSn9/ekX2nZWQTaM="


def test_a_route_bound_signature_matches_the_protocol_vector():
    headers = sign(VECTOR_SECRET, VECTOR_ID, ROUTE_VECTOR_BODY, datetime.fromtimestamp(VECTOR_TS, timezone.utc),
                   method="POST", path=ROUTE_VECTOR_PATH)
    assert headers["webhook-signature"] == ROUTE_VECTOR_SIGNATURE


def test_a_route_bound_signature_verifies_on_its_route_only():
    headers = sign(VECTOR_SECRET, "msg_1", "{}", method="POST", path="/v1/sites/s/privacy/export")
    verify([VECTOR_SECRET], "{}", headers, method="POST", path="/v1/sites/s/privacy/export")
    verify([VECTOR_SECRET], "{}", headers, method="post", path="/v1/sites/s/privacy/export?ignored=1")
    for method, path in (("POST", "/v1/sites/s/privacy/erase"), ("GET", "/v1/sites/s/privacy/export"),
                         ("POST", "/v1/sites/t/privacy/export"), ("POST", "/v1/sites/s/privacy/export/")):
        with pytest.raises(InvalidSignature) as refused:
            verify([VECTOR_SECRET], "{}", headers, method=method, path=path)
        assert not isinstance(refused.value, OutdatedScheme)
    with pytest.raises(InvalidSignature):  # nor is it a Standard Webhooks signature
        verify([VECTOR_SECRET], "{}", headers)


def test_a_genuine_standard_webhooks_signature_on_a_bound_route_is_an_outdated_scheme():
    headers = sign(VECTOR_SECRET, "msg_1", "{}")
    with pytest.raises(OutdatedScheme):
        verify([VECTOR_SECRET], "{}", headers, method="GET", path="/v1/sites/s/ping")
    headers["webhook-signature"] = "v1,AAAA"
    with pytest.raises(InvalidSignature) as forged:
        verify([VECTOR_SECRET], "{}", headers, method="GET", path="/v1/sites/s/ping")
    assert not isinstance(forged.value, OutdatedScheme)


def test_a_clock_skew_is_reported_for_route_bound_signatures_too():
    headers = sign(VECTOR_SECRET, "msg_1", "", datetime.now(timezone.utc) - timedelta(seconds=400),
                   method="GET", path="/v1/sites/s/ping")
    with pytest.raises(InvalidSignature) as refused:
        verify([VECTOR_SECRET], "", headers, method="GET", path="/v1/sites/s/ping")
    assert refused.value.details["reason"] == "clock_skew"


# One rule for every secret: whsec_ + standard base64 of at least 24 bytes (the bridge's signer has the same).
@pytest.mark.parametrize("secret, reason", [
    ("", "missing"),
    ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "prefix"),
    ("whsec_", "too_short"),
    ("whsec_<paste here>", "not_base64"),
    ("whsec_" + base64.b64encode(b"short key").decode(), "too_short"),
    ("whsec_" + base64.urlsafe_b64encode(b"\xfb\xff" * 16).decode(), "base64url"),
    ("whsec_ " + base64.b64encode(b"k" * 32).decode(), "not_base64"),
    ("whsec_" + base64.b64encode(b"k" * 32).decode()[:-3], "not_base64"),
    ("whsec_" + base64.b64encode(b"k" * 300).decode(), "too_long"),
])
def test_a_secret_that_breaks_the_rule_is_refused_with_its_reason(secret, reason):
    with pytest.raises(InvalidSecret) as refused:
        secret_key(secret)
    assert refused.value.reason == reason
    assert secret_problem(secret) == str(refused.value)
    with pytest.raises(InvalidSecret):
        sign(secret, "msg_1", "{}")


def test_secrets_the_sidecar_issues_and_their_unpadded_form_follow_the_rule():
    secret = new_secret()
    assert secret_problem(secret) is None and len(secret_key(secret)) == 32
    assert secret_key(secret.rstrip("=")) == secret_key(secret)  # as the reference library reads them
    assert secret_problem(VECTOR_SECRET) is None


@pytest.mark.parametrize("secret", ["whsec_", "whsec_" + base64.b64encode(b"short").decode(), "whsec_c2hvcnQ"])
def test_a_secret_that_breaks_the_rule_verifies_nothing(secret):
    """What a lenient decoder makes of the secret is a key anyone can compute: never accept its signatures."""
    lenient = base64.b64decode(secret.removeprefix("whsec_") + "==")  # as the reference library decodes it
    body, timestamp = "{}", str(int(datetime.now(timezone.utc).timestamp()))
    mac = base64.b64encode(hmac.new(lenient, f"msg_1.{timestamp}.{body}".encode(), hashlib.sha256).digest()).decode()
    headers = {"webhook-id": "msg_1", "webhook-timestamp": timestamp, "webhook-signature": f"v1,{mac}"}
    with pytest.raises(InvalidSignature):
        verify([secret], body, headers)
    with pytest.raises(InvalidSignature):
        verify([secret], body, headers, method="GET", path="/v1/sites/s/ping")
