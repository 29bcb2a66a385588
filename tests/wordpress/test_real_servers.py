"""The core promises on the servers WordPress really runs on: nginx + PHP-FPM and Apache + mod_php
(Debian's packages; each run by the test on a free port with its own configuration, never the
system's services; see site.py).

The two hand delivery over differently, and both are checked here for real:
- PHP-FPM: the bridge finishes the member's response with fastcgi_finish_request() and delivers
  in the same PHP process afterwards. No loopback request appears in nginx's log.
- mod_php cannot finish a response early: the bridge writes a loopback request to
  admin-ajax.php and hangs up; another Apache child delivers. It appears in Apache's log, 200.

Per server, one WordPress 6.8 site for the whole run (``served_site``), with pretty permalinks as
most sites have them (so the survey's REST route is /wp-json/…: on Apache through the .htaccess
WordPress writes, on nginx through try_files); each test points the bridge at its own sidecar (or
black hole) through the options, empties the outbox and uses new members.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import statistics

import pytest

from tests.support.black_hole import BlackHole
from tests.support.wordpress import (
    SURVEY,
    THANKS_FR,
    TITLE_FR,
    answered,
    assert_no_php_errors,
    cancel,
    cancel_in_browser,
    cancellations,
    install_french,
    make_members,
    outbox,
    sign_in,
    wait_for,
)

pytestmark = pytest.mark.slow

LOOPBACK = re.compile(r'"POST /wp-admin/admin-ajax\.php\?action=farewell_bridge_deliver HTTP/1\.[01]" (\d{3}) ')


@pytest.fixture(scope="module", params=["nginx-fpm", "apache"])
def site(request, served_site):
    site = served_site(request.param)
    install_french(site)  # the members of make_members() speak French
    use_pretty_permalinks(site)
    return site


def use_pretty_permalinks(site) -> None:
    """"Post name" permalinks, saved as Settings → Permalinks saves them: WordPress writes its
    rewrite rules to .htaccess where it detects mod_rewrite (not from the command line: told here)."""
    site.wp_eval("""
        require_once ABSPATH . 'wp-admin/includes/file.php';
        require_once ABSPATH . 'wp-admin/includes/misc.php';
        add_filter('got_rewrite', '__return_true');
        global $wp_rewrite;
        $wp_rewrite->set_permalink_structure('/%postname%/');
        flush_rewrite_rules(true);
    """)
    assert "/wp-json/" in site.wp_eval("echo rest_url('farewell/v1/survey');")
    if site.server == "apache":
        assert "RewriteRule . /index.php [L]" in (site.docroot / ".htaccess").read_text()


def new_members(site, subscriptions: int) -> dict:
    """A member with active subscriptions, made while the bridge is not configured (their
    subscription.created events stay in the outbox, sent nowhere: point_bridge_at() empties it)."""
    point_bridge_at(site, "", "", "")
    return make_members(site, 1, subscriptions)[0]


def point_bridge_at(site, url: str, site_id: str, secret: str) -> None:
    """Configures the shared site for this test: its sidecar, a closed circuit, an empty outbox."""
    site.wp_eval(f"""
        update_option('farewell_bridge_settings', array('sidecar_url' => {url!r}, 'site_id' => {site_id!r},
            'delete_data' => false));
        update_option('farewell_bridge_secret', {secret!r});
        delete_option(Farewell_Bridge_Dispatcher::CIRCUIT_OPTION);
        global $wpdb;
        $wpdb->query('DELETE FROM ' . Farewell_Bridge_Outbox::table());
    """)


def loopback_statuses(site) -> list[str]:
    """The statuses of the bridge's loopback requests in the server's access log."""
    log = site.server_log_path.read_text(errors="replace") if site.server_log_path.exists() else ""
    return LOOPBACK.findall(log)


def test_a_cancel_is_delivered_once_right_after_the_response(site, sidecar_server, figures):
    sidecar = sidecar_server()
    member = new_members(site, 3)
    point_bridge_at(site, sidecar.url, sidecar.site_id, sidecar.secret)
    loopbacks_before = len(loopback_statuses(site))

    timings = []
    with site.login(member["login"], member["password"]) as session:
        for subscription in member["subscriptions"]:
            timings.append(cancel(session, site, subscription))
            # Each cancel is delivered after its own response, by the server's own path, no cron.
            wait_for(lambda: len(cancellations(sidecar)) == len(timings), timeout=60,
                     describe=lambda: f"{outbox(site)}\n{site.logs_tail()}")
    figures.update(server=site.server, cancel_ms_sidecar_up=[round(t * 1000) for t in timings])

    if site.server == "apache":
        # mod_php: handed over to a loopback request, which another child answered (its log line
        # is written once it has finished).
        loopbacks = wait_for(lambda: loopback_statuses(site)[loopbacks_before:], timeout=60,
                             describe=site.logs_tail)
        assert set(loopbacks) == {"200"}, site.logs_tail()
    else:
        loopbacks = loopback_statuses(site)[loopbacks_before:]
        # PHP-FPM: fastcgi_finish_request(), then delivery in the same process: no loopback at all.
        assert loopbacks == [], site.logs_tail()
    figures["loopback_requests"] = len(loopbacks)

    site.run_cron()  # nothing is sent twice
    rows = outbox(site)
    assert [r["status"] for r in rows] == ["delivered"] * 3, rows
    assert {r["attempts"] for r in rows} == {"1"}, f"each event sent exactly once: {rows}"
    items = cancellations(sidecar)
    assert sorted(i["subscription"]["id"] for i in items) == sorted(str(s) for s in member["subscriptions"])
    assert {i["initiated_by"] for i in items} == {"member"}
    # The cancel's times are figures, not asserted: a sidecar that answers at once cannot make a
    # member wait, and whether the member's request waits on the sidecar at all is shown, by the
    # order of events, with a black hole (test_a_black_holed_sidecar_does_not_slow_…).
    assert_no_php_errors(site)


def test_with_the_sidecar_down_every_cancel_is_kept_and_arrives_once_it_is_back(site, sidecar_server, figures):
    sidecar = sidecar_server()
    member = new_members(site, 4)
    point_bridge_at(site, sidecar.url, sidecar.site_id, sidecar.secret)
    sidecar.stop()

    with site.login(member["login"], member["password"]) as session:
        timings = [cancel(session, site, s) for s in member["subscriptions"]]
    # Figures, not asserted: a refused connection cannot make a member wait (see the black hole's test).
    figures.update(server=site.server, cancel_ms_sidecar_down=[round(t * 1000) for t in timings])
    rows = outbox(site)
    assert len(rows) == 4 and {r["status"] for r in rows} == {"pending"}, rows

    sidecar.start()
    # The failed rows now wait out their backoff (15 s after one failure): made due at once, as the
    # admin's "Retry now" does. What is tested is that cron sends them all, once, on this server; the
    # backoff itself is PHPUnit's (BackoffTest), and waiting for it cost 15 s per server.
    site.wp_eval("Farewell_Bridge_Outbox::make_pending_due();")

    def all_arrived():
        site.run_cron()
        rows = outbox(site)
        return rows and all(r["status"] == "delivered" for r in rows)

    wait_for(all_arrived, timeout=90, interval=0.5, describe=lambda: str(outbox(site)))
    items = cancellations(sidecar)
    assert sorted(i["subscription"]["id"] for i in items) == sorted(str(s) for s in member["subscriptions"])
    assert_no_php_errors(site)


def test_a_black_holed_sidecar_does_not_slow_the_members_request(site, request, figures):
    hole = BlackHole()
    request.addfinalizer(hole.close)
    member = new_members(site, 6)
    point_bridge_at(site, hole.url, "site_blackhole", "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode())

    timings = []
    with site.login(member["login"], member["password"]) as session:
        for subscription in member["subscriptions"]:
            timings.append(cancel(session, site, subscription))
            hole.note_answered(subscription)
    figures.update(server=site.server, cancel_ms_sidecar_black_holed=[round(t * 1000) for t in timings],
                   median_ms=round(statistics.median(timings) * 1000))
    # A delivery attempt against the black hole only ends at the bridge's 3 s timeout, when it gives
    # up the connection: a member's request that waited for it would be answered only after that.
    # So each cancel the bridge gave up sending was answered first: an order of events, not a time.
    wait_for(lambda: hole.given_up() & {str(s) for s in member["subscriptions"]}, timeout=60,
             describe=lambda: f"{hole.timeline}\n{outbox(site)}\n{site.logs_tail()}")
    assert hole.given_up_before_answered() == [], hole.timeline

    def timed_out():
        rows = outbox(site)
        return any("timeout" in (r["last_error"] or "") for r in rows) and rows

    # The attempt after the first response met the black hole's timeout; the others wait for cron.
    rows = wait_for(timed_out, timeout=30, interval=1, describe=lambda: f"{outbox(site)}\n{site.logs_tail()}")
    assert len(rows) == 6 and {r["event_type"] for r in rows} == {"subscription.cancelled"}, rows
    assert all(r["status"] == "pending" for r in rows), "nothing is lost or given up"
    assert hole.connections, "the bridge did try to reach the sidecar"
    assert_no_php_errors(site)


def test_the_member_answers_the_survey_after_the_cancel(site, sidecar_server, page):
    sidecar = sidecar_server()
    member = new_members(site, 1)
    point_bridge_at(site, sidecar.url, sidecar.site_id, sidecar.secret)
    account = site.wp_json("""
        return wp_insert_post(array('post_type' => 'page', 'post_status' => 'publish', 'post_title' => 'Mon compte',
            'post_content' => '<!-- wp:paragraph --><p>Votre espace membre.</p><!-- /wp:paragraph -->'));
    """)

    sign_in(page, site, member)
    cancel_in_browser(page, site, member)
    page.goto(f"{site.url}/?page_id={account}")
    assert page.locator(SURVEY).get_by_role("heading", name=TITLE_FR).is_visible()
    page.get_by_label("C’est trop cher").check()
    page.get_by_label("Quel prix vous aurait semblé juste ?").fill("15 € par mois")
    with page.expect_navigation():
        page.get_by_role("button", name="Envoyer mes réponses").click()
    assert page.get_by_text(THANKS_FR).is_visible()

    # Delivered after the response too (no cron here), by the same path as the cancel.
    item = wait_for(answered(sidecar, reason="too_expensive"), timeout=60, describe=lambda: str(outbox(site)))
    assert item["follow_up"] == "15 € par mois"
    assert item["member"]["id"] == str(member["id"])
    assert_no_php_errors(site)


def test_on_php_fpm_the_survey_follows_the_cancel_by_a_signed_cookie_then_the_user_meta(served_site, sidecar_server):
    """Issue 15: under PHP-FPM the member's own cancel does not write the survey's user meta on
    their clock: its response sets a signed cookie (HttpOnly, SameSite=Lax) that their next page
    reads first, and the meta is written after the response, for their other devices. The survey
    shows exactly as before: on the next page, once."""
    site = served_site("nginx-fpm")
    sidecar = sidecar_server()
    member = new_members(site, 1)
    point_bridge_at(site, sidecar.url, sidecar.site_id, sidecar.secret)
    with site.login(member["login"], member["password"]) as session:
        cancel(session, site, member["subscriptions"][0])
        cookies = [c for c in session.cookies if c.name == "wp_farewell_survey_pending"]
        assert cookies, "the cancel's response set the survey's cookie"
        assert cookies[0].has_nonstandard_attr("HttpOnly") and cookies[0].get_nonstandard_attr("SameSite") == "Lax"
        assert cookies[0].expires and cookies[0].path == "/"
        # Written after the response, in the same PHP process (no cron, no other request).
        stored = wait_for(lambda: site.wp_json(
            f"return get_user_meta({member['id']}, '_farewell_bridge_survey_pending', true);"), timeout=30)
        assert stored[0]["subscription_id"] == str(member["subscriptions"][0]) and not stored[0]["shown"], stored

        first = session.get(f"{site.url}/", timeout=30)
        assert 'id="farewell-survey"' in first.text, first.text[-1500:]
        assert not [c for c in session.cookies if c.name == "wp_farewell_survey_pending"], "read once, then cleared"
        assert 'id="farewell-survey"' not in session.get(f"{site.url}/", timeout=30).text, "shown once"
    with site.login(member["login"], member["password"]) as elsewhere:
        assert 'id="farewell-survey"' not in elsewhere.get(f"{site.url}/", timeout=30).text, "shown once, on any device"
    assert_no_php_errors(site)


# A later shutdown hook that waits for the test's word (a file; at most 15 s, less than the
# cancel's own timeout), then says it has finished: a member's response that came only when PHP
# ended would come after "finished".
LATE_SHUTDOWN_HOOK = """<?php
if ( isset( $_GET['farewell_test_cancel'] ) ) {
    add_action( 'shutdown', function () {
        $folder = %(folder)r;
        for ( $i = 0; $i < 150 && ! file_exists( $folder . '/release' ); $i++ ) {
            usleep( 100000 );
        }
        file_put_contents( $folder . '/finished', '1' );
    }, 2000 );
}
"""


def test_on_php_fpm_the_member_has_the_page_before_php_ends_even_with_the_circuit_open(served_site, request):
    """With deliveries paused (the circuit open after a failure), the bridge still ends the
    member's response on `shutdown` with fastcgi_finish_request(): the member does not wait for
    what runs after it (later shutdown hooks, PHP's teardown). It used to end it only when it
    was about to deliver, so a black-holed sidecar made every member's cancel slower."""
    site = served_site("nginx-fpm")
    hole = BlackHole()
    request.addfinalizer(hole.close)
    member = new_members(site, 1)
    point_bridge_at(site, hole.url, "site_blackhole", "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode())
    site.wp_eval("update_option(Farewell_Bridge_Dispatcher::CIRCUIT_OPTION, time() + 25, false);")
    folder = site.root / "late-hook"
    folder.mkdir(exist_ok=True)
    os.chown(folder, *site_owner(site))
    hook = site.docroot / "wp-content" / "mu-plugins" / "late-shutdown-hook.php"
    hook.write_text(LATE_SHUTDOWN_HOOK % {"folder": str(folder)})
    request.addfinalizer(lambda: hook.unlink(missing_ok=True))

    with site.login(member["login"], member["password"]) as session:
        cancel(session, site, member["subscriptions"][0])
        finished_before_the_answer = (folder / "finished").exists()
        (folder / "release").write_text("1")
    wait_for(lambda: (folder / "finished").exists(), timeout=60, describe=site.logs_tail)
    assert not finished_before_the_answer, "the member waited for the end of PHP's request"
    rows = outbox(site)
    assert [(r["event_type"], r["status"], r["attempts"]) for r in rows] == [("subscription.cancelled", "pending", "0")], rows
    assert not hole.connections, "the circuit was open: nothing was tried"
    assert_no_php_errors(site)


# Notes, when the bridge records a member's cancel, whether the page's headers are sent and whether
# the survey's user meta is stored yet (read from the database, not WordPress's cache).
EVENT_RECORDED_PROBE = """<?php
add_action( 'farewell_bridge_event_recorded', function ( $payload ) {
    global $wpdb;
    $stored = (int) $wpdb->get_var( $wpdb->prepare( "SELECT COUNT(*) FROM {$wpdb->usermeta} WHERE user_id = %%d AND meta_key = %%s",
        (int) $payload['member']['id'], '_farewell_bridge_survey_pending' ) );
    file_put_contents( %(folder)r . '/recorded', wp_json_encode( array( 'headers_sent' => headers_sent(), 'stored' => $stored ) ) );
}, 20 );
"""


def test_on_php_fpm_memberpress_s_account_page_gets_the_survey_s_mark_after_the_response(mariadb, sidecar_server):
    """Issue 15: MemberPress's ReadyLaunch account page prints itself before it cancels, so the
    cancel's response can carry no cookie; the survey's user meta is still not written on the
    member's clock but after the response, in the same PHP process, and their next page shows
    the survey, once. The real MemberPress on its own nginx + PHP-FPM site."""
    from tests.wordpress.conftest import wordpress_source
    from tests.wordpress.real_plugins import REAL_PLUGINS, install_real_plugin
    from tests.wordpress.site import DatabaseInfo, WordPressSite, free_port, world_readable_root

    name = f"wp_{secrets.token_hex(6)}"
    mariadb.create_database(name)
    site = WordPressSite(wp_source=wordpress_source("6.8"), root=world_readable_root("wp-test-mepr-fpm-"),
                         db=DatabaseInfo(mariadb.host, mariadb.port, name, mariadb.user, mariadb.password),
                         port=free_port(), server="nginx-fpm")
    try:
        site.build()
        site.start()
        facts = install_real_plugin(REAL_PLUGINS["memberpress"], site)
        sidecar = sidecar_server()
        member = site.wp_json(f"""
            $id = wp_insert_user(array('user_login' => 'anais', 'user_pass' => 'anais-password',
                'user_email' => 'anais@example.org', 'first_name' => 'Anaïs', 'locale' => 'fr_FR'));
            wp_set_current_user($id);
            list($txn, $sub) = MeprCheckoutCtrl::prepare_transaction(new MeprProduct({facts['plans']['Argent']}), 0,
                $id, '{facts['offline']}');
            MeprOptions::fetch()->payment_method('{facts['offline']}')->process_payment_form($txn);
            return array('id' => $id, 'subscription' => (int) $sub->id);
        """)
        point_bridge_at(site, sidecar.url, sidecar.site_id, sidecar.secret)
        folder = site.root / "probe"
        folder.mkdir(exist_ok=True)
        os.chown(folder, *site_owner(site))
        (site.docroot / "wp-content" / "mu-plugins" / "event-recorded-probe.php").write_text(
            EVENT_RECORDED_PROBE % {"folder": str(folder)})
        account = facts["account_url"] + ("&" if "?" in facts["account_url"] else "?")

        with site.login("anais", "anais-password") as session:
            response = session.get(f"{account}action=cancel&sub={member['subscription']}", timeout=60)
            assert "Your subscription was successfully cancelled." in response.text, response.text[-1500:]
            recorded = json.loads((folder / "recorded").read_text())
            assert recorded == {"headers_sent": True, "stored": 0}, recorded
            assert not [c for c in session.cookies if c.name == "wp_farewell_survey_pending"]
            # Written after the response, in the same PHP process (no cron, no other request).
            stored = wait_for(lambda: site.wp_json(
                f"return get_user_meta({member['id']}, '_farewell_bridge_survey_pending', true);"), timeout=30)
            assert stored[0]["subscription_id"] == str(member["subscription"]) and not stored[0]["shown"], stored

            assert 'id="farewell-survey"' in session.get(f"{site.url}/", timeout=30).text, "shown on the next page"
            assert 'id="farewell-survey"' not in session.get(f"{site.url}/", timeout=30).text, "shown once"
        assert_no_php_errors(site)
    finally:
        site.cleanup()
        mariadb.drop_database(name)


def site_owner(site) -> tuple[int, int]:
    """The uid and gid the site's files belong to (www-data when the tests run as root)."""
    stat = site.root.stat()
    return stat.st_uid, stat.st_gid
