"""WP-CLI and Site Health, end to end: real WordPress 6.8, the official WP-CLI 2.10 phar, a real sidecar.

- A cancel made in PHP's command line reaches the sidecar before the `wp` process exits, from the
  process itself: no loopback request to the web server, no waiting for cron.
- Where a loopback request cannot reach the site, the bridge notices, leaves the events to cron and
  Site Health says so.
- `wp farewell status|test|deliver|retry`: their output and exit codes (WP_CLI::error exits 1).
- Site Health's tests and its Info section, read through WordPress's own WP_Site_Health and
  WP_Debug_Data in `wp eval`.

WP-CLI is `../shared/wp-cli/wp-cli.phar` from the repository (FAREWELL_WP_CLI overrides it).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from pathlib import Path

import pytest

from tests.support.wordpress import assert_no_php_errors, bridge_constants, cancel, cancellations, make_members, outbox
from tests.wordpress.site import REPO, free_port

WP_CLI = Path(os.environ.get("FAREWELL_WP_CLI", REPO.parent / "shared" / "wp-cli" / "wp-cli.phar"))

pytestmark = pytest.mark.skipif(
    not WP_CLI.exists(), reason=f"WP-CLI is missing: put the official wp-cli.phar at {WP_CLI} (or set FAREWELL_WP_CLI)")


def wp(site, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """`wp ARGS` on the site, as a host's shell or system cron would run it."""
    return subprocess.run(
        ["php", str(WP_CLI), f"--path={site.docroot}", "--allow-root", "--no-color", *args],
        capture_output=True, text=True, timeout=timeout, cwd=site.root,
    )


def ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    return result.stdout


def server_requests(site) -> list[str]:
    text = site.server_log_path.read_text(errors="replace") if site.server_log_path.exists() else ""
    return [line for line in text.splitlines() if "admin-ajax.php" in line]


SITE_HEALTH = """
    require_once ABSPATH . 'wp-admin/includes/class-wp-site-health.php';
    require_once ABSPATH . 'wp-admin/includes/class-wp-debug-data.php';
    require_once ABSPATH . 'wp-admin/includes/update.php';
    require_once ABSPATH . 'wp-admin/includes/plugin.php';
    $tests = WP_Site_Health::get_tests();
    $out = array();
    foreach (array('direct', 'async') as $kind) {
        foreach ($tests[$kind] as $name => $test) {
            if (0 !== strpos($name, 'farewell_bridge_')) { continue; }
            $callable = 'async' === $kind ? $test['async_direct_test'] : $test['test'];
            $result = call_user_func($callable);
            $out[$name] = array('status' => $result['status'], 'label' => $result['label'],
                'description' => wp_strip_all_tags($result['description']));
        }
    }
    $info = apply_filters('debug_information', array());
    $out['info'] = isset($info['farewell-bridge']) ? $info['farewell-bridge'] : null;
    return $out;
"""


# --------------------------------------------------------------------------- deliver at once in CLI
def test_a_cancel_made_in_wp_cli_reaches_the_sidecar_before_wp_exits(wordpress_site, sidecar_server):
    sidecar = sidecar_server()
    site = wordpress_site("6.8", constants=bridge_constants(sidecar))
    member = make_members(site, 1, 3)[0]
    first, second, third = member["subscriptions"]
    ajax_before = len(server_requests(site))

    # A host's script cancels two subscriptions in one `wp eval`.
    ok(wp(site, "eval", f"(new MeprSubscription({first}))->cancel(); (new MeprSubscription({second}))->cancel();"))
    # Right after the process returned: both are there, no waiting for cron, no loopback.
    items = cancellations(sidecar)
    assert sorted(item["subscription"]["id"] for item in items) == sorted([str(first), str(second)]), outbox(site)
    assert {item["initiated_by"] for item in items} == {"system"}
    assert len(server_requests(site)) == ajax_before, "no loopback request from the command line:\n" + site.logs_tail()

    # With the web server gone (WP-CLI needs none), the cancel still arrives at once.
    site.stop()
    ok(wp(site, "eval", f"(new MeprSubscription({third}))->cancel();"))
    assert str(third) in [item["subscription"]["id"] for item in cancellations(sidecar)], outbox(site)
    cancelled = [row for row in outbox(site) if row["event_type"] == "subscription.cancelled"]
    assert [row["status"] for row in cancelled] == ["delivered"] * 3, cancelled
    assert_no_php_errors(site)


def test_a_loopback_that_cannot_reach_the_site_is_noticed_left_to_cron_and_told_in_site_health(
        wordpress_site, sidecar_server):
    sidecar = sidecar_server()
    site = wordpress_site("6.8", constants=bridge_constants(sidecar))
    member = make_members(site, 1, 2)[0]
    # The host refuses the site's requests to itself: admin-ajax.php, as seen from PHP, leads to a
    # port where nothing listens (the members' own pages are served as usual).
    closed = free_port()
    (site.docroot / "wp-content" / "mu-plugins" / "loopback-refused.php").write_text(f"""<?php
add_filter('admin_url', function ($url, $path) {{
    return 0 === strpos((string) $path, 'admin-ajax.php') ? preg_replace('#^https?://[^/]+#', 'http://127.0.0.1:{closed}', $url) : $url;
}}, 10, 2);
""")
    with site.login(member["login"], member["password"]) as session:
        cancel(session, site, member["subscriptions"][0])
        problem = site.wp_eval("echo Farewell_Bridge_Dispatcher::loopback_problem();")
        assert f"127.0.0.1:{closed} could not connect" in problem, problem
        cancel(session, site, member["subscriptions"][1])

    rows = [r for r in outbox(site) if r["event_type"] == "subscription.cancelled"]
    assert [(r["status"], r["attempts"]) for r in rows] == [("pending", "0")] * 2, "left to cron, nothing lost"
    health = site.wp_json(SITE_HEALTH)["farewell_bridge_delivery"]
    assert health["status"] == "recommended", health
    assert "could not connect" in health["description"] and "WP-Cron" in health["description"], health
    site.run_cron()
    assert sorted(i["subscription"]["id"] for i in cancellations(sidecar)) == sorted(map(str, member["subscriptions"]))
    assert_no_php_errors(site)


# --------------------------------------------------------------------------- wp farewell
def test_wp_farewell_status_test_deliver_and_retry(wordpress_site, sidecar_server):
    sidecar = sidecar_server()
    site = wordpress_site("6.8", constants=bridge_constants(sidecar), start=False)
    member = make_members(site, 1, 3)[0]
    # Three cancellations left in the outbox (as if the sidecar had been away): forget() keeps
    # this process from delivering them on its way out.
    ids = site.wp_json(f"""
        foreach ({json.dumps(member["subscriptions"])} as $id) {{ (new MeprSubscription($id))->cancel(); }}
        $ids = Farewell_Bridge_Dispatcher::remembered();
        Farewell_Bridge_Dispatcher::forget();
        return $ids;
    """)
    assert len(ids) == 3

    status = json.loads(ok(wp(site, "farewell", "status", "--format=json")))
    assert status["configured"] is True
    assert status["sources"] == {"sidecar_url": "constant", "site_id": "constant", "secret": "constant"}
    assert status["sidecar_url"] == sidecar.url
    assert status["ping"]["ok"] is True, status["ping"]
    assert status["outbox"]["pending"] == 3
    assert status["oldest_pending"]["id"] == ids[0]
    assert status["oldest_pending"]["event_type"] == "subscription.cancelled"
    table = ok(wp(site, "farewell", "status"))
    assert "Configured" in table and "constant in wp-config.php" in table and "Connected" in table
    for output in (json.dumps(status), table):
        assert sidecar.secret not in output and sidecar.secret[6:20] not in output

    tested = wp(site, "farewell", "test")
    assert ok(tested).startswith("Success: Connected: the sidecar knows this site as"), tested.stdout

    # In a terminal (script(1) gives it one), as a person would run it: with WP-CLI's progress bar.
    command = f"php {shlex.quote(str(WP_CLI))} --path={shlex.quote(str(site.docroot))} --allow-root --no-color farewell deliver"
    delivered = subprocess.run(["script", "-qec", command, "/dev/null"], capture_output=True, text=True, timeout=120)
    assert "Success: Delivered: 3. Still pending: 0. Dead: 0." in ok(delivered), delivered.stdout
    assert "Delivering to the sidecar  100% [" in delivered.stdout, delivered.stdout
    assert len([i for i in cancellations(sidecar) if i["subscription"]["id"] in map(str, member["subscriptions"])]) == 3
    assert "Nothing to deliver" in ok(wp(site, "farewell", "deliver"))

    # retry: dead rows back to pending, by id or --all; anything else exits 1.
    site.wp_eval(f"""
        global $wpdb;
        $wpdb->query("UPDATE " . Farewell_Bridge_Outbox::table() . " SET status = 'dead', last_error = 'refused' WHERE id IN ({','.join(map(str, ids))})");
    """)
    one = wp(site, "farewell", "retry", str(ids[0]))
    assert "Success: 1 event queued again." in ok(one)
    statuses = {int(row["id"]): row["status"] for row in outbox(site)}
    assert [statuses[i] for i in ids] == ["pending", "dead", "dead"]
    missing = wp(site, "farewell", "retry", str(ids[0]))  # no longer dead
    assert missing.returncode == 1 and f"Error: Not a dead event: {ids[0]}." in missing.stderr, missing
    neither = wp(site, "farewell", "retry")
    assert neither.returncode == 1 and "--all" in neither.stderr
    every = wp(site, "farewell", "retry", "--all")
    assert "Success: 2 events queued again." in ok(every)
    assert all(row["status"] == "pending" for row in outbox(site) if int(row["id"]) in ids)

    # Site Health with a clear outbox and a sidecar that answers.
    health = site.wp_json(SITE_HEALTH)
    assert health["farewell_bridge_reachable"]["status"] == "good", health
    assert health["farewell_bridge_secret"]["status"] == "good", health
    fields = health["info"]["fields"]
    assert fields["sidecar_url"]["value"].startswith(sidecar.url)
    assert "memberpress" in fields["sources"]["value"]
    assert fields["outbox"]["value"] == "pending 3, delivered 3, dead 0"  # the 3 subscription.created events
    # The asynchronous test's REST route: for those who may view Site Health only.
    route = site.wp_json("""
        $answers = array();
        foreach (array(0, 1) as $user) {
            wp_set_current_user($user);
            $response = rest_do_request(new WP_REST_Request('GET', '/farewell/v1/site-health/reachable'));
            $data = $response->get_data();
            $answers[] = array($response->get_status(), isset($data['status']) ? $data['status'] : null);
        }
        return $answers;
    """)
    assert route == [[401, None], [200, "good"]], route
    assert health["farewell_bridge_outbox"]["status"] == "good", health
    assert health["farewell_bridge_delivery"]["status"] == "good", health
    assert sidecar.secret not in json.dumps(health)
    assert_no_php_errors(site)


def test_wp_farewell_and_site_health_when_the_sidecar_cannot_be_reached(wordpress_site, sidecar_server):
    sidecar = sidecar_server()
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens: connection refused
    site = wordpress_site("6.8", constants={**bridge_constants(sidecar), "FAREWELL_SIDECAR_URL": closed}, start=False)
    member = make_members(site, 1, 2)[0]
    # Setting the members up already met the closed port: the circuit is open for 30 s. Closed
    # again, as it would be later.
    site.wp_eval("delete_option('farewell_bridge_circuit_until');")
    # Cancelled in the command line with the sidecar away: one attempt, then the rows wait.
    ok(wp(site, "eval", " ".join(f"(new MeprSubscription({s}))->cancel();" for s in member["subscriptions"])))
    rows = [r for r in outbox(site) if r["event_type"] == "subscription.cancelled"]
    assert [r["status"] for r in rows] == ["pending", "pending"]
    # Both went in one request, a batch (issue 16), which failed: one attempt each, none again in
    # this process — the first temporary failure stops its delivery.
    assert [int(r["attempts"]) for r in rows] == [1, 1], rows

    tested = wp(site, "farewell", "test")
    assert tested.returncode == 1 and "Error: The connection to the sidecar was refused" in tested.stderr, tested

    delivered = wp(site, "farewell", "deliver")
    assert delivered.returncode == 1, delivered
    assert "Error: Stopped at a temporary failure: The connection to the sidecar was refused" in delivered.stderr
    assert "Still pending: 1." in delivered.stderr
    rows = [r for r in outbox(site) if r["event_type"] == "subscription.cancelled"]
    assert [r["status"] for r in rows] == ["pending", "pending"]

    status = json.loads(ok(wp(site, "farewell", "status", "--format=json")))
    assert status["ping"]["ok"] is False and "refused" in status["ping"]["message"]
    assert status["last_error"]["message"].startswith("The connection to the sidecar was refused")

    # Site Health: not reachable (critical); a dead row (critical); a backlog; cron late (critical).
    site.wp_eval(f"""
        global $wpdb;
        $wpdb->query("UPDATE " . Farewell_Bridge_Outbox::table() . " SET status = 'dead' WHERE id = {rows[0]['id']}");
        $wpdb->query("UPDATE " . Farewell_Bridge_Outbox::table() . " SET created_at = '2000-01-01 00:00:00' WHERE status = 'pending'");
    """)
    health = site.wp_json(SITE_HEALTH)
    assert health["farewell_bridge_reachable"]["status"] == "critical"
    assert "refused" in health["farewell_bridge_reachable"]["description"]
    assert health["farewell_bridge_outbox"]["status"] == "critical"
    assert "wp farewell retry --all" in health["farewell_bridge_outbox"]["description"]
    site.wp_eval(f"""
        global $wpdb;
        $wpdb->query("UPDATE " . Farewell_Bridge_Outbox::table() . " SET status = 'pending' WHERE id = {rows[0]['id']}");
        wp_clear_scheduled_hook('farewell_bridge_deliver');
        wp_schedule_event(time() - 3600, 'farewell_bridge_every_minute', 'farewell_bridge_deliver');
    """)
    health = site.wp_json(SITE_HEALTH)
    assert health["farewell_bridge_outbox"]["status"] == "recommended", health["farewell_bridge_outbox"]
    assert "2000-01-01 00:00:00" in health["farewell_bridge_outbox"]["description"]
    assert health["farewell_bridge_delivery"]["status"] == "critical", health["farewell_bridge_delivery"]
    assert "wp cron event run --due-now" in health["farewell_bridge_delivery"]["description"]

    # In French where the site is French: WP-CLI's output is translated too. (Written in SQL:
    # update_option() refuses a language whose WordPress files are not installed.)
    site.wp_eval("""global $wpdb; $wpdb->query("INSERT INTO {$wpdb->options} (option_name, option_value, autoload)
        VALUES ('WPLANG', 'fr_FR', 'yes') ON DUPLICATE KEY UPDATE option_value = 'fr_FR'"); wp_cache_flush();""")
    french = wp(site, "farewell", "retry")
    assert french.returncode == 1 and "Donnez les identifiants d’événements en échec, ou --all" in french.stderr, french
    french_health = site.wp_json(SITE_HEALTH)
    assert french_health["farewell_bridge_delivery"]["label"] == "Les nouvelles tentatives de Farewell Bridge ne tournent pas"
    assert_no_php_errors(site)
