"""Signed, purpose-scoped tokens for links in emails.

Each purpose has its own salt, so a token made for one purpose (answering the survey for one
cancellation) can never be used for another (unsubscribing, signing in), nor on another site.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from itsdangerous import BadSignature, URLSafeTimedSerializer

SURVEY_SALT = "farewell.survey-link.v1"
SURVEY_LINK_LIFETIME = timedelta(days=60)


class TokenError(ValueError):
    """``reason`` is "invalid" (tampered, wrong site, wrong purpose) or "expired"."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def survey_token(secret_key: str, site_id: str, cancellation_id: int) -> str:
    return URLSafeTimedSerializer(secret_key, salt=SURVEY_SALT).dumps([site_id, cancellation_id])


def read_survey_token(secret_key: str, site_id: str, token: str, used_at: datetime) -> int:
    """The cancellation a survey link answers for; the 60 days count up to when it was used
    (``used_at``), not when the answer reached us, as the bridge may deliver it days later."""
    try:
        payload, issued_at = URLSafeTimedSerializer(secret_key, salt=SURVEY_SALT).loads(token, return_timestamp=True)
    except BadSignature:
        raise TokenError("invalid") from None
    if not (isinstance(payload, list) and len(payload) == 2 and payload[0] == site_id and isinstance(payload[1], int)):
        raise TokenError("invalid")
    if used_at - issued_at.astimezone(timezone.utc) > SURVEY_LINK_LIFETIME:
        raise TokenError("expired")
    return payload[1]


def survey_url(site_url: str, token: str) -> str:
    """The bridge answers ``?farewell_survey=<token>`` on any front-end address of the site."""
    return f"{site_url.rstrip('/')}/?farewell_survey={token}"


# --- unsubscribe links -------------------------------------------------------------------------

UNSUBSCRIBE_SALT = "farewell.unsubscribe.v1"


def unsubscribe_token(secret_key: str, site_id: str, member_id: int) -> str:
    """A link that unsubscribes one member of one site. It does not expire: laws ask for at least
    30 days, and honouring an old "stop" is always right."""
    return URLSafeTimedSerializer(secret_key, salt=UNSUBSCRIBE_SALT).dumps([site_id, member_id])


def read_unsubscribe_token(secret_key: str, token: str) -> tuple[str, int]:
    """The (site id, member row id) an unsubscribe link names; TokenError("invalid") otherwise."""
    if len(token) > 500:
        raise TokenError("invalid")
    try:
        payload = URLSafeTimedSerializer(secret_key, salt=UNSUBSCRIBE_SALT).loads(token)
    except BadSignature:
        raise TokenError("invalid") from None
    if not (isinstance(payload, list) and len(payload) == 2 and isinstance(payload[0], str)
            and isinstance(payload[1], int) and not isinstance(payload[1], bool)):
        raise TokenError("invalid")
    return payload[0], payload[1]


def unsubscribe_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/u/{token}"
