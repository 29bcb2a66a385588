from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection

from ._upsert import ids_by_key, upsert_all_as_of, upsert_as_of
from .tables import members


def upsert_member(
    conn: Connection, site_id: str, external_id: str, details: dict, details_at: datetime, now: datetime
) -> int:
    """Create the member if new; refresh ``details`` unless a newer event already set them.

    Returns the member's row id.
    """
    return upsert_as_of(conn, members, _KEY, *_upsert(site_id, external_id, details, details_at, now))


def upsert_members(conn: Connection, rows: list[tuple[str, str, dict, datetime, datetime]]) -> dict[tuple[str, str], int]:
    """``upsert_member`` of each ``(site_id, external_id, details, details_at, now)``, in order, in
    a few statements for them all (the applier's batch); returns the ids by (site_id, external_id)."""
    upsert_all_as_of(conn, members, _KEY, [_upsert(*row) for row in rows])
    return ids_by_key(conn, members, _KEY, [(row[0], row[1]) for row in rows])


_KEY = (members.c.site_id, members.c.external_id)


def _upsert(site_id: str, external_id: str, details: dict, details_at: datetime, now: datetime):
    return ({"site_id": site_id, "external_id": external_id, "details_at": details_at, "created_at": now, **details},
            [(members.c.details_at, list(details))])


def members_by_email(conn: Connection, site_id: str, email: str) -> list[dict]:
    """Every member of the site with that address, compared case-insensitively."""
    query = select(members).where(members.c.site_id == site_id, func.lower(members.c.email) == email.lower())
    return [dict(r) for r in conn.execute(query.order_by(members.c.id)).mappings()]


def anonymize_member(conn: Connection, member_id: int) -> None:
    conn.execute(
        update(members)
        .where(members.c.id == member_id)
        .values(external_id=f"erased-{member_id}", email=f"erased-{member_id}@erased.invalid", first_name=None,
                locale=None)
    )


def external_id_of(conn: Connection, member_id: int) -> str | None:
    return conn.execute(select(members.c.external_id).where(members.c.id == member_id)).scalar_one_or_none()
