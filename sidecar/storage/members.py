from __future__ import annotations

from datetime import datetime

from sqlalchemy import exists, func, or_, select, update
from sqlalchemy.engine import Connection

from ._upsert import ids_by_key, upsert_all_as_of, upsert_as_of
from .tables import cancellations, events, members, survey_answers


def upsert_member(
    conn: Connection, site_id: str, external_id: str, details: dict, details_at: datetime, now: datetime
) -> int:
    """Create the member if new; refresh ``details`` unless a newer event already set them.

    Returns the member's row id.
    """
    return upsert_as_of(conn, members, _KEY, *_upsert(site_id, external_id, details, details_at, now))


def upsert_members(conn: Connection, rows: list[tuple[str, str, dict, datetime, datetime]],
                   with_history: set[int] | None = None) -> dict[tuple[str, str], int]:
    """``upsert_member`` of each ``(site_id, external_id, details, details_at, now)``, in order, in
    a few statements for them all (the applier's batch); returns the ids by (site_id, external_id).
    ``with_history``: filled with the ids of those that have an event, a survey answer or a
    cancellation, read by the same query as their ids (a member new to the database has none)."""
    upsert_all_as_of(conn, members, _KEY, [_upsert(*row) for row in rows])
    keys = [(row[0], row[1]) for row in rows]
    if with_history is None:
        return ids_by_key(conn, members, _KEY, keys)
    found = ids_by_key(conn, members, _KEY, keys, value=(members.c.id, _HAS_HISTORY))
    with_history.update(id_ for id_, has_history in found.values() if has_history)
    return {key: id_ for key, (id_, _) in found.items()}


_KEY = (members.c.site_id, members.c.external_id)
# Whether anything refers to the member: an event linked to it, a survey answer, a cancellation
# (each by an index on member_id).
_HAS_HISTORY = or_(*(exists().where(table.c.member_id == members.c.id)
                     for table in (events, survey_answers, cancellations))).label("has_history")


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
