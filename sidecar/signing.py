"""Signatures of the requests between the bridge and the sidecar (docs/PROTOCOL.md, "Signing a request").

Two schemes, told apart by the tag of each signature in ``webhook-signature``:

- ``v1``, Standard Webhooks as published: HMAC-SHA256 of ``{id}.{timestamp}.{body}``. Only the events
  route (``POST /v1/sites/{id}/events``) takes it, so that it stays a plain Standard Webhooks endpoint;
  it is verified with the reference library.
- ``fw2``, bound to its route: HMAC-SHA256 of ``{id}.{timestamp}.{METHOD} {path}\\n{body}``. Every other
  signed route, both ways (bridge → sidecar and sidecar → bridge), takes only this one. With ``v1``
  alone a signed ``privacy/export`` replayed to ``privacy/erase`` within the 5 minutes erased the
  member: the signature said nothing of where the request was going.

A route that wants ``fw2`` and gets a genuine ``v1`` signature was called by a bridge (or sidecar)
older than this scheme: that is :class:`OutdatedScheme`, answered with a sentence saying to update
it, not the "wrong secret" of a bad signature.

The library raises several kinds of exceptions on malformed headers (ValueError from a missing
comma, binascii.Error from bad base64); every one of them means the same thing to a sender:
the request is not authentic.

One refusal is worth explaining precisely: a request whose signature is genuine but whose
timestamp is outside the ±5 minute window. That is nearly always a server clock that drifted
(no NTP), not an attack, and "invalid signature" alone sends the admin hunting for a wrong
secret. So InvalidSignature carries ``details`` for the 401 body: ``reason: "clock_skew"``, how
far off the sender's clock is and a sentence saying so. The skew is only reported once the
signature has been checked with the site's secret, so a stranger learns nothing from it.

Secrets follow one rule, the bridge's too (its Farewell_Bridge_Signer): ``whsec_`` then standard
base64 (``+`` and ``/``, padding optional) of at least 24 bytes. A secret that breaks it never signs
and never verifies anything: decoded leniently, a pasted placeholder would become an empty HMAC key
that anyone can sign with.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import time
from datetime import datetime, timezone
from typing import Iterable, Mapping

from standardwebhooks import Webhook

from .config import MIN_SECRET_BYTES

# The reference library's window (it is not configurable there): ±5 minutes.
TOLERANCE_SECONDS = 300
# The two schemes, by the tag written before each signature ("v1,<base64>", "fw2,<base64>").
STANDARD_WEBHOOKS = "v1"
ROUTE_BOUND = "fw2"
SECRET_PREFIX = "whsec_"
# A whole secret longer than this is not one the sidecar issued (they are 50 characters).
MAX_SECRET_LENGTH = 256
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*={0,2}")
# A method is an HTTP token; a path has no spaces or control characters (so the "METHOD path" line is unambiguous).
_METHOD = re.compile(r"[A-Z]{1,16}")
_PATH = re.compile(r"/[\x21-\x7e]{0,2000}")


class InvalidSignature(Exception):
    """The request is not authentic. ``details``: extra fields for the 401 body (may be empty)."""

    def __init__(self, details: dict | None = None):
        self.details = details or {}
        super().__init__(self.details.get("reason", "invalid_signature"))


class OutdatedScheme(InvalidSignature):
    """A genuine ``v1`` signature on a route that takes ``fw2`` only: the sender predates route binding."""

    def __init__(self):
        super().__init__({"reason": "signature_scheme_outdated"})


class InvalidSecret(ValueError):
    """A secret that must not be used to sign or verify; ``reason`` is a short code, the text says why."""

    def __init__(self, reason: str, text: str):
        super().__init__(text)
        self.reason = reason


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_`` secret: the decoded bytes after the prefix. Raises InvalidSecret."""
    if not isinstance(secret, str) or not secret:
        raise InvalidSecret("missing", "there is no secret")
    if not secret.startswith(SECRET_PREFIX):
        raise InvalidSecret("prefix", "a secret starts with whsec_")
    if len(secret) > MAX_SECRET_LENGTH:
        raise InvalidSecret("too_long", f"a secret is at most {MAX_SECRET_LENGTH} characters")
    text = secret[len(SECRET_PREFIX):]
    if not _BASE64.fullmatch(text):
        if _BASE64URL.fullmatch(text):
            raise InvalidSecret("base64url", "the text after whsec_ is base64url (- and _): Farewell secrets are "
                                             "standard base64 (+ and /), as `sites add` prints them")
        raise InvalidSecret("not_base64", "the text after whsec_ is not base64")
    digits = text.rstrip("=")
    if len(digits) % 4 == 1 or (len(digits) != len(text) and len(text) % 4):
        raise InvalidSecret("not_base64", "the text after whsec_ is not base64 (a character is missing)")
    key = base64.b64decode(digits + "=" * (-len(digits) % 4))
    if len(key) < MIN_SECRET_BYTES:
        raise InvalidSecret("too_short", f"the secret decodes to {len(key)} bytes; at least {MIN_SECRET_BYTES} "
                                         f"are needed")
    return key


def secret_problem(secret: str) -> str | None:
    """Why a secret must not be used (a sentence), or None when it is a valid one."""
    try:
        secret_key(secret)
    except InvalidSecret as problem:
        return str(problem)
    return None


def scope(method: str, path: str) -> str:
    """The "METHOD path" a route-bound signature covers. The query string is not part of it."""
    method, path = method.upper(), path.split("?", 1)[0]
    if not _METHOD.fullmatch(method) or not _PATH.fullmatch(path):
        raise ValueError(f"not a method and path that can be signed: {method!r} {path!r}")
    return f"{method} {path}"


def sign(secret: str, webhook_id: str, body: str, at: datetime | None = None, *,
         method: str | None = None, path: str | None = None) -> dict[str, str]:
    """The three headers of a signed request. Without ``method`` and ``path``: Standard Webhooks
    ``v1`` (the events route only); with them: ``fw2``, valid on that route only. Raises
    InvalidSecret rather than sign with a secret that breaks the rule."""
    at = at or datetime.now(timezone.utc)
    key = secret_key(secret)
    if method is None and path is None:
        signature = Webhook(key).sign(webhook_id, at, body)
    else:
        bound = scope(method or "", path or "")
        mac = _mac(key, webhook_id, int(at.timestamp()), body, bound)
        signature = f"{ROUTE_BOUND},{base64.b64encode(mac).decode()}"
    return {"webhook-id": webhook_id, "webhook-timestamp": str(int(at.timestamp())), "webhook-signature": signature}


def verify(secrets: list[str], body: str, headers: Mapping[str, str], *,
           method: str | None = None, path: str | None = None) -> None:
    """Accept when any usable secret verifies the request within the ±5 minute window.

    Without ``method`` and ``path``: Standard Webhooks ``v1``, through the reference library. With
    them: ``fw2`` signatures for that method and path only; raises OutdatedScheme when the request
    carries a genuine ``v1`` signature instead."""
    keys = usable_keys(secrets)
    wanted = {k: headers.get(k, "") for k in ("webhook-id", "webhook-timestamp", "webhook-signature")}
    now = time.time()
    if method is None and path is None:
        for key in keys:
            try:
                Webhook(key).verify(body, wanted, json_parse=False)
                return
            except Exception:  # noqa: BLE001 - any failure to verify is a refusal
                continue
        raise InvalidSignature(_clock_skew(keys, body, wanted, now, None))
    try:
        bound = scope(method or "", path or "")
    except ValueError:
        raise InvalidSignature() from None
    timestamp = _timestamp(wanted)
    if timestamp is not None and abs(timestamp - now) <= TOLERANCE_SECONDS and \
            _genuine(keys, body, wanted, timestamp, bound):
        return
    if timestamp is not None and _genuine(keys, body, wanted, timestamp, None):
        raise OutdatedScheme()
    raise InvalidSignature(_clock_skew(keys, body, wanted, now, bound))


def verification_secrets(site: dict, now: datetime) -> list[str]:
    """The secrets of ``site`` a signature may be made with right now: its secret, and during a
    rotation (sidecar.domain.sites.rotate_secret) the previous one until it expires. Here, beside
    the signing itself, so that the bridge client, which signs, needs nothing from the domain."""
    valid = [site["secret"]]
    expires = site.get("previous_secret_expires_at")
    if site.get("previous_secret") and expires and expires > now:
        valid.append(site["previous_secret"])
    return valid


def usable_keys(secrets: Iterable[str]) -> list[bytes]:
    """The HMAC keys of the secrets that follow the rule; the others are left out, never used."""
    keys = []
    for secret in secrets:
        try:
            keys.append(secret_key(secret))
        except InvalidSecret:
            continue
    return keys


def clock_skew(secrets: list[str], body: str, headers: Mapping[str, str], now: float, *,
               method: str | None = None, path: str | None = None) -> dict | None:
    """The 401 details when the signature is genuine but the timestamp is out of the window, else None.

    ``clock_skew_seconds`` is the sender's clock minus the sidecar's: negative when the sender is behind."""
    bound = scope(method, path) if method is not None or path is not None else None
    return _clock_skew(usable_keys(secrets), body, headers, now, bound)


def _clock_skew(keys: list[bytes], body: str, headers: Mapping[str, str], now: float, bound: str | None):
    timestamp = _timestamp(headers)
    if timestamp is None:
        return None
    skew = timestamp - now
    if abs(skew) <= TOLERANCE_SECONDS:
        return None  # Inside the window: the signature itself is wrong.
    if not _genuine(keys, body, headers, timestamp, bound):
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


def _timestamp(headers: Mapping[str, str]) -> int | None:
    raw = headers.get("webhook-timestamp", "")
    if not raw.isascii() or not raw.isdigit() or len(raw) > 12:
        return None
    return int(raw)


def _mac(key: bytes, webhook_id: str, timestamp: int, body: str, bound: str | None) -> bytes:
    """HMAC-SHA256 of the signed content: ``{id}.{ts}.{body}`` (v1) or ``{id}.{ts}.{METHOD} {path}\\n{body}`` (fw2)."""
    content = f"{webhook_id}.{timestamp}." + (f"{bound}\n" if bound is not None else "") + body
    return hmac.new(key, content.encode("utf-8", "surrogateescape"), hashlib.sha256).digest()


def _genuine(keys: list[bytes], body: str, headers: Mapping[str, str], timestamp: int, bound: str | None) -> bool:
    """Whether a signature of the scheme (``fw2`` for ``bound``, else ``v1``) matches one key at the
    request's own timestamp."""
    tag = ROUTE_BOUND if bound is not None else STANDARD_WEBHOOKS
    msg_id = headers.get("webhook-id", "")
    passed = []
    for versioned in headers.get("webhook-signature", "").split(" "):
        version, _, signature = versioned.partition(",")
        if version != tag:
            continue
        try:
            passed.append(base64.b64decode(signature, validate=True))
        except (binascii.Error, ValueError):
            continue
    if not msg_id or not passed:
        return False
    for key in keys:
        expected = _mac(key, msg_id, timestamp, body, bound)
        if any(hmac.compare_digest(expected, candidate) for candidate in passed):
            return True
    return False
