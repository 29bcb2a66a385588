"""Calls from the sidecar to the WordPress bridge's REST routes, signed like the bridge's own
requests (Standard Webhooks, the site's secret). Contract: docs/PROTOCOL.md, "Sidecar → bridge".
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from typing import Iterable

import requests
import urllib3

from . import safe_http
from .signing import secret_problem, sign, verification_secrets

# ?rest_route= works whatever the site's permalink settings; /wp-json/ needs pretty permalinks,
# and with plain ones WordPress answers 200 with its home page instead.
ROUTE_PREFIX = "/?rest_route=/farewell/v1/"
# What a signature to the bridge is bound to (docs/PROTOCOL.md, "Signing a request"): POST and the
# REST route, the same in the ?rest_route= and /wp-json/ forms and whatever proxies sit in front.
SIGNED_ROUTE_PREFIX = "/farewell/v1/"
# A bridge that refuses the signature without naming the scheme it takes predates route binding.
OLDER_BRIDGE = ("the bridge refused the signature and does not say which scheme it takes: it is probably older "
                "than this sidecar (update the Farewell bridge plugin), or it has another secret")
# The bridge's answers are small JSON objects; anything bigger is not one.
ANSWER_MAX_BYTES = 64 * 1024
USER_AGENT = "Farewell-sidecar/1"
# What a failure to reach the site says, whatever it was (refused, timed out, TLS, a destination
# this sidecar may not call): the site's URL is set from its dashboard, so telling these apart
# would make the sidecar a port scanner for whoever holds it. The detail goes to the server's log.
UNREACHABLE = "the WordPress site could not be reached"

log = logging.getLogger(__name__)


class BridgeUnavailable(Exception):
    """The site could not be reached, or did not answer in time: nothing is known to have happened.
    Its text is always :data:`UNREACHABLE`."""


class BridgeRefused(Exception):
    """The bridge answered with an error status."""

    def __init__(self, status: int, error: str | None, message: str = ""):
        super().__init__(f"HTTP {status}" + (f" {error}" if error else "") + (f": {message}" if message else ""))
        self.status = status
        self.error = error

    @property
    def temporary(self) -> bool:
        return self.status in (408, 425, 429) or self.status >= 500


def route_url(site: dict, route: str) -> str:
    return site["url"].rstrip("/") + ROUTE_PREFIX + route


def call(site: dict, route: str, payload: dict, webhook_id: str, timeout: float = 10.0,
         http: safe_http.GuardedSession | None = None, now: datetime | None = None,
         allowed_networks: Iterable = ()) -> dict:
    """POST ``payload`` to the bridge route and return its JSON answer (an object).

    ``webhook_id`` is the idempotency key: the same logical request (a retry) keeps the same id,
    so the bridge can answer it without doing the work twice.

    Every call to a site goes through here, and from here through a guarded session only
    (sidecar/safe_http.py): public addresses, or those in ``allowed_networks``
    (FAREWELL_BRIDGE_ALLOWED_NETWORKS), checked when connecting. Redirects are never followed.
    """
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    now = now or datetime.now(timezone.utc)
    # During a secret rotation the bridge still knows only the previous secret: sign with both,
    # as Standard Webhooks allows (a space-separated list; one match is enough). Each signature is
    # bound to this route (fw2), so the bridge refuses it on any other. A secret that breaks the
    # rule (signing.secret_key) never signs.
    usable = [secret for secret in verification_secrets(site, now) if secret_problem(secret) is None]
    if not usable:
        raise BridgeRefused(0, "invalid_secret", f"the site's secret cannot sign: {secret_problem(site['secret'])}")
    signed = [sign(secret, webhook_id, body, now, method="POST", path=SIGNED_ROUTE_PREFIX + route) for secret in usable]
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, **signed[0],
               "webhook-signature": " ".join(each["webhook-signature"] for each in signed)}
    if http is not None and not isinstance(http, safe_http.GuardedSession):
        raise TypeError("bridge.call needs a safe_http.GuardedSession: a plain one would call any address")
    poster = http if http is not None else safe_http.session(allowed_networks)
    try:
        response = poster.post(route_url(site, route), data=body.encode("utf-8"), headers=headers,
                               timeout=(min(timeout, 5.0), timeout), allow_redirects=False, stream=True)
        raw = response.raw.read(ANSWER_MAX_BYTES + 1, decode_content=True)
        response.close()
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as error:
        # The reading too: urllib3 raises its own errors from response.raw, not requests'.
        log.warning("the bridge route %s of site %s could not be reached: %s: %s", route, site.get("id"),
                    type(error).__name__, str(error)[:300])
        raise BridgeUnavailable(UNREACHABLE) from None
    finally:
        if http is None:
            poster.close()
    answer = _json_object(raw) if len(raw) <= ANSWER_MAX_BYTES else None
    if not 200 <= response.status_code < 300:
        error = answer.get("error") if answer and isinstance(answer.get("error"), str) else None
        message = answer.get("message") if answer and isinstance(answer.get("message"), str) else ""
        if response.status_code == 401 and error == "invalid_signature" and "signature_scheme" not in answer:
            message = OLDER_BRIDGE
        raise BridgeRefused(response.status_code, error and error[:64], message[:200])
    if answer is None:
        raise BridgeRefused(response.status_code, "invalid_answer", "the bridge's answer is not a JSON object")
    return answer


def _json_object(raw: bytes) -> dict | None:
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None
