"""Cancellations follow what happened in WordPress, whatever order the events arrive in."""

from __future__ import annotations

import itertools

import pytest

from tests.conftest import make_event

SUB = "sub_7"


def lifecycle(type_, at, initiated_by="member", **sub_fields):
    event = make_event(type_=type_, occurred_at=at, initiated_by=initiated_by)
    event["subscription"].update(sub_fields)
    return event


@pytest.fixture
def listed(admin_get, site):
    def listed():
        items = admin_get(f"/v1/sites/{site['id']}/cancellations").json["items"]
        return sorted(items, key=lambda item: item["cancelled_at"])

    return listed


def test_cancel_resume_cancel_gives_two_cancellations(post_event, listed):
    post_event(lifecycle("subscription.cancelled", "2026-11-01T10:00:00Z"))
    post_event(lifecycle("subscription.resumed", "2026-11-02T10:00:00Z"))
    post_event(lifecycle("subscription.cancelled", "2026-11-03T10:00:00Z"))
    items = listed()
    assert [(i["cancelled_at"], i["resumed_at"]) for i in items] == [
        ("2026-11-01T10:00:00Z", "2026-11-02T10:00:00Z"),
        ("2026-11-03T10:00:00Z", None),
    ]
    assert items[-1]["subscription"]["status"] == "cancelled"


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_any_arrival_order_gives_the_same_history(post_event, listed, order):
    history = [
        lifecycle("subscription.cancelled", "2026-11-01T10:00:00Z"),
        lifecycle("subscription.resumed", "2026-11-02T10:00:00Z"),
        lifecycle("subscription.cancelled", "2026-11-03T10:00:00Z"),
    ]
    for index in order:
        assert post_event(history[index]).status_code == 202
    items = listed()
    assert [(i["cancelled_at"], i["resumed_at"]) for i in items] == [
        ("2026-11-01T10:00:00Z", "2026-11-02T10:00:00Z"),
        ("2026-11-03T10:00:00Z", None),
    ]
    assert items[-1]["subscription"]["status"] == "cancelled"


def test_an_old_resume_arriving_late_never_undoes_a_newer_cancel(post_event, listed):
    post_event(lifecycle("subscription.cancelled", "2026-11-03T10:00:00Z"))
    post_event(lifecycle("subscription.resumed", "2026-11-02T10:00:00Z"))
    items = listed()
    assert len(items) == 1
    assert items[0]["resumed_at"] is None
    assert items[0]["subscription"]["status"] == "cancelled"


def test_the_same_cancellation_reported_under_two_webhook_ids_is_one(post_event, listed):
    post_event(lifecycle("subscription.cancelled", "2026-11-01T10:00:00Z"), webhook_id="mepr-dash")
    post_event(lifecycle("subscription.cancelled", "2026-11-01T10:00:00Z"), webhook_id="mepr_underscore")
    assert len(listed()) == 1


def test_an_expiry_after_a_cancel_ends_that_cancellation(post_event, listed):
    post_event(lifecycle("subscription.cancelled", "2026-11-01T10:00:00Z"))
    post_event(lifecycle("subscription.expired", "2026-12-01T10:00:00Z", initiated_by="system"))
    [item] = listed()
    assert item["ended_at"] == "2026-12-01T10:00:00Z"
    assert item["initiated_by"] == "member"
    assert item["subscription"]["status"] == "expired"


def test_an_expiry_without_a_cancel_is_recorded_as_a_system_ending(post_event, listed):
    post_event(lifecycle("subscription.expired", "2026-12-01T10:00:00Z", initiated_by="gateway"))
    [item] = listed()
    assert item["initiated_by"] == "system"
    assert item["kind"] == "expired"
    assert item["ended_at"] == "2026-12-01T10:00:00Z"


def test_an_expiry_arriving_before_its_cancel_becomes_one_ending(post_event, listed):
    post_event(lifecycle("subscription.expired", "2026-12-01T10:00:00Z", initiated_by="system"))
    post_event(lifecycle("subscription.cancelled", "2026-11-01T10:00:00Z"))
    [item] = listed()
    assert item["kind"] == "cancelled"
    assert item["initiated_by"] == "member"
    assert item["cancelled_at"] == "2026-11-01T10:00:00Z"
    assert item["ended_at"] == "2026-12-01T10:00:00Z"


def test_an_expiry_after_a_resume_is_a_new_system_ending(post_event, listed):
    post_event(lifecycle("subscription.cancelled", "2026-11-01T10:00:00Z"))
    post_event(lifecycle("subscription.resumed", "2026-11-05T10:00:00Z"))
    post_event(lifecycle("subscription.expired", "2027-01-01T10:00:00Z"))
    items = listed()
    assert [(i["kind"], i["initiated_by"]) for i in items] == [("cancelled", "member"), ("expired", "system")]


def test_member_details_follow_the_newest_event_not_the_last_arrival(post_event, admin_get, site):
    newer = lifecycle("subscription.cancelled", "2026-11-02T10:00:00Z")
    newer["member"]["email"] = "ana.new@example.org"
    older = make_event(type_="member.updated", occurred_at="2026-11-01T10:00:00Z")
    older["member"]["email"] = "ana.old@example.org"
    del older["subscription"]
    post_event(newer)
    post_event(older)
    [item] = admin_get(f"/v1/sites/{site['id']}/cancellations").json["items"]
    assert item["member"]["email"] == "ana.new@example.org"


def test_subscription_details_keep_the_newest_values(post_event, listed):
    post_event(lifecycle("subscription.cancelled", "2026-11-02T10:00:00Z", plan_name="Gold", amount="39.00"))
    post_event(lifecycle("subscription.created", "2026-01-01T10:00:00Z", plan_name="Silver", amount="9.00",
                         status="active"))
    [item] = listed()
    assert (item["subscription"]["plan_name"], item["subscription"]["amount"]) == ("Gold", "39.00")
    assert item["subscription"]["status"] == "cancelled"


def test_a_pause_does_not_open_a_cancellation(post_event, listed):
    post_event(lifecycle("subscription.paused", "2026-11-01T10:00:00Z"))
    assert listed() == []


def test_subscriptions_of_different_sources_are_different(post_event, listed):
    post_event(lifecycle("subscription.cancelled", "2026-11-01T10:00:00Z"))
    other = lifecycle("subscription.cancelled", "2026-11-01T10:00:00Z")
    other["source"] = "paidmembershipspro"
    post_event(other)
    assert {i["source"] for i in listed()} == {"memberpress", "paidmembershipspro"}


def test_a_field_an_event_leaves_out_keeps_its_earlier_value(post_event, admin_get, site):
    post_event(lifecycle("subscription.cancelled", "2026-11-01T10:00:00Z"))
    survey = make_event(type_="survey.submitted", occurred_at="2026-11-01T10:05:00Z")
    survey["member"] = {"id": "42", "email": "ana@example.org"}  # no first_name, no locale
    survey["survey"] = {"version": 1}
    del survey["subscription"]
    assert post_event(survey).status_code == 202
    [item] = admin_get(f"/v1/sites/{site['id']}/cancellations").json["items"]
    assert (item["member"]["first_name"], item["member"]["locale"]) == ("Ana", "fr_FR")
