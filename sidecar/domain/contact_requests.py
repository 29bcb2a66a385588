"""Members who asked to be contacted: the owner marks each request answered once they have."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.engine import Engine

from ..storage import dashboard as dashboard_store


def mark_answered(engine: Engine, site_id: str, request_id: int, now: datetime) -> bool:
    """Record that the owner answered; False when the site has no such open request (another
    site's, or one already answered: its first answer time stays)."""
    with engine.begin() as conn:
        return dashboard_store.mark_contact_request_answered(conn, site_id, request_id, now)
