"""Accepting an event, and applying its effects.

A request only stores the event (``accept_event``: one insert); the applier
(sidecar.domain.applier) applies it later with ``apply_event``, in the transaction that marks it
applied. ``record_event`` does both at once, for callers in this process (the demo, imports).

Events arrive late, twice and out of order (the bridge retries for days, and appliers run side by
side), so every rule here is written against ``occurred_at``, never against the order of arrival.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import partial

from sqlalchemy import exc
from sqlalchemy.engine import Connection, Engine

from ..storage import cancellations as cancellations_store
from ..storage import events as events_store
from ..storage import sites as sites_store
from ..storage import surveys as surveys_store
from ..storage import winbacks as winbacks_store
from ..storage.members import external_id_of, upsert_member, upsert_members
from ..storage.subscriptions import (
    find_subscription,
    mark_replaced,
    members_of_subscriptions,
    replaced_at_of,
    start_again,
    upsert_subscription,
    upsert_subscriptions,
)
from . import at_risk, holdout, sequences, survey, winbacks
from .events import SCHEMA_DIGEST, Event, InvalidEvent

# The subscription status each lifecycle event implies; other events leave the status alone.
STATUS_AFTER = {
    "subscription.cancelled": "cancelled",
    "subscription.paused": "paused",
    "subscription.resumed": "active",
    "subscription.expired": "expired",
}


class Outcome(enum.Enum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"


class RetryLater(Exception):
    """A concurrent request won a race on a unique key; the same request will succeed if retried."""


def accept_event(
    engine: Engine,
    site_id: str,
    webhook_id: str,
    raw_body: str,
    event: Event,
    now: datetime | None = None,
    answered_cancellation_id: int | None = None,
) -> Outcome:
    """Store the event under its webhook id, to be applied by the applier, or report it as a
    duplicate. ``event`` is ``parse_event`` of ``raw_body``'s JSON document: it is stored as
    validated (the applier does not validate it again under the same rules).

    ``answered_cancellation_id`` is the cancellation named by a verified survey-link token. A
    survey answer is checked against the survey it answers first (its version, reasons, lengths),
    so a bad answer is refused now rather than parked later. Raises InvalidEvent, one of
    ``sidecar.db.UNAVAILABLE_ERRORS`` when the database cannot take it, or RetryLater; in every
    one of those cases nothing was written.
    """
    with engine.connect() as conn:
        return accept_event_on(conn, site_id, webhook_id, raw_body, event, now, answered_cancellation_id)


def accept_event_on(
    conn: Connection,
    site_id: str,
    webhook_id: str,
    raw_body: str,
    event: Event,
    now: datetime | None = None,
    answered_cancellation_id: int | None = None,
    verified_against: dict | None = None,
) -> Outcome:
    """``accept_event`` on a connection the caller checked out, for the events route: it read the
    site's secret on it, and the event is stored in that same transaction, committed here (one
    checkout, one ping, no second transaction: 6 round trips to MariaDB per 202 became 4). Raises
    as ``accept_event``; the transaction is then rolled back, nothing written.

    ``verified_against``: the site's row as the caller read it earlier (kept by the process), which
    the signature was verified against; the event is stored only if the site's secrets are still
    those (checked by the INSERT itself: 3 round trips per 202, a plain insert's), else nothing is
    written and SiteChanged is raised: the caller reads the site again and verifies again."""
    now = now or datetime.now(timezone.utc)
    return _store(conn, site_id, webhook_id, raw_body, event, now, answered_cancellation_id, apply=False,
                  verified_against=verified_against)


class SiteChanged(Exception):
    """The site's secrets changed (rotated) or the site is gone since the row a signature was
    verified against was read: nothing was stored."""


@dataclass
class BatchItem:
    """One event of a batch (POST …/events/batch): its webhook id, the payload to store (the event
    as its own JSON document, which the applier parses again), the parsed Event and, for a survey
    answer from an email link, the cancellation its token names."""

    webhook_id: str
    raw: str
    event: Event
    answered_cancellation_id: int | None = None


def accept_events(engine: Engine, site_id: str, items: list[BatchItem],
                  now: datetime | None = None) -> list[Outcome | InvalidEvent]:
    """Store a batch's valid events in one transaction, each once per (site, webhook id), to be
    applied by the applier; returns, per item in order, ACCEPTED, DUPLICATE or the InvalidEvent
    that refused it (a survey answer checked as ``accept_event`` checks it). One bad item never
    refuses the others.

    Set-wise rather than ``accept_event`` per item: one select of the ids already stored, one
    multi-row insert that skips a (site, webhook id) already there, one select of what it stored.
    An id that appears twice in the batch is stored from its first valid item; the later ones are
    duplicates. Raises one of ``sidecar.db.UNAVAILABLE_ERRORS`` when the database cannot take it
    (then nothing of the batch was written)."""
    now = now or datetime.now(timezone.utc)
    outcomes: list[Outcome | InvalidEvent | None] = [None] * len(items)
    with engine.begin() as conn:
        fresh: dict[str, int] = {}  # webhook id -> index of the item that stores it
        for index, item in enumerate(items):
            if item.event.type == "survey.submitted":
                try:
                    survey.check_answer(conn, site_id, item.event.survey, now)
                    if item.answered_cancellation_id is None:
                        _check_subscription_is_theirs(conn, site_id, item.event)
                except InvalidEvent as invalid:
                    outcomes[index] = invalid
                    continue
            if item.webhook_id in fresh:
                outcomes[index] = Outcome.DUPLICATE
            else:
                fresh[item.webhook_id] = index
        stored_before = events_store.stored_webhook_ids(conn, site_id, list(fresh))
        # In webhook-id order: two batches holding the same ids then lock their keys in the same
        # order, and wait for each other instead of deadlocking (MariaDB).
        rows = [_row(site_id, items[fresh[webhook_id]], now) for webhook_id in sorted(fresh)
                if webhook_id not in stored_before]
        events_store.insert_events_if_absent(conn, rows)
        # Normally every row above; a concurrent request that stored one of these ids between the
        # two statements keeps its own (its received_at is not this batch's): a duplicate here.
        stored_now = events_store.webhook_ids_received_at(conn, site_id, [r["webhook_id"] for r in rows], now)
        for webhook_id, index in fresh.items():
            outcomes[index] = Outcome.ACCEPTED if webhook_id in stored_now else Outcome.DUPLICATE
    return outcomes  # type: ignore[return-value]


def _row(site_id: str, item: BatchItem, now: datetime) -> dict:
    """The events row of an accepted event: the single path's columns (``_store``), unapplied."""
    event = item.event
    return dict(site_id=site_id, webhook_id=item.webhook_id, type=event.type, source=event.source,
                initiated_by=event.initiated_by, occurred_at=event.occurred_at, received_at=now,
                payload=item.raw, applied_at=None, apply_after=now,
                survey_cancellation_id=item.answered_cancellation_id, imported=event.imported,
                validated_with=SCHEMA_DIGEST)


def record_event(
    engine: Engine,
    site_id: str,
    webhook_id: str,
    raw_body: str,
    event: Event,
    now: datetime | None = None,
    answered_cancellation_id: int | None = None,
) -> Outcome:
    """Store the event and apply it in one transaction, or report it as a duplicate: for callers
    that hold the Event itself (the demo, imported history, whose ``imported`` is not in the
    payload). Raises as ``accept_event`` does, and InvalidEvent when the event contradicts what
    is stored."""
    now = now or datetime.now(timezone.utc)
    with engine.connect() as conn:
        return _store(conn, site_id, webhook_id, raw_body, event, now, answered_cancellation_id, apply=True)


def _store(conn: Connection, site_id: str, webhook_id: str, raw_body: str, event: Event, now: datetime,
           answered_cancellation_id: int | None, apply: bool, verified_against: dict | None = None) -> Outcome:
    """The event stored (and applied if ``apply``) in the connection's transaction, begun or not,
    then committed; on any error rolled back. ``verified_against``: see accept_event_on."""
    try:
        if event.type == "survey.submitted" and not apply:
            survey.check_answer(conn, site_id, event.survey, now)
            if answered_cancellation_id is None:
                _check_subscription_is_theirs(conn, site_id, event)
        insert = events_store.insert_event if verified_against is None else \
            partial(events_store.insert_event_if_site_secrets_are, site=verified_against)
        event_id = insert(
            conn,
            site_id=site_id,
            webhook_id=webhook_id,
            type=event.type,
            source=event.source,
            initiated_by=event.initiated_by,
            occurred_at=event.occurred_at,
            received_at=now,
            payload=raw_body,
            applied_at=now if apply else None,
            apply_after=None if apply else now,
            survey_cancellation_id=answered_cancellation_id,
            imported=event.imported,
            # Accepted, the event is ``raw_body`` validated by parse_event: the applier need not
            # validate it again under the same rules. Applied here, it may not be its payload
            # (the demo's, imported history's "imported"), and is never applied again.
            validated_with=None if apply else SCHEMA_DIGEST,
        )
        if event_id is None:
            raise SiteChanged()
        if apply:
            apply_event(conn, site_id, event_id, event, now, answered_cancellation_id)
            holdout.touched_by_events(conn, [event_id])  # kept figures it changed
        conn.commit()
    except exc.IntegrityError as error:
        conn.rollback()
        # The unique (site, webhook id) key turns a concurrent retry into this error; read in a
        # transaction of its own, which sees the retry's commit.
        duplicate = events_store.event_exists(conn, site_id, webhook_id)
        conn.rollback()
        if duplicate:
            return Outcome.DUPLICATE
        raise RetryLater() from error
    except BaseException:
        conn.rollback()
        raise
    return Outcome.ACCEPTED


def _check_subscription_is_theirs(conn: Connection, site_id: str, event: Event) -> None:
    """Refuse now an answer about a known subscription of another member (the applier would park
    it: ``_answer`` checks it again, for a subscription not known yet)."""
    subscription_external_id = event.survey.get("subscription_id")
    if not subscription_external_id:
        return
    subscription = find_subscription(conn, site_id, event.source, subscription_external_id)
    if subscription is not None and event.member is not None \
            and external_id_of(conn, subscription["member_id"]) != event.member.id:
        raise InvalidEvent({"survey.subscription_id": "is not a subscription of this member"})


_UNREAD = object()


@dataclass(frozen=True)
class Prepared:
    """What ``prepare_batch`` already did for one event: its member and subscription written (their
    rows held to the commit) and the event linked to them (or left to the batch's mark:
    ``link_at_mark``), and, for an event of at_risk.TYPES, whether its subscription has an at-risk
    state row."""

    member_id: int
    subscription_id: int | None
    has_at_risk_state: bool | None
    # What its rules read, read for the whole batch (None: not read, the rules read it themselves):
    # every cancellation of its subscription, the subscription's resumes and expiries, and the
    # member's comebacks (subscription.created/resumed events).
    cancellations: list[dict] | None = None
    ends: list[dict] | None = None
    comebacks: list[dict] | None = None
    # The batch's planned emails (one list for all its events), inserted together by finish_batch:
    # no other event of the batch reads or stops this member's emails, nothing outside it sees
    # them before the commit.
    planned: list[dict] | None = None
    # For a comeback (subscription.created/resumed): the member's cancellations not won back yet.
    not_won_back: list[dict] | None = None
    # For a cancellation: the member's survey answers tied to no cancellation yet (the early
    # answers it may take).
    unattached: list[dict] | None = None
    # The batch's new cancellations (one list for all its events) as (values, their planned
    # emails), inserted together by finish_batch: a cancellation that takes no early answer and
    # that no comeback wins back at once needs its id only for its emails, which are inserted
    # after it, and no other event of the batch reads its member's or subscription's cancellations.
    new_cancellations: list[tuple[dict, list[dict]]] | None = None
    # For a cancellation, an expiry or a start: when its subscription was replaced (None: never),
    # read for the batch; _UNREAD: not read (``_replaced_by`` reads it, ``start_again`` tries).
    replaced_at: object = _UNREAD
    # Not linked yet to its member and subscription: the UPDATE that marks the batch applied links
    # it (``events.mark_applied``'s links), its row then written once. For an event whose rules
    # read no event row by its own link: all but an at-risk event that recomputes its
    # subscription's stays (at_risk.on_event_applied reads its events, this one among them).
    link_at_mark: bool = False


def prepare_batch(conn: Connection, batch: list[tuple[str, int, Event, datetime]]) -> dict[int, Prepared]:
    """For the applier's batch of (site_id, event_id, event, now) in the order they will be
    applied: the first steps of ``apply_event`` done set-wise, a few statements for the batch
    instead of five per event (member and subscription upserts, the event's link, the at-risk
    state read); returns them by event id, for ``apply_event``'s ``prepared``.

    Only for an event whose member and subscription no other event of the batch names: its rows
    then hold, when its rules run, exactly what they would hold had each event been applied whole
    before the next (nothing else of the batch writes them, and its rules read only its own
    member's and subscription's rows and links), so the order and the out-of-order rules are
    unchanged. The other events are applied step by step (and one that moves its subscription to
    another member), and a batch holding a survey answer (whose member a token may name) entirely
    so."""
    if any(event.type == "survey.submitted" for _, _, event, _ in batch):
        return {}
    member_keys: dict[tuple, int] = {}
    subscription_keys: dict[tuple, int] = {}
    for site_id, _, event, _ in batch:
        member_keys[(site_id, event.member.id)] = member_keys.get((site_id, event.member.id), 0) + 1
        if event.subscription is not None:
            key = (site_id, event.source, event.subscription.id)
            subscription_keys[key] = subscription_keys.get(key, 0) + 1
    alone = [(site_id, event_id, event, now) for site_id, event_id, event, now in batch
             if member_keys[(site_id, event.member.id)] == 1
             and (event.subscription is None or subscription_keys[(site_id, event.source, event.subscription.id)] == 1)]
    if len(alone) < 2:
        return {}  # nothing to gain: the set-wise reads cost more than one event's own
    # Which members and subscriptions the database held anything of before (an event, a
    # cancellation, an answer), read with their ids: the rules' reads below are made for those
    # alone, a new one has nothing to find (a statement per read and batch when all are new).
    members_with_history: set[int] = set()
    member_ids = upsert_members(conn, [(site_id, event.member.id, _member_details(event), event.occurred_at, now)
                                       for site_id, _, event, now in alone], with_history=members_with_history)
    # An event that moves its subscription to another member is applied step by step: that other
    # member's events of this batch must see the subscription as theirs until its turn. (Its own
    # member, written above, no other event names.)
    holders = members_of_subscriptions(conn, [(site_id, event.source, event.subscription.id)
                                              for site_id, _, event, _ in alone if event.subscription is not None])
    alone = [(site_id, event_id, event, now) for site_id, event_id, event, now in alone
             if event.subscription is None
             or holders.get((site_id, event.source, event.subscription.id), member_ids[(site_id, event.member.id)])
             == member_ids[(site_id, event.member.id)]]
    with_subscription = [item for item in alone if item[2].subscription is not None]
    # When each was replaced, read with their ids: a start reads it too, so that only a
    # subscription replaced before costs start_again's UPDATE. Which have an at-risk state row,
    # read by that query too: what the applier passes on as ``has_at_risk_state`` (its events are
    # each the only one of their subscription in the batch, so no event of the batch changes
    # another's answer), read after the upsert, which holds their rows to the commit (an INSERT …
    # ON DUPLICATE KEY UPDATE locks the row it finds, exclusively, as on_event_applied's lock
    # does): no lock, and no statement, of its own (each one per batch before).
    replaced: dict[int, datetime] = {}
    with_state: set[int] = set()
    subscriptions_with_history: set[int] = set()
    subscription_ids = upsert_subscriptions(conn, [
        (site_id, event.source, event.subscription.id, member_ids[(site_id, event.member.id)],
         *_subscription_change(event), event.occurred_at, now)
        for site_id, _, event, now in with_subscription], replaced_at=replaced, with_at_risk_state=with_state,
        with_history=subscriptions_with_history)
    prepared = {}
    for site_id, event_id, event, _ in alone:
        subscription_id = (subscription_ids[(site_id, event.source, event.subscription.id)]
                           if event.subscription is not None else None)
        prepared[event_id] = (member_ids[(site_id, event.member.id)], subscription_id)
    at_risk_ids = [prepared[event_id][1] for _, event_id, event, _ in with_subscription if event.type in at_risk.TYPES]
    # Linked now: the at-risk events whose recompute reads their subscription's events, this one
    # among them (on_event_applied skips an end of ENDS_ONLY without a state row). No other read
    # of the batch reads a prepared event's own row by its link: their types are not the ones
    # read (the ends and comebacks of a cancellation are other events), and no other event of the
    # batch names its member or subscription. The others are linked by the batch's mark.
    linked_now = {event_id for _, event_id, event, _ in with_subscription if event.type in at_risk.TYPES
                  and not (event.type in at_risk.ENDS_ONLY and prepared[event_id][1] not in with_state)}
    events_store.link_events(conn, [(event_id, m, s) for event_id, (m, s) in prepared.items()
                                    if event_id in linked_now])
    # The reads of the rules below, for the whole batch. Read after the upserts, which hold the
    # member's and the subscription's rows until the batch commits: no other applier can apply an
    # event of them meanwhile (it would upsert them first), and no other event of the batch names
    # them, so what is read here is what the rules would read when they run.
    ending = [prepared[event_id][1] for _, event_id, event, _ in with_subscription if event.type in _ENDINGS]
    cancelled = {event_id for _, event_id, event, _ in with_subscription if event.type == "subscription.cancelled"}
    with_subscriptions_history = partial(_of_those_with_history, subscriptions_with_history)
    with_members_history = partial(_of_those_with_history, members_with_history)
    cancellations = with_subscriptions_history(ending, partial(cancellations_store.cancellations_of_subscriptions, conn))
    ends = with_subscriptions_history([prepared[e][1] for e in cancelled],
                                      partial(events_store.events_of_subscriptions, conn, types=_LATER_ENDS))
    comebacks = with_members_history([prepared[e][0] for e in cancelled],
                                     partial(winbacks_store.comebacks_of_members, conn))
    returning = {event_id for _, event_id, event, _ in with_subscription if event.type in winbacks.COMEBACK_EVENTS}
    not_won_back = with_members_history([prepared[e][0] for e in returning],
                                        partial(winbacks_store.cancellations_not_won_back_of_members, conn))
    unattached = with_members_history([prepared[e][0] for e in cancelled],
                                      partial(surveys_store.unattached_answers_of_members, conn))
    churning = {event_id for _, event_id, event, _ in with_subscription
                if event.type in _CHURN or event.type == "subscription.created"}
    planned: list[dict] = []
    new_cancellations: list[tuple[dict, list[dict]]] = []
    return {event_id: Prepared(m, s, (s in with_state) if s in at_risk_ids else None,
                               cancellations=cancellations.get(s), ends=ends.get(s) if event_id in cancelled else None,
                               comebacks=comebacks.get(m) if event_id in cancelled else None, planned=planned,
                               not_won_back=not_won_back.get(m) if event_id in returning else None,
                               unattached=unattached.get(m) if event_id in cancelled else None,
                               new_cancellations=new_cancellations,
                               replaced_at=replaced.get(s) if event_id in churning else _UNREAD,
                               link_at_mark=event_id not in linked_now)
            for event_id, (m, s) in prepared.items()}


def _of_those_with_history(with_history: set[int], ids: list[int], read) -> dict[int, list[dict]]:
    """``read(ids)`` (rows by id) asked of the ids in ``with_history`` alone: the others, new to the
    database (no event, cancellation or answer refers to them), have none of the rows the
    batch's reads look for; no statement when every one is new."""
    return {**{id_: [] for id_ in ids}, **read([id_ for id_ in ids if id_ in with_history])}


def finish_batch(conn: Connection, prepared: dict[int, Prepared]) -> None:
    """What ``prepare_batch``'s events left for the end of the batch: their new cancellations, then
    their planned emails, each in one multi-row insert."""
    planned = next((p.planned for p in prepared.values() if p.planned is not None), None)
    new_cancellations = next((p.new_cancellations for p in prepared.values() if p.new_cancellations), None)
    if new_cancellations:
        ids = cancellations_store.insert_cancellations(conn, [values for values, _ in new_cancellations])
        for values, emails in new_cancellations:
            for email in emails:
                email["cancellation_id"] = ids[values["event_id"]]
            planned.extend(emails)
    if planned:
        sequences.plan_emails(conn, planned)


_ENDINGS = ("subscription.cancelled", "subscription.resumed", "subscription.expired")
# The ends that open or close a cancellation: of a subscription replaced by then, neither.
_CHURN = ("subscription.cancelled", "subscription.expired")


def _replaced_by(conn: Connection, subscription_id: int, at: datetime, prepared: Prepared | None) -> bool:
    """Whether the subscription was replaced (a plan change) at or before ``at``. What the member
    did before the change (a cancellation) stays what it was."""
    if prepared is not None and prepared.replaced_at is not _UNREAD:
        replaced_at = prepared.replaced_at
    else:
        replaced_at = replaced_at_of(conn, [subscription_id]).get(subscription_id)
    return replaced_at is not None and replaced_at <= at


_LATER_ENDS = ("subscription.resumed", "subscription.expired")


def _earliest_cancellation_from(conn: Connection, subscription_id: int, at: datetime,
                                prepared: Prepared | None) -> dict | None:
    if prepared is None or prepared.cancellations is None:
        return cancellations_store.earliest_cancellation_from(conn, subscription_id, at)
    found = min((c for c in prepared.cancellations if c["cancelled_at"] >= at),
                key=lambda c: c["cancelled_at"], default=None)
    return dict(found) if found else None


def _latest_cancellation_before(conn: Connection, subscription_id: int, at: datetime, prepared: Prepared | None,
                                inclusive: bool = False) -> dict | None:
    if prepared is None or prepared.cancellations is None:
        return cancellations_store.latest_cancellation_before(conn, subscription_id, at, inclusive=inclusive)
    found = max((c for c in prepared.cancellations
                 if (c["cancelled_at"] <= at if inclusive else c["cancelled_at"] < at)),
                key=lambda c: c["cancelled_at"], default=None)
    return dict(found) if found else None


def _first_events_between(conn: Connection, subscription_id: int, types: tuple[str, ...], after: datetime,
                          before: datetime | None, prepared: Prepared | None) -> dict[str, datetime]:
    if prepared is None or prepared.ends is None:
        return events_store.first_events_between(conn, subscription_id, types, after, before)
    first: dict[str, datetime] = {}
    for event in prepared.ends:
        at = event["occurred_at"]
        if event["type"] in types and at > after and (before is None or at < before):
            first[event["type"]] = min(at, first.get(event["type"], at))
    return first


def apply_event(conn: Connection, site_id: str, event_id: int, event: Event, now: datetime,
                answered_cancellation_id: int | None = None, prepared: Prepared | None = None) -> None:
    """Apply a stored event's effects (members, subscriptions, cancellations, planned emails,
    survey answers). Raises InvalidEvent when the event contradicts what is stored. ``prepared``:
    what ``prepare_batch`` did of it already."""
    if event.type == "survey.submitted":
        _answer(conn, site_id, event_id, event, now, answered_cancellation_id)
    else:
        _apply(conn, site_id, event_id, event, now, prepared)


def _member(conn: Connection, site_id: str, event: Event, now: datetime) -> int:
    return upsert_member(conn, site_id, event.member.id, _member_details(event), event.occurred_at, now)


def _member_details(event: Event) -> dict:
    member = event.member
    # A field the event leaves out is unknown, not erased: keep what an earlier event told us.
    return {k: v for k, v in (("email", member.email), ("first_name", member.first_name),
                              ("locale", member.locale)) if v is not None}


def _subscription_change(event: Event) -> tuple[dict, str | None]:
    """The subscription's details and the status the event implies (None: left alone)."""
    sub = event.subscription
    status = STATUS_AFTER.get(event.type)
    if event.type == "subscription.created":
        status = sub.status or "active"
    return ({"plan_id": sub.plan_id, "plan_name": sub.plan_name, "amount": sub.amount, "currency": sub.currency,
             "interval": sub.interval, "started_at": sub.started_at, "access_ends_at": sub.access_ends_at},
            status)


def _answer(
    conn: Connection, site_id: str, event_id: int, event: Event, now: datetime, token_cancellation_id: int | None
) -> None:
    """Tie an exit-survey answer to the cancellation it is about, then keep it."""
    subscription_external_id = event.survey.get("subscription_id")
    if token_cancellation_id is not None:
        # The email link's token names the cancellation, so the member is whoever cancelled it,
        # never whoever happens to be signed in.
        cancellation = cancellations_store.get_cancellation(conn, site_id, token_cancellation_id)
        if cancellation is None:
            raise InvalidEvent({"survey.token": "names no cancellation of this site"})
        member_id = cancellation["member_id"]
        subscription_external_id = None
    else:
        member_id = _member(conn, site_id, event, now)
        cancellation = None
        if subscription_external_id:
            subscription = find_subscription(conn, site_id, event.source, subscription_external_id)
            if subscription is not None and subscription["member_id"] != member_id:
                raise InvalidEvent({"survey.subscription_id": "is not a subscription of this member"})
            if subscription is not None:
                cancellation = cancellations_store.latest_cancellation_before(
                    conn, subscription["id"], event.occurred_at, inclusive=True)
        else:
            cancellation = cancellations_store.latest_cancellation_of_member(conn, member_id, event.occurred_at)
    events_store.link_event(conn, event_id, member_id, cancellation["subscription_id"] if cancellation else None)
    survey.record_answer(conn, site_id, event, event_id, member_id, cancellation, subscription_external_id, now,
                         imported=event.imported)


def _apply(conn: Connection, site_id: str, event_id: int, event: Event, now: datetime,
           prepared: Prepared | None = None) -> None:
    at = event.occurred_at
    sub = event.subscription
    if prepared is not None:
        member_id, subscription_id = prepared.member_id, prepared.subscription_id
        if sub is None:
            return
    else:
        member_id = _member(conn, site_id, event, now)
        if sub is None:
            events_store.link_event(conn, event_id, member_id, None)
            return
        details, status = _subscription_change(event)
        subscription_id = upsert_subscription(conn, site_id, event.source, sub.id, member_id, details, status, at, now)
        events_store.link_event(conn, event_id, member_id, subscription_id)
    if event.type == "subscription.created" and (prepared is None or prepared.replaced_at is not None):
        # Only a subscription replaced before can start again; the batch's read says which were.
        start_again(conn, subscription_id, sub.status or "active", at)
    if event.type in at_risk.TYPES:
        at_risk.on_event_applied(conn, site_id, subscription_id, event.type,
                                 prepared.has_at_risk_state if prepared is not None else None)
    context = dict(site_id=site_id, member_id=member_id, subscription_id=subscription_id, event_id=event_id)
    if event.type in _CHURN and _replaced_by(conn, subscription_id, at, prepared):
        return  # the end of a subscription another replaced (a plan change): recorded, not churn
    if event.type == "subscription.cancelled":
        _open_cancellation(conn, event, now, prepared, **context)
    elif event.type == "subscription.resumed":
        _close_by_resume(conn, subscription_id, at, prepared)
    elif event.type == "subscription.expired":
        _end(conn, event, now, prepared, **context)
    if sub.replaces is not None and sub.replaces != sub.id:
        # A plan change: the old subscription ends, in this transaction, as replaced. The member
        # never left, so the new one is no win-back either.
        replaced = mark_replaced(conn, site_id, event.source, sub.replaces, member_id, at, now)
        if replaced is not None:
            # Its own expiry may have arrived first and been recorded as an ending.
            cancellations_store.delete_plain_endings_from(conn, replaced, at)
        return
    if event.type in winbacks.COMEBACK_EVENTS:
        # After _close_by_resume, so a resume both closes its cancellation and counts as a comeback.
        winbacks.record_comeback(conn, event_type=event.type, at=at, amount=sub.amount, currency=sub.currency,
                                 now=now, imported=event.imported,
                                 not_won_back=prepared.not_won_back if prepared is not None else None, **context)


def _open_cancellation(
    conn: Connection, event: Event, now: datetime, prepared: Prepared | None, *, site_id, member_id, subscription_id,
    event_id
) -> None:
    at = event.occurred_at
    later = _earliest_cancellation_from(conn, subscription_id, at, prepared)
    if later and later["cancelled_at"] == at:
        return  # the same cancellation, reported again under another webhook id
    # Both out-of-order lookups in one query: a resume or an expiry that arrived before this cancel.
    first = _first_events_between(conn, subscription_id, _LATER_ENDS, at, later["cancelled_at"] if later else None,
                                  prepared)
    resumed_at = first.get("subscription.resumed")
    access_ends_at = event.subscription.access_ends_at if event.subscription else None
    if later and later["kind"] == "expired" and resumed_at is None:
        # The expiry arrived first and was recorded as a reason-less ending; now that the cancel
        # that caused it is known, the record becomes that cancellation (one ending, not two).
        group = holdout.assign(conn, site_id, {**later, "kind": "cancelled", "cancelled_at": at,
                                               "initiated_by": event.initiated_by},
                               event.source, event.subscription.id, event.imported)
        cancellations_store.update_cancellation(
            conn,
            later["id"],
            kind="cancelled",
            cancelled_at=at,
            initiated_by=event.initiated_by,
            event_id=event_id,
            access_ends_at=access_ends_at or later["access_ends_at"],
            followup_group=group,
        )
        survey.attach_early_answers(conn, site_id, member_id, later["id"], event.subscription.id, at, now,
                                    prepared.unattached if prepared is not None else None)
        _plan_follow_ups(conn, site_id, cancellations_store.get_cancellation(conn, site_id, later["id"]), event, now,
                         prepared)
        return
    ended_at = first.get("subscription.expired")
    values = dict(
        site_id=site_id,
        member_id=member_id,
        subscription_id=subscription_id,
        event_id=event_id,
        initiated_by=event.initiated_by,
        kind="cancelled",
        cancelled_at=at,
        access_ends_at=access_ends_at,
        resumed_at=resumed_at,
        ended_at=ended_at if resumed_at is None or (ended_at and ended_at < resumed_at) else None,
        created_at=now,
    )
    # Drawn before anything else about this cancellation is known to us (sidecar.domain.holdout).
    values["followup_group"] = holdout.assign(conn, site_id, values, event.source, event.subscription.id,
                                              event.imported)
    if prepared is not None and prepared.new_cancellations is not None and prepared.unattached is not None \
            and not survey.early_answers(conn, member_id, event.subscription.id, at, prepared.unattached) \
            and winbacks.comeback_after_cancellation(conn, site_id, values, prepared.comebacks) is None:
        # What the steps below do when there is no early answer to attach and no comeback, with
        # the insert left to finish_batch (and the emails' cancellation_id filled in there).
        emails: list[dict] = []
        if not event.imported:
            sequences.plan_sequence(conn, sites_store.get_site(conn, site_id), {"id": None, **values}, now, emails)
        prepared.new_cancellations.append((values, emails))
        return
    # Every column is known here, so the new record is planned from these values, not re-read.
    cancellation = {"id": cancellations_store.insert_cancellation(conn, **values), **values}
    survey.attach_early_answers(conn, site_id, member_id, cancellation["id"], event.subscription.id, at, now,
                                prepared.unattached if prepared is not None else None)
    _plan_follow_ups(conn, site_id, cancellation, event, now, prepared)


def _plan_follow_ups(conn: Connection, site_id: str, cancellation: dict, event: Event, now: datetime,
                     prepared: Prepared | None = None) -> None:
    """Plan the member's follow-up emails in the transaction that opens the cancellation, unless
    they already came back (a comeback that reached us first) or the cancellation is history: an
    imported one is a win-back like any other, but a farewell weeks late is no farewell."""
    if winbacks.comeback_before_cancellation_arrived(conn, site_id, cancellation, now,
                                                     prepared.comebacks if prepared is not None else None):
        return
    if event.imported:
        return
    sequences.plan_sequence(conn, sites_store.get_site(conn, site_id), cancellation, now,
                            prepared.planned if prepared is not None else None)


def _close_by_resume(conn: Connection, subscription_id: int, at: datetime, prepared: Prepared | None) -> None:
    previous = _latest_cancellation_before(conn, subscription_id, at, prepared)
    if previous is None or (previous["ended_at"] and previous["ended_at"] <= at):
        return  # nothing open to resume: a plain status change
    if previous["resumed_at"] is None or previous["resumed_at"] > at:
        cancellations_store.update_cancellation(conn, previous["id"], resumed_at=at)


def _end(conn: Connection, event: Event, now: datetime, prepared: Prepared | None, *, site_id, member_id,
         subscription_id, event_id) -> None:
    at = event.occurred_at
    previous = _latest_cancellation_before(conn, subscription_id, at, prepared, inclusive=True)
    if previous and (previous["resumed_at"] is None or previous["resumed_at"] > at):
        if previous["ended_at"] is None or previous["ended_at"] > at:
            cancellations_store.update_cancellation(conn, previous["id"], ended_at=at)
        return
    # Ran out with no cancellation before it (e.g. a fixed-term plan, a failed renewal).
    cancellations_store.insert_cancellation(
        conn,
        site_id=site_id,
        member_id=member_id,
        subscription_id=subscription_id,
        event_id=event_id,
        initiated_by="system",
        kind="expired",
        cancelled_at=at,
        access_ends_at=at,
        ended_at=at,
        created_at=now,
    )
