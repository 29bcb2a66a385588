from datetime import datetime, timedelta, timezone

import pytest

from sidecar.signing import InvalidSignature, sign, verify

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
