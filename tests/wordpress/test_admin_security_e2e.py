"""No one let in: a subscriber tries every admin action of the bridge over real HTTP, and public
survey requests are rate limited with a store every PHP process shares.

The list of actions is read from WordPress itself (hooks, REST routes, admin pages and settings
registered by the plugin) and must equal the list below, so a new action cannot be forgotten.
The subscriber even holds valid nonces of their own for each action: only the capability check
stands between them and the action. Options, outbox rows and the sidecar's data are compared
before and after.
"""

from __future__ import annotations

import html
import json
import re
from urllib.parse import unquote

import requests

from tests.support.wordpress import assert_no_php_errors, bridge_constants, cancellations, outbox
from tests.wordpress.site import ADMIN_PASSWORD, ADMIN_USER

# Every way into the plugin's admin side, as WordPress registers it, and how a subscriber tries it.
ADMIN_POST = {
    "farewell_bridge_test_connection": "GET",
    "farewell_bridge_retry_row": "GET",
    "farewell_bridge_retry_dead": "GET",
    "farewell_bridge_retry_now": "GET",
    "farewell_bridge_resume": "GET",
    "farewell_bridge_open_dashboard": "POST",
    "farewell_bridge_import_start": "POST",
    "farewell_bridge_send_sample_digest": "POST",
}
AJAX = {"farewell_bridge_deliver"}  # the loopback delivery: logged in or not, an HMAC token is required
ADMIN_AJAX = {"farewell_bridge_import_step"}  # Import history's poll: signed in, its nonce and manage_options
SIGNED_REST = {"/farewell/v1/mail", "/farewell/v1/coupons"}  # the sidecar's calls, signed with the secret
MEMBER_REST = {"/farewell/v1/survey"}  # members answer the survey: not an admin action (rate limited below)
ADMIN_REST = {"/farewell/v1/site-health/reachable"}  # Site Health's background check: view_site_health_checks only
PAGES = {"admin_page_farewell-bridge": "options-general.php?page=farewell-bridge",
         "toplevel_page_farewell": "admin.php?page=farewell",
         "farewell_page_farewell-setup": "admin.php?page=farewell-setup",
         "farewell_page_farewell-import": "admin.php?page=farewell-import"}
SETTINGS = {"farewell_bridge": ["farewell_bridge_settings", "farewell_bridge_secret"]}

REGISTERED = """
    wp_set_current_user(1);
    require_once ABSPATH . 'wp-admin/includes/admin.php';
    do_action('admin_init');
    do_action('admin_menu');
    global $wp_filter, $_registered_pages, $new_allowed_options;
    $hooks = array();
    foreach ($wp_filter as $hook => $registered) {
        if (!preg_match('/^(admin_post_nopriv|admin_post|wp_ajax_nopriv|wp_ajax)_(.+)$/', $hook, $m)) { continue; }
        foreach ($registered->callbacks as $callbacks) {
            foreach ($callbacks as $callback) {  // any handler of the bridge, whatever the action is called
                $function = $callback['function'];
                $class = is_array($function) ? (is_object($function[0]) ? get_class($function[0]) : $function[0]) : '';
                if (0 === strpos((string) $class, 'Farewell_Bridge')) { $hooks[$m[1]][] = $m[2]; }
            }
        }
    }
    $routes = array_values(array_filter(array_keys(rest_get_server()->get_routes()), function ($r) {
        return 0 === strpos($r, '/farewell/');
    }));
    $pages = array_values(array_filter(array_keys((array) $_registered_pages), function ($p) {
        return false !== strpos($p, 'farewell');
    }));
    $settings = array();
    foreach ((array) $new_allowed_options as $group => $options) {
        if (0 === strpos($group, 'farewell')) { $settings[$group] = array_values($options); }
    }
    return array('hooks' => $hooks, 'routes' => $routes, 'pages' => $pages, 'settings' => $settings);
"""

STATE = """
    global $wpdb;
    return array(
        'options' => $wpdb->get_results("SELECT option_name, option_value FROM {$wpdb->options}
            WHERE option_name LIKE 'farewell\\\\_%' AND option_name NOT LIKE 'farewell\\\\_bridge\\\\_rate%' ORDER BY option_name", ARRAY_A),
        'outbox' => $wpdb->get_results('SELECT * FROM ' . Farewell_Bridge_Outbox::table() . ' ORDER BY id', ARRAY_A),
        'requests' => $wpdb->get_results('SELECT * FROM ' . Farewell_Bridge_Request_Log::table(), ARRAY_A),
        'users' => $wpdb->get_var("SELECT COUNT(*) FROM {$wpdb->users}"),
    );
"""


def nonces_for(site, session: requests.Session, user_id: int, actions) -> dict:
    """Valid nonces of this user's own browser session (WordPress ties nonces to the session)."""
    cookie = next(c for c in session.cookies if c.name.startswith("wordpress_logged_in_"))
    return site.wp_json(f"""
        $_COOKIE[LOGGED_IN_COOKIE] = {unquote(cookie.value)!r};  // PHP decodes cookies it receives
        wp_set_current_user({user_id});
        $out = array();
        foreach (json_decode({json.dumps(list(actions))!r}, true) as $action) {{ $out[$action] = wp_create_nonce($action); }}
        return $out;
    """)


def test_a_subscriber_is_refused_every_admin_action_and_nothing_changes(wordpress_site, sidecar_server):
    sidecar = sidecar_server()
    site = wordpress_site("6.8", constants=bridge_constants(sidecar))

    registered = site.wp_json(REGISTERED)
    assert sorted(registered["hooks"].get("admin_post", [])) == sorted(ADMIN_POST), registered
    assert "admin_post_nopriv" not in registered["hooks"], registered
    assert set(registered["hooks"]["wp_ajax"]) == AJAX | ADMIN_AJAX, registered
    assert set(registered["hooks"]["wp_ajax_nopriv"]) == AJAX, registered
    assert set(registered["routes"]) == {"/farewell/v1"} | SIGNED_REST | MEMBER_REST | ADMIN_REST, registered
    assert set(registered["pages"]) == set(PAGES), registered
    assert registered["settings"] == SETTINGS, registered

    # Something for every action to change: a dead row, a pending row, a pause.
    site.wp_eval("""
        Farewell_Bridge_Outbox::insert('fwb_sec_dead', 'member.updated', '{"type":"member.updated"}');
        Farewell_Bridge_Outbox::insert('fwb_sec_pending', 'member.updated', '{"type":"member.updated"}');
        global $wpdb;
        $wpdb->query("UPDATE " . Farewell_Bridge_Outbox::table() . " SET status = 'dead', last_error = 'x' WHERE webhook_id = 'fwb_sec_dead'");
        $wpdb->query("UPDATE " . Farewell_Bridge_Outbox::table() . " SET next_attempt_at = '2099-01-01 00:00:00' WHERE webhook_id = 'fwb_sec_pending'");
        Farewell_Bridge_Outbox::pause('paused for the test');
    """)
    dead_id = next(r["id"] for r in outbox(site) if r["webhook_id"] == "fwb_sec_dead")
    subscriber_id = site.create_user("mallory", role="subscriber", password="mallory-password")
    before = site.wp_json(STATE)

    tried = []
    with site.login("mallory", "mallory-password") as mallory:
        nonces = nonces_for(site, mallory, subscriber_id,
                            [*ADMIN_POST, *ADMIN_AJAX, "farewell_bridge-options", "wp_rest"])
        for action, method in ADMIN_POST.items():
            params = {"action": action, "_wpnonce": nonces[action], "id": dead_id}
            if method == "GET":
                response = mallory.get(f"{site.url}/wp-admin/admin-post.php", params=params, allow_redirects=False, timeout=30)
            else:
                response = mallory.post(f"{site.url}/wp-admin/admin-post.php", data=params, allow_redirects=False, timeout=30)
            assert response.status_code == 403, (action, response.status_code, response.headers.get("Location"))
            assert "not allowed to" in response.text, action
            assert "login?token=" not in response.headers.get("Location", ""), "no dashboard sign-in link"
            tried.append(action)

        for action in AJAX:
            for client in (mallory, requests.Session()):
                response = client.post(f"{site.url}/wp-admin/admin-ajax.php", params={"action": action},
                                       data={"ids": str(dead_id), "token": nonces["wp_rest"]}, timeout=30)
                assert response.status_code == 403, (action, response.status_code)
            tried.append(action)

        for action in ADMIN_AJAX:
            response = mallory.post(f"{site.url}/wp-admin/admin-ajax.php",
                                    data={"action": action, "_ajax_nonce": nonces[action]}, timeout=30)
            assert response.status_code == 403, (action, response.status_code)
            anonymous = requests.post(f"{site.url}/wp-admin/admin-ajax.php", data={"action": action}, timeout=30)
            assert anonymous.status_code in (400, 403), (action, anonymous.status_code)
            tried.append(action)

        for route in SIGNED_REST:
            response = mallory.post(f"{site.url}/?rest_route={route}", json={"to": "a@example.org"},
                                    headers={"X-WP-Nonce": nonces["wp_rest"]}, timeout=30)
            assert response.status_code == 401, (route, response.status_code, response.text)
            assert response.json()["error"] == "invalid_signature"
            tried.append(route)

        for route in ADMIN_REST:
            response = mallory.get(f"{site.url}/?rest_route={route}", headers={"X-WP-Nonce": nonces["wp_rest"]},
                                   timeout=30)
            assert response.status_code == 403, (route, response.status_code, response.text)
            assert response.json()["code"] == "rest_forbidden"
            tried.append(route)

        for screen, path in PAGES.items():
            response = mallory.get(f"{site.url}/wp-admin/{path}", allow_redirects=False, timeout=30)
            assert response.status_code == 403, (path, response.status_code)
            assert sidecar.secret not in response.text and "Outbox" not in response.text
            tried.append(screen)

        for group, options in SETTINGS.items():
            response = mallory.post(f"{site.url}/wp-admin/options.php", data={
                "option_page": group, "action": "update", "_wpnonce": nonces[f"{group}-options"],
                "farewell_bridge_settings[sidecar_url]": "http://attacker.example",
                "farewell_bridge_settings[site_id]": "site_attacker", "farewell_bridge_settings[delete_data]": "1",
                "farewell_bridge_secret": "whsec_" + "A" * 44,
            }, allow_redirects=False, timeout=30)
            assert response.status_code == 403, (group, response.status_code)
            tried.append(group)

    assert len(tried) == len(ADMIN_POST) + len(AJAX) + len(ADMIN_AJAX) + len(SIGNED_REST) + len(ADMIN_REST) + len(PAGES) + len(SETTINGS)
    after = site.wp_json(STATE)
    assert after == before, "a refused action changed nothing"
    assert cancellations(sidecar) == []
    assert_no_php_errors(site)


def test_stored_values_with_html_show_as_text_in_the_admin(wordpress_site, sidecar_server):
    sidecar = sidecar_server()
    named = json.loads(sidecar._cli("sites", "add", "--url", "http://club.test", "--name", '<img src=x onerror="alert(1)">Club'))
    site_id, secret = named["site_id"], named["secret"]
    site = wordpress_site("6.8", constants={"FAREWELL_SIDECAR_URL": sidecar.url, "FAREWELL_SITE_ID": site_id,
                                            "FAREWELL_SECRET": secret})
    site.wp_eval("""
        Farewell_Bridge_Outbox::insert('fwb_xss', 'member.updated', '{}');
        global $wpdb;
        $wpdb->query($wpdb->prepare("UPDATE " . Farewell_Bridge_Outbox::table() . " SET status = 'dead', last_error = %s, event_type = %s",
            '<script>alert("error")</script>', '<b>type</b>'));
        Farewell_Bridge_Outbox::pause('<svg onload=alert("paused")>');
    """)
    with site.login(ADMIN_USER, ADMIN_PASSWORD) as admin:
        page = admin.get(f"{site.url}/wp-admin/options-general.php?page=farewell-bridge", timeout=30).text
        assert '&lt;script&gt;alert(&quot;error&quot;)&lt;/script&gt;' in page or "&lt;script&gt;alert(\"error\")" in page
        assert '<script>alert("error")' not in page
        assert '<svg onload' not in page and '&lt;svg onload=alert(' in page
        assert '<b>type</b>' not in page
        link = re.search(r'href="([^"]*action=farewell_bridge_test_connection[^"]*)"', page).group(1)
        tested = admin.get(html.unescape(link), timeout=30).text
        notice = re.search(r'farewell-bridge-notice">\s*<p>(.*?)</p>', tested, flags=re.S).group(1)
        assert "&lt;img src=x onerror=" in notice and "<img" not in notice, notice
    assert_no_php_errors(site)


def test_signed_out_survey_posts_are_rate_limited_and_made_up_tokens_queue_nothing(wordpress_site, sidecar_server):
    sidecar = sidecar_server()
    site = wordpress_site("6.8", constants=bridge_constants(sidecar))
    made_up = "WyJzaXRlX3Rlc3QiLDE3XQ.aaaaaa.bbbbbbbbbbbbbbbbbbbbbbbbbbb"

    # The page asks the sidecar, which says the link is not valid: nothing to answer.
    page = requests.get(f"{site.url}/?farewell_survey={made_up}", timeout=30)
    assert "this survey link is not valid" in page.text

    # Separate connections land on different `php -S` workers: the counter is shared by all.
    statuses = [requests.post(f"{site.url}/?rest_route=/farewell/v1/survey", timeout=30,
                              json={"token": made_up, "comment": f"spam {i}"}) for i in range(12)]
    assert [r.status_code for r in statuses] == [403] * 10 + [429] * 2, [r.status_code for r in statuses]
    limited = statuses[-1]
    assert 0 < int(limited.headers["Retry-After"]) <= 600
    assert limited.json()["code"] == "farewell_rate_limited"
    assert not [r for r in outbox(site) if r["event_type"] == "survey.submitted"], "made-up tokens queue nothing"

    # The plain form is sent back to its page (which says when to retry and keeps the answers,
    # see RateLimitTest), never left on a JSON error.
    form = requests.post(f"{site.url}/?rest_route=/farewell/v1/survey", allow_redirects=False, timeout=30,
                         data={"comment": "Je reviendrai", "reason": "other", "return_to": "/?page_id=2"})
    assert form.status_code == 303, form.text[:300]
    assert form.headers["Location"].startswith(f"{site.url}/?page_id=2&farewell_survey_wait=1")
    assert int(form.headers["Retry-After"]) > 0
    assert_no_php_errors(site)
