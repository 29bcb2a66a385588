"""Dashboard sessions: what one holds, how long it lasts, and how it ends before that.

A session is Flask's signed cookie (``sidecar/web/dashboard``), opened by a sign-in token from
WordPress (``login_tokens.py``). Nothing on the server opens it, so clearing it in the browser does
not end a copy taken from that browser. Two records refuse copies:

- per site, ``sites.sessions_valid_after``: every session issued before that moment is refused.
  It is raised by "Sign out everywhere", by every new signing secret (whoever held the old one
  could mint sign-in tokens), and when WordPress reports a new administration email address (the
  site may have changed hands; see ``digest.save_wordpress_admin_email``).
- per session, its random id in ``signed_out_sessions`` once it signs out, kept until the session
  would have expired anyway: signing out ends that session only, other browsers stay signed in.

A cookie made before sessions carried an id and an issue time is refused: its owner signs in again.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone

from sqlalchemy.engine import Connection, Engine

from ..storage import dashboard as dashboard_store
from ..storage import sites as sites_store

LIFETIME = timedelta(hours=8)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)
_MAX_ID = 64


def _microseconds(at: datetime) -> int:
    # Exact integer arithmetic: a float timestamp loses the microseconds, and a session issued in
    # the same second as "Sign out everywhere" must still fall on the right side of it.
    return (at - _EPOCH) // _MICROSECOND


def opened(now: datetime) -> dict:
    """What a new session holds besides who signed in: a random id and when it was issued."""
    return {"session_id": secrets.token_urlsafe(16), "signed_in_at": int(now.timestamp()),
            "issued_at": _microseconds(now)}


def reissued(now: datetime) -> dict:
    """The same session, issued again now: it outlives an ending of the others raised just before
    (the admin who asks for a new secret keeps working). Its 8 hours still count from sign-in."""
    return {"issued_at": _microseconds(now)}


def is_open(conn: Connection, site: dict, state: Mapping, now: datetime) -> bool:
    """Whether a session (the cookie's contents) of ``site`` may be honoured now."""
    session_id, signed_in_at, issued_at = state.get("session_id"), state.get("signed_in_at"), state.get("issued_at")
    if not (isinstance(session_id, str) and 0 < len(session_id) <= _MAX_ID and isinstance(issued_at, int)
            and isinstance(signed_in_at, (int, float))):
        return False
    if now.timestamp() - signed_in_at > LIFETIME.total_seconds():
        return False
    valid_after = site.get("sessions_valid_after")
    if valid_after is not None and issued_at < _microseconds(valid_after):
        return False
    return not dashboard_store.is_signed_out(conn, site["id"], session_id)


def sign_out(engine: Engine, site_id: str, state: Mapping, now: datetime) -> None:
    """End this session: any copy of its cookie is refused from now on."""
    session_id, signed_in_at = state.get("session_id"), state.get("signed_in_at")
    if not (isinstance(session_id, str) and 0 < len(session_id) <= _MAX_ID
            and isinstance(signed_in_at, (int, float))):
        return
    expires_at = datetime.fromtimestamp(signed_in_at, timezone.utc) + LIFETIME + timedelta(seconds=1)
    with engine.begin() as conn:
        dashboard_store.record_signed_out(conn, site_id, session_id, expires_at, now)


def end_all(conn: Connection, site_id: str, now: datetime) -> None:
    """End every session of the site issued until now (in the caller's transaction)."""
    sites_store.end_sessions(conn, site_id, now)


def sign_out_everywhere(engine: Engine, site_id: str, now: datetime) -> None:
    with engine.begin() as conn:
        end_all(conn, site_id, now)
