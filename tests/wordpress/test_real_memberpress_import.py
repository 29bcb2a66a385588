"""The history import with MemberPress 1.12.11 itself, on WordPress 6.8, into a real sidecar.

Past subscriptions are seeded through MemberPress's own models (MeprSubscription,
MeprTransaction, MeprEvent), as its checkout and its cancel would store them, with the bridge
silenced meanwhile (that history happened before the bridge was installed). Then
`wp farewell import` (the real WP-CLI) reads MemberPress's tables and sends the history; the
sidecar's admin API shows the past cancellations with MemberPress's dates and plans. Importing
again adds nothing, a live cancel after the import is counted once, and nothing plans or sends an
email for the past (the sidecar sends its mail to a real SMTP sink here).
"""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.wordpress.real_plugins import REAL_PLUGINS, Member, RealPluginBed, seed_memberpress_history, utc
from tests.wordpress.test_real_memberpress import CANCELLED, account_action
from tests.wordpress.test_wp_cli_e2e import WP_CLI, ok

pytestmark = pytest.mark.skipif(not WP_CLI.exists(), reason=f"WP-CLI is missing: put wp-cli.phar at {WP_CLI}")


def wp(bed, *args: str, php: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """`wp ARGS` on the bed's site; `php`: options for PHP itself (-d memory_limit=64M)."""
    return subprocess.run(["php", *php, str(WP_CLI), f"--path={bed.site.docroot}", "--allow-root", "--no-color", *args],
                          capture_output=True, text=True, timeout=900, cwd=bed.site.root)


def seed(bed, member: Member, plan: str, start: str, expires: str, cancelled: str | None = None,
         expired: str | None = None) -> int:
    """A subscription of the past, stored by MemberPress's models (real_plugins.seed_memberpress_history):
    started and paid at `start` (UTC, MemberPress's convention), access until `expires`; its
    subscription-stopped event at `cancelled`, its subscription-expired event at `expired`."""
    [seeded] = seed_memberpress_history(bed.site, bed.setup, [
        {"user_id": member.id, "plan": plan, "start": start, "expires": expires, "cancelled": cancelled,
         "expired": expired}], timeout=120)
    return seeded["sub_id"]


def cancellations(bed, member: Member) -> list[dict]:
    answer = bed.sidecar.get(f"/v1/sites/{bed.sidecar.site_id}/cancellations", limit="500")
    assert answer.status_code == 200, answer.text
    return [c for c in answer.json()["items"] if c["member"]["id"] == str(member.id)]


def emails(bed, member: Member) -> list[dict]:
    answer = bed.sidecar.get(f"/v1/sites/{bed.sidecar.site_id}/emails", member_id=str(member.id))
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


def outbox_rows(bed) -> int:
    return int(bed.site.wp_json("global $wpdb; return (int) $wpdb->get_var('SELECT COUNT(*) FROM ' . Farewell_Bridge_Outbox::table());"))


def test_wp_farewell_import_sends_memberpress_history_once_and_plans_no_email(mariadb, tmp_path, smtp):
    bed = RealPluginBed.build(REAL_PLUGINS["memberpress"], "6.8", mariadb, tmp_path,
                              sidecar_env={"FAREWELL_MAIL_URL": smtp.url})
    try:
        left = Member(bed, "left")        # cancelled in 2024, access ended a month later
        stays = Member(bed, "stays")      # still paying
        older = Member(bed, "older")      # cancelled in 2023
        left_sub = seed(bed, left, "Or", "2024-03-05 10:00:00", "2024-07-05 23:59:59",
                        cancelled="2024-06-10 08:30:00", expired="2024-07-06 12:00:00")
        stays_sub = seed(bed, stays, "Argent", "2024-09-01 09:00:00", "2099-01-01 23:59:59")
        seed(bed, older, "Platine", "2023-01-15 12:00:00", "2024-01-15 23:59:59", cancelled="2023-05-01 07:00:00")
        bed.deliver()
        assert bed.events(left.id) == [] and outbox_rows(bed) == 0, "the seeding recorded live events"

        # A dry run counts and writes nothing; --since leaves out what happened before that day.
        everything = ok(wp(bed, "farewell", "import", "--dry-run", "--source=memberpress"))
        recent = ok(wp(bed, "farewell", "import", "--dry-run", "--source=memberpress", "--since=2024-01-01"))
        assert "Dry run" in everything and outbox_rows(bed) == 0

        def counted(table: str) -> int:
            [row] = [line for line in table.splitlines() if "memberpress" in line]
            return int(row.replace("|", " ").split()[-1])
        assert counted(everything) - counted(recent) == 2  # the 2023 start and cancel
        bad = wp(bed, "farewell", "import", "--since=2024-13-01")
        assert bad.returncode == 1 and "2024-01-01" in bad.stderr

        output = ok(wp(bed, "farewell", "import"))
        assert "Success" in output, output
        events = bed.events(left.id)
        assert [e["type"] for e in events] == ["subscription.created", "subscription.cancelled", "subscription.expired"]
        assert all(e["imported"] is True and e["source"] == "memberpress" for e in events)
        assert [utc(e["occurred_at"]).isoformat() for e in events] == [
            "2024-03-05T10:00:00+00:00", "2024-06-10T08:30:00+00:00", "2024-07-05T23:59:59+00:00"]
        sub = events[1]["subscription"]
        assert (sub["id"], sub["plan_name"], sub["amount"], sub["currency"], sub["interval"]) == (
            str(left_sub), "Or", "29.00", "EUR", "month")
        assert [e["type"] for e in bed.events(stays.id)] == ["subscription.created"]
        [cancelled] = cancellations(bed, left)
        assert utc(cancelled["cancelled_at"]).isoformat() == "2024-06-10T08:30:00+00:00"
        # MemberPress does not record who cancelled: "unknown", which the dashboard counts apart,
        # not "by others" (docs/PROTOCOL.md); its expiry is the site's own.
        assert [e["initiated_by"] for e in events] == ["unknown", "unknown", "system"]
        assert cancelled["initiated_by"] == "unknown"
        assert cancelled["subscription"]["plan_name"] == "Or" and cancelled["subscription"]["amount"] == "29.00"
        assert utc(cancelled["access_ends_at"]).isoformat() == "2024-07-05T23:59:59+00:00"
        assert [utc(c["cancelled_at"]).year for c in cancellations(bed, older)] == [2023]
        for member in (left, stays, older):
            assert emails(bed, member) == [], f"an imported event planned an email for {member.login}"
        stored = len(bed.events())

        # Again, with the outbox holding the rows it sent: nothing new.
        ok(wp(bed, "farewell", "import"))
        assert len(bed.events()) == stored
        # Again, once the delivered rows are purged: sent again, and the sidecar knows them all.
        bed.site.wp_eval("global $wpdb; $wpdb->query('DELETE FROM ' . Farewell_Bridge_Outbox::table());")
        again = ok(wp(bed, "farewell", "import"))
        assert "Sent now: 0" not in again, again  # they did go out…
        assert len(bed.events()) == stored        # …and the sidecar counted nothing twice

        assert smtp.messages() == []

        # A live cancel after the import: one cancellation, live, and a later import adds none.
        account_action(bed, stays, "cancel", stays_sub, CANCELLED)
        bed.deliver()
        # MemberPress records its subscription-stopped event after sending its notices
        # (MeprUtils::send_cancelled_sub_notices): with a slow mail server, seconds after the
        # cancel the live event is dated by. The import must not take it for another cancel.
        bed.site.wp_eval(f"""global $wpdb; $wpdb->query("UPDATE {{$wpdb->prefix}}mepr_events SET created_at =
            DATE_ADD(created_at, INTERVAL 5 SECOND) WHERE evt_id = {stays_sub} AND event = 'subscription-stopped'");""")
        [live] = cancellations(bed, stays)
        assert live["initiated_by"] == "member"
        ok(wp(bed, "farewell", "import"))
        assert len(cancellations(bed, stays)) == 1
        live_events = [e for e in bed.events(stays.id) if e["type"] == "subscription.cancelled"]
        assert len(live_events) == 1 and not live_events[0].get("imported")

        # Nothing was sent to anyone for the past: the imported members have no email at all.
        for member in (left, older):
            assert emails(bed, member) == []
        assert smtp.to(left.email) == [] and smtp.to(older.email) == []
    finally:
        bed.cleanup(mariadb)


MANY = 20000


def test_a_large_history_is_read_in_bounded_memory(mariadb, tmp_path):
    """20,000 members with a subscription each, read back as the import reads them (a dry run's
    steps, in one PHP process under memory_limit=64M, as WP-CLI's own unlimited memory would hide
    a leak): each batch reads 50 subscriptions and nothing read stays in memory (WordPress's
    runtime cache of users is flushed after each batch), so the peak grows by a few MB whatever
    the history's size. The rows are written with SQL: MemberPress's models are far too slow for
    this many."""
    bed = RealPluginBed.build(REAL_PLUGINS["memberpress"], "6.8", mariadb, tmp_path)
    try:
        product = bed.setup["plans"]["Or"]
        bed.site.wp_eval(f"""
            global $wpdb;
            $wpdb->query("INSERT INTO {{$wpdb->users}} (user_login, user_pass, user_nicename, user_email, user_registered, display_name)
                SELECT CONCAT('many', seq), '', CONCAT('many', seq), CONCAT('many', seq, '@example.org'), '2023-01-01 00:00:00', CONCAT('Member ', seq)
                FROM seq_1_to_{MANY}");
            $wpdb->query("INSERT INTO {{$wpdb->prefix}}mepr_subscriptions (user_id, product_id, price, total, period, period_type, status, created_at, gateway)
                SELECT ID, {product}, 29.00, 29.00, 1, 'months', IF(ID % 3 = 0, 'cancelled', 'active'), '2024-02-01 10:00:00', 'offline-test'
                FROM {{$wpdb->users}} WHERE user_login LIKE 'many%'");
            $wpdb->query("INSERT INTO {{$wpdb->prefix}}mepr_transactions (amount, total, user_id, product_id, subscription_id, status, txn_type, gateway, created_at, expires_at)
                SELECT 29.00, 29.00, user_id, product_id, id, 'complete', 'payment', 'offline-test', '2024-02-01 10:00:00', '2099-03-01 23:59:59'
                FROM {{$wpdb->prefix}}mepr_subscriptions");
        """)
        cancelled = int(bed.site.wp_json("global $wpdb; return (int) $wpdb->get_var(\"SELECT COUNT(*) FROM "
                                         "{$wpdb->prefix}mepr_subscriptions WHERE status = 'cancelled'\");"))
        assert cancelled > MANY // 4
        read = bed.site.wp_json("""
            global $wpdb;
            ini_set('memory_limit', '64M');
            $base = memory_get_usage();
            $queries = $wpdb->num_queries;
            $state = Farewell_Bridge_Importer::plan(null, 'memberpress');
            for ($steps = 0; 'running' === $state['status'] && $steps < 1000; $steps++) {
                $state = Farewell_Bridge_Importer::step($state, array('dry' => true));
            }
            return array('status' => $state['status'], 'events' => $state['sources']['memberpress']['queued'],
                'subscriptions' => $state['sources']['memberpress']['subscriptions'],
                'grew' => memory_get_peak_usage() - $base, 'queries' => $wpdb->num_queries - $queries);
        """)
        # Each one started; the cancelled ones ended too (no MemberPress event: dated by their payment).
        assert (read["status"], read["subscriptions"], read["events"]) == ("done", MANY, MANY + cancelled)
        assert read["grew"] < 8 * 1024 * 1024, f"reading {MANY} subscriptions took {read['grew'] / 2**20:.1f} MB more"
        # A batch's members come in one query and their meta in another (cache_users), and each
        # product is loaded once per batch: queries grow with the batches, not with the members
        # (two or more per member before, issue 16).
        batches = MANY // 50
        assert read["queries"] < 30 * batches, f"{read['queries']} queries for {batches} batches of 50"
    finally:
        bed.cleanup(mariadb)


def test_the_import_history_page_starts_the_import_and_its_poll_runs_it(mariadb, tmp_path):
    """Farewell → Import history over HTTP, as the administrator's browser uses it: the page says
    what MemberPress holds, Start (its form, with its nonce) starts the import, the page's poll
    (admin-ajax, with the nonce the page gave its script) runs it to the end, and the sidecar has
    the history; a member is refused the page."""
    import re

    from tests.wordpress.site import ADMIN_PASSWORD, ADMIN_USER

    bed = RealPluginBed.build(REAL_PLUGINS["memberpress"], "6.8", mariadb, tmp_path)
    try:
        member = Member(bed, "paged")
        seed(bed, member, "Or", "2024-04-02 10:00:00", "2024-06-02 23:59:59", cancelled="2024-05-20 18:00:00")
        page_url = f"{bed.site.url}/wp-admin/admin.php?page=farewell-import"
        with member.session(bed) as session:
            assert session.get(page_url, timeout=60).status_code == 403
        with bed.site.login(ADMIN_USER, ADMIN_PASSWORD) as session:
            page = session.get(page_url, timeout=60)
            assert page.status_code == 200, page.text[:500]
            assert "MemberPress: 1 subscriptions, 1 cancelled" in page.text
            assert "admin/js/import.js" in page.text
            nonce = re.search(r'name="_wpnonce" value="([0-9a-f]+)"', page.text).group(1)
            started = session.post(f"{bed.site.url}/wp-admin/admin-post.php", timeout=60,
                                   data={"action": "farewell_bridge_import_start", "_wpnonce": nonce, "since": ""})
            assert started.status_code == 200 and "Import in progress" in started.text, started.text[-2000:]
            poll = json.loads(re.search(r"var farewellImport = (\{.*?\});", started.text).group(1))
            for _ in range(60):
                answer = session.post(poll["url"], data={"action": poll["action"], "_ajax_nonce": poll["nonce"]},
                                      timeout=60).json()
                assert answer["success"], answer
                if answer["data"]["status"] == "done":
                    break
            assert answer["data"]["status"] == "done" and answer["data"]["totals"]["queued"] == 2, answer
            bed.deliver()
            finished = session.get(page_url, timeout=60).text
            assert "Last import" in finished and 'data-farewell-import="sent">2<' in finished
        # By when they happened: a batch stores its events in webhook-id order (the sidecar's lock
        # order), and the bridge drains these two in one batch since issue 16.
        events = sorted(bed.events(member.id), key=lambda e: e["occurred_at"])
        assert [(e["type"], e["occurred_at"], e.get("imported")) for e in events] == [
            ("subscription.created", "2024-04-02T10:00:00Z", True), ("subscription.cancelled", "2024-05-20T18:00:00Z", True)]
    finally:
        bed.cleanup(mariadb)
