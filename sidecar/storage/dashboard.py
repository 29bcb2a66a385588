"""The owner's dashboard reads and writes: answers with filters, contact requests, sign-in nonces,
signed-out sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from .tables import (
    cancellations,
    contact_requests,
    login_nonces,
    members,
    signed_out_sessions,
    sites,
    subscriptions,
    survey_answers,
    survey_definitions,
)

_a, _c, _m, _s, _r = survey_answers, cancellations, members, subscriptions, contact_requests


def use_login_nonce(conn: Connection, site_id: str, nonce: str, user_id: str, expires_at: datetime,
                    now: datetime) -> bool:
    """Record a sign-in token's nonce; False when it was used before (a replay)."""
    conn.execute(delete(login_nonces).where(login_nonces.c.expires_at < now))
    try:
        with conn.begin_nested():
            conn.execute(insert(login_nonces).values(site_id=site_id, nonce=nonce, user_id=user_id,
                                                     expires_at=expires_at, used_at=now))
    except IntegrityError:
        return False
    return True


def record_signed_out(conn: Connection, site_id: str, session_id: str, expires_at: datetime, now: datetime) -> None:
    """Remember a signed-out session until it would have expired anyway."""
    conn.execute(delete(signed_out_sessions).where(signed_out_sessions.c.expires_at < now))
    try:
        with conn.begin_nested():
            conn.execute(insert(signed_out_sessions).values(site_id=site_id, session_id=session_id,
                                                            expires_at=expires_at))
    except IntegrityError:
        pass  # signed out twice (two tabs): already recorded


def is_signed_out(conn: Connection, site_id: str, session_id: str) -> bool:
    found = conn.execute(
        select(signed_out_sessions.c.session_id)
        .where(signed_out_sessions.c.site_id == site_id, signed_out_sessions.c.session_id == session_id)
    ).first()
    return found is not None


def _answers_query(site_id: str, filters: dict):
    query = (
        select(
            _a.c.id, _a.c.answered_at, _a.c.reason, _a.c.follow_up, _a.c.comment, _a.c.contact_requested,
            _a.c.contact, _a.c.locale, _a.c.definition_version, _m.c.email, _m.c.first_name,
            _m.c.external_id.label("member_external_id"), _s.c.plan_name, _s.c.amount, _s.c.currency,
            _s.c.interval, _c.c.cancelled_at, _c.c.followup_group,
        )
        .select_from(_a.join(_m, _m.c.id == _a.c.member_id)
                     .outerjoin(_c, _c.c.id == _a.c.cancellation_id)
                     .outerjoin(_s, _s.c.id == _c.c.subscription_id))
        .where(_a.c.site_id == site_id)
    )
    if filters.get("reason"):
        query = query.where(_a.c.reason == filters["reason"]) if filters["reason"] != "none" \
            else query.where(_a.c.reason.is_(None))
    if filters.get("plan"):
        query = query.where(_s.c.plan_name == filters["plan"])
    if filters.get("since"):
        query = query.where(_a.c.answered_at >= filters["since"])
    if filters.get("until"):
        query = query.where(_a.c.answered_at < filters["until"])
    if filters.get("q"):
        escaped = filters["q"].lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        query = query.where(or_(func.lower(_a.c.comment).like(pattern, escape="\\"),
                                func.lower(_a.c.follow_up).like(pattern, escape="\\"),
                                func.lower(_m.c.email).like(pattern, escape="\\")))
    return query


def list_answers(conn: Connection, site_id: str, filters: dict, limit: int | None = None,
                 offset: int = 0) -> list[dict]:
    """Survey answers with who gave them and about which plan, newest first."""
    query = _answers_query(site_id, filters).order_by(_a.c.answered_at.desc(), _a.c.id.desc())
    if limit is not None:
        query = query.limit(limit).offset(offset)
    return [dict(r) for r in conn.execute(query).mappings()]


def count_answers(conn: Connection, site_id: str, filters: dict) -> int:
    return conn.execute(select(func.count()).select_from(_answers_query(site_id, filters).subquery())).scalar_one()


def has_cancellations(conn: Connection, site_id: str) -> bool:
    """Whether any cancellation of the site was ever recorded (imported history included)."""
    return conn.execute(select(_c.c.id).where(_c.c.site_id == site_id).limit(1)).first() is not None


def has_answers(conn: Connection, site_id: str) -> bool:
    """Whether any exit-survey answer of the site was ever recorded."""
    return conn.execute(select(_a.c.id).where(_a.c.site_id == site_id).limit(1)).first() is not None


def plan_names(conn: Connection, site_id: str) -> list[str]:
    query = (select(_s.c.plan_name).where(_s.c.site_id == site_id, _s.c.plan_name.is_not(None))
             .distinct().order_by(_s.c.plan_name))
    return [row[0] for row in conn.execute(query)]


def mark_contact_request_answered(conn: Connection, site_id: str, request_id: int, now: datetime) -> bool:
    """False when there is no such open request on this site."""
    return bool(conn.execute(
        update(_r).where(_r.c.site_id == site_id, _r.c.id == request_id, _r.c.answered_at.is_(None))
        .values(answered_at=now)).rowcount)


def update_site(conn: Connection, site_id: str, **values) -> None:
    conn.execute(update(sites).where(sites.c.id == site_id).values(**values))


def insert_definition(conn: Connection, site_id: str, version: int, definition: str, now: datetime) -> bool:
    """A new survey version; False when that version number was taken meanwhile."""
    try:
        with conn.begin_nested():
            conn.execute(insert(survey_definitions).values(site_id=site_id, version=version, definition=definition,
                                                           created_at=now))
    except IntegrityError:
        return False
    return True
