"""The plugin as an admin handles it: installed from the zip, who-initiated-what over real requests,
and uninstalled with or without its data."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import requests

from tests.support.wordpress import cancellations, make_members, wait_for
from tests.wordpress.site import ADMIN_PASSWORD, ADMIN_USER

ROOT = Path(__file__).resolve().parents[2]


def test_the_plugin_zip_installs_and_activates_in_wordpress(wordpress_site, tmp_path):
    zip_path = tmp_path / "farewell-bridge.zip"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "plugin_zip.py"), str(zip_path)], check=True,
                   capture_output=True)
    site = wordpress_site("6.8", start=False, bridge=False)
    result = site.wp_json(f"""
        require_once ABSPATH . 'wp-admin/includes/file.php';
        require_once ABSPATH . 'wp-admin/includes/misc.php';
        require_once ABSPATH . 'wp-admin/includes/plugin.php';
        require_once ABSPATH . 'wp-admin/includes/class-wp-upgrader.php';
        wp_set_current_user(1);
        $upgrader = new Plugin_Upgrader(new Automatic_Upgrader_Skin());
        $installed = $upgrader->install({str(zip_path)!r});
        if (is_wp_error($installed) || !$installed) {{
            return array('error' => is_wp_error($installed) ? $installed->get_error_message() : $upgrader->skin->get_upgrade_messages());
        }}
        $activated = activate_plugin($upgrader->plugin_info());
        return array('plugin' => $upgrader->plugin_info(), 'activated' => !is_wp_error($activated),
            'languages' => file_exists(WP_PLUGIN_DIR . '/farewell-bridge/languages/farewell-bridge-fr_FR.mo'));
    """)
    assert result == {"plugin": "farewell-bridge/farewell-bridge.php", "activated": True, "languages": True}, result
    # A fresh request sees it running: table created, cron scheduled, sources listening.
    state = site.wp_json("""
        global $wpdb;
        return array(
            'table' => $wpdb->get_var($wpdb->prepare('SHOW TABLES LIKE %s', Farewell_Bridge_Outbox::table())),
            'cron' => (bool) wp_next_scheduled('farewell_bridge_deliver'),
            'sources' => Farewell_Bridge_Plugin::instance()->active_source_slugs(),
        );
    """)
    assert state == {"table": "wp_farewell_outbox", "cron": True,
                     "sources": ["memberpress", "paidmembershipspro", "woocommerce-subscriptions", "restrict-content"]}


def test_initiated_by_follows_who_made_the_request(wordpress_site, sidecar_server):
    sidecar = sidecar_server()
    site = wordpress_site("6.8", constants={"FAREWELL_SIDECAR_URL": sidecar.url, "FAREWELL_SITE_ID": sidecar.site_id,
                                            "FAREWELL_SECRET": sidecar.secret})
    by_gateway, by_admin, by_cron = make_members(site, 1, 3)[0]["subscriptions"]

    # A payment gateway's webhook: nobody logged in.
    response = requests.get(f"{site.url}/?mepr-listener=stripe&farewell_test_gateway_cancel={by_gateway}", timeout=30)
    assert response.status_code == 200

    # An administrator in wp-admin, following a link (with its nonce) from an admin page.
    with site.login(ADMIN_USER, ADMIN_PASSWORD) as admin:
        dashboard = admin.get(f"{site.url}/wp-admin/index.php", timeout=30)
        nonce = re.search(r'id="farewell-test-admin-cancel-nonce" hidden>([^<]+)<', dashboard.text)
        assert nonce, dashboard.text[:300]
        page = admin.get(f"{site.url}/wp-admin/admin-post.php", params={
            "action": "farewell_test_admin_cancel", "sub": by_admin, "_wpnonce": nonce.group(1)}, timeout=30)
        assert page.status_code == 200 and "cancelled by an administrator" in page.text, page.text[:300]

    # WP-Cron (or WP-CLI): the system.
    site.wp_eval(f"define('DOING_CRON', true); (new MeprSubscription({by_cron}))->cancel();")
    site.run_cron()

    items = wait_for(lambda: len(cancellations(sidecar)) == 3 and cancellations(sidecar), timeout=60)
    who = {int(i["subscription"]["id"]): i["initiated_by"] for i in items}
    assert who == {by_gateway: "gateway", by_admin: "admin", by_cron: "system"}


def test_uninstall_keeps_data_unless_the_admin_opted_in(wordpress_site):
    site = wordpress_site("6.1", start=False)
    site.wp_eval("Farewell_Bridge_Outbox::insert('fwb_keep', 'subscription.cancelled', '{}');"
                 "update_option('farewell_bridge_secret', 'whsec_' . base64_encode(random_bytes(32)));")
    uninstall = """
        require_once ABSPATH . 'wp-admin/includes/plugin.php';
        deactivate_plugins('farewell-bridge/farewell-bridge.php');
        uninstall_plugin('farewell-bridge/farewell-bridge.php');
    """
    state = """
        global $wpdb;
        return array('table' => (bool) $wpdb->get_var($wpdb->prepare('SHOW TABLES LIKE %s', $wpdb->prefix . 'farewell_outbox')),
                     'rate_limits' => (bool) $wpdb->get_var($wpdb->prepare('SHOW TABLES LIKE %s', $wpdb->prefix . 'farewell_rate_limits')),
                     'prune' => (bool) wp_next_scheduled('farewell_bridge_prune_rate_limits'),
                     'secret' => get_option('farewell_bridge_secret', null) !== null,
                     'settings' => get_option('farewell_bridge_settings', null) !== null,
                     'cron' => (bool) wp_next_scheduled('farewell_bridge_deliver'),
                     'survey_page' => (bool) get_posts(array('post_type' => 'page', 'name' => 'farewell-survey', 'post_status' => 'any')));
    """
    site.wp_eval("update_option('farewell_bridge_settings', array('sidecar_url' => '', 'site_id' => '', 'delete_data' => false));")
    site.wp_eval(uninstall)
    assert site.wp_json(state) == {"table": True, "rate_limits": True, "prune": False, "secret": True, "settings": True, "cron": False,
                                    "survey_page": True}

    site.wp_eval("require_once ABSPATH . 'wp-admin/includes/plugin.php'; activate_plugin('farewell-bridge/farewell-bridge.php');"
                 "update_option('farewell_bridge_settings', array('sidecar_url' => '', 'site_id' => '', 'delete_data' => true));")
    site.wp_eval(uninstall)
    assert site.wp_json(state) == {"table": False, "rate_limits": False, "prune": False, "secret": False, "settings": False,
                                    "cron": False, "survey_page": False}


# What a site that used the plugin holds, made through the plugin's own code where one call does it.
USED_SITE = """
    $user = wp_insert_user(array('user_login' => 'leaver', 'user_pass' => wp_generate_password(),
                                 'user_email' => 'leaver@example.org'));
    Farewell_Bridge_Outbox::insert('fwb_left_behind', 'subscription.cancelled', '{}');
    Farewell_Bridge_Outbox::pause('the sidecar said the site is gone');
    Farewell_Bridge_Request_Log::claim('fwb_asked', 'mail');
    Farewell_Bridge_Rate_Limit::hit('survey_submit');
    Farewell_Bridge_Clock::note(array('error' => Farewell_Bridge_Clock::ERROR, 'body' => array('clock_skew_seconds' => 900)));
    update_option('admin_email', 'owner@example.org'); // Schedules the site-info report.
    update_option(Farewell_Bridge_Outbox::LAST_DELIVERY_OPTION, time());
    update_option(Farewell_Bridge_Outbox::INSERT_FAILURE_OPTION, 1);
    update_option(Farewell_Bridge_Dispatcher::CIRCUIT_OPTION, time() + 30);
    update_option(Farewell_Bridge_Dispatcher::LOOPBACK_OPTION, array('sent' => time()));
    update_option(Farewell_Bridge_Survey::LAST_KNOWN_PREFIX . 'fr', array('version' => 1));
    set_transient(Farewell_Bridge_Survey::CACHE_PREFIX . 'en', array('version' => 1), HOUR_IN_SECONDS);
    set_transient(Farewell_Bridge_Survey::FETCH_BACKOFF_TRANSIENT, 1, HOUR_IN_SECONDS);
    set_transient(Farewell_Bridge_Survey::TOKEN_MEMBER_PREFIX . 'abc', $user, HOUR_IN_SECONDS);
    set_transient(Farewell_Bridge_Survey::TOKEN_SEEN_PREFIX . 'abc', 1, HOUR_IN_SECONDS);
    set_transient(Farewell_Bridge_Survey_Form::DRAFT_PREFIX . 'abc', array(), HOUR_IN_SECONDS);
    set_transient(Farewell_Bridge_Admin::NOTICE_PREFIX . 1, array('type' => 'success', 'message' => 'ok'), HOUR_IN_SECONDS);
    set_transient(Farewell_Bridge_Dashboard_Menu::TRANSIENT, array(), HOUR_IN_SECONDS);
    set_transient(Farewell_Bridge_Setup_Checklist::DIGEST_TRANSIENT, array(), HOUR_IN_SECONDS);
    update_user_meta($user, Farewell_Bridge_Survey::PENDING_META, time());
    update_user_meta($user, Farewell_Bridge_Source_Memberpress::LAPSED_META, array(7 => time()));
"""

# Everything named farewell that is left, but for the test fixtures' own options (farewell_test_*).
LEFT = """
    global $wpdb;
    $cron = array();
    foreach ((array) _get_cron_array() as $events) {
        $cron = array_merge($cron, array_keys((array) $events));
    }
    return array(
        'options' => $wpdb->get_col("SELECT option_name FROM {$wpdb->options} WHERE option_name LIKE '%farewell%' AND option_name NOT LIKE 'farewell\\_test\\_%' ORDER BY option_name"),
        'tables' => $wpdb->get_col("SHOW TABLES LIKE '%farewell%'"),
        'user_meta' => $wpdb->get_col("SELECT DISTINCT meta_key FROM {$wpdb->usermeta} WHERE meta_key LIKE '%farewell%'"),
        'cron' => array_values(array_unique(array_filter($cron, function ($hook) { return false !== strpos($hook, 'farewell'); }))),
        'posts' => $wpdb->get_col("SELECT post_name FROM {$wpdb->posts} WHERE post_name LIKE '%farewell%'"),
    );
"""


def test_uninstall_with_the_opt_in_leaves_nothing_named_farewell(wordpress_site):
    site = wordpress_site("6.1", start=False)
    site.wp_eval(USED_SITE)
    site.wp_eval("update_option('farewell_bridge_settings', array('sidecar_url' => '', 'site_id' => '', 'delete_data' => true));")
    used = site.wp_json(LEFT)
    # The site really holds something of each kind, so "nothing left" below means something.
    assert len(used["options"]) >= 15 and len(used["tables"]) == 3 and len(used["user_meta"]) == 2, used
    assert len(used["cron"]) == 3 and used["posts"] == ["farewell-survey"], used

    site.wp_eval("""
        require_once ABSPATH . 'wp-admin/includes/plugin.php';
        deactivate_plugins('farewell-bridge/farewell-bridge.php');
        uninstall_plugin('farewell-bridge/farewell-bridge.php');
    """)
    assert site.wp_json(LEFT) == {"options": [], "tables": [], "user_meta": [], "cron": [], "posts": []}
