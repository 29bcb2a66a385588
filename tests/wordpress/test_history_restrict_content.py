"""Restrict Content's history read back (Farewell_Bridge_History_Restrict_Content), on the real
Restrict Content 3.2.26 (WordPress 6.8; the bed and helpers of test_real_restrict_content.py drive
RCP's own pages, gateway listener and models).

Restrict Content's live events are marked by the second they were recorded, which its tables do
not keep exactly: the reader reads back only what happened before the bridge listened to
Restrict Content. The tests check both halves: what the bridge already sent live is not read back
(importing after go-live counts nothing twice), and the same story, read as if it had happened
before the bridge was installed, comes back with the same types, fields and moments (RCP's
wall-clock dates read in the site's zone), and with the live ids where RCP wrote the same second.
The reading loop and the importer's run are real_plugins.read_history and import_history, shared
with test_history_pmpro.py; site_timezone is tests/wordpress/conftest.py's.
"""

from __future__ import annotations

import time
from datetime import timedelta
from urllib.parse import urljoin

import pytest

from tests.wordpress.real_plugins import HISTORY_FIELDS, Member, changes, import_history, read_history, utc
from tests.wordpress.test_real_restrict_content import (
    LEVELS,
    admin_get,
    admin_link,
    cancel_link,
    edit_membership,
    notify,
    pending_membership,
    state,
    subscribe,
)

@pytest.fixture(scope="module")
def bed(real_plugin_bed):
    return real_plugin_bed("restrict-content", "6.8")


def history(bed, member: Member, *, before_go_live: bool, limit: int = 50) -> list[dict]:
    """The member's events as the reader gives them, read to the end. before_go_live: as if the
    bridge had started listening to Restrict Content tomorrow (its live_since moved, for this read only)."""
    return read_history(bed, "Farewell_Bridge_History_Restrict_Content", "$wpdb->prefix . 'rcp_memberships'", member,
                        limit=limit, live_since=int(time.time()) + 86400 if before_go_live else None)["events"]


def compare(live: list[dict], imported: list[dict]) -> int:
    """Same occurrences in the same order, same fields; each read back at the second RCP wrote
    with the change, which is the live event's second or just before it (the live source reads
    the clock after RCP's write). Returns how many ids are equal (those at the same second)."""
    assert [e["type"] for e in imported] == [e["type"] for e in live], (
        [(e["type"], e["occurred_at"]) for e in live], [(e["type"], e["occurred_at"]) for e in imported])
    same = 0
    for sent, event in zip(live, imported):
        assert event["source"] == "restrict-content" and "imported" not in event
        assert event["member"] == sent["member"]
        assert {k: event["subscription"].get(k) for k in HISTORY_FIELDS} == {k: sent["subscription"].get(k) for k in HISTORY_FIELDS}, (event, sent)
        gap = utc(sent["occurred_at"]) - utc(event["occurred_at"])
        # Not hours (a wall-clock date read as UTC would be off by the zone's offset).
        assert timedelta(seconds=-1) <= gap <= timedelta(seconds=30), (sent, event)
        if gap == timedelta(0):
            assert event["webhook_id"] == sent["webhook_id"], (sent, event)
            same += 1
        else:
            assert event["webhook_id"] != sent["webhook_id"]
    return same


def test_a_members_story_is_not_read_back_after_go_live_and_matches_before(bed, site_timezone):
    """Registered and paid, cancelled on the account page, expired by the administrator, paid
    again (resumed), on a site in Europe/Paris."""
    site_timezone("Europe/Paris")
    member = Member(bed, "story")

    def story():
        membership_id, profile = subscribe(bed, member)
        session = member.session(bed)
        page = session.get(bed.setup["account_url"], timeout=60)
        session.get(urljoin(page.url, cancel_link(page.text, membership_id)), timeout=60)
        session.close()
        assert state(bed, membership_id)["status"] == "cancelled"
        admin_get(bed, admin_link(bed, membership_id, "expire_membership"))
        notify(bed, "invoice.payment_succeeded", profile)
        return membership_id

    live, membership_id = changes(bed, member, story)
    # The renewal's payment.succeeded (issue 18) is sent live only: the reader reads memberships and
    # their logs back, not payments. It leaves in the same request as the resume, so the two may
    # reach the sidecar in either order (one batch, in webhook-id order).
    subscription_events = [e for e in live if e["type"].startswith("subscription.")]
    assert [e["type"] for e in subscription_events] == ["subscription.created", "subscription.cancelled",
                                                        "subscription.expired", "subscription.resumed"], live
    assert [e["type"] for e in live if not e["type"].startswith("subscription.")] == ["payment.succeeded"], live

    assert bed.site.wp_json("return (new Farewell_Bridge_History_Restrict_Content())->available();") is True
    # The bridge listened to all of it: nothing is read back, nothing counted twice.
    assert history(bed, member, before_go_live=False) == []

    imported = history(bed, member, before_go_live=True)
    compare(subscription_events, imported)
    # RCP does not record who: "unknown" (docs/PROTOCOL.md), counted apart on the dashboard; an
    # expiry is the site's own.
    assert [(e["type"], e["initiated_by"]) for e in imported] == [
        ("subscription.created", "unknown"), ("subscription.cancelled", "unknown"),
        ("subscription.expired", "system"), ("subscription.resumed", "unknown")]
    amount, interval = LEVELS["Mensuel"]
    assert {(e["subscription"]["amount"], e["subscription"]["interval"]) for e in imported} == {(amount, interval)}
    # Read again (a second import, one resumed after a crash), one membership a call: the same events.
    assert history(bed, member, before_go_live=True, limit=1) == imported

    # The importer itself, after go-live: nothing more reaches the sidecar for this member.
    import_history(bed, "restrict-content")
    assert [e["webhook_id"] for e in bed.events(member.id)] == [e["webhook_id"] for e in live]


def test_an_upgrade_is_the_new_memberships_start_only(bed):
    """The yearly level bought while the monthly one runs: RCP disables the monthly one as the
    yearly one starts. Live and history: two starts, no expiry."""
    member = Member(bed, "upgrade")

    def upgrade():
        subscribe(bed, member, "Mensuel")
        new_id, profile = pending_membership(bed, member, "Annuel")
        notify(bed, "invoice.payment_succeeded", profile)

    live, _ = changes(bed, member, upgrade)
    assert [e["type"] for e in live] == ["subscription.created", "subscription.created"], live
    assert history(bed, member, before_go_live=False) == []
    imported = history(bed, member, before_go_live=True)
    compare(live, imported)
    assert [e["subscription"]["plan_name"] for e in imported] == ["Mensuel", "Annuel"]
    # Both name the membership the yearly one replaced, so the sidecar ends it as replaced (task 13y).
    old_id = live[0]["subscription"]["id"]
    assert [e["subscription"].get("replaces") for e in live] == [None, old_id], live
    assert [e["subscription"].get("replaces") for e in imported] == [None, old_id], imported


def test_a_deleted_membership_is_an_expiry_when_it_was_deleted(bed):
    """Restrict → Memberships → Delete while it gave access: an expiry at that moment (RCP marks
    it disabled; nothing changes it afterwards)."""
    member = Member(bed, "deleted")
    live, _ = changes(bed, member, lambda: edit_membership(bed, subscribe(bed, member)[0], rcp_delete_membership="Delete Membership"))
    assert [e["type"] for e in live] == ["subscription.created", "subscription.expired"], live
    imported = history(bed, member, before_go_live=True)
    compare(live, imported)
    assert utc(imported[1]["subscription"]["access_ends_at"]) == utc(imported[1]["occurred_at"])
