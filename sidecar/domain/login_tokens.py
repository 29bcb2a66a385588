"""Sign-in tokens from WordPress to the dashboard (docs/PROTOCOL.md, "Signing in to the dashboard").

``base64url(JSON payload) + "." + base64url(HMAC-SHA256(key, "farewell-login." + base64url payload))``,
where the key is the bytes of the site's ``whsec_`` secret (as for signed requests). The payload
names the site, the WordPress user and a random nonce; it lives at most 60 seconds and is used
once (the nonce is stored under a unique key when the token is accepted).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy.engine import Engine

from ..signing import verification_secrets
from ..storage import dashboard as dashboard_store
from ..storage import sites as sites_store

PURPOSE = b"farewell-login."
MAX_LIFETIME = 60  # seconds from iat to exp
CLOCK_SKEW = 10  # seconds of difference allowed between WordPress's clock and ours
MAX_TOKEN_LENGTH = 4000


class LoginRefused(Exception):
    """``reason``: "invalid" (malformed, tampered, unknown site), "expired" or "replayed".

    ``site`` is set only once the signature checked: a page about a refused token may name the
    site (a link back to its wp-admin) then, and never for a token anyone could have made up by
    writing a real site id into it. ``payload`` is what the token claims, checked or not."""

    def __init__(self, reason: str, payload: dict | None = None, site: dict | None = None):
        super().__init__(reason)
        self.reason = reason
        self.payload = payload or {}
        self.site = site


@dataclass(frozen=True)
class Admin:
    site_id: str
    user_id: str
    email: str
    display_name: str
    locale: str | None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def secret_bytes(secret: str) -> bytes:
    return base64.b64decode(secret[6:] if secret.startswith("whsec_") else secret)


def _mac(secret: str, encoded_payload: str) -> bytes:
    return hmac.new(secret_bytes(secret), PURPOSE + encoded_payload.encode(), hashlib.sha256).digest()


def mint(secret: str, site_id: str, user_id, user_email: str, display_name: str, locale: str | None,
         now: datetime | None = None, lifetime: int = MAX_LIFETIME) -> str:
    """A token exactly as the bridge makes it (used by `python -m sidecar dashboard-link` and tests)."""
    iat = int((now or datetime.now(timezone.utc)).timestamp())
    payload = {"site_id": site_id, "user_id": user_id, "user_email": user_email, "display_name": display_name,
               "locale": locale, "iat": iat, "exp": iat + lifetime, "nonce": secrets.token_hex(16)}
    encoded = _b64(json.dumps(payload, separators=(",", ":")).encode())
    return f"{encoded}.{_b64(_mac(secret, encoded))}"


def unverified_payload(token: str) -> dict:
    """What the token claims, before any check (to pick the language of an error page)."""
    try:
        payload = json.loads(_unb64(token.split(".", 1)[0]))
    except (ValueError, binascii.Error, UnicodeDecodeError, RecursionError):
        return {}
    return payload if isinstance(payload, dict) else {}


def accept(engine: Engine, token: str, now: datetime | None = None) -> Admin:
    """Verify a sign-in token and spend its nonce; raises LoginRefused."""
    now = now or datetime.now(timezone.utc)
    if not token or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 1:
        raise LoginRefused("invalid")
    encoded, signature = token.split(".")
    payload = unverified_payload(token)
    site_id = payload.get("site_id")
    if not isinstance(site_id, str):
        raise LoginRefused("invalid")
    with engine.connect() as conn:
        site = sites_store.get_site(conn, site_id)
    if site is None:
        raise LoginRefused("invalid", payload)
    try:
        given = _unb64(signature)
    except (ValueError, binascii.Error):
        raise LoginRefused("invalid", payload) from None
    if not any(hmac.compare_digest(_mac(secret, encoded), given) for secret in verification_secrets(site, now)):
        raise LoginRefused("invalid", payload)
    # Signed with the site's secret from here on: refusals may name the site.
    iat, exp, nonce, user_id = payload.get("iat"), payload.get("exp"), payload.get("nonce"), payload.get("user_id")
    if not (isinstance(iat, int) and isinstance(exp, int) and isinstance(nonce, str) and 16 <= len(nonce) <= 64
            and isinstance(user_id, (int, str)) and isinstance(payload.get("user_email"), str)):
        raise LoginRefused("invalid", payload, site)
    moment = now.timestamp()
    if exp - iat > MAX_LIFETIME or exp < iat or iat > moment + CLOCK_SKEW:
        raise LoginRefused("invalid", payload, site)
    if moment > exp + CLOCK_SKEW:
        raise LoginRefused("expired", payload, site)
    expires_at = datetime.fromtimestamp(exp + CLOCK_SKEW, timezone.utc) + timedelta(seconds=1)
    with engine.begin() as conn:
        if not dashboard_store.use_login_nonce(conn, site_id, nonce, str(user_id)[:64], expires_at, now):
            raise LoginRefused("replayed", payload, site)
    locale = payload.get("locale") if isinstance(payload.get("locale"), str) else None
    display = payload.get("display_name") if isinstance(payload.get("display_name"), str) else ""
    return Admin(site_id=site_id, user_id=str(user_id), email=payload["user_email"][:254],
                 display_name=display[:200] or payload["user_email"][:254], locale=locale)
