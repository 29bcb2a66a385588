"""The applier: applies the events the requests stored (sidecar.domain.ingest.accept_event).

It runs in the jobs process and in ``serve``'s background thread (sidecar.jobs.applier), and may
run in any number of processes at once:

- each batch is one transaction that claims the due events (MariaDB: FOR UPDATE SKIP LOCKED, so
  two appliers never take the same event), applies each in ``occurred_at`` order, and marks them
  applied (one UPDATE) in that same transaction: an event is applied exactly once, and an applier
  killed mid-batch leaves its whole batch unapplied for the next one;
- an event whose apply fails (a bug, a row that breaks a constraint) rolls its batch back, which
  is then applied again with a savepoint per event: the failing one is rolled back alone and
  tried again with a growing delay; after MAX_ATTEMPTS, or at once when it contradicts what is stored (InvalidEvent: trying again cannot help), it is parked with its
  error until ``python -m sidecar events reapply``;
- a database that fails (unavailable, a deadlock, which rolls the whole transaction back) is no
  event's fault: the batch is given up without counting an attempt, and tried again.

The rules themselves are ingest's, unchanged: events arriving in any order give the same history.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import exc
from sqlalchemy.engine import Engine

from ..db import UNAVAILABLE_ERRORS, error_kind
from ..storage import events as events_store
from ..storage._reads import kept_for_transaction
from . import holdout
from .events import Event, InvalidEvent, parse_stored_event
from .ingest import Prepared, apply_event, finish_batch, prepare_batch

BATCH = 100
# With a backlog (the last batch came back full), batches of this many: the claim, the batch's
# fixed statements (about a dozen, see ingest.prepare_batch) and the commit are shared by more
# events, while the lock time stays well under a second on an idle machine (about 1 ms per event).
BACKLOG_BATCH = 400
MAX_ATTEMPTS = 8
# 2 s, 4 s, 8 s … : eight attempts spread over about four minutes, enough for a lock or a
# deployment to pass, short enough that a bug is parked (and seen) the same hour.
FIRST_RETRY = timedelta(seconds=2)

log = logging.getLogger(__name__)


@dataclass
class ApplyReport:
    claimed: int = 0
    applied: int = 0
    retrying: int = 0
    parked: int = 0


def apply_pending(engine: Engine, now: datetime | None = None, limit: int = BATCH) -> ApplyReport:
    """Apply one batch of due events; returns what happened. Raises one of
    ``sidecar.db.UNAVAILABLE_ERRORS`` when the database failed (nothing of the batch was kept).

    Almost every batch applies whole, so it is first applied without a savepoint per event (each
    costs two statements, SAVEPOINT and RELEASE, of about fifteen per event), and with the first
    steps of its events done set-wise (``ingest.prepare_batch``): if any event fails,
    that transaction is rolled back whole, nothing of it kept, and the batch is applied again
    event by event in savepoints, where the failing one is retried or parked alone.

    ``applied_at`` is when the batch's work was done (just before its commit), not when it was
    claimed: 202 → applied is what a batch's duration adds to an event's wait too. A given
    ``now`` (the tests, reapply) is both."""
    given, now = now, now or datetime.now(timezone.utc)
    try:
        with engine.begin() as conn, kept_for_transaction(conn):
            rows = events_store.claim_unapplied(conn, now, limit)
            parsed = [(row, _parse(row)) for row in rows]
            seen = holdout.before_events(conn, [(row["site_id"], event) for row, event in parsed])
            prepared = prepare_batch(conn, [(row["site_id"], row["id"], event, row["received_at"])
                                            for row, event in parsed])
            for row, event in parsed:
                _apply_parsed(conn, row, event, prepared.get(row["id"]))
            finish_batch(conn, prepared)
            events_store.mark_applied(conn, [row["id"] for row in rows], given or datetime.now(timezone.utc),
                                      [(event_id, p.member_id, p.subscription_id)
                                       for event_id, p in prepared.items() if p.link_at_mark])
            holdout.touched_by_events(conn, [row["id"] for row in rows], seen)  # kept figures they changed
    except UNAVAILABLE_ERRORS:
        raise
    except Exception:  # noqa: BLE001 — some event failed: find which, one savepoint each
        return _apply_one_by_one(engine, now, limit, given is None)
    return ApplyReport(claimed=len(rows), applied=len(rows))


def _apply_row(conn, row: dict) -> None:
    _apply_parsed(conn, row, _parse(row), None)


def _parse(row: dict) -> Event:
    return parse_stored_event(json.loads(row["payload"]), row["validated_with"])


def _apply_parsed(conn, row: dict, event: Event, prepared: Prepared | None) -> None:
    # The event's own arrival is the "now" of its effects, as when a request applied it: the same
    # history whenever (and however often, after a reapply) it is applied.
    apply_event(conn, row["site_id"], row["id"], event, row["received_at"], row["survey_cancellation_id"], prepared)


def _apply_one_by_one(engine: Engine, now: datetime, limit: int, stamp_at_end: bool = False) -> ApplyReport:
    report = ApplyReport()
    with engine.begin() as conn, kept_for_transaction(conn):
        # Claimed again: the rolled-back pass released its locks, another applier may have
        # taken (and applied) some of those events meanwhile.
        rows = events_store.claim_unapplied(conn, now, limit)
        report.claimed = len(rows)
        applied = []
        for row in rows:
            try:
                with conn.begin_nested():
                    _apply_row(conn, row)
            except UNAVAILABLE_ERRORS:
                raise
            except Exception as error:  # noqa: BLE001 — any failure of one event is that event's
                parked = _failed(conn, row, error, now)
                report.parked += parked
                report.retrying += not parked
            else:
                applied.append(row["id"])
        events_store.mark_applied(conn, applied, datetime.now(timezone.utc) if stamp_at_end else now)
        holdout.touched_by_events(conn, applied)  # kept figures they changed
        report.applied = len(applied)
    return report


def apply_all_pending(engine: Engine, now: datetime | None = None) -> ApplyReport:
    """Apply batches until none is due (the tests, ``events reapply``)."""
    total = ApplyReport()
    while True:
        report = apply_pending(engine, now)
        for field in ("claimed", "applied", "retrying", "parked"):
            setattr(total, field, getattr(total, field) + getattr(report, field))
        if report.claimed == 0:
            return total


def _failed(conn, row: dict, error: Exception, now: datetime) -> bool:
    """Record a failed attempt; returns whether the event is now parked."""
    attempts = row["apply_attempts"] + 1
    if isinstance(error, InvalidEvent):
        message, retry_at = f"invalid: {json.dumps(error.fields, ensure_ascii=False)}", None
    else:
        if isinstance(error, exc.SQLAlchemyError):
            message = error_kind(error)  # its text may quote the statement's values: members' data
        else:
            message = f"{type(error).__name__}: {error}"
        retry_at = None if attempts >= MAX_ATTEMPTS else now + FIRST_RETRY * 2 ** (attempts - 1)
    log.log(logging.ERROR if retry_at is None else logging.WARNING,
            "event %s of site %s not applied (attempt %d, %s): %s", row["id"], row["site_id"], attempts,
            "parked" if retry_at is None else f"retry at {retry_at.isoformat(timespec='seconds')}",
            type(error).__name__)
    events_store.record_apply_failure(conn, row["id"], message, retry_at)
    return retry_at is None


def reapply(engine: Engine, site_id: str | None = None, since: datetime | None = None,
            now: datetime | None = None) -> tuple[int, ApplyReport]:
    """Make the parked events (of a site, received since a moment) due again and apply them now;
    returns how many were unparked and what applying did."""
    now = now or datetime.now(timezone.utc)
    with engine.begin() as conn:
        unparked = events_store.unpark(conn, now, site_id, since)
    return unparked, apply_all_pending(engine, now)
