"""Standard Webhooks v1 signatures, verified with the reference library.

The library raises several kinds of exceptions on malformed headers (ValueError from a missing
comma, binascii.Error from bad base64); every one of them means the same thing to a sender:
the request is not authentic.

One refusal is worth explaining precisely: a request whose signature is genuine but whose
timestamp is outside the ±5 minute window. That is nearly always a server clock that drifted
(no NTP), not an attack, and "invalid signature" alone sends the admin hunting for a wrong
secret. So InvalidSignature carries ``details`` for the 401 body: ``reason: "clock_skew"``, how
far off the sender's clock is and a sentence saying so. The skew is only reported once the
signature has been checked with the site's secret, so a stranger learns nothing from it.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import time
from datetime import datetime, timezone
from typing import Mapping

from standardwebhooks import Webhook

# The reference library's window (it is not configurable there): ±5 minutes.
TOLERANCE_SECONDS = 300


class InvalidSignature(Exception):
    """The request is not authentic. ``details``: extra fields for the 401 body (may be empty)."""

    def __init__(self, details: dict | None = None):
        self.details = details or {}
        super().__init__(self.details.get("reason", "invalid_signature"))


def verify(secrets: list[str], body: str, headers: Mapping[str, str]) -> None:
    """Accept when any secret verifies the request; the library enforces the ±5 minute window."""
    wanted = {k: headers.get(k, "") for k in ("webhook-id", "webhook-timestamp", "webhook-signature")}
    for secret in secrets:
        try:
            Webhook(secret).verify(body, wanted, json_parse=False)
            return
        except Exception:  # noqa: BLE001 - any failure to verify is a refusal
            continue
    raise InvalidSignature(clock_skew(secrets, body, wanted, time.time()))


def clock_skew(secrets: list[str], body: str, headers: Mapping[str, str], now: float) -> dict | None:
    """The 401 details when the signature is genuine but the timestamp is out of the window, else None.

    ``clock_skew_seconds`` is the sender's clock minus the sidecar's: negative when the sender is behind."""
    raw = headers.get("webhook-timestamp", "")
    if not raw.isascii() or not raw.isdigit() or len(raw) > 12:
        return None
    timestamp = int(raw)
    skew = timestamp - now
    if abs(skew) <= TOLERANCE_SECONDS:
        return None  # Inside the window: the signature itself is wrong.
    if not _genuine(secrets, body, headers, timestamp):
        return None
    seconds = int(round(skew))
    return {
        "reason": "clock_skew",
        "clock_skew_seconds": seconds,
        "tolerance_seconds": TOLERANCE_SECONDS,
        "message": describe_skew(seconds),
    }


def describe_skew(seconds: int) -> str:
    """E.g. "the sender's clock is 6 min 2 s behind the sidecar's; check NTP on both servers"."""
    size = abs(seconds)
    parts = []
    if size >= 3600:
        parts.append(f"{size // 3600} h")
    if size >= 60:
        parts.append(f"{size % 3600 // 60} min")
    parts.append(f"{size % 60} s")
    direction = "behind" if seconds < 0 else "ahead of"
    return f"the sender's clock is {' '.join(parts)} {direction} the sidecar's; check NTP on both servers"


def _genuine(secrets: list[str], body: str, headers: Mapping[str, str], timestamp: int) -> bool:
    """Whether a v1 signature of the request matches one secret at the request's own timestamp."""
    at = datetime.fromtimestamp(timestamp, tz=timezone.utc)
    msg_id = headers.get("webhook-id", "")
    passed = []
    for versioned in headers.get("webhook-signature", "").split(" "):
        version, _, signature = versioned.partition(",")
        if version != "v1":
            continue
        try:
            passed.append(base64.b64decode(signature, validate=True))
        except (binascii.Error, ValueError):
            continue
    if not msg_id or not passed:
        return False
    for secret in secrets:
        try:
            expected = base64.b64decode(Webhook(secret).sign(msg_id, at, body).split(",", 1)[1])
        except Exception:  # noqa: BLE001 - a secret the library cannot use verifies nothing
            continue
        if any(hmac.compare_digest(expected, candidate) for candidate in passed):
            return True
    return False


def sign(secret: str, webhook_id: str, body: str, at: datetime | None = None) -> dict[str, str]:
    """The three headers for a request, as the bridge makes them. Used by tests and tools."""
    at = at or datetime.now(timezone.utc)
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(webhook_id, at, body),
    }
