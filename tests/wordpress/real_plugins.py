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

    def subscription(self, subscription_id: int | str) -> dict:
        """The sidecar's row of a subscription of this plugin (its status, replaced_at…), once its
        applier has applied every event it accepted."""
        from sqlalchemy import select

        from sidecar import db
        from sidecar.storage.tables import subscriptions
        from tests.support.applier import settle

        source = {"paid-memberships-pro": "paidmembershipspro"}.get(self.spec.slug, self.spec.slug)
        settle(self.sidecar.database_url, applier_running=True)
        engine = db.create_engine(self.sidecar.database_url)
        try:
            with engine.connect() as conn:
                row = conn.execute(select(subscriptions).where(
                    subscriptions.c.site_id == self.sidecar.site_id, subscriptions.c.source == source,
                    subscriptions.c.external_id == str(subscription_id))).mappings().one()
        finally:
            engine.dispose()
        return dict(row)

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


def replicate_memberpress_history(site: WordPressSite, copies: int, timeout: float = 3600) -> dict:
    """A larger MemberPress history made from one seeded by seed_memberpress_history(): `copies`
    more copies of its rows, in SQL (seeding through MemberPress's models takes ~200 s per 1,000
    subscriptions, hours for 100,000). Not MemberPress's own seeding: a copy of it. Copy k (1..copies)
    of every row the seeding wrote — the members' users and usermeta, MemberPress's subscriptions,
    transactions, events and members rows — gets its id plus k times that table's largest id
    before copying, and every column that names an id (user, subscription, transaction, the
    event's evt_id by its evt_id_type, the member's first/latest transaction) the same offset, so a
    copied subscription's transactions and events point to it and to its copied user. Logins and
    nicenames get "-c<k>", emails "+c<k>" before the @, subscr_id / trans_num "-c<k>", the uuid meta
    a new hash; products, statuses, amounts and dates are kept (each copy has the same months as
    the original). The administrator's rows are not copied. Returns the offsets and row counts,
also kept in the option farewell_bench_replica."""
    return site.wp_json(f"""
        global $wpdb;
        $p = $wpdb->prefix;
        $copies = {int(copies)};
        $q = function ($sql) use ($wpdb) {{
            if (false === $wpdb->query($sql)) {{ throw new Exception($wpdb->last_error . ' in ' . $sql); }}
        }};
        // The seeded members: the users MemberPress has a subscription for (not the administrator).
        $max = array(
            'users' => (int) $wpdb->get_var("SELECT MAX(ID) FROM {{$p}}users"),
            'usermeta' => (int) $wpdb->get_var("SELECT MAX(umeta_id) FROM {{$p}}usermeta"),
            'subscriptions' => (int) $wpdb->get_var("SELECT MAX(id) FROM {{$p}}mepr_subscriptions"),
            'transactions' => (int) $wpdb->get_var("SELECT MAX(id) FROM {{$p}}mepr_transactions"),
            'events' => (int) $wpdb->get_var("SELECT MAX(id) FROM {{$p}}mepr_events"),
            'members' => (int) $wpdb->get_var("SELECT MAX(id) FROM {{$p}}mepr_members"),
        );
        foreach (array('subscription_meta', 'transaction_meta', 'orders', 'order_meta') as $empty) {{
            // Tables the seeding leaves empty: a seeding that writes them needs them copied too.
            if ((int) $wpdb->get_var("SELECT COUNT(*) FROM {{$p}}mepr_{{$empty}}") > 0) {{
                throw new Exception("mepr_{{$empty}} has rows: replicate_memberpress_history() does not copy them");
            }}
        }}
        $q("CREATE TEMPORARY TABLE fw_members_seeded (ID BIGINT UNSIGNED PRIMARY KEY) SELECT DISTINCT user_id AS ID FROM {{$p}}mepr_subscriptions");
        $before = array(
            'users' => (int) $wpdb->get_var("SELECT COUNT(*) FROM fw_members_seeded"),
            'subscriptions' => (int) $wpdb->get_var("SELECT COUNT(*) FROM {{$p}}mepr_subscriptions"),
        );
        // Each table copied through a temporary table (all its columns, whatever MemberPress's
        // version has), its ids shifted there, then inserted back.
        $copy = function ($table, $where, $set) use ($q, $p) {{
            $q("DROP TEMPORARY TABLE IF EXISTS fw_copy");
            $q("CREATE TEMPORARY TABLE fw_copy SELECT * FROM {{$p}}{{$table}} WHERE {{$where}}");
            $q("UPDATE fw_copy SET {{$set}}");
            $q("INSERT INTO {{$p}}{{$table}} SELECT * FROM fw_copy");
        }};
        $seeded = "IN (SELECT ID FROM fw_members_seeded)";
        for ($k = 1; $k <= $copies; $k++) {{
            $u = $k * $max['users']; $s = $k * $max['subscriptions']; $t = $k * $max['transactions'];
            $copy('users', "ID {{$seeded}} AND ID <= {{$max['users']}}",
                "ID = ID + {{$u}}, user_login = CONCAT(user_login, '-c{{$k}}'), user_nicename = CONCAT(user_nicename, '-c{{$k}}'), "
                . "user_email = CONCAT(SUBSTRING_INDEX(user_email, '@', 1), '+c{{$k}}@', SUBSTRING_INDEX(user_email, '@', -1))");
            $copy('usermeta', "user_id {{$seeded}} AND umeta_id <= {{$max['usermeta']}}",
                "umeta_id = umeta_id + {{$k}} * {{$max['usermeta']}}, user_id = user_id + {{$u}}, meta_value = CASE meta_key "
                . "WHEN 'nickname' THEN CONCAT(meta_value, '-c{{$k}}') WHEN 'uuid' THEN MD5(CONCAT(meta_value, '-c{{$k}}')) ELSE meta_value END");
            $copy('mepr_members', "user_id {{$seeded}} AND id <= {{$max['members']}}",
                "id = id + {{$k}} * {{$max['members']}}, user_id = user_id + {{$u}}, "
                . "first_txn_id = IF(first_txn_id > 0, first_txn_id + {{$t}}, first_txn_id), latest_txn_id = IF(latest_txn_id > 0, latest_txn_id + {{$t}}, latest_txn_id)");
            $copy('mepr_subscriptions', "id <= {{$max['subscriptions']}}",
                "id = id + {{$s}}, user_id = user_id + {{$u}}, subscr_id = CONCAT(subscr_id, '-c{{$k}}')");
            $copy('mepr_transactions', "id <= {{$max['transactions']}}",
                "id = id + {{$t}}, user_id = user_id + {{$u}}, trans_num = CONCAT(trans_num, '-c{{$k}}'), "
                . "subscription_id = IF(subscription_id > 0, subscription_id + {{$s}}, subscription_id)");
            $copy('mepr_events', "id <= {{$max['events']}} AND (evt_id_type IN ('subscriptions', 'transactions') OR (evt_id_type = 'users' AND evt_id {{$seeded}}))",
                "id = id + {{$k}} * {{$max['events']}}, evt_id = evt_id + CASE evt_id_type WHEN 'users' THEN {{$u}} WHEN 'subscriptions' THEN {{$s}} ELSE {{$t}} END");
        }}
        $users = (int) $wpdb->get_var("SELECT COUNT(*) FROM {{$p}}users");
        update_option('user_count', $users); // WordPress's cached count (wp_update_user_counts())
        wp_cache_flush();
        $out = array(
            'copies' => $copies, 'max' => $max, 'seeded' => $before, 'users' => $users,
            'subscriptions' => (int) $wpdb->get_var("SELECT COUNT(*) FROM {{$p}}mepr_subscriptions"),
            'transactions' => (int) $wpdb->get_var("SELECT COUNT(*) FROM {{$p}}mepr_transactions"),
            'events' => (int) $wpdb->get_var("SELECT COUNT(*) FROM {{$p}}mepr_events"),
        );
        // Kept in the site (and its dump) so that a check after loading it knows the offsets.
        update_option('farewell_bench_replica', $out, false);
        return $out;
    """, timeout=timeout)


def check_memberpress_replica(site: WordPressSite, replica: dict, samples: int = 6) -> list[str]:
    """What MemberPress's own API says of a few copied subscriptions (replicate_memberpress_history()),
    compared with their originals: the copy's MeprUser is a distinct user with a unique login and
    email, and the subscription has the original's product, status, price and date, its
    transactions (MeprSubscription::transactions()) are the originals' shifted and point to the
    copy and its user, its recorded events the originals' shifted, and MeprUser lists the
    subscription. Returns the problems found (none when coherent)."""
    return site.wp_json(f"""
        global $wpdb;
        $replica = json_decode({_php_string(json.dumps(replica))}, true);
        $max = $replica['max'];
        $problems = array();
        $originals = $wpdb->get_col("SELECT id FROM {{$wpdb->prefix}}mepr_subscriptions WHERE id <= {{$max['subscriptions']}} ORDER BY id");
        $picked = array();
        $n = {int(samples)};
        for ($i = 0; $i < $n; $i++) {{
            $picked[] = array((int) $originals[(int) floor($i * (count($originals) - 1) / max(1, $n - 1))], 1 + $i % (int) $replica['copies']);
        }}
        $picked[] = array((int) end($originals), (int) $replica['copies']);
        $events = function ($sub_id) use ($wpdb) {{
            return $wpdb->get_results($wpdb->prepare("SELECT id, event, created_at FROM {{$wpdb->prefix}}mepr_events WHERE evt_id_type = 'subscriptions' AND evt_id = %d ORDER BY id", $sub_id), ARRAY_A);
        }};
        foreach ($picked as $pick) {{
            list($id, $k) = $pick;
            $orig = new MeprSubscription($id);
            $copy = new MeprSubscription($id + $k * $max['subscriptions']);
            $say = function ($what) use (&$problems, $id, $k) {{ $problems[] = "subscription $id copy $k: $what"; }};
            if ((int) $copy->id !== $id + $k * $max['subscriptions']) {{ $say('MeprSubscription does not load it'); continue; }}
            if ((int) $copy->user_id !== (int) $orig->user_id + $k * $max['users']) $say("user {{$copy->user_id}}");
            foreach (array('product_id', 'status', 'price', 'period_type', 'created_at', 'gateway') as $field) {{
                if ((string) $copy->$field !== (string) $orig->$field) $say("$field {{$copy->$field}} vs {{$orig->$field}}");
            }}
            if ((int) $copy->product()->ID !== (int) $orig->product_id) $say('product() ' . $copy->product()->ID);
            $user = $copy->user();
            $orig_user = $orig->user();
            if ((int) $user->ID !== (int) $copy->user_id) $say('user() ' . $user->ID);
            if ($user->user_login === $orig_user->user_login || $user->user_email === $orig_user->user_email) $say('login or email not unique');
            if ((int) get_user_by('login', $user->user_login)->ID !== (int) $user->ID || (int) get_user_by('email', $user->user_email)->ID !== (int) $user->ID) $say('login or email does not find the copy');
            $txns = $copy->transactions();
            $orig_txns = $orig->transactions();
            if (count($txns) !== count($orig_txns) || 0 === count($txns)) $say('transactions ' . count($txns) . ' vs ' . count($orig_txns));
            foreach ($txns as $i => $txn) {{
                $o = $orig_txns[$i];
                if ((int) $txn->id !== (int) $o->id + $k * $max['transactions'] || (int) $txn->subscription_id !== (int) $copy->id
                    || (int) $txn->user_id !== (int) $copy->user_id || $txn->status !== $o->status || $txn->expires_at !== $o->expires_at) {{
                    $say("transaction {{$txn->id}} (of {{$o->id}})");
                }}
            }}
            $mine = array_map(function ($e) {{ return array($e['event'], $e['created_at']); }}, $events($copy->id));
            $theirs = array_map(function ($e) {{ return array($e['event'], $e['created_at']); }}, $events($id));
            if ($mine !== $theirs) $say('events ' . wp_json_encode($mine) . ' vs ' . wp_json_encode($theirs));
            $listed = (new MeprUser($copy->user_id))->active_product_subscriptions('ids', true, false);
            if (in_array($copy->status, array('active'), true) && !in_array((int) $copy->product_id, array_map('intval', $listed), true)) $say('MeprUser does not list its product: ' . wp_json_encode($listed));
        }}
        return $problems;
    """)


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
