"""The real membership plugins on throw-away WordPress sites, for the bridge's end-to-end tests.

The archives are unmodified snapshots of the plugins (``../shared/wordpress-plugins`` from the
repository root, or the folder named by ``FAREWELL_TEST_PLUGINS``; its README lists them). Each
holds one top folder, the plugin's slug. Without the archive a test skips with one line saying how
to get it (CI has them, so CI runs them).

    spec = REAL_PLUGINS["memberpress"]
    bed = RealPluginBed.build(spec, "6.8", mariadb, tmp_dir)   # site + real sidecar, set up once
    bed.setup                  # what the plugin's set-up step returned (ids of plans, gateways…)
    bed.site.wp_json(...)      # a WordPressSite (tests/wordpress/site.py), served by `php -S`
    bed.deliver()              # runs the bridge's cron until its outbox is empty
    bed.events(member_id)      # what the sidecar received for that member, oldest first
    bed.cleanup()

In the tests use the session fixture ``real_plugin_bed(slug, wp_version)`` (tests/wordpress/conftest.py):
it builds one bed per plugin and WordPress version and keeps it for the whole run, so each test
works with members of its own on a shared site (building a site with a real plugin takes seconds;
scenarios take a fraction of that).

How a plugin is set up — the way a site owner would, with its own code:

1. the archive is unpacked into the site's ``wp-content/plugins``;
2. the stand-ins of tests/wordpress/fixtures are switched off (option ``farewell_test_sources``
   = []: their classes have the real plugins' names), the plugin is activated with
   ``activate_plugin()`` (its activation hook runs);
3. the administrator opens wp-admin over HTTP once per ``admin_pages`` entry, following the
   redirects (PMPro and Restrict Content create their tables on the first admin page load; PMPro
   sends the first one to its setup wizard);
4. ``setup_php`` runs inside WordPress (a CLI request) and returns, as JSON, what the tests need
   (MemberPress: its options — currency, payment methods — and a few memberships).

A new plugin = one more ``RealPlugin`` in ``REAL_PLUGINS``, with its archive, main file, WordPress
versions, admin pages and set-up code; nothing else here knows about a particular plugin.
"""

from __future__ import annotations

import json
import html
import os
import re
import secrets
import sqlite3
import tarfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests

from tests.support.sidecar import SidecarProcess
from tests.wordpress.site import (
    ADMIN_PASSWORD,
    ADMIN_USER,
    REPO,
    DatabaseInfo,
    WordPressSite,
    _php_string,
    ensure_wordpress,
    free_port,
)

HERE = Path(__file__).resolve().parent
DEFAULT_PLUGINS_DIR = "../shared/wordpress-plugins"  # relative to the repository root


def plugins_dir() -> Path:
    """Where the archives are: $FAREWELL_TEST_PLUGINS, else ../shared/wordpress-plugins (from the repo root)."""
    configured = os.environ.get("FAREWELL_TEST_PLUGINS") or DEFAULT_PLUGINS_DIR
    path = Path(configured)
    return path if path.is_absolute() else (REPO / path).resolve()


@dataclass(frozen=True)
class RealPlugin:
    slug: str                         # the archive's top folder
    archive: str                      # file name in plugins_dir()
    main_file: str                    # relative to wp-content/plugins, for activate_plugin()
    wp_versions: tuple[str, ...]      # the WordPress versions it is tested on
    admin_pages: tuple[str, ...] = ("/wp-admin/",)   # opened once by the administrator after activation
    setup_php: str = "return array();"               # runs inside WordPress; returns JSON-able facts
    mu_plugins: tuple[str, ...] = ()                 # files of fixtures/real-plugins/ copied to mu-plugins

    def archive_path(self) -> Path:
        return plugins_dir() / self.archive

    def skip_unless_available(self) -> Path:
        """The archive, or a one-line skip that says how to get it."""
        path = self.archive_path()
        if not path.is_file():
            pytest.skip(f"real membership plugins not found in $FAREWELL_TEST_PLUGINS ({plugins_dir()}): "
                        f"copy the archives listed in its README there ({self.archive} is missing)")
        return path


# --------------------------------------------------------------------------- MemberPress
# MemberPress 1.12.11 creates its tables on the first request after activation (MeprDbCtrl on
# `init`) and its pages (Account, Login, Thank you) in its activation hook. A site owner then
# chooses the currency and adds payment methods on MemberPress → Settings, and creates
# memberships (MemberPress → Memberships): done here with its own models (MeprOptions,
# MeprProduct), as those screens do. Two payment methods:
# - "Offline Payment" (MeprArtificialGateway): checkout activates at once; cancelling is local;
# - "PayPal Standard" in advanced mode (MeprPayPalStandardGateway): PayPal's IPNs reach its
#   listener (/index.php?plugin=mepr&pmt=ID&action=ipn) and the member can cancel, pause and
#   resume from the account page. PayPal's own servers are played by
#   fixtures/real-plugins/paypal-stand-in.php (it answers MemberPress's calls to paypal.com).
MEMBERPRESS_SETUP = r"""
    $options = MeprOptions::fetch();
    $options->currency_code = 'EUR';
    $options->currency_symbol = '€';
    $offline = new MeprArtificialGateway();
    $offline->load(array('id' => 'offline-test', 'label' => 'Offline', 'manually_complete' => false));
    $paypal = new MeprPayPalStandardGateway();
    $paypal->load(array('id' => 'paypal-test', 'label' => 'PayPal', 'paypal_email' => 'shop@example.org',
        'advanced_mode' => true, 'api_username' => 'api-user', 'api_password' => 'api-password',
        'signature' => 'api-signature', 'sandbox' => true));
    $options->integrations = array(
        'offline-test' => (array) $offline->settings,
        'paypal-test' => (array) $paypal->settings,
    );
    $options->store(false);

    $plans = array();
    foreach (array(
        array('Or', '29.00', 'months'),
        array('Argent', '9.90', 'weeks'),
        array('Platine', '290.00', 'years'),
    ) as $row) {
        $product = new MeprProduct();
        $product->post_title = $row[0];
        $product->post_status = 'publish';
        $product->price = $row[1];
        $product->period = 1;
        $product->period_type = $row[2];
        $product->store();
        $plans[$row[0]] = $product->ID;
    }
    return array(
        'plans' => $plans,
        'offline' => 'offline-test',
        'paypal' => 'paypal-test',
        'account_url' => get_permalink($options->account_page_id),
        'db_version' => get_option('mepr_db_version'),
        'tables' => (bool) $GLOBALS['wpdb']->get_var("SHOW TABLES LIKE '{$GLOBALS['wpdb']->prefix}mepr_subscriptions'"),
    );
"""

# --------------------------------------------------------------------------- Restrict Content
# Restrict Content 3.2.26 (free) creates its tables and its pages (Register, Your membership with
# [subscription_details], Edit profile, Update card) on `admin_init`, hence the admin page load.
# A site owner then picks the currency and the payment gateways on Restrict → Settings
# (option rcp_settings) and adds membership levels (Restrict → Membership Levels,
# rcp_add_membership_level() as that screen does). Its built-in gateways call Stripe or PayPal, so
# the payment service is played by fixtures/real-plugins/rcp-test-gateway.php (gateway
# "farewell_test", enabled here like any gateway). RCP stores its dates in the site's time zone.
RESTRICT_CONTENT_SETUP = r"""
    global $rcp_options, $wpdb;
    $settings = get_option('rcp_settings', array());
    $settings['currency'] = 'EUR';
    $settings['gateways'] = array('farewell_test' => 1);
    update_option('rcp_settings', $settings);
    $rcp_options = $settings;
    $levels = array();
    foreach (array(array('Mensuel', '12.00', 'month'), array('Annuel', '120.00', 'year')) as $row) {
        $id = rcp_add_membership_level(array('name' => $row[0], 'price' => $row[1], 'duration' => 1,
            'duration_unit' => $row[2], 'status' => 'active'));
        if (is_wp_error($id)) { fwrite(STDERR, $id->get_error_message()); exit(1); }
        $levels[$row[0]] = (int) $id;
    }
    return array(
        'levels' => $levels,
        'gateway' => 'farewell_test',
        'account_page' => (int) $settings['account_page'],
        'account_url' => get_permalink($settings['account_page']),
        'account_content' => get_post_field('post_content', $settings['account_page']),
        'tables' => (bool) $wpdb->get_var("SHOW TABLES LIKE '{$wpdb->prefix}rcp_memberships'"),
    );
"""

# --------------------------------------------------------------------------- Paid Memberships Pro
# PMPro 3.8.4 creates its tables on the first admin page load (pmpro_checkForUpgrades() runs only
# under is_admin()), which also redirects once to its setup wizard. A site owner then, on
# Memberships → Settings: generates its pages (Account, Billing, Cancel, Checkout…:
# pmpro_generatePages() as the Pages screen does), picks the currency and the gateway — PayPal
# Standard in sandbox with API credentials, so that PayPal's IPNs reach PMPro's own handler
# (admin-ajax.php?action=ipnhandler) and a cancel reaches PayPal (NVP), both played by
# fixtures/real-plugins/paypal-stand-in.php — and adds levels (PMPro_Membership_Level::save(), as
# the level screen does). PMPro keeps memberships_users.startdate/enddate in the site's time zone.
PMPRO_SETUP = r"""
    global $wpdb, $pmpro_pages;
    pmpro_setOption('gateway', 'paypalstandard');
    pmpro_setOption('gateway_environment', 'sandbox');
    pmpro_setOption('gateway_email', 'shop@example.org');
    pmpro_setOption('apiusername', 'api-user');
    pmpro_setOption('apipassword', 'api-password');
    pmpro_setOption('apisignature', 'api-signature');
    pmpro_setOption('currency', 'EUR');
    pmpro_generatePages(array('account' => 'Membership Account', 'billing' => 'Membership Billing',
        'cancel' => 'Membership Cancel', 'checkout' => 'Membership Checkout',
        'confirmation' => 'Membership Confirmation', 'invoice' => 'Membership Orders',
        'levels' => 'Membership Levels'));
    $levels = array();
    foreach (array(array('Mensuel', '10.00', 'Month'), array('Annuel', '100.00', 'Year')) as $row) {
        $level = new PMPro_Membership_Level();
        $level->name = $row[0];
        $level->initial_payment = $row[1];
        $level->billing_amount = $row[1];
        $level->cycle_number = 1;
        $level->cycle_period = $row[2];
        $level->allow_signups = 1;
        $level->save();
        $levels[$row[0]] = (int) $level->id;
    }
    return array(
        'levels' => $levels,
        'cancel_url' => pmpro_url('cancel'),
        'checkout_url' => pmpro_url('checkout'),
        'account_url' => pmpro_url('account'),
        'db_version' => get_option('pmpro_db_version'),
        'tables' => (bool) $wpdb->get_var("SHOW TABLES LIKE '{$wpdb->prefix}pmpro_memberships_users'"),
    );
"""

REAL_PLUGINS: dict[str, RealPlugin] = {
    "memberpress": RealPlugin(
        slug="memberpress",
        archive="memberpress-1.12.11.tar.gz",
        main_file="memberpress/memberpress.php",
        wp_versions=("6.8",),  # MemberPress 1.12.11 requires WordPress 6.5
        admin_pages=("/wp-admin/", "/wp-admin/admin.php?page=memberpress-options"),
        setup_php=MEMBERPRESS_SETUP,
        mu_plugins=("paypal-stand-in.php",),
    ),
    "restrict-content": RealPlugin(
        slug="restrict-content",
        archive="restrict-content-3.2.26.tar.gz",
        main_file="restrict-content/restrictcontent.php",
        wp_versions=("6.8", "6.1"),  # Restrict Content 3.2.26 requires WordPress 6.0
        admin_pages=("/wp-admin/",),
        setup_php=RESTRICT_CONTENT_SETUP,
        mu_plugins=("rcp-test-gateway.php",),
    ),
    "paid-memberships-pro": RealPlugin(
        slug="paid-memberships-pro",
        archive="paid-memberships-pro-3.8.4.tar.gz",
        main_file="paid-memberships-pro/paid-memberships-pro.php",
        wp_versions=("6.8", "6.1"),  # PMPro 3.8.4 requires WordPress 5.4
        admin_pages=("/wp-admin/",),
        setup_php=PMPRO_SETUP,
        mu_plugins=("paypal-stand-in.php",),
    ),
}

FIXTURE_MU_PLUGINS = HERE / "fixtures" / "real-plugins"


# --------------------------------------------------------------------------- installing
def unpack(spec: RealPlugin, site: WordPressSite) -> None:
    archive = spec.skip_unless_available()
    plugins = site.docroot / "wp-content" / "plugins"
    with tarfile.open(archive) as tar:
        top = {member.name.split("/", 1)[0] for member in tar.getmembers()}
        if top != {spec.slug}:
            raise RuntimeError(f"{archive} should hold one folder {spec.slug}/, holds {sorted(top)}")
        tar.extractall(plugins, filter="data")
    for name in spec.mu_plugins:
        (site.docroot / "wp-content" / "mu-plugins" / name).write_bytes((FIXTURE_MU_PLUGINS / name).read_bytes())


def open_admin_pages(site: WordPressSite, pages) -> list[dict]:
    """The administrator opens each page over HTTP (redirects followed); returns where each ended."""
    visits = []
    with site.login(ADMIN_USER, ADMIN_PASSWORD) as session:
        for path in pages:
            response = session.get(site.url + path, timeout=120)
            if response.status_code >= 500:
                raise RuntimeError(f"{path} answered {response.status_code}:\n{response.text[:1000]}\n{site.logs_tail()}")
            visits.append({"path": path, "status": response.status_code, "url": response.url,
                           "redirects": [r.headers.get("Location") for r in response.history]})
    return visits


def install_real_plugin(spec: RealPlugin, site: WordPressSite) -> dict:
    """Unpacks, activates and sets up the plugin on a built, started site; returns the set-up facts."""
    unpack(spec, site)
    # The stand-ins define the real plugins' classes: off before the real plugin is loaded.
    site.wp_eval("update_option('farewell_test_sources', array());")
    site.wp_eval(f"""
        require_once ABSPATH . 'wp-admin/includes/plugin.php';
        $result = activate_plugin('{spec.main_file}');
        if (is_wp_error($result)) {{ fwrite(STDERR, $result->get_error_message()); exit(1); }}
    """)
    visits = open_admin_pages(site, spec.admin_pages)
    facts = site.wp_json(spec.setup_php)
    facts["admin_visits"] = visits
    return facts


# --------------------------------------------------------------------------- a site + a sidecar
@dataclass
class RealPluginBed:
    """One WordPress site with a real membership plugin and the bridge, wired to a real sidecar."""

    spec: RealPlugin
    wp_version: str
    site: WordPressSite
    sidecar: SidecarProcess
    database: str
    setup: dict = field(default_factory=dict)

    @classmethod
    def build(cls, spec: RealPlugin, wp_version: str, mariadb, root: Path,
              sidecar_env: dict | None = None) -> "RealPluginBed":
        """``sidecar_env``: more environment for the sidecar (its FAREWELL_MAIL_URL, say)."""
        spec.skip_unless_available()
        source = ensure_wordpress(wp_version)
        root = Path(root)
        sidecar = SidecarProcess(f"sqlite:///{root / 'sidecar' / 'farewell.db'}", root / "sidecar",
                                 extra_env=sidecar_env).start()
        name = f"wp_{uuid.uuid4().hex[:12]}"
        mariadb.create_database(name)
        site = WordPressSite(
            wp_source=source,
            root=root / "wordpress",
            db=DatabaseInfo(mariadb.host, mariadb.port, name, mariadb.user, mariadb.password),
            port=free_port(),
            constants={"FAREWELL_SIDECAR_URL": sidecar.url, "FAREWELL_SITE_ID": sidecar.site_id,
                       "FAREWELL_SECRET": sidecar.secret},
        )
        bed = cls(spec=spec, wp_version=wp_version, site=site, sidecar=sidecar, database=name)
        try:
            site.build()
            site.start()
            bed.setup = install_real_plugin(spec, site)
            bed.deliver()
        except BaseException:
            bed.cleanup(mariadb)
            raise
        return bed

    # ------------------------------------------------------------------ what was sent
    def outbox(self) -> list[dict]:
        return self.site.wp_json("""
            global $wpdb;
            return $wpdb->get_results('SELECT id, webhook_id, event_type, status, attempts, last_error FROM '
                . Farewell_Bridge_Outbox::table() . ' ORDER BY id', ARRAY_A);
        """)

    def deliver(self, timeout: float = 60) -> None:
        """Runs the bridge's cron (as WP-Cron would) until no row waits; fails on a dead row."""
        deadline = time.monotonic() + timeout
        while True:
            waiting = self.site.wp_json("""
                global $wpdb;
                Farewell_Bridge_Outbox::make_pending_due();
                define('DOING_CRON', true);
                do_action('farewell_bridge_deliver');
                return $wpdb->get_results("SELECT id, webhook_id, event_type, status, attempts, last_error FROM "
                    . Farewell_Bridge_Outbox::table() . " WHERE status <> 'delivered' ORDER BY id", ARRAY_A);
            """)
            dead = [r for r in waiting if r["status"] == "dead"]
            assert not dead, f"the sidecar refused events: {dead}"
            if not waiting:
                return
            if time.monotonic() > deadline:
                pytest.fail(f"the outbox did not empty within {timeout} s: {waiting}")
            time.sleep(0.5)

    def events(self, member_id: int | str | None = None) -> list[dict]:
        """The events the sidecar stored (their bodies as signed), oldest first; of one member if given."""
        database = self.sidecar.data_dir / "farewell.db"
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
            rows = conn.execute("SELECT webhook_id, payload FROM events WHERE site_id = ? ORDER BY id",
                                (self.sidecar.site_id,)).fetchall()
        events = []
        for webhook_id, payload in rows:
            event = json.loads(payload)
            event["webhook_id"] = webhook_id
            if member_id is None or event.get("member", {}).get("id") == str(member_id):
                events.append(event)
        return events

    def at_risk(self, subscription_id: int | str) -> dict:
        """What the sidecar keeps about a subscription of this plugin for the members at risk, once
        its applier has applied every event it accepted: `on_list` (whether the dashboard's At risk
        page lists it: sidecar.storage.at_risk.members_at_risk) and the state beside it
        (sidecar.storage.at_risk.state_of: failing_since, failed_attempts, last_succeeded_at,
        paused_since, since), all None / 0 when nothing was kept."""
        from sqlalchemy import select

        from sidecar import db
        from sidecar.storage import at_risk as store
        from sidecar.storage.tables import subscriptions
        from tests.support.applier import settle

        source = {"paid-memberships-pro": "paidmembershipspro"}.get(self.spec.slug, self.spec.slug)
        settle(self.sidecar.database_url, applier_running=True)
        engine = db.create_engine(self.sidecar.database_url)
        try:
            with engine.connect() as conn:
                internal = conn.execute(select(subscriptions.c.id).where(
                    subscriptions.c.site_id == self.sidecar.site_id, subscriptions.c.source == source,
                    subscriptions.c.external_id == str(subscription_id))).scalar_one()
                state = store.state_of(conn, internal) or {"failed_attempts": 0}
                listed = {row["subscription_id"] for row in store.members_at_risk(conn, self.sidecar.site_id)}
        finally:
            engine.dispose()
        keys = ("failing_since", "failed_attempts", "last_succeeded_at", "paused_since", "since")
        return {"on_list": internal in listed, **{key: state.get(key) for key in keys}}

    def cleanup(self, mariadb=None) -> None:
        self.site.cleanup()
        self.sidecar.stop()
        if mariadb is not None:
            mariadb.drop_database(self.database)


def php_env_at(moment: str) -> dict:
    """Environment that runs a PHP process on a clock starting at `moment` (UTC, "YYYY-MM-DD HH:MM:SS"),
    with libfaketime, for tests that need time to have passed (an expiry, a daylight-saving change)."""
    import glob

    found = sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1"))
    if not found:
        pytest.fail("libfaketime is missing: run scripts/install-test-deps (Debian package faketime)")
    return {"LD_PRELOAD": found[0], "FAKETIME": "@" + moment, "TZ": "UTC", "FAKETIME_DONT_FAKE_MONOTONIC": "1"}


# --------------------------------------------------------------------------- what every scenario uses
class Member:
    """A WordPress user of its own for one scenario, so scenarios can share a bed."""

    def __init__(self, bed: RealPluginBed, tag: str):
        self.login = f"{tag}_{secrets.token_hex(3)}"
        self.password = f"{self.login}-password"
        self.email = f"{self.login}@example.org"
        self.id = bed.site.create_user(self.login, password=self.password, email=self.email,
                                       first_name="Anaïs", locale="fr_FR")

    def session(self, bed: RealPluginBed) -> requests.Session:
        return bed.site.login(self.login, self.password)


def changes(bed: RealPluginBed, member: Member, action):
    """Runs `action`, delivers the outbox, and returns (events the sidecar received for the member
    meanwhile, what the action returned)."""
    bed.deliver()
    before = {e["webhook_id"] for e in bed.events(member.id)}
    result = action()
    bed.deliver()
    return [e for e in bed.events(member.id) if e["webhook_id"] not in before], result


def only(events: list[dict], type_: str) -> dict:
    """The one event of `events`, which must be of `type_`."""
    assert [e["type"] for e in events] == [type_], json.dumps(events, indent=1)
    return events[0]


def utc(text: str) -> datetime:
    """An RFC 3339 date of an event as a moment."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def site_local(text: str, zone: str) -> datetime:
    """A date column the plugin wrote on the site's wall clock ("Y-m-d H:i:s") as a UTC moment;
    `zone` is wp_timezone_string(): a zone name, a fixed offset ("+02:00") or "" (UTC)."""
    naive = datetime.strptime(text[:19].replace("T", " "), "%Y-%m-%d %H:%M:%S")
    if re.fullmatch(r"[+-]\d\d:\d\d", zone):
        sign = -1 if zone[0] == "-" else 1
        tz = timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
    else:
        tz = ZoneInfo(zone or "UTC")
    return naive.replace(tzinfo=tz).astimezone(timezone.utc)


def assert_event(event: dict, member: Member, *, source: str, initiated_by: str, status: str, **subscription) -> None:
    """One event as every scenario checks it: its source and initiator, the member as Member made
    them, the subscription fields given (id, plan_name, amount, …) and its status, and a start
    never after the event itself."""
    assert event["source"] == source
    assert event["initiated_by"] == initiated_by, event
    assert {k: event["member"].get(k) for k in ("id", "email", "first_name", "locale")} == {
        "id": str(member.id), "email": member.email, "first_name": "Anaïs", "locale": "fr_FR"}, event
    sub = event["subscription"]
    assert {k: sub.get(k) for k in subscription} == subscription, event
    assert sub["status"] == status, event
    assert utc(sub["started_at"]) <= utc(event["occurred_at"]), event


def form_fields(page: str, marker: str) -> dict:
    """The hidden, text and email inputs of the form on `page` that contains `marker` (a plugin's
    checkout or cancel form, with its nonce), as a browser would send them."""
    for form in re.findall(r"<form\b.*?</form>", page, re.S):
        if marker in form:
            fields = {}
            for tag in re.findall(r"<input\b[^>]*>", form, re.S):
                attrs = {k: html.unescape(v1 or v2) for k, v1, v2 in re.findall(r"""([\w-]+)=(?:'([^']*)'|"([^"]*)")""", tag)}
                if attrs.get("type") in ("hidden", "text", "email") and "name" in attrs:
                    fields[attrs["name"]] = attrs.get("value", "")
            return fields
    raise AssertionError(f"no form with {marker!r} on the page:\n{page[-3000:]}")


# --------------------------------------------------------------------------- MemberPress history
MEMBERPRESS_PRICES = {"Or": ("29.00", "months"), "Argent": ("9.90", "weeks"), "Platine": ("290.00", "years")}


def seed_memberpress_history(site: WordPressSite, setup: dict, subscriptions: list[dict],
                             timeout: float = 600) -> list[dict]:
    """Subscriptions of the past, stored by MemberPress's own models (MeprSubscription,
    MeprTransaction, MeprEvent) in one PHP request, however many. Each is a dict: `plan` (Or,
    Argent, Platine), `start` and `expires` (UTC "Y-m-d H:i:s", MemberPress's convention),
    optionally `cancelled` / `expired` (the dates of its subscription-stopped / -expired events),
    and `user_id` or `login` (a user made for it, with `login`@example.org). The bridge records
    nothing meanwhile (its farewell_bridge_event filter drops every event): it was not installed
    then. Returns [{"user_id", "sub_id"}] in the same order."""
    rows = [{**s, "product": setup["plans"][s["plan"]], "price": MEMBERPRESS_PRICES[s["plan"]][0],
             "period_type": MEMBERPRESS_PRICES[s["plan"]][1]} for s in subscriptions]
    return site.wp_json(f"""
        global $wpdb;
        add_filter('farewell_bridge_event', '__return_false');
        $events = $wpdb->prefix . 'mepr_events';
        $out = array();
        foreach (json_decode({_php_string(json.dumps(rows))}, true) as $row) {{
            $user_id = isset($row['user_id']) ? (int) $row['user_id'] : wp_insert_user(array(
                'user_login' => $row['login'], 'user_pass' => $row['login'] . '-pw', 'user_email' => $row['login'] . '@example.org',
                'first_name' => 'Anaïs', 'locale' => 'fr_FR'));
            if (is_wp_error($user_id)) {{ throw new Exception($user_id->get_error_message()); }}
            $sub = new MeprSubscription();
            $sub->user_id = $user_id; $sub->product_id = $row['product']; $sub->price = $row['price']; $sub->total = $row['price'];
            $sub->period = 1; $sub->period_type = $row['period_type']; $sub->gateway = '{setup['offline']}';
            $sub->status = 'active'; $sub->created_at = $row['start'];
            $sub->store();
            $txn = new MeprTransaction();
            $txn->user_id = $user_id; $txn->product_id = $row['product']; $txn->subscription_id = $sub->id;
            $txn->amount = $row['price']; $txn->total = $row['price']; $txn->status = 'complete'; $txn->txn_type = 'payment';
            $txn->gateway = '{setup['offline']}'; $txn->created_at = $row['start']; $txn->expires_at = $row['expires'];
            $txn->store();
            foreach (array('subscription-stopped' => 'cancelled', 'subscription-expired' => 'expired') as $name => $key) {{
                if (empty($row[$key])) continue;
                if ('subscription-stopped' === $name) {{ $sub = new MeprSubscription($sub->id); $sub->status = 'cancelled'; $sub->store(); }}
                MeprEvent::record($name, new MeprSubscription($sub->id));
                $wpdb->update($events, array('created_at' => $row[$key]), array('evt_id' => $sub->id, 'evt_id_type' => 'subscriptions', 'event' => $name));
            }}
            $out[] = array('user_id' => (int) $user_id, 'sub_id' => (int) $sub->id);
        }}
        return $out;
    """, timeout=timeout)


# --------------------------------------------------------------------------- history readers
# The subscription fields an imported event must carry as the live one did (test_history_*.py).
HISTORY_FIELDS = ("id", "plan_id", "plan_name", "amount", "currency", "interval", "status", "started_at")


def read_history(bed: RealPluginBed, reader: str, table_php: str, member: Member, *, limit: int = 50,
                 since: int | None = None, live_since: int | None = None) -> dict:
    """One member's events as a history reader (`reader`: Farewell_Bridge_History_Pmpro, …) gives
    them, called directly as the importer would, from the member's first row of `table_php` (a PHP
    expression naming the plugin's table) to the end, `limit` rows a call. live_since: as if the
    bridge had started listening to the source then (for this read only). Returns {"events": the
    member's events with their webhook_id and listed_type, "calls", "slug", "available"}."""
    return bed.site.wp_json(f"""
        global $wpdb;
        $reader = new {reader}();
        $live_since = {'null' if live_since is None else int(live_since)};
        $saved = get_option('farewell_bridge_live_since', array());
        if (null !== $live_since) {{
            update_option('farewell_bridge_live_since', array_merge((array) $saved, array($reader->slug() => $live_since)));
        }}
        $table = {table_php};
        $first = (int) $wpdb->get_var("SELECT MIN(id) FROM {{$table}} WHERE user_id = {int(member.id)}");
        $cursor = (string) ($first - 1);
        $out = array();
        $calls = 0;
        do {{
            $batch = $reader->events($cursor, {int(limit)}, {'null' if since is None else int(since)});
            foreach ($batch['events'] as $e) {{
                $p = json_decode($e['payload'], true);
                if ($p['member']['id'] === '{int(member.id)}') {{
                    $p['webhook_id'] = $e['webhook_id'];
                    $p['listed_type'] = $e['type'];
                    $out[] = $p;
                }}
            }}
            $cursor = $batch['cursor'];
            ++$calls;
        }} while (null !== $cursor && $calls < 1000);
        if (null !== $live_since) {{
            update_option('farewell_bridge_live_since', $saved);
        }}
        return array('events' => $out, 'calls' => $calls, 'slug' => $reader->slug(), 'available' => $reader->available());
    """)


def import_history(bed: RealPluginBed, slug: str) -> dict:
    """The importer (Farewell_Bridge_Importer) run to the end for one source, as `wp farewell
    import --source=…` runs it, then the outbox delivered to the sidecar."""
    state = bed.site.wp_json(f"""
        delete_option(Farewell_Bridge_Importer::STATE_OPTION);
        $state = Farewell_Bridge_Importer::start(null, {_php_string(slug)});
        if (is_wp_error($state)) {{ fwrite(STDERR, $state->get_error_message()); exit(1); }}
        for ($i = 0; $i < 200 && 'running' === $state['status']; $i++) {{
            $state = Farewell_Bridge_Importer::step(null, array('ignore_backlog' => true, 'deadline' => microtime(true) + 30));
        }}
        wp_clear_scheduled_hook(Farewell_Bridge_Importer::CRON_HOOK);
        return $state;
    """)
    assert state["status"] == "done", state
    bed.deliver()
    return state
