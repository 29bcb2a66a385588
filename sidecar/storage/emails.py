"""Scheduled emails: planning, claiming with a lease (sidecar.storage.leases), and recording what
happened.

Every status change goes through ``transition``, which only moves rows that are in one of the
statuses the domain allows (``sidecar.domain.email_status``) and only while the caller still
holds the email's lease.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, bindparam, case, exists, func, or_, select, update
from sqlalchemy.engine import Connection

from . import leases
from ._upsert import insert_all_if_absent
from .statuses import OWNER_ALERT_STEP, EmailStatus
from .tables import (
    cancellations,
    contact_requests,
    members,
    scheduled_emails,
    subscriptions,
    suppressions,
    survey_answers,
    winbacks,
)

_e = scheduled_emails
_PENDING, _SENDING, _SENT = EmailStatus.PENDING.value, EmailStatus.SENDING.value, EmailStatus.SENT.value


def plan(conn: Connection, **values) -> None:
    """Insert a scheduled email unless its (cancellation, step) or contact request exists already."""
    plan_all(conn, [values])


def plan_all(conn: Connection, emails: list[dict]) -> None:
    """``plan`` for several emails (all with the same keys) at once: a sequence is planned in
    the ingest transaction, so its emails share one round trip."""
    insert_all_if_absent(conn, _e, [{"attempts": 0, "created_at": values["updated_at"], **values}
                                    for values in emails])


def claim_due(conn: Connection, now: datetime, limit: int, token: str, lease_until: datetime,
              ended_before: datetime) -> tuple[list[int], list[int]]:
    """Claim up to ``limit`` emails that are due, or whose sender's lease ended before
    ``ended_before``; returns the ids claimed and, among them, those taken over from a sender
    that stopped mid-batch.

    A taken-over email may already have been accepted by the mail server (the sender died before
    recording it): its ``interrupted_sends`` goes up by one, so the possible duplicate is counted.

    Call inside a transaction. MariaDB/MySQL: rows another dispatcher is claiming right now are
    skipped (FOR UPDATE SKIP LOCKED), so dispatchers never wait on each other. SQLite: the
    engine's BEGIN IMMEDIATE already makes the whole claim one writer at a time; SQLAlchemy emits
    no FOR UPDATE there.
    """
    ids = list(conn.execute(_DUE, {"now": now, "limit": limit}).scalars())
    abandoned: list[int] = []
    if len(ids) < limit:
        abandoned = list(conn.execute(_ABANDONED, {"ended_before": ended_before, "limit": limit - len(ids)}).scalars())
    if abandoned:
        conn.execute(_INTERRUPTED, {"ids": abandoned})
    ids += abandoned
    if ids:
        conn.execute(_CLAIM, {"ids": ids, "token": token, "now": now, "lease_until": lease_until})
    return ids, abandoned


# Built once: each dispatcher batch claims, and building these took a third of the claim's CPU
# (the claim runs while the server takes one of the batch before's messages, a slot it overran).
_DUE = (
    select(_e.c.id)
    .where(_e.c.status == _PENDING, _e.c.due_at <= bindparam("now"))
    .order_by(_e.c.due_at, _e.c.id)
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True)
)
_ABANDONED = (
    select(_e.c.id)
    .where(leases.ended(_e, bindparam("ended_before")))
    .order_by(_e.c.lease_until, _e.c.id)
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True)
)
_INTERRUPTED = (update(_e).where(_e.c.id.in_(bindparam("ids", expanding=True)))
                .values(interrupted_sends=_e.c.interrupted_sends + 1))
_CLAIM = leases.claiming(_e, [_e.c.id.in_(bindparam("ids", expanding=True))])


def hold_recipients(conn: Connection, member_ids: list[int]) -> None:
    """Lock these members' rows until the transaction ends (MariaDB/MySQL; SQLite's BEGIN
    IMMEDIATE already holds the whole database).

    The dispatcher holds its recipient from its last check until the mail server accepted the
    message; an unsubscribe or a comeback holds the member before recording itself. So one of
    them always waits for the other: the check sees the unsubscribe, or the unsubscribe is
    recorded after the message was accepted, never in between. In id order, so two holders of
    several members cannot deadlock.
    """
    if member_ids:
        conn.execute(_HOLD, {"ids": sorted(member_ids)}).all()


# Built once: the dispatcher runs it before each batch's exchanges, where its building was time
# the mail server waited for (as _RECHECK below).
_HOLD = (select(members.c.id).where(members.c.id.in_(bindparam("ids", expanding=True))).order_by(members.c.id)
         .with_for_update())


def check_members_on_write(conn: Connection, check: bool) -> None:
    """Whether this connection's writes check the member a scheduled email names (MariaDB/MySQL;
    nothing to do on SQLite, which has no row locks).

    A dispatcher records its sends while its other transaction holds the members' rows
    (``hold_recipients``). InnoDB checks the member of an email whose status changes, taking a
    shared lock on the member's row, because the status is in the (member_id, status) index that
    serves the foreign key, though member_id does not change: that check would wait for the
    dispatcher's own hold until the lock wait timeout. Turned off only on the connection that
    records, for writes that change no foreign key column (statuses, leases, times, errors), and
    turned on again before that connection is used for anything else.
    """
    if conn.dialect.name in ("mysql", "mariadb"):
        conn.exec_driver_sql(f"SET SESSION foreign_key_checks = {1 if check else 0}")


def transition(
    conn: Connection, email_id: int, sources: tuple[str, ...], target: str, now: datetime, *,
    lease_token: str, give_back_attempt: bool = False, **values,
) -> bool:
    """Move one email being sent under ``lease_token`` to ``target`` if it is in one of
    ``sources``, letting go of the lease; returns whether it moved. ``give_back_attempt`` undoes
    the claim's count (the email was put back without being tried)."""
    if give_back_attempt:
        values["attempts"] = _e.c.attempts - 1
    where = [_e.c.id == email_id, _e.c.status.in_(sources)]
    return leases.release(conn, _e, where, lease_token, target, now, **values) == 1


# transition() to "sent", the one write per email between the server's "250" and the next
# message's "." (the dispatcher waits for it there): the statement built once, so a record only
# binds its values; building it per call was about half of the record's CPU.
_MARK_SENT = (
    update(_e)
    .where(_e.c.id == bindparam("email_id"), _e.c.status == _SENDING, _e.c.lease_token == bindparam("token"))
    .values(status=_SENT, lease_token=None, lease_until=None, updated_at=bindparam("now"), sent_at=bindparam("now"),
            last_error=None)
)


def mark_sent(conn: Connection, email_id: int, lease_token: str, now: datetime) -> bool:
    """``transition`` of an email being sent under ``lease_token`` to sent at ``now`` (the only
    source the domain allows it from is sending); returns whether it moved."""
    return conn.execute(_MARK_SENT, {"email_id": email_id, "token": lease_token, "now": now}).rowcount == 1


def cancel_pending(
    conn: Connection, now: datetime, reason: str, sources: tuple[str, ...], member_ids: list[int],
    cancellation_ids: list[int] | None = None,
) -> int:
    """Cancel the waiting emails of these members (only those of ``cancellation_ids`` when given);
    returns how many. The members always narrow it: by the cancellations and the status alone,
    SQLite, which keeps no statistics, would read every waiting email of the database by the
    (status, ...) index rather than the members' few by (member_id, status)."""
    if not member_ids or cancellation_ids == []:
        return 0
    where = [_e.c.member_id.in_(member_ids), _e.c.status.in_(sources), _e.c.step != OWNER_ALERT_STEP]
    if cancellation_ids is not None:
        where.append(_e.c.cancellation_id.in_(cancellation_ids))
    result = conn.execute(
        update(_e).where(*where).values(status=EmailStatus.CANCELLED.value, skip_reason=reason, updated_at=now)
    )
    return result.rowcount


def store_coupon(conn: Connection, email_id: int, lease_token: str, code: str | None, expires_at: datetime | None,
                 now: datetime) -> None:
    conn.execute(
        update(_e)
        .where(_e.c.id == email_id, _e.c.lease_token == lease_token)
        .values(coupon_code=code, coupon_expires_at=expires_at, updated_at=now)
    )


def get_email(conn: Connection, email_id: int) -> dict | None:
    row = conn.execute(select(_e).where(_e.c.id == email_id)).mappings().first()
    return dict(row) if row else None


_c, _m, _s, _a = cancellations, members, subscriptions, survey_answers
_sent = _e.alias("sent")
# Built once: the dispatcher runs it for every batch it claims (the ids expand to the batch's).
_SEQUENCE_CONTEXTS = (
    select(
        _e,
        _m.c.external_id.label("member_external_id"), _m.c.email, _m.c.first_name, _m.c.locale,
        _m.c.created_at.label("member_created_at"),
        _c.c.initiated_by, _c.c.kind, _c.c.cancelled_at, _c.c.access_ends_at, _c.c.resumed_at,
        _s.c.external_id.label("subscription_external_id"), _s.c.source, _s.c.plan_id, _s.c.plan_name,
        _s.c.amount, _s.c.currency, _s.c.started_at,
        _a.c.id.label("answer_id"), _a.c.reason, _a.c.follow_up,
        exists().where(winbacks.c.cancellation_id == _e.c.cancellation_id).label("won_back"),
        # Only the cancellation in the WHERE, its status counted: with both there, SQLite (no
        # statistics) read the subquery by the (status, …) index, every sent email of the database
        # for each email of the batch (160 ms a batch once 19,000 were sent). By the cancellation,
        # its own few emails (the unique index on cancellation_id, step).
        select(func.count(case((_sent.c.status == _SENT, 1)))).where(_sent.c.cancellation_id == _e.c.cancellation_id)
        .scalar_subquery().label("sent_so_far"),
    )
    .join(_m, _m.c.id == _e.c.member_id)
    # Outer joins: an owner alert has no cancellation; it comes with its own columns.
    .outerjoin(_c, _c.c.id == _e.c.cancellation_id)
    .outerjoin(_s, _s.c.id == _c.c.subscription_id)
    .outerjoin(_a, _a.c.cancellation_id == _c.c.id)
    .where(_e.c.id.in_(bindparam("ids", expanding=True)))
)


def sequence_contexts(conn: Connection, email_ids: list[int]) -> dict[int, dict]:
    """Claimed emails with everything their rules and their copy need, in one query for the
    batch: each email's member, cancellation, subscription and answer, whether the cancellation
    was won back (``won_back``) and how many of its emails were sent (``sent_so_far``)."""
    if not email_ids:
        return {}
    rows = conn.execute(_SEQUENCE_CONTEXTS, {"ids": list(email_ids)}).mappings()
    return {row["id"]: {**row, "won_back": bool(row["won_back"])} for row in rows}


def sequence_context(conn: Connection, email_id: int) -> dict | None:
    """``sequence_contexts`` of one email."""
    return sequence_contexts(conn, [email_id]).get(email_id)


def recheck(conn: Connection, email_ids: list[int], hashes: dict[int, str]) -> dict[int, dict]:
    """What may have changed since a batch was read, for each of its emails, in one query: who
    holds its lease, the member's address now, whether the cancellation was resumed or won back,
    and the suppression of the address the batch was read with (``hashes``: email id -> the
    address's key in ``suppressions``)."""
    if not email_ids:
        return {}
    checked: dict[int, dict] = {}
    for row in conn.execute(_RECHECK, {"ids": list(email_ids), "hashes": sorted(set(hashes.values()))}).mappings():
        email_id = row["id"]
        # The site's suppressions of any of the batch's addresses came with the email: only its own
        # address's counts (a row each, so an email of a site with several suppressed addresses of
        # this batch comes more than once).
        suppressed = row["suppressed"] if row["suppressed_hash"] == hashes.get(email_id) else None
        if email_id not in checked or suppressed is not None:
            checked[email_id] = {"id": email_id, "lease_token": row["lease_token"], "email": row["email"],
                                 "resumed_at": row["resumed_at"], "won_back": bool(row["won_back"]),
                                 "suppressed": suppressed}
    return checked


# Built once, with the batch's ids and addresses as lists (expanding parameters): built per batch,
# with a CASE of one WHEN per email for the address's suppression, its building took longer than
# the query, before each batch's exchanges, while the mail server waited.
_RECHECK = (
    select(_e.c.id, _e.c.lease_token, _m.c.email, _c.c.resumed_at,
           exists().where(winbacks.c.cancellation_id == _e.c.cancellation_id).label("won_back"),
           suppressions.c.email_hash.label("suppressed_hash"), suppressions.c.reason.label("suppressed"))
    .join(_m, _m.c.id == _e.c.member_id)
    .outerjoin(_c, _c.c.id == _e.c.cancellation_id)
    .outerjoin(suppressions, and_(suppressions.c.site_id == _e.c.site_id,
                                  suppressions.c.email_hash.in_(bindparam("hashes", expanding=True))))
    .where(_e.c.id.in_(bindparam("ids", expanding=True)))
)


def recipient(conn: Connection, site_id: str, member_id: int) -> dict | None:
    """A member of that site (and only of that site), by row id."""
    query = select(members).where(members.c.id == member_id, members.c.site_id == site_id)
    row = conn.execute(query).mappings().first()
    return dict(row) if row else None


def sent_before(conn: Connection, cancellation_id: int, at: datetime) -> list[dict]:
    """The cancellation's emails sent at or before ``at``, the latest first.

    Read by the cancellation alone (its unique (cancellation_id, step) key: a few rows, one per
    step) and filtered here: with the status in the WHERE too, SQLite, which keeps no statistics,
    reads by the (status, ...) index instead, every sent email of the database, and this runs for
    each win-back the applier records."""
    rows = conn.execute(select(_e).where(_e.c.cancellation_id == cancellation_id)).mappings()
    sent = [dict(row) for row in rows if row["status"] == _SENT and row["sent_at"] is not None and row["sent_at"] <= at]
    return sorted(sent, key=lambda row: (row["sent_at"], row["id"]), reverse=True)


def list_emails(conn: Connection, site_id: str, member_external_id: str | None, limit: int) -> list[dict]:
    """The site's scheduled emails (optionally one member's), the most recently due first."""
    m = members
    query = (
        select(_e, m.c.external_id.label("member_external_id"), m.c.email)
        .join(m, m.c.id == _e.c.member_id)
        .where(_e.c.site_id == site_id)
    )
    if member_external_id is not None:
        query = query.where(m.c.external_id == member_external_id)
    query = query.order_by(_e.c.due_at.desc(), _e.c.id.desc()).limit(limit)
    return [dict(r) for r in conn.execute(query).mappings()]


# --- owner alerts about contact requests -----------------------------------------------------


def contact_requests_to_alert(conn: Connection, limit: int) -> list[dict]:
    """Open contact requests whose owner alert is neither sent nor scheduled yet."""
    r = contact_requests
    query = (
        select(r.c.id, r.c.site_id, r.c.member_id)
        .outerjoin(_e, _e.c.contact_request_id == r.c.id)
        .where(r.c.alerted_at.is_(None), r.c.answered_at.is_(None), _e.c.id.is_(None))
        .order_by(r.c.requested_at, r.c.id)
        .limit(limit)
    )
    return [dict(row) for row in conn.execute(query).mappings()]


def member_alerted_since(conn: Connection, member_id: int, step: str, since: datetime) -> bool:
    """Whether an owner alert (``step``) about this member, planned at or after ``since``, went out
    or is going out: sent, being sent, or waiting with its contact request still there."""
    r = contact_requests
    going = or_(_e.c.status.in_((_SENT, _SENDING)), and_(_e.c.status == _PENDING, r.c.id.is_not(None)))
    query = (
        select(_e.c.id)
        .outerjoin(r, r.c.id == _e.c.contact_request_id)
        .where(_e.c.member_id == member_id, _e.c.step == step, _e.c.created_at >= since, going)
        .limit(1)
    )
    return conn.execute(query).first() is not None


def contact_request_context(conn: Connection, contact_request_id: int) -> dict | None:
    r, a, m = contact_requests, survey_answers, members
    query = (
        select(
            r.c.id, r.c.contact, r.c.requested_at, r.c.answered_at, r.c.alerted_at,
            a.c.reason, a.c.follow_up, a.c.comment, a.c.cancellation_id,
            m.c.external_id.label("member_external_id"), m.c.email, m.c.first_name, m.c.locale,
        )
        .join(a, a.c.id == r.c.answer_id)
        .join(m, m.c.id == r.c.member_id)
        .where(r.c.id == contact_request_id)
    )
    row = conn.execute(query).mappings().first()
    return dict(row) if row else None


def mark_contact_request_alerted(conn: Connection, contact_request_id: int, at: datetime) -> None:
    r = contact_requests
    conn.execute(update(r).where(and_(r.c.id == contact_request_id, r.c.alerted_at.is_(None))).values(alerted_at=at))
