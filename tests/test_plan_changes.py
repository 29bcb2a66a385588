"""A plan change (upgrade, downgrade) is not churn (issue 13, task 13y).

The bridge reports it as the new subscription's subscription.created naming the old one in
"subscription.replaces" (docs/PROTOCOL.md). The old subscription then ends as replaced, in the
same transaction: not active, no cancellation, no email, no win-back, whatever order the events
arrive in. Each test runs on SQLite and on MariaDB (the ``engine`` fixture).
"""

from __future__ import annotations

import itertools
import json
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from sidecar.domain import at_risk
from sidecar.domain.applier import apply_all_pending
from sidecar.domain.events import InvalidEvent, parse_event
from sidecar.domain.ingest import accept_event, record_event
from sidecar.domain.sites import create_site
from sidecar.storage import tables
from sidecar.storage.history import cancellations_by_month, comebacks_by_month
from sidecar.storage.subscriptions import find_subscription
from tests.conftest import make_event

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)
APPLY_NOW = T0 + timedelta(days=60)


def _at(days: float) -> str:
    return (T0 + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _event(type_: str, days: float, sub: str, replaces: str | None = None, member: str = "42", **fields) -> dict:
    document = make_event(type_, _at(days))
    document["member"]["id"] = member
    document["subscription"].update(id=sub, status="active" if type_ == "subscription.created" else None, **fields)
    document["subscription"] = {k: v for k, v in document["subscription"].items() if v is not None}
    if replaces is not None:
        document["subscription"]["replaces"] = replaces
    return document


UPGRADE = [("created_a", _event("subscription.created", 0, "sub_a", plan_name="Argent", amount="10.00")),
           ("created_b", _event("subscription.created", 10, "sub_b", replaces="sub_a", plan_name="Or")),
           # the plugin's own end of the old subscription, later (PMPro's, RCP's expiry)
           ("expired_a", _event("subscription.expired", 10.5, "sub_a", plan_name="Argent", amount="10.00"))]


@pytest.fixture
def site(engine):
    return create_site(engine, "https://club.example.org", "Le Club", "Europe/Paris", "fr_FR")


def _accept_and_apply(engine, site, events):
    for webhook_id, document in events:
        accept_event(engine, site["id"], webhook_id, json.dumps(document), parse_event(document), now=T0)
        apply_all_pending(engine, APPLY_NOW)


def _rows(engine, table):
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(table)).mappings()]


def _subscription(engine, site, sub):
    with engine.connect() as conn:
        return find_subscription(conn, site["id"], "memberpress", sub)


def _no_churn(engine, site):
    assert _rows(engine, tables.cancellations) == []
    assert _rows(engine, tables.scheduled_emails) == []
    assert _rows(engine, tables.winbacks) == []
    with engine.connect() as conn:
        bounds = [(T0 - timedelta(days=30), T0 + timedelta(days=60))]
        assert cancellations_by_month(conn, site["id"], bounds) == []
        assert comebacks_by_month(conn, site["id"], bounds) == []


@pytest.mark.parametrize("order", list(itertools.permutations(range(len(UPGRADE)))))
def test_an_upgrade_ends_the_old_subscription_as_replaced_in_any_arrival_order(engine, site, order):
    _accept_and_apply(engine, site, [UPGRADE[i] for i in order])
    old, new = _subscription(engine, site, "sub_a"), _subscription(engine, site, "sub_b")
    assert old["status"] == "replaced"
    assert old["replaced_at"] == T0 + timedelta(days=10)
    assert old["member_id"] == new["member_id"]
    # the old one's own created, even after its replacement, still says what it was
    assert old["plan_name"] == "Argent"
    assert new["status"] == "active" and new["replaced_at"] is None
    _no_churn(engine, site)
    events = _rows(engine, tables.events)
    assert len(events) == 3 and all(e["applied_at"] is not None and e["apply_error"] is None for e in events)


def test_the_same_replacement_twice_is_harmless(engine, site):
    again = ("created_b_again", UPGRADE[1][1])
    _accept_and_apply(engine, site, [*UPGRADE, again])
    assert _subscription(engine, site, "sub_a")["replaced_at"] == T0 + timedelta(days=10)
    _no_churn(engine, site)


def test_a_later_event_of_the_replaced_subscription_is_recorded_but_never_makes_it_active(engine, site):
    _accept_and_apply(engine, site, [*UPGRADE[:2], ("resumed_a", _event("subscription.resumed", 11, "sub_a")),
                                     ("cancelled_a", _event("subscription.cancelled", 12, "sub_a"))])
    assert _subscription(engine, site, "sub_a")["status"] == "replaced"
    _no_churn(engine, site)
    linked = {e["webhook_id"]: e["subscription_id"] for e in _rows(engine, tables.events)}
    assert linked["resumed_a"] == linked["cancelled_a"] == _subscription(engine, site, "sub_a")["id"]


def test_a_cancel_of_the_new_subscription_after_is_a_cancellation_with_emails(engine, site):
    _accept_and_apply(engine, site, [*UPGRADE, ("cancelled_b", _event("subscription.cancelled", 20, "sub_b"))])
    cancellations = _rows(engine, tables.cancellations)
    assert [(c["subscription_id"], c["kind"]) for c in cancellations] == [
        (_subscription(engine, site, "sub_b")["id"], "cancelled")]
    assert _rows(engine, tables.scheduled_emails)


@pytest.mark.parametrize("cancel_first", [True, False])
def test_a_cancellation_made_before_the_change_stays_a_cancellation(engine, site, cancel_first):
    cancel = ("cancelled_a", _event("subscription.cancelled", 5, "sub_a"))
    events = [UPGRADE[0], cancel, UPGRADE[1]] if cancel_first else [UPGRADE[0], UPGRADE[1], cancel]
    _accept_and_apply(engine, site, events)
    cancellations = _rows(engine, tables.cancellations)
    assert [(c["kind"], c["cancelled_at"]) for c in cancellations] == [("cancelled", T0 + timedelta(days=5))]
    assert _subscription(engine, site, "sub_a")["status"] == "replaced"
    # its follow-ups planned, and the change that follows it (an upgrade) is no win-back of it
    assert _rows(engine, tables.winbacks) == []
    assert len(_rows(engine, tables.scheduled_emails)) >= 1


def test_a_subscription_of_another_member_is_never_replaced(engine, site):
    _accept_and_apply(engine, site, [UPGRADE[0], ("other_b", _event("subscription.created", 10, "sub_b",
                                                                      replaces="sub_a", member="43"))])
    assert _subscription(engine, site, "sub_a")["status"] == "active"
    assert _subscription(engine, site, "sub_a")["replaced_at"] is None


def test_imported_history_with_a_plan_change_counts_no_churn(engine, site):
    for webhook_id, document in UPGRADE:
        event = parse_event({**document, "imported": True})
        record_event(engine, site["id"], webhook_id, json.dumps(document), event, now=T0)
    assert _subscription(engine, site, "sub_a")["status"] == "replaced"
    _no_churn(engine, site)


def test_a_replaced_subscription_leaves_the_members_at_risk(engine, site):
    _accept_and_apply(engine, site, [UPGRADE[0], ("failed_a", _event("payment.failed", 5, "sub_a")), UPGRADE[1]])
    with engine.connect() as conn:
        assert at_risk.members_at_risk(conn, site["id"]) == []
        week = at_risk.week_figures(conn, site["id"], T0 + timedelta(days=7))
    assert week["at_end"] == 0 and week["left"]["recovered"] == 1


@pytest.mark.parametrize("type_", ["subscription.cancelled", "subscription.expired", "payment.failed",
                                   "subscription.paused"])
def test_replaces_is_refused_on_other_events(type_):
    with pytest.raises(InvalidEvent) as refused:
        parse_event(_event(type_, 0, "sub_b", replaces="sub_a"))
    assert refused.value.fields == {
        "subscription.replaces": "is only allowed on subscription.created and subscription.resumed"}


@pytest.mark.parametrize("value", ["", "x" * 192, "a\nb", 7])
def test_replaces_is_validated_like_a_subscription_id(value):
    document = _event("subscription.created", 0, "sub_b")
    document["subscription"]["replaces"] = value
    with pytest.raises(InvalidEvent) as refused:
        parse_event(document)
    assert list(refused.value.fields) == ["subscription.replaces"]


def test_older_fields_stay_ignored_and_replaces_is_optional():
    document = _event("subscription.resumed", 0, "sub_b", replaces="sub_a")
    document["subscription"]["unknown_later_field"] = "x"
    assert parse_event(document).subscription.replaces == "sub_a"
    assert parse_event(_event("subscription.created", 0, "sub_b")).subscription.replaces is None


def test_a_replaced_subscription_started_again_under_its_id_is_active_again(engine, site):
    """PMPro's ids are "{user}-{level}": a member who changes back to the level they left starts
    the same id again, replacing the level they had in between."""
    _accept_and_apply(engine, site, [*UPGRADE, ("created_a_again", _event("subscription.created", 20, "sub_a",
                                                                         replaces="sub_b"))])
    again, left = _subscription(engine, site, "sub_a"), _subscription(engine, site, "sub_b")
    assert (again["status"], again["replaced_at"]) == ("active", None)
    assert (left["status"], left["replaced_at"]) == ("replaced", T0 + timedelta(days=20))
    _no_churn(engine, site)
