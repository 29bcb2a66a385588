"""Paid Memberships Pro's history read back (Farewell_Bridge_History_Pmpro), on the real PMPro 3.8.4
(WordPress 6.8; the bed of test_real_pmpro.py, its helpers drive PMPro's own pages).

Each scenario first lets the live source report what PMPro did (the events the sidecar received),
then reads the same member's history with the reader, called directly as the importer would, and
checks that each occurrence comes back once, with the webhook-id the live event had (so importing
after go-live, or twice, counts nothing twice), the same subscription fields, and dates taken from
PMPro's rows converted to UTC. The reading loop and the importer's run are real_plugins.read_history
and import_history, shared with test_history_restrict_content.py; site_timezone is tests/wordpress/conftest.py's.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta, timezone

import pytest

from tests.wordpress.real_plugins import (
    HISTORY_FIELDS,
    Member,
    changes,
    import_history,
    php_env_at,
    read_history,
    site_local,
    utc,
)
from tests.wordpress.test_real_pmpro import (
    LEVELS,
    SLUG,
    cancel_page,
    checkout,
    expiry_run,
    member_edit_panel,
    membership,
    press,
)

@pytest.fixture(scope="module")
def bed(real_plugin_bed):
    return real_plugin_bed(SLUG, "6.8")


def history(bed, member: Member, limit: int = 50, since: int | None = None) -> dict:
    """The member's events as the reader gives them, read to the end from their first row, `limit`
    rows a call: {"events": [event with its webhook_id], "calls": n, "slug", "available"}."""
    return read_history(bed, "Farewell_Bridge_History_Pmpro", "$wpdb->pmpro_memberships_users", member,
                        limit=limit, since=since)


def rows(bed, member: Member) -> list[dict]:
    """PMPro's memberships_users rows of the member, oldest first, and their cancelled subscriptions."""
    return bed.site.wp_json(f"""
        global $wpdb;
        return array(
            'rows' => $wpdb->get_results("SELECT id, membership_id, status, startdate, enddate FROM {{$wpdb->pmpro_memberships_users}}
                WHERE user_id = {member.id} ORDER BY id", ARRAY_A),
            'cancelled' => $wpdb->get_col("SELECT enddate FROM {{$wpdb->pmpro_subscriptions}}
                WHERE user_id = {member.id} AND status = 'cancelled' ORDER BY enddate"));
    """)


def same_as_live(live: list[dict], imported: list[dict]) -> None:
    """Each live event comes back once, with its webhook-id, type and subscription fields."""
    def brief(events):
        return [(e["type"], e["webhook_id"][:12], e["occurred_at"], e["subscription"].get("access_ends_at")) for e in events]
    assert sorted(e["webhook_id"] for e in imported) == sorted(e["webhook_id"] for e in live), (brief(live), brief(imported))
    by_id = {e["webhook_id"]: e for e in live}
    for event in imported:
        sent = by_id[event["webhook_id"]]
        assert event["type"] == event["listed_type"] == sent["type"]
        assert event["source"] == "paidmembershipspro" and "imported" not in event
        assert event["member"] == {k: v for k, v in sent["member"].items()}, (event, sent)
        assert {k: event["subscription"].get(k) for k in HISTORY_FIELDS} == {k: sent["subscription"].get(k) for k in HISTORY_FIELDS}, (event, sent)


def test_a_members_whole_story_comes_back_with_the_live_ids(bed):
    """Bought, cancelled with time left on the Cancel page, bought again, removed by the
    administrator on Edit Member: four occurrences live, the same four read back, oldest first,
    in UTC, each dated by PMPro's own records."""
    member = Member(bed, "story")
    level_id = bed.setup["levels"]["Mensuel"]
    def story():
        checkout(bed, member)
        cancel_page(bed, member, level_id)
        # PMPro's dates are to the second, and a subscription cancelled in the very second its row
        # ends reads as that removal's own cancellation (see the reader): a member who bought the
        # level again in the same second as they cancelled would lose the cancellation. Not what
        # this story is about: the second checkout comes a second later.
        time.sleep(1.1)
        checkout(bed, member)
        press(bed, member, "cancel_level")

    live, _ = changes(bed, member, story)
    assert [e["type"] for e in live] == ["subscription.created", "subscription.cancelled",
                                         "subscription.created", "subscription.cancelled"], live
    found = history(bed, member)
    assert found["slug"] == "paidmembershipspro" and found["available"] is True
    imported = found["events"]
    same_as_live(live, imported)

    stored = rows(bed, member)
    first, second = stored["rows"]
    assert (first["status"], second["status"]) == ("changed", "admin_cancelled"), stored
    assert [e["type"] for e in imported] == ["subscription.created", "subscription.cancelled",
                                             "subscription.created", "subscription.cancelled"]
    created, cancelled, again, removed = imported
    assert utc(created["occurred_at"]) == site_local(first["startdate"], "") == utc(created["subscription"]["started_at"])
    # Cancelled when PMPro cancelled the payment subscription (UTC). The end date it set then is
    # gone (buying again overwrote it with that moment): access_ends_at is when the row ended.
    assert utc(cancelled["occurred_at"]) == site_local(stored["cancelled"][0], "")
    assert utc(cancelled["subscription"]["access_ends_at"]) == site_local(first["enddate"], "") == utc(again["occurred_at"])
    assert cancelled["initiated_by"] == "member"
    assert created["initiated_by"] == "unknown"  # PMPro does not record who gave a level
    # Bought again while the level ran: PMPro kept the first startdate, so the new row began when
    # it replaced the first one.
    assert utc(again["subscription"]["started_at"]) == site_local(second["startdate"], "") == utc(created["occurred_at"])
    assert utc(again["occurred_at"]) == site_local(first["enddate"], "")
    assert "access_ends_at" not in again["subscription"]
    assert utc(removed["occurred_at"]) == site_local(second["enddate"], "") == utc(removed["subscription"]["access_ends_at"])
    assert removed["initiated_by"] == "admin"  # PMPro wrote admin_cancelled
    amount, interval = LEVELS["Mensuel"]
    for event in imported:
        assert (event["subscription"]["amount"], event["subscription"]["currency"], event["subscription"]["interval"],
                event["subscription"]["plan_name"]) == (amount, "EUR", interval, "Mensuel"), event
    assert [utc(e["occurred_at"]) for e in imported] == sorted(utc(e["occurred_at"]) for e in imported)

    # Read again (a second import, or one resumed after a crash): the same events, the same ids.
    assert history(bed, member)["events"] == imported
    # One row a call: the same events, in bounded steps.
    stepped = history(bed, member, limit=1)
    assert stepped["events"] == imported and stepped["calls"] >= 2

    # The importer itself, after go-live: every occurrence was sent live with the same id, so
    # the sidecar has nothing more for this member (and a second import adds nothing either).
    import_history(bed, "paidmembershipspro")
    import_history(bed, "paidmembershipspro")
    assert [e["webhook_id"] for e in bed.events(member.id)] == [e["webhook_id"] for e in live]


def test_a_level_change_is_the_new_levels_start_only(bed):
    """Edit Member's "Change Membership": PMPro ends the old row as admin_changed with no removal
    hook; live and history both report only the new level's start."""
    member = Member(bed, "change")
    new_id = bed.setup["levels"]["Annuel"]

    def change():
        checkout(bed, member)
        _, form = member_edit_panel(bed, member)
        group = re.search(r'name="pmpro-member-edit-memberships-panel-add_level_to_group"[^>]*value="(\d+)"', form).group(1)
        press(bed, member, "add_level_to_group",
              **{f"pmpro-member-edit-memberships-panel-add_level_to_group_{group}[level_id]": str(new_id)})

    live, _ = changes(bed, member, change)
    assert [e["type"] for e in live] == ["subscription.created", "subscription.created"], live
    imported = history(bed, member)["events"]
    same_as_live(live, imported)
    assert [e["subscription"]["plan_name"] for e in imported] == ["Mensuel", "Annuel"]
    # Both name the level the new one replaced, so the sidecar ends it as replaced (task 13y).
    old_subscription = f"{member.id}-{bed.setup['levels']['Mensuel']}"
    assert [e["subscription"].get("replaces") for e in live] == [None, old_subscription], live
    assert [e["subscription"].get("replaces") for e in imported] == [None, old_subscription], imported


def test_an_expiry_in_the_sites_time_zone(bed, site_timezone):
    """A level given by the administrator with an end date on a site in Europe/Paris, removed by
    PMPro's expiry task: created and expired come back with the live ids, dated by the rows'
    wall-clock dates read in the site's zone (not as UTC)."""
    site_timezone("Europe/Paris")
    member = Member(bed, "expiry")
    level_id = bed.setup["levels"]["Mensuel"]
    start = datetime(2026, 3, 20, 10, 0, tzinfo=timezone.utc)

    def give():
        bed.site.wp_eval(f"pmpro_changeMembershipLevel({level_id}, {member.id});"
                         f"pmpro_set_expiration_date({member.id}, {level_id}, '2026-04-02 12:00:00');",
                         env=php_env_at(start.strftime("%Y-%m-%d %H:%M:%S")))

    live, _ = changes(bed, member, give)
    ends = site_local("2026-04-02 12:00:00", "Europe/Paris")
    more, run = changes(bed, member, lambda: expiry_run(bed, member, level_id, ends + timedelta(minutes=1)))
    assert run["has_level"] is False, run
    live += more
    assert [e["type"] for e in live] == ["subscription.created", "subscription.expired"], live
    imported = history(bed, member)["events"]
    same_as_live(live, imported)
    row = membership(bed, member, level_id)
    created, expired = imported
    assert utc(created["occurred_at"]) == site_local(row["startdate"], "Europe/Paris")
    assert abs(utc(created["occurred_at"]) - start) < timedelta(minutes=1)  # the faked clock's start, in UTC
    assert utc(expired["occurred_at"]) == site_local(row["enddate"], "Europe/Paris") >= ends
    assert expired["initiated_by"] == "system" and expired["subscription"]["status"] == "expired"

    # since: only what happened at or after it.
    later = history(bed, member, since=int((ends - timedelta(days=1)).timestamp()))["events"]
    assert [e["webhook_id"] for e in later] == [expired["webhook_id"]]


def test_the_summary_counts_with_sql(bed):
    """What the admin page shows before an import: rows and cancellations, counted by PMPro's tables."""
    member = Member(bed, "summary")
    level_id = bed.setup["levels"]["Annuel"]
    before = bed.site.wp_json("return (new Farewell_Bridge_History_Pmpro())->summary(null);")
    changes(bed, member, lambda: (checkout(bed, member, "Annuel"), cancel_page(bed, member, level_id)))
    after = bed.site.wp_json("return (new Farewell_Bridge_History_Pmpro())->summary(null);")
    assert after["subscriptions"] == before["subscriptions"] + 1
    assert after["cancelled"] == before["cancelled"] + 1  # cancelled with time left
    future = bed.site.wp_json(f"return (new Farewell_Bridge_History_Pmpro())->summary({int(datetime.now(timezone.utc).timestamp()) + 400 * 86400});")
    assert future == {"subscriptions": 0, "cancelled": 0}


def test_a_level_removed_with_no_author_recorded_is_unknown(bed):
    """A level PMPro removed as "inactive" (what a deleted level, the REST API or an integration
    writes: PMPro records no author) comes back as a cancellation by "unknown", the protocol's "not
    recorded", which the dashboard counts apart — not as "system", "by others"."""
    member = Member(bed, "inactive")
    level_id = bed.setup["levels"]["Mensuel"]

    def give_then_remove():
        bed.site.wp_eval(f"pmpro_changeMembershipLevel({level_id}, {member.id});")
        time.sleep(1.1)  # its end a second after its start, as in life
        bed.site.wp_eval(f"pmpro_changeMembershipLevel(0, {member.id}, 'inactive');")

    live, _ = changes(bed, member, give_then_remove)
    assert [e["type"] for e in live] == ["subscription.created", "subscription.cancelled"], live
    assert [r["status"] for r in rows(bed, member)["rows"]] == ["inactive"]
    imported = history(bed, member)["events"]
    same_as_live(live, imported)
    assert [(e["type"], e["initiated_by"]) for e in imported] == [
        ("subscription.created", "unknown"), ("subscription.cancelled", "unknown")]
