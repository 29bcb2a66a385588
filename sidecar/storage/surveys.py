from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.engine import Connection

from ._upsert import insert_if_absent
from .tables import (
    cancellations,
    contact_requests,
    members,
    scheduled_emails,
    subscriptions,
    survey_answers,
    survey_definitions,
)

_d, _a, _r = survey_definitions, survey_answers, contact_requests

ANSWER_FIELDS = ("definition_version", "locale", "reason", "follow_up", "comment", "contact_requested", "contact")


def latest_definition(conn: Connection, site_id: str) -> dict | None:
    query = select(_d).where(_d.c.site_id == site_id).order_by(_d.c.version.desc()).limit(1)
    row = conn.execute(query).mappings().first()
    return dict(row) if row else None


def get_definition(conn: Connection, site_id: str, version: int) -> dict | None:
    row = conn.execute(select(_d).where(_d.c.site_id == site_id, _d.c.version == version)).mappings().first()
    return dict(row) if row else None


def insert_definition_if_absent(conn: Connection, site_id: str, version: int, definition: str, now: datetime) -> None:
    insert_if_absent(conn, _d, {"site_id": site_id, "version": version, "definition": definition, "created_at": now})


def save_answer(
    conn: Connection,
    *,
    site_id: str,
    member_id: int,
    cancellation_id: int | None,
    subscription_external_id: str | None,
    event_id: int,
    answered_at: datetime,
    now: datetime,
    **fields,
) -> int | None:
    """Store an answer: one per cancellation, or, while its cancellation is not known, one per
    member and subscription (``subscription_external_id``, None included). The newest answer wins
    (by ``answered_at``); returns the answer's id, or None when a newer answer was already kept.

    An answer without a cancellation has no unique key to race on: the caller holds the member's
    row (emails.hold_recipients), so two of them cannot both insert."""
    values = {k: fields[k] for k in ANSWER_FIELDS}
    row = {"site_id": site_id, "member_id": member_id, "subscription_external_id": subscription_external_id,
           "event_id": event_id, "answered_at": answered_at, "created_at": now, "updated_at": now, **values}
    if cancellation_id is None:
        about = (_a.c.subscription_external_id.is_(None) if subscription_external_id is None
                 else _a.c.subscription_external_id == subscription_external_id)
        waiting = conn.execute(
            select(_a.c.id).where(_a.c.member_id == member_id, _a.c.cancellation_id.is_(None), about)
            .order_by(_a.c.id).limit(1)
        ).scalar()
        if waiting is None:
            return conn.execute(insert(_a).values(cancellation_id=None, **row)).inserted_primary_key[0]
        changed = conn.execute(
            update(_a)
            .where(_a.c.id == waiting, _a.c.answered_at <= answered_at)
            .values(event_id=event_id, answered_at=answered_at, updated_at=now, **values)
        ).rowcount
        return waiting if changed else None
    insert_if_absent(conn, _a, {"cancellation_id": cancellation_id, **row})
    changed = conn.execute(
        update(_a)
        .where(_a.c.cancellation_id == cancellation_id, _a.c.answered_at <= answered_at)
        .values(event_id=event_id, answered_at=answered_at, updated_at=now, **values)
    ).rowcount
    if not changed:
        return None
    return conn.execute(select(_a.c.id).where(_a.c.cancellation_id == cancellation_id)).scalar_one()


def get_answer(conn: Connection, answer_id: int) -> dict:
    return dict(conn.execute(select(_a).where(_a.c.id == answer_id)).mappings().one())


def answer_of_cancellation(conn: Connection, cancellation_id: int) -> dict | None:
    row = conn.execute(select(_a).where(_a.c.cancellation_id == cancellation_id)).mappings().first()
    return dict(row) if row else None


def attach_answer(conn: Connection, answer_id: int, cancellation_id: int, now: datetime) -> None:
    """Tie a waiting answer to its cancellation where it is: its id, and so its contact request
    and the owner's alert about it, stay the same."""
    conn.execute(update(_a).where(_a.c.id == answer_id).values(cancellation_id=cancellation_id, updated_at=now))


# Built once: ingest runs it for every cancellation (see _upsert).
_UNATTACHED = (
    select(_a)
    .where(
        _a.c.member_id == bindparam("member_id"),
        _a.c.cancellation_id.is_(None),
        _a.c.answered_at >= bindparam("since"),
        (_a.c.subscription_external_id == bindparam("subscription_external_id"))
        | _a.c.subscription_external_id.is_(None),
    )
    .order_by(_a.c.answered_at, _a.c.id)
)


def unattached_answers(
    conn: Connection, member_id: int, subscription_external_id: str, since: datetime
) -> list[dict]:
    """Answers of the member, given at or after ``since``, not yet tied to a cancellation, about
    this subscription or about none in particular; oldest first."""
    params = {"member_id": member_id, "since": since, "subscription_external_id": subscription_external_id}
    return [dict(r) for r in conn.execute(_UNATTACHED, params).mappings()]


def unattached_answers_of_members(conn: Connection, member_ids: list[int]) -> dict[int, list[dict]]:
    """Every answer of each of the members not yet tied to a cancellation, by member (the
    applier's batch reads them once, then picks as ``unattached_answers``)."""
    found: dict[int, list[dict]] = {member_id: [] for member_id in member_ids}
    if member_ids:
        query = select(_a).where(_a.c.member_id.in_(bindparam("ids", expanding=True)), _a.c.cancellation_id.is_(None))
        for row in conn.execute(query, {"ids": sorted(set(member_ids))}).mappings():
            found[row["member_id"]].append(dict(row))
    return found


def delete_answer(conn: Connection, answer_id: int) -> None:
    """Remove an answer merged into another one, with its contact request."""
    _delete_requests(conn, _r.c.answer_id == answer_id)
    conn.execute(delete(_a).where(_a.c.id == answer_id))


def _delete_requests(conn: Connection, *where) -> None:
    """Delete contact requests. Their owner alerts let go of them first: SQLite gives a deleted
    row's id to the next row, whose request would otherwise pass for alerted already; an alert
    still waiting is then skipped as withdrawn."""
    ids = list(conn.execute(select(_r.c.id).where(*where)).scalars())
    if ids:
        e = scheduled_emails
        conn.execute(update(e).where(e.c.contact_request_id.in_(ids)).values(contact_request_id=None))
        conn.execute(delete(_r).where(_r.c.id.in_(ids), *where))


def open_contact_request(conn: Connection, site_id: str, answer: dict, now: datetime) -> None:
    insert_if_absent(conn, _r, {
        "site_id": site_id, "answer_id": answer["id"], "member_id": answer["member_id"],
        "contact": answer["contact"], "requested_at": answer["answered_at"], "created_at": now,
    })
    conn.execute(update(_r).where(_r.c.answer_id == answer["id"]).values(contact=answer["contact"]))


def withdraw_contact_request(conn: Connection, answer_id: int) -> None:
    """The member changed their mind before the owner answered."""
    _delete_requests(conn, _r.c.answer_id == answer_id, _r.c.answered_at.is_(None))


def answering_for(conn: Connection, site_id: str, cancellation_id: int) -> dict | None:
    """The cancellation a survey link names, with its member, subscription and any answer."""
    c, m, s = cancellations, members, subscriptions
    query = (
        select(
            c.c.id.label("cancellation_id"), c.c.cancelled_at, m.c.external_id.label("member_external_id"),
            m.c.email, m.c.first_name, m.c.locale, s.c.external_id.label("subscription_external_id"), s.c.source,
            s.c.plan_name, _a.c.id.label("answer_id"),
        )
        .join(m, m.c.id == c.c.member_id)
        .join(s, s.c.id == c.c.subscription_id)
        .outerjoin(_a, _a.c.cancellation_id == c.c.id)
        .where(c.c.site_id == site_id, c.c.id == cancellation_id)
    )
    row = conn.execute(query).mappings().first()
    return dict(row) if row else None


def list_contact_requests(conn: Connection, site_id: str, status: str) -> list[dict]:
    """Contact requests with who asked and what they said; open ones are the oldest first."""
    m = members
    query = (
        select(
            _r.c.id, _r.c.contact, _r.c.requested_at, _r.c.answered_at, _r.c.alerted_at,
            m.c.external_id.label("member_external_id"), m.c.email, m.c.first_name,
            _a.c.reason, _a.c.comment, _a.c.cancellation_id,
        )
        .join(_a, _a.c.id == _r.c.answer_id)
        .join(m, m.c.id == _r.c.member_id)
        .where(_r.c.site_id == site_id)
    )
    if status == "open":
        query = query.where(_r.c.answered_at.is_(None))
    elif status == "answered":
        query = query.where(_r.c.answered_at.is_not(None))
    return [dict(r) for r in conn.execute(query.order_by(_r.c.requested_at, _r.c.id)).mappings()]
