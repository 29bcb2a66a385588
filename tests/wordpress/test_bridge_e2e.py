"""End to end: a member cancels through WordPress (php -S), the bridge delivers to the real sidecar.

Each test builds its own WordPress site (MemberPress stand-in active, see fixtures/) and starts the
real sidecar (`python -m sidecar serve`) on SQLite or MariaDB. Cron is triggered explicitly.
"""

from __future__ import annotations

import base64
import html
import json
import re
import secrets
import socket
import statistics

import pytest
import requests

from tests.support.black_hole import BlackHole
from tests.support.wordpress import (
    assert_no_php_errors,
    bridge_constants,
    cancel,
    cancellations,
    make_members,
    outbox,
    wait_for,
)
from tests.wordpress.site import ADMIN_PASSWORD, ADMIN_USER, free_port

# --------------------------------------------------------------------------- helpers
@pytest.fixture(params=["sqlite", "mariadb"])
def sidecar(request, sidecar_server):
    database_url = request.getfixturevalue("fresh_mariadb_url") if request.param == "mariadb" else None
    return sidecar_server(database_url=database_url)


def hidden_fields(page: str, names) -> dict:
    """The hidden <input>s of a page, by name (WordPress mixes quote styles and attribute orders)."""
    fields = {}
    for tag in re.findall(r"<input\b[^>]*>", page):
        attrs = {k: html.unescape(v1 or v2) for k, v1, v2 in re.findall(r"""(\w+)=(?:'([^']*)'|"([^"]*)")""", tag)}
        if attrs.get("type") == "hidden" and attrs.get("name") in names:
            fields[attrs["name"]] = attrs.get("value", "")
    return fields


# --------------------------------------------------------------------------- (1)
# Each WordPress version once, each sidecar database once: the bridge's PHP does not see which database
# the sidecar stores in, nor the sidecar which WordPress sent the event, so the two other pairs of the
# full cross (about 10 s each in CI) added no case these two do not have.
@pytest.mark.parametrize("sidecar, wp_version", [("sqlite", "6.1"), ("mariadb", "6.8")], indirect=["sidecar"])
def test_a_cancellation_made_in_wordpress_reaches_the_sidecar(wordpress_site, sidecar, wp_version):
    site = wordpress_site(wp_version, constants=bridge_constants(sidecar))
    member = make_members(site, 1, 1)[0]
    subscription = member["subscriptions"][0]

    with site.login(member["login"], member["password"]) as session:
        elapsed = cancel(session, site, subscription)
    print(f"\ncancel request with the sidecar up (WordPress {wp_version}): {elapsed * 1000:.0f} ms")

    # Delivered right after the response (no cron run needed).
    items = wait_for(lambda: cancellations(sidecar), timeout=60, describe=lambda: str(outbox(site)))
    assert len(items) == 1
    item = items[0]
    assert item["member"]["id"] == str(member["id"])
    assert item["member"]["email"] == member["email"]
    assert item["member"]["first_name"] == "Anaïs 0"
    assert item["subscription"]["id"] == str(subscription)
    assert item["subscription"]["plan_name"] == "Or"
    assert item["subscription"]["amount"] == "29.00"
    assert item["subscription"]["currency"] == "EUR"
    assert item["subscription"]["interval"] == "month"
    assert item["source"] == "memberpress"
    assert item["initiated_by"] == "member"
    assert item["access_ends_at"]

    site.run_cron()  # the subscription.created event of the setup goes out too
    rows = outbox(site)
    assert [r["status"] for r in rows] == ["delivered", "delivered"], rows
    assert_no_php_errors(site)


# --------------------------------------------------------------------------- (2)
# On MariaDB only: this is the bridge's outbox kept and drained (its own code, whatever stores the
# events); the sidecar's storing each event once is tested on both databases in-process (test_ingest,
# test_ingest_batch), and the SQLite run of this test (about 15 s in CI) added no case to those.
@pytest.mark.parametrize("sidecar", ["mariadb"], indirect=True)
def test_fifty_cancellations_while_the_sidecar_is_down_all_arrive_exactly_once(wordpress_site, sidecar):
    site = wordpress_site("6.8", constants=bridge_constants(sidecar))
    members = make_members(site, 10, 5)
    sidecar.stop()

    timings = []
    for member in members:
        with site.login(member["login"], member["password"]) as session:
            for subscription in member["subscriptions"]:
                timings.append(cancel(session, site, subscription))
    assert len(timings) == 50
    print(f"\n50 cancel requests with the sidecar down: median {statistics.median(timings) * 1000:.0f} ms, "
          f"max {max(timings) * 1000:.0f} ms")

    pending = [r for r in outbox(site) if r["event_type"] == "subscription.cancelled"]
    assert len(pending) == 50
    assert all(r["status"] == "pending" for r in pending), pending

    sidecar.start()

    def all_arrived():
        site.run_cron()
        return len(cancellations(sidecar)) >= 50 and all(r["status"] == "delivered" for r in outbox(site))

    # Rows wait for their backoff (at most 15 s after one failure), then cron delivers them.
    wait_for(all_arrived, timeout=90, interval=2, describe=lambda: str(outbox(site)[-3:]))
    site.run_cron()
    items = cancellations(sidecar)
    expected = {str(s) for m in members for s in m["subscriptions"]}
    assert len(items) == 50
    assert {i["subscription"]["id"] for i in items} == expected
    assert {i["initiated_by"] for i in items} == {"member"}
    assert_no_php_errors(site)


# --------------------------------------------------------------------------- (3)
def test_a_black_holed_sidecar_does_not_slow_the_members_request(wordpress_site, request):
    hole = BlackHole()
    request.addfinalizer(hole.close)
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    site = wordpress_site("6.8", constants={"FAREWELL_SIDECAR_URL": hole.url, "FAREWELL_SITE_ID": "site_blackhole",
                                             "FAREWELL_SECRET": secret})
    member = make_members(site, 1, 12)[0]
    # The set-up's events met the black hole from the command line, which opened the circuit:
    # closed again, so that the members' cancels try the black hole themselves.
    site.wp_eval("delete_option(Farewell_Bridge_Dispatcher::CIRCUIT_OPTION);")

    timings = []
    with site.login(member["login"], member["password"]) as session:
        for subscription in member["subscriptions"]:
            timings.append(cancel(session, site, subscription))
            hole.note_answered(subscription)
    print(f"\ncancel requests with the sidecar black-holed: {[round(t * 1000) for t in timings]} ms")
    # A delivery attempt against the black hole only ends at the bridge's 3 s timeout, when it
    # gives up the connection: a member's request that waited for it would be answered only after
    # that. So each cancel the bridge gave up sending was answered first, an order of events, not a
    # time (the figures, ≈13 ms, are bench/bridge_cost.py's). At least one cancel met the hole.
    wait_for(lambda: hole.given_up() & {str(s) for s in member["subscriptions"]}, timeout=60,
             describe=lambda: f"{hole.timeline}\n{outbox(site)}")
    assert hole.given_up_before_answered() == [], hole.timeline

    def timed_out():
        rows = outbox(site)
        return any("timeout" in (r["last_error"] or "") for r in rows) and rows

    # The first attempt (possibly for an event of the set-up) timed out; the rest wait for cron.
    rows = wait_for(timed_out, timeout=30, interval=1, describe=lambda: str(outbox(site)))
    cancelled = [r for r in rows if r["event_type"] == "subscription.cancelled"]
    assert len(cancelled) == 12
    assert all(r["status"] == "pending" for r in rows), "nothing is lost or given up"
    assert hole.connections, "the bridge did try to reach the sidecar"
    assert_no_php_errors(site)


def test_the_black_hole_tells_a_request_that_waited_on_it():
    """What the test above relies on, on real connections: a cancel given up before it was
    answered is named, one answered first is not (no WordPress needed)."""
    hole = BlackHole()
    try:
        for subscription in ("7", "8"):
            if subscription == "8":
                hole.note_answered(subscription)  # answered while its delivery still hung
            event = json.dumps({"type": "subscription.cancelled", "subscription": {"id": subscription}})
            with socket.create_connection(("127.0.0.1", hole.port), timeout=10) as bridge:
                bridge.sendall(f"POST / HTTP/1.1\r\nHost: sidecar\r\nContent-Length: {len(event)}\r\n\r\n"
                               f"{event}".encode())
            wait_for(lambda: subscription in hole.given_up(), timeout=30, describe=lambda: str(hole.timeline))
            if subscription == "7":
                hole.note_answered(subscription)  # answered only once the bridge had given up: it waited
        assert hole.given_up_before_answered() == ["7"], hole.timeline
    finally:
        hole.close()


# --------------------------------------------------------------------------- (4)
# On SQLite only: the dead rows, the admin's fix and the retry are the bridge's; the sidecar's refusal
# of a wrong signature is tested on both databases in-process (test_ingest.py's forged and missing
# signatures), and the MariaDB run of this test (about 12 s in CI) added no case to those.
@pytest.mark.parametrize("sidecar", ["sqlite"], indirect=True)
def test_a_wrong_secret_gives_dead_rows_and_fixing_it_delivers_them(wordpress_site, sidecar):
    site = wordpress_site("6.8")
    wrong = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    site.wp_eval(f"""
        update_option('farewell_bridge_settings', array('sidecar_url' => {sidecar.url!r},
            'site_id' => {sidecar.site_id!r}, 'delete_data' => false));
        update_option('farewell_bridge_secret', {wrong!r});
    """)
    member = make_members(site, 1, 3)[0]
    with site.login(member["login"], member["password"]) as session:
        for subscription in member["subscriptions"]:
            cancel(session, site, subscription)

    def all_dead():
        site.run_cron()
        rows = outbox(site)
        return len(rows) == 6 and all(r["status"] == "dead" for r in rows) and rows

    rows = wait_for(all_dead, timeout=30, interval=1, describe=lambda: str(outbox(site)))
    assert all("secret" in r["last_error"] for r in rows), rows
    assert cancellations(sidecar) == []

    with site.login(ADMIN_USER, ADMIN_PASSWORD) as admin:
        page = admin.get(f"{site.url}/wp-admin/options-general.php?page=farewell-bridge", timeout=30)
        assert page.status_code == 200
        assert "Dead events" in page.text
        assert "The sidecar refused the signature (401)" in page.text
        assert wrong not in page.text and wrong[6:] not in page.text, "the secret is never printed back"

        # Fix the secret through the settings form, as an admin would.
        form = hidden_fields(page.text, ("option_page", "action", "_wpnonce", "_wp_http_referer"))
        assert {"option_page", "action", "_wpnonce"} <= form.keys(), form
        saved = admin.post(f"{site.url}/wp-admin/options.php", data={
            **form,
            "farewell_bridge_settings[sidecar_url]": sidecar.url,
            "farewell_bridge_settings[site_id]": sidecar.site_id,
            "farewell_bridge_secret": sidecar.secret,
        }, allow_redirects=False, timeout=30)
        assert saved.status_code == 302, saved.text[:500]
        assert site.wp_eval("echo get_option('farewell_bridge_secret');") == sidecar.secret

        page = admin.get(f"{site.url}/wp-admin/options-general.php?page=farewell-bridge", timeout=30)
        retry = re.search(r'href="([^"]*action=farewell_bridge_retry_dead[^"]*)"', page.text)
        assert retry, "a 'Retry all dead events' button"
        done = admin.get(html.unescape(retry.group(1)), timeout=60)
        assert done.status_code == 200
        assert "6 events queued again." in done.text

    items = wait_for(lambda: len(cancellations(sidecar)) == 3 and cancellations(sidecar), timeout=30)
    assert {i["subscription"]["id"] for i in items} == {str(s) for s in member["subscriptions"]}
    assert all(r["status"] == "delivered" for r in outbox(site))
    assert_no_php_errors(site)


# --------------------------------------------------------------------------- (5)
# On MariaDB only: WordPress's exporter and eraser calling the sidecar are the bridge's; what the
# sidecar exports and erases is tested on both databases in-process (test_privacy.py), and the SQLite
# run of this test (about 10 s in CI) added no case to those.
@pytest.mark.parametrize("sidecar", ["mariadb"], indirect=True)
def test_privacy_exporter_returns_the_sidecars_data_and_the_eraser_removes_it(wordpress_site, sidecar):
    site = wordpress_site("6.8", constants=bridge_constants(sidecar))
    member = make_members(site, 1, 1)[0]
    with site.login(member["login"], member["password"]) as session:
        cancel(session, site, member["subscriptions"][0])
    wait_for(lambda: cancellations(sidecar), timeout=60)

    run_exporter = f"""
        $exporters = apply_filters('wp_privacy_personal_data_exporters', array());
        return call_user_func($exporters['farewell-bridge']['callback'], {member['email']!r}, 1);
    """
    exported = site.wp_json(run_exporter)
    assert exported["done"] is True
    values = [d["value"] for item in exported["data"] for d in item["data"]]
    assert member["email"] in values, exported
    assert all(item["group_id"].startswith("farewell-") for item in exported["data"])

    erased = site.wp_json(f"""
        $erasers = apply_filters('wp_privacy_personal_data_erasers', array());
        return call_user_func($erasers['farewell-bridge']['callback'], {member['email']!r}, 1);
    """)
    assert erased["items_removed"] is True, erased
    assert erased["done"] is True

    again = site.wp_json(run_exporter)
    assert member["email"] not in [d["value"] for item in again["data"] for d in item["data"]], again
    assert_no_php_errors(site)


def test_sources_are_registered_only_for_active_membership_plugins(wordpress_site):
    site = wordpress_site("6.1", start=False)
    active = "echo implode(',', Farewell_Bridge_Plugin::instance()->active_source_slugs());"
    assert site.wp_eval(active).split(",") == [
        "memberpress", "paidmembershipspro", "woocommerce-subscriptions", "restrict-content"]
    site.wp_eval("update_option('farewell_test_sources', array('pmpro'));")
    assert site.wp_eval(active) == "paidmembershipspro"
    site.wp_eval("update_option('farewell_test_sources', array());")
    assert site.wp_eval(active) == ""
    # With no membership plugin at all, WordPress and the bridge still load cleanly.
    assert site.wp_eval("echo did_action('plugins_loaded');") == "1"



# --------------------------------------------------------------------------- Test connection
def test_the_test_connection_button_explains_each_failure(wordpress_site, sidecar_server, request):
    sidecar = sidecar_server()
    hole = BlackHole()
    request.addfinalizer(hole.close)
    # farewell.invalid can never resolve (RFC 6761); let WordPress try it despite WP_HTTP_BLOCK_EXTERNAL.
    site = wordpress_site("6.8", constants={"WP_ACCESSIBLE_HOSTS": "farewell.invalid"})
    closed_port = f"http://127.0.0.1:{free_port()}"
    wrong_secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    cases = [
        (sidecar.url, sidecar.site_id, sidecar.secret, 'Connected: the sidecar knows this site as "E2E site".'),
        (sidecar.url, sidecar.site_id, wrong_secret, "The sidecar refused the signature (401)"),
        (sidecar.url, "site_unknown", sidecar.secret, "The sidecar does not know this site id (404)"),
        (closed_port, sidecar.site_id, sidecar.secret, "The connection to the sidecar was refused"),
        ("http://farewell.invalid", sidecar.site_id, sidecar.secret, "cannot be resolved (DNS)"),
        (hole.url, sidecar.site_id, sidecar.secret, "did not answer in time (timeout)"),
    ]
    with site.login(ADMIN_USER, ADMIN_PASSWORD) as admin:
        for url, site_id, secret, expected in cases:
            site.wp_eval(f"""
                update_option('farewell_bridge_settings', array('sidecar_url' => {url!r}, 'site_id' => {site_id!r},
                    'delete_data' => false));
                update_option('farewell_bridge_secret', {secret!r});
            """)
            page = admin.get(f"{site.url}/wp-admin/options-general.php?page=farewell-bridge", timeout=30)
            link = re.search(r'href="([^"]*action=farewell_bridge_test_connection[^"]*)"', page.text)
            assert link, page.text[:300]
            result = admin.get(html.unescape(link.group(1)), timeout=30)
            assert result.status_code == 200
            notice = re.search(r'farewell-bridge-notice">\s*<p>(.*?)</p>', result.text, flags=re.S)
            assert notice, result.text[:500]
            assert expected in html.unescape(notice.group(1)), (url, site_id, notice.group(1))
    assert_no_php_errors(site)


# --------------------------------------------------------------------------- site information
def test_the_admin_email_reaches_the_sidecar_as_the_digests_default_recipient(wordpress_site, sidecar_server):
    from sidecar import db
    from sidecar.domain.digest import digest_settings

    sidecar = sidecar_server()
    site = wordpress_site("6.8", constants=bridge_constants(sidecar))
    # Changing the option only schedules the report: saving General Settings never waits for the sidecar.
    site.wp_eval("update_option('admin_email', 'proprietaire@club.example.org');")
    requests.get(f"{site.url}/wp-cron.php", timeout=30)  # runs the due one-off event, as a visit would
    engine = db.create_engine(sidecar.database_url)

    def reported():
        with engine.connect() as conn:
            settings = digest_settings(conn, sidecar.site_id)
        return settings if settings["wordpress_admin_email"] else None

    try:
        settings = wait_for(reported, timeout=60, describe=lambda: "the admin email never reached the sidecar")
    finally:
        engine.dispose()
    assert settings["wordpress_admin_email"] == "proprietaire@club.example.org"
    assert settings["recipients"] == ["proprietaire@club.example.org"]
