"""Standard Webhooks v1 signatures, verified with the reference library.

The library raises several kinds of exceptions on malformed headers (ValueError from a missing
comma, binascii.Error from bad base64); every one of them means the same thing to a sender:
the request is not authentic.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Mapping

from standardwebhooks import Webhook


class InvalidSignature(Exception):
    pass


def verify(secrets: list[str], body: str, headers: Mapping[str, str]) -> None:
    """Accept when any secret verifies the request; the library enforces the ±5 minute window."""
    wanted = {k: headers.get(k, "") for k in ("webhook-id", "webhook-timestamp", "webhook-signature")}
    for secret in secrets:
        try:
            Webhook(secret).verify(body, wanted, json_parse=False)
            return
        except Exception:  # noqa: BLE001 - any failure to verify is a refusal
            continue
    raise InvalidSignature()


def sign(secret: str, webhook_id: str, body: str, at: datetime | None = None) -> dict[str, str]:
    """The three headers for a request, as the bridge makes them. Used by tests and tools."""
    at = at or datetime.now(timezone.utc)
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(webhook_id, at, body),
    }
