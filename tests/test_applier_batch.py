"""The applier's batches do their events' first steps set-wise (sidecar.domain.ingest.prepare_batch:
the member and subscription upserts, the links, the at-risk lock and state read, a few statements
per batch instead of five per event). The rule that allows it: an event whose member and
subscription no other event of its batch names sees, when its rules run, exactly the rows it would
see applied alone. Checked here by its consequence: the same events in the same arrival order,
applied in the same batches, leave exactly the history they leave with every step taken event by
event (as before prepare_batch), on both databases, for stories that exercise the out-of-order rules, at-risk stays, imported history
and comebacks, with members that appear twice in a batch beside members that appear once.
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from sidecar.domain import applier
from sidecar.domain.applier import apply_all_pending, apply_pending
from sidecar.domain.events import parse_event
from sidecar.domain.ingest import accept_event
from sidecar.domain.sites import create_site
from sidecar.domain.survey import current_definition
from sidecar.storage import tables
from tests.conftest import make_event

START = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
APPLY_NOW = datetime(2028, 1, 1, tzinfo=timezone.utc)


def _at(days: float) -> str:
    return (START + timedelta(days=days)).isoformat().replace("+00:00", "Z")


def _story(member: int, kind: str) -> list[dict]:
    """One member's events, each a (type, day, subscription suffix, extra fields) made an event."""
    steps = {
        "cancel_resume": [("subscription.created", 0, "a"), ("subscription.cancelled", 10, "a"),
                          ("subscription.resumed", 12, "a")],
        "failed_then_cancel": [("subscription.created", 0, "a"), ("payment.failed", 30, "a"),
                               ("subscription.cancelled", 33, "a")],
        "cancel_expire": [("subscription.cancelled", 5, "a"), ("subscription.expired", 20, "a")],
        "expire_alone": [("subscription.expired", 7, "a")],
        "pause": [("subscription.created", 0, "a"), ("subscription.paused", 15, "a"),
                  ("subscription.resumed", 25, "a"), ("subscription.cancelled", 40, "a")],
        "imported_then_comeback": [("subscription.created", 0, "a", True), ("subscription.cancelled", 20, "a", True),
                                   ("subscription.created", 30, "b")],
        "cancel_comeback": [("subscription.cancelled", 3, "a"), ("subscription.created", 9, "b")],
        "two_subscriptions": [("subscription.cancelled", 4, "a"), ("subscription.cancelled", 4.5, "b")],
        "expired_at_its_cancel": [("subscription.cancelled", 6, "a"), ("subscription.expired", 6, "a")],
        "expire_then_cancel": [("subscription.expired", 8, "a"), ("subscription.cancelled", 9, "a")],
        # Answers that arrive before their cancellation: one about it, one about no subscription
        # in particular, one about another subscription and one given before it (never its own);
        # latest first, the answers come in batches before the cancellation's, which then takes
        # the early ones.
        "answered_first": [("subscription.cancelled", 5, "a"), ("survey.submitted", 5.3, "b"),
                           ("survey.submitted", 4, None),
                           ("survey.submitted", 5.2, None), ("survey.submitted", 5.1, "a")],
        # A plan change ("b<a": b replaces a) while a renewal of a failed, then the plugin's own
        # late expiry of a: no churn, whatever the order (task 13y).
        "upgrade": [("subscription.created", 0, "a"), ("payment.failed", 2, "a"), ("subscription.created", 4, "b<a"),
                    ("subscription.expired", 4.5, "a"), ("subscription.cancelled", 9, "b")],
    }[kind]
    events = []
    for type_, day, suffix, *imported in steps:
        if type_ == "survey.submitted":
            event = make_event(type_, _at(day + member / 100),
                               member={"id": str(member), "email": f"m{member}@example.org", "locale": "fr_FR"},
                               survey={"version": 1, "reason": "too_expensive", "contact_requested": day > 5.15,
                                       "contact": "0601020304" if day > 5.15 else None,
                                       **({"subscription_id": f"sub_{member}_{suffix}"} if suffix else {})})
            del event["subscription"]
            event["survey"] = {k: v for k, v in event["survey"].items() if v is not None}
            events.append(event)
            continue
        suffix, _, replaced = suffix.partition("<")
        subscription = {**make_event()["subscription"], "id": f"sub_{member}_{suffix}",
                        "status": "active" if type_ in ("subscription.created", "payment.failed") else None,
                        "amount": f"{10 + member}.00"}
        subscription = {k: v for k, v in subscription.items() if v is not None}
        if replaced:
            subscription["replaces"] = f"sub_{member}_{replaced}"
        event = make_event(type_, _at(day + member / 100),
                           initiated_by="gateway" if type_ == "payment.failed" else "member",
                           member={"id": str(member), "email": f"m{member}@example.org",
                                   "first_name": f"N{member}-{day}", "locale": "fr_FR"},
                           subscription=subscription)
        if imported:
            event["imported"] = True
        events.append(event)
    return events


KINDS = ("cancel_resume", "failed_then_cancel", "cancel_expire", "expire_alone", "pause",
         "imported_then_comeback", "cancel_comeback", "two_subscriptions", "expired_at_its_cancel",
         "expire_then_cancel", "answered_first", "upgrade")


# Two members of each of the first kinds, "answered_first" among them: latest first, their two
# cancellations share the last batch, so that it is prepared.
MEMBERS = 2 * len(KINDS)


def _stories(members: int = MEMBERS) -> list[tuple[str, dict]]:
    events = [event for member in range(members) for event in _story(member, KINDS[member % len(KINDS)])]
    return [(f"msg_{n}", event) for n, event in enumerate(events)]


def _one_per_batch(latest_first: bool) -> tuple[list[tuple[str, dict]], list[int]]:
    """A member's events in separate batches: the first batch holds each member's last event
    (``latest_first``; else its first), the next each member's one before (after), and so on.
    Every event of a batch is its member's only one, so each is prepared; latest first, each
    arrives after what happened later (the out-of-order rules read what the batch read for them),
    earliest first, after what happened before (the comebacks find the cancellations they win back)."""
    by_member: dict[str, list[tuple[str, dict]]] = {}
    for webhook_id, event in _stories():
        by_member.setdefault(event["member"]["id"], []).append((webhook_id, event))
    arrivals, chunks = [], []
    for position in range(max(len(story) for story in by_member.values())):
        batch = [story[-1 - position if latest_first else position] for story in by_member.values()
                 if position < len(story)]
        arrivals += batch
        chunks.append(len(batch))
    return arrivals, chunks


def _apply(engine, site_id: str, arrivals: list[tuple[str, dict]], chunks: list[int]) -> None:
    """Accept the events in arrival order, applying every pending one after each chunk."""
    position = 0
    for size in chunks:
        for webhook_id, document in arrivals[position:position + size]:
            received = START + timedelta(days=400, seconds=int(webhook_id.split("_")[1]))
            accept_event(engine, site_id, webhook_id, json.dumps(document), parse_event(document), now=received)
        position += size
        apply_all_pending(engine, APPLY_NOW)
    assert position == len(arrivals)


def _history(engine, site_id: str) -> dict:
    """Every row the applier writes for the site, with row ids replaced by natural keys (ids
    differ with the order rows were written in) and the stamps of when they were written left out."""
    with engine.connect() as conn:
        def rows(table):
            return [dict(r) for r in conn.execute(sa.select(table).where(table.c.site_id == site_id)).mappings()]

        members = {r["id"]: r["external_id"] for r in rows(tables.members)}
        subscriptions = {r["id"]: r["external_id"] for r in rows(tables.subscriptions)}
        events = {r["id"]: r["webhook_id"] for r in rows(tables.events)}
        cancellations = {r["id"]: (subscriptions[r["subscription_id"]], r["cancelled_at"])
                         for r in rows(tables.cancellations)}
        emails = {r["id"]: (cancellations.get(r["cancellation_id"]), r["step"]) for r in rows(tables.scheduled_emails)}
        names = {"member_id": members, "subscription_id": subscriptions, "event_id": events,
                 "cancellation_id": cancellations, "last_email_id": emails}
        answers = {r["id"]: (members[r["member_id"]], r["answered_at"]) for r in rows(tables.survey_answers)}
        names["answer_id"] = answers
        history = {}
        for table in (tables.members, tables.subscriptions, tables.events, tables.cancellations,
                      tables.scheduled_emails, tables.winbacks, tables.at_risk, tables.at_risk_spells,
                      tables.survey_answers, tables.contact_requests):
            kept = []
            for row in rows(table):
                row.pop("id", None)
                # when the row was written: by whichever event of a batch comes first, which
                # batching changes (before prepare_batch too), not what the history says
                for stamp in ("applied_at", "created_at", "updated_at"):
                    row.pop(stamp, None)
                for column, by_id in names.items():
                    if row.get(column) is not None:
                        row[column] = by_id[row[column]]
                kept.append(repr(sorted(row.items())).replace(repr(site_id), "SITE"))
            history[table.name] = sorted(kept)
    return history


@pytest.mark.parametrize("arrival", ["latest_first", "earliest_first", *range(4)])
def test_prepared_batches_leave_the_history_that_batches_applied_step_by_step_leave(engine, arrival, monkeypatch):
    if arrival in ("latest_first", "earliest_first"):
        arrivals, chunks = _one_per_batch(latest_first=arrival == "latest_first")
    else:  # a random arrival order, in random batches
        arrivals = _stories()
        random.Random(arrival).shuffle(arrivals)
        chunks = []
        rng = random.Random(1000 + arrival)
        while sum(chunks) < len(arrivals):
            chunks.append(min(rng.choice((1, 3, 8, 20, 60)), len(arrivals) - sum(chunks)))
    step_by_step = create_site(engine, "https://one.example.org", "One")["id"]
    prepared = create_site(engine, "https://batched.example.org", "Batched")["id"]
    with engine.begin() as conn:
        for site_id in (step_by_step, prepared):
            current_definition(conn, site_id, START)  # the version the answers name
    with monkeypatch.context() as patch:
        patch.setattr(applier, "prepare_batch", lambda conn, batch: {})
        _apply(engine, step_by_step, arrivals, chunks)
    fallbacks = []
    one_by_one = applier._apply_one_by_one
    monkeypatch.setattr(applier, "_apply_one_by_one", lambda *args: fallbacks.append(args) or one_by_one(*args))
    _apply(engine, prepared, arrivals, chunks)
    # No event of these stories fails: a prepared batch that broke a constraint (and was applied
    # again event by event, to the same end) is a wrong read too.
    assert fallbacks == []
    expected, got = _history(engine, step_by_step), _history(engine, prepared)
    assert {t: len(r) for t, r in got.items()} == {t: len(r) for t, r in expected.items()}
    assert got == expected
    assert all(expected[t] for t in ("at_risk_spells", "winbacks", "scheduled_emails")), {t: len(r) for t, r in expected.items()}
    # the early answers were taken by their cancellation (the later one kept), in both histories
    attached = [row for row in expected["survey_answers"] if "('cancellation_id', None)" not in row]
    assert len(attached) == len([m for m in range(MEMBERS) if KINDS[m % len(KINDS)] == "answered_first"]), expected["survey_answers"]


def test_a_batch_prepares_its_lone_events_and_applies_the_others_step_by_step(engine):
    """Members 0 and 1 appear once in the batch, member 2 twice: the upserts of 0 and 1 are one
    statement per table, member 2's events upsert their own rows one by one, in order."""
    site_id = create_site(engine, "https://club.example.org", "Le Club")["id"]
    documents = [*_story(0, "cancel_comeback")[:1], *_story(1, "cancel_comeback")[:1],
                 *_story(2, "two_subscriptions")]
    for n, document in enumerate(documents):
        accept_event(engine, site_id, f"msg_{n}", json.dumps(document), parse_event(document))
    statements = []
    sa.event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    report = apply_pending(engine)
    assert (report.claimed, report.applied) == (4, 4)
    upserts = [s for s in statements if s.lstrip().upper().startswith(("INSERT INTO MEMBERS", "INSERT INTO SUBSCRIPTIONS"))]
    # one of each for members 0 and 1 together, then member 2's two events one by one
    assert len(upserts) == 2 + 2 * 2, statements
    links = [s for s in statements if s.lstrip().upper().startswith("UPDATE EVENTS SET MEMBER_ID")]
    assert len(links) == 1 + 2, statements
    with engine.connect() as conn:
        linked = conn.execute(sa.select(tables.events.c.webhook_id, tables.members.c.external_id)
                              .join(tables.members, tables.members.c.id == tables.events.c.member_id)).all()
        assert sorted(linked) == [("msg_0", "0"), ("msg_1", "1"), ("msg_2", "2"), ("msg_3", "2")]
        assert conn.execute(sa.select(sa.func.count()).select_from(tables.cancellations)).scalar_one() == 4


def test_an_event_that_moves_its_subscription_to_another_member_is_applied_step_by_step(engine, monkeypatch):
    """Member 1 takes over member 2's subscription in a batch where member 2 also cancels another
    one first: member 2's rules must still see the subscription as theirs, so the move waits for
    its turn (its upsert is its own statement) and the history is the step-by-step one."""
    def sub(id_):
        return {**make_event()["subscription"], "id": id_, "status": "active"}

    def member(id_):
        return {"id": id_, "email": f"m{id_}@example.org", "locale": "fr_FR"}

    before = [("msg_0", make_event("subscription.created", _at(0), member=member("2"), subscription=sub("S")))]
    batch = [("msg_1", make_event(occurred_at=_at(5), member=member("2"), subscription=sub("U"))),
             ("msg_2", make_event("subscription.created", _at(6), member=member("1"), subscription=sub("S"))),
             ("msg_3", make_event(occurred_at=_at(7), member=member("3"), subscription=sub("T")))]
    step_by_step = create_site(engine, "https://one.example.org", "One")["id"]
    prepared = create_site(engine, "https://batched.example.org", "Batched")["id"]
    with monkeypatch.context() as patch:
        patch.setattr(applier, "prepare_batch", lambda conn, batch: {})
        _apply(engine, step_by_step, before + batch, [1, 3])
    _apply(engine, prepared, before, [1])
    for webhook_id, document in batch:
        received = START + timedelta(days=400, seconds=int(webhook_id.split("_")[1]))
        accept_event(engine, prepared, webhook_id, json.dumps(document), parse_event(document), now=received)
    statements = []
    sa.event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    report = apply_pending(engine, APPLY_NOW)
    assert (report.claimed, report.applied) == (3, 3)
    upserts = [s for s in statements if s.lstrip().upper().startswith("INSERT INTO SUBSCRIPTIONS")]
    assert len(upserts) == 2, statements  # members 2 and 3 together, then the move on its own
    assert _history(engine, prepared) == _history(engine, step_by_step)
    with engine.connect() as conn:
        owner = conn.execute(sa.select(tables.members.c.external_id)
                             .join(tables.subscriptions, tables.subscriptions.c.member_id == tables.members.c.id)
                             .where(tables.subscriptions.c.site_id == prepared,
                                    tables.subscriptions.c.external_id == "S")).scalar_one()
    assert owner == "1"
