from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, insert, or_, select, update
from sqlalchemy.engine import Connection

from . import _reads
from .tables import sequence_steps, site_settings, sites


def insert_site(conn: Connection, **values) -> None:
    conn.execute(insert(sites).values(**values))


# What a site's signatures are verified against (signing.verification_secrets): the events route
# keeps a site's row per process and stores an event only if these are still the row's
# (events.insert_event_if_site_secrets_are).
SITE_SECRET_COLUMNS = ("secret", "previous_secret", "previous_secret_expires_at")

_SITE = select(sites).where(sites.c.id == bindparam("site_id"))  # built once: the applier reads it per batch


# The applier's batch (_reads.keeping) reads the site to plan a cancellation's emails, which read
# its settings and its steps next: the three in one query, one row per step (two statements per
# batch fewer), kept for site_settings.get_settings and get_steps as their own reads keep them.
_SETTING_COLUMNS = [column.label(f"settings_{column.key}") for column in site_settings.c]
_STEP_COLUMNS = [column.label(f"step_{column.key}") for column in sequence_steps.c]
_SITE_SETTINGS_STEPS = (
    select(sites, *_SETTING_COLUMNS, *_STEP_COLUMNS)
    .select_from(sites.outerjoin(site_settings, site_settings.c.site_id == sites.c.id)
                 .outerjoin(sequence_steps, sequence_steps.c.site_id == sites.c.id))
    .where(sites.c.id == bindparam("site_id")))


def get_site(conn: Connection, site_id: str) -> dict | None:
    def read() -> dict | None:
        if _reads.keeping(conn):
            return _read_with_settings_and_steps(conn, site_id)
        row = conn.execute(_SITE, {"site_id": site_id}).mappings().first()
        return dict(row) if row else None
    return _reads.read(conn, ("site", site_id), read)


def _read_with_settings_and_steps(conn: Connection, site_id: str) -> dict | None:
    rows = conn.execute(_SITE_SETTINGS_STEPS, {"site_id": site_id}).mappings().all()
    if not rows:
        return None
    first = rows[0]
    settings = None
    if first["settings_site_id"] is not None:
        settings = {column.key: first[f"settings_{column.key}"] for column in site_settings.c}
    steps = {row["step_step"]: {column.key: row[f"step_{column.key}"] for column in sequence_steps.c}
             for row in rows if row["step_step"] is not None}
    _reads.keep(conn, ("settings", site_id), settings)
    _reads.keep(conn, ("steps", site_id), steps)
    return {column.key: first[column.key] for column in sites.c}


def list_sites(conn: Connection) -> list[dict]:
    return [dict(r) for r in conn.execute(select(sites).order_by(sites.c.created_at, sites.c.id)).mappings()]


def replace_secret(
    conn: Connection, site_id: str, secret: str, previous_secret: str | None, previous_expires_at: datetime | None
) -> None:
    """``previous_secret=None``: no older secret verifies any more."""
    conn.execute(
        update(sites)
        .where(sites.c.id == site_id)
        .values(secret=secret, previous_secret=previous_secret, previous_secret_expires_at=previous_expires_at)
    )


def end_sessions(conn: Connection, site_id: str, at: datetime) -> None:
    """Refuse every dashboard session of the site issued before ``at``. The moment only moves
    forward: a host whose clock runs behind cannot reopen what another host ended."""
    conn.execute(
        update(sites)
        .where(sites.c.id == site_id)
        .where(or_(sites.c.sessions_valid_after.is_(None), sites.c.sessions_valid_after < at))
        .values(sessions_valid_after=at)
    )
