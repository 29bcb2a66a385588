"""Per-site email settings and per-step overrides, as stored (defaults live in the domain)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, select, update
from sqlalchemy.engine import Connection

from . import _reads
from ._upsert import insert_if_absent
from .tables import sequence_steps, site_settings


# Built once: ingest reads both for every cancellation (see _upsert).
_SETTINGS = select(site_settings).where(site_settings.c.site_id == bindparam("site_id"))
_STEPS = select(sequence_steps).where(sequence_steps.c.site_id == bindparam("site_id"))


def get_settings(conn: Connection, site_id: str) -> dict | None:
    def read() -> dict | None:
        row = conn.execute(_SETTINGS, {"site_id": site_id}).mappings().first()
        return dict(row) if row else None
    return _reads.read(conn, ("settings", site_id), read)


def save_settings(conn: Connection, site_id: str, values: dict, now: datetime) -> None:
    insert_if_absent(conn, site_settings, {"site_id": site_id, "updated_at": now})
    conn.execute(update(site_settings).where(site_settings.c.site_id == site_id).values(updated_at=now, **values))


def get_steps(conn: Connection, site_id: str) -> dict[str, dict]:
    return _reads.read(conn, ("steps", site_id), lambda: {
        row["step"]: dict(row) for row in conn.execute(_STEPS, {"site_id": site_id}).mappings()})


def save_step(conn: Connection, site_id: str, step: str, values: dict, now: datetime) -> None:
    insert_if_absent(conn, sequence_steps, {"site_id": site_id, "step": step, "updated_at": now})
    conn.execute(
        update(sequence_steps)
        .where(sequence_steps.c.site_id == site_id, sequence_steps.c.step == step)
        .values(updated_at=now, **values)
    )
