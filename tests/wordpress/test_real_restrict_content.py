"""Restrict Content 3.2.26 itself (not a stand-in) on WordPress 6.8 and 6.1, with the bridge and the real sidecar.

Every way a membership starts, ends or changes goes through Restrict Content's own code: its
account page ([subscription_details], over HTTP signed in as the member with its nonce, and once in
Chromium), the actions of its Restrict → Memberships screens (over HTTP, as the administrator, with
their nonces), the payment service's notifications reaching its gateway listener
(`?listener=farewell_test`, dispatched by RCP's rcp_process_gateway_webooks(); the payment service
is played by fixtures/real-plugins/rcp-test-gateway.php, which does what RCP's Stripe gateway does
for the same notifications), its daily expiry cron (rcp_check_for_expired_users). Each must reach
the sidecar as exactly one event, of the right type and initiator, with the member, plan, amount,
currency and interval — and nothing where nothing changed for the member.

Dates: Restrict Content stores its dates in the site's time zone (created_date is
current_time('mysql'), expiration_date is computed from current_time('timestamp')), and removes
access once the site's wall clock passes expiration_date (RCP_Membership::is_expired()). The date
tests run on sites in Europe/Paris and America/New_York and across a daylight-saving change
(WordPress 6.8 only: the conversion is the bridge's, not WordPress's).

One site per WordPress version for the whole module (tests/wordpress/real_plugins.py); each test
has members of its own.
"""

from __future__ import annotations

import html
import json
import re
import secrets
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

import pytest
import requests

from tests.wordpress.real_plugins import (
    Member,
    assert_event,
    changes,
    only,
    php_env_at,
    site_local,
    utc,
)
from tests.wordpress.site import ADMIN_PASSWORD, ADMIN_USER

LEVELS = {"Mensuel": ("12.00", "month"), "Annuel": ("120.00", "year")}
GATEWAY = "farewell_test"


@pytest.fixture(scope="module")
def bed(real_plugin_bed, request):
    """The plugin's site on WordPress 6.8, or the version ON_BOTH_VERSIONS gives."""
    return real_plugin_bed("restrict-content", getattr(request, "param", "6.8"))


# Every flow runs on 6.8; the two a member goes through most (joining, cancelling themselves) run on
# Debian 12's 6.1 too. The plugin's flows are its own code on both versions, and the bridge's own
# suites (PHPUnit, the end-to-end tests) run on both; every flow on 6.1 as well cost about two
# minutes of the suite and never differed.
ON_BOTH_VERSIONS = pytest.mark.parametrize("bed", ["6.8", "6.1"], indirect=True, scope="module")


@pytest.fixture(scope="module")
def bed68(real_plugin_bed):
    return real_plugin_bed("restrict-content", "6.8")


@pytest.fixture
def site_timezone(bed68):
    """Sets the site's time zone (Settings → General) for one test; UTC again afterwards."""
    def set_zone(name: str):
        bed68.site.wp_eval(f"update_option('timezone_string', '{name}'); update_option('gmt_offset', '');")
    yield set_zone
    set_zone("UTC")


# --------------------------------------------------------------------------- helpers
def state(bed, membership_id: int, access: bool = True) -> dict:
    """Restrict Content's own view of a membership: its columns and, unless access=False, whether
    it grants access now (RCP_Membership::is_active(), which expires a membership past its date
    there and then: not for a membership dated in the past on a faked clock)."""
    return bed.site.wp_json(f"""
        $m = rcp_get_membership({int(membership_id)});
        return array('status' => $m->get_status(), 'created_date' => $m->get_created_date(false),
            'expiration_date' => $m->get_expiration_date(false), 'disabled' => $m->is_disabled(),
            'object_id' => (int) $m->get_object_id(), 'profile' => $m->get_gateway_subscription_id(),
            'active' => {'$m->is_active()' if access else 'null'}, 'timezone' => wp_timezone_string());
    """)


def pending_membership(bed, member: Member, level: str, env: dict | None = None) -> tuple[int, str]:
    """What Restrict Content's registration (rcp_process_registration()) leaves before the member
    pays: a customer, a pending membership on the chosen gateway and a pending payment tied to it.
    Returns (membership id, the payment service's subscription id)."""
    profile = f"sub_{secrets.token_hex(6)}"
    level_id = bed.setup["levels"][level]
    membership_id = bed.site.wp_json(f"""
        $customer = rcp_get_customer_by_user_id({member.id});
        if (!$customer) {{ $customer = rcp_get_customer(rcp_add_customer(array('user_id' => {member.id}))); }}
        $level = rcp_get_membership_level({level_id});
        $id = $customer->add_membership(array('object_id' => {level_id}, 'object_type' => 'membership',
            'initial_amount' => $level->get_price(), 'recurring_amount' => $level->get_price(),
            'auto_renew' => 1, 'status' => 'pending', 'gateway' => '{GATEWAY}',
            'gateway_customer_id' => 'cus_{member.id}', 'gateway_subscription_id' => '{profile}',
            'subscription_key' => rcp_generate_subscription_key()));
        $payments = new RCP_Payments();
        $payment = $payments->insert(array('date' => date('Y-m-d H:i:s', current_time('timestamp')),
            'subscription' => $level->get_name(), 'object_id' => {level_id}, 'object_type' => 'subscription',
            'gateway' => '{GATEWAY}', 'amount' => $level->get_price(), 'user_id' => {member.id},
            'customer_id' => $customer->get_id(), 'membership_id' => $id, 'status' => 'pending',
            'subtotal' => $level->get_price(), 'transaction_type' => 'new'));
        rcp_update_membership_meta($id, 'pending_payment_id', $payment);
        return (int) $id;
    """, env=env)
    return int(membership_id), profile


def notify(bed, type_: str, profile: str, event_id: str | None = None) -> dict:
    """The payment service posting a notification to RCP's gateway listener, with no session."""
    body = {"id": event_id or f"evt_{secrets.token_hex(8)}", "type": type_, "subscription": profile}
    response = requests.post(f"{bed.site.url}/?listener={GATEWAY}", data=json.dumps(body), timeout=60,
                             headers={"Content-Type": "application/json"})
    assert response.status_code == 200 and response.text.startswith("{"), response.text[:800]
    answer = response.json()
    assert answer.get("success"), answer
    return answer


def subscribe(bed, member: Member, level: str = "Mensuel") -> tuple[int, str]:
    """The member registers and the payment service confirms the first payment."""
    membership_id, profile = pending_membership(bed, member, level)
    notify(bed, "invoice.payment_succeeded", profile)
    assert state(bed, membership_id)["status"] == "active"
    return membership_id, profile


def assert_membership_event(event: dict, member: Member, membership_id: int, level: str, status: str,
                            initiated_by: str):
    amount, interval = LEVELS[level]
    assert_event(event, member, source="restrict-content", initiated_by=initiated_by, status=status,
                 id=str(membership_id), plan_name=level, amount=amount, currency="EUR", interval=interval)


def assert_access_ends_as_rcp_says(bed, event: dict, membership_id: int):
    """access_ends_at is RCP's own expiration_date (site time zone in its table)."""
    st = state(bed, membership_id)
    assert st["expiration_date"] not in ("", "none"), st
    assert utc(event["subscription"]["access_ends_at"]) == site_local(st["expiration_date"], st["timezone"]), (event, st)


class _Forms(HTMLParser):
    """The fields of each <form> of a page, as a browser would submit them (no submit buttons)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []
        self._select: str | None = None
        self._first_option: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: (v or "") for k, v in attrs}
        if tag == "form":
            self.forms.append({"id": a.get("id", ""), "fields": {}})
        if not self.forms:
            return
        fields = self.forms[-1]["fields"]
        name = a.get("name")
        if tag == "input" and name:
            kind = a.get("type", "text").lower()
            if kind in ("submit", "button", "image", "file"):
                return
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            fields[name] = a.get("value", "on" if kind == "checkbox" else "")
        elif tag == "select" and name:
            self._select, self._first_option = name, None
        elif tag == "option" and self._select:
            if self._first_option is None:
                self._first_option = a.get("value", "")
                fields.setdefault(self._select, self._first_option)
            if "selected" in a:
                fields[self._select] = a.get("value", "")
        elif tag == "textarea" and name:
            self._textarea = name
            fields[name] = ""

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea and self.forms:
            self.forms[-1]["fields"][self._textarea] += data


def form_with(page: str, field: str) -> dict:
    parser = _Forms()
    parser.feed(page)
    for form in parser.forms:
        if field in form["fields"]:
            return dict(form["fields"])
    raise AssertionError(f"no form with {field!r} on the page:\n{page[-2000:]}")


_ADMIN_SESSIONS: dict[int, requests.Session] = {}


def admin(bed) -> requests.Session:
    """The administrator's browser session on the bed's site (one sign-in: WordPress ties nonces
    to the session)."""
    if id(bed) not in _ADMIN_SESSIONS:
        _ADMIN_SESSIONS[id(bed)] = bed.site.login(ADMIN_USER, ADMIN_PASSWORD)
    return _ADMIN_SESSIONS[id(bed)]


def admin_get(bed, path_or_url: str) -> requests.Response:
    url = path_or_url if path_or_url.startswith("http") else f"{bed.site.url}/wp-admin/{path_or_url}"
    response = admin(bed).get(url, timeout=60)
    assert response.status_code == 200, response.text[-1500:]
    return response


def admin_form(bed, path: str, field: str) -> dict:
    """The fields of the admin form holding `field` (its nonce), as the screen shows them."""
    return form_with(admin_get(bed, path).text, field)


def admin_post(bed, path: str, fields: dict) -> requests.Response:
    response = admin(bed).post(f"{bed.site.url}/wp-admin/{path}", data=fields, timeout=60)
    assert response.status_code == 200, response.text[-1500:]
    assert "rcp_message=" in response.url, response.url
    return response


def edit_path(membership_id: int) -> str:
    return f"admin.php?page=rcp-members&membership_id={membership_id}&view=edit"


def edit_membership(bed, membership_id: int, **changes) -> requests.Response:
    """Restrict → Memberships → Edit: the form as shown, with `changes`, submitted (a submit
    button's name in `changes` is the button pressed; default "Update Membership")."""
    fields = admin_form(bed, edit_path(membership_id), "rcp_edit_membership_nonce")
    if not any(key.startswith("rcp_") and key.endswith("membership") or key == "rcp_change_membership_level" for key in changes):
        fields["rcp_update_membership"] = "Update Membership"
    fields.update(changes)
    return admin_post(bed, edit_path(membership_id), fields)


def admin_link(bed, membership_id: int, action: str) -> str:
    """A button's link on the membership's edit screen (with its nonce): cancel_membership, expire_membership."""
    page = admin_get(bed, edit_path(membership_id)).text
    for href in re.findall(r'href="([^"]+)"', page):
        href = html.unescape(href)
        if f"rcp-action={action}" in href:
            return href
    raise AssertionError(f"no {action} link on the edit screen")


def cancel_link(page: str, membership_id: int) -> str:
    """The account page's "Cancel your membership" link (with RCP's rcp-cancel-nonce)."""
    match = re.search(rf'<a href="([^"]+)"[^>]*id="rcp_cancel_membership_{membership_id}"', page)
    assert match, f"no cancel link for membership {membership_id} on the account page:\n{page[-3000:]}"
    return html.unescape(match.group(1))


def latest_membership(bed, member: Member) -> int:
    return int(bed.site.wp_json(f"""
        global $wpdb;
        return (int) $wpdb->get_var($wpdb->prepare("SELECT id FROM {{$wpdb->prefix}}rcp_memberships
            WHERE user_id = %d ORDER BY id DESC LIMIT 1", {member.id}));
    """))


# --------------------------------------------------------------------------- starts
@ON_BOTH_VERSIONS
def test_the_first_payment_activates_the_membership_one_created_event(bed):
    member = Member(bed, "buyer")
    membership_id, profile = pending_membership(bed, member, "Mensuel")
    events, _ = changes(bed, member, lambda: None)
    assert events == []  # pending: the member has nothing yet
    events, _ = changes(bed, member, lambda: notify(bed, "invoice.payment_succeeded", profile))
    created = only(events, "subscription.created")
    assert_membership_event(created, member, membership_id, "Mensuel", "active", "gateway")
    assert_access_ends_as_rcp_says(bed, created, membership_id)


def test_an_administrator_adds_an_active_membership_one_created_event(bed):
    """Restrict → Memberships → Add: RCP inserts the membership already active (its status goes
    from "new" to "active", never through "pending")."""
    member = Member(bed, "adminadds")
    fields = admin_form(bed, "admin.php?page=rcp-members&view=add", "rcp_add_membership_nonce")
    fields.update({"user_email": member.email, "object_id": str(bed.setup["levels"]["Annuel"]), "status": "active",
                   "recurring_amount": "120.00", "initial_amount": "120.00", "expiration_date": "+1 year",
                   "created_date": "now", "gateway": "manual"})
    fields.pop("expiration_date_none", None)
    fields.pop("auto_renew", None)
    events, _ = changes(bed, member, lambda: admin_post(bed, "admin.php?page=rcp-members&view=add", fields))
    membership_id = latest_membership(bed, member)
    created = only(events, "subscription.created")
    assert_membership_event(created, member, membership_id, "Annuel", "active", "admin")
    assert_access_ends_as_rcp_says(bed, created, membership_id)


# --------------------------------------------------------------------------- the member
@ON_BOTH_VERSIONS
def test_the_member_cancels_on_the_account_page(bed):
    member = Member(bed, "cancels")
    membership_id, profile = subscribe(bed, member)
    session = member.session(bed)
    page = session.get(bed.setup["account_url"], timeout=60)
    link = urljoin(page.url, cancel_link(page.text, membership_id))
    events, response = changes(bed, member, lambda: session.get(link, timeout=60))
    assert "profile=cancelled" in response.url, response.url
    cancelled = only(events, "subscription.cancelled")
    assert_membership_event(cancelled, member, membership_id, "Mensuel", "cancelled", "member")
    assert_access_ends_as_rcp_says(bed, cancelled, membership_id)
    st = state(bed, membership_id)
    assert st["active"] and st["status"] == "cancelled"  # until the end of the paid period
    assert profile in bed.site.wp_json("return get_option('farewell_test_rcp_cancelled_profiles', array());")

    # The same link again (a reload, the back button): RCP refuses, nothing changed.
    events, response = changes(bed, member, lambda: session.get(link, timeout=60))
    assert "cancellation_failure" in response.url, response.url
    assert events == []
    session.close()


# --------------------------------------------------------------------------- the administrator
def test_an_administrator_cancels_with_the_memberships_screen_button(bed):
    member = Member(bed, "admincancel")
    membership_id, profile = subscribe(bed, member, "Annuel")
    link = admin_link(bed, membership_id, "cancel_membership")
    events, _ = changes(bed, member, lambda: admin_get(bed, link))
    cancelled = only(events, "subscription.cancelled")
    assert_membership_event(cancelled, member, membership_id, "Annuel", "cancelled", "admin")
    assert_access_ends_as_rcp_says(bed, cancelled, membership_id)


def test_an_administrator_expires_a_membership_access_ends_now(bed):
    """"Expire" sets the status first, then moves expiration_date to yesterday: access ends now."""
    member = Member(bed, "adminexpire")
    membership_id, _ = subscribe(bed, member)
    link = admin_link(bed, membership_id, "expire_membership")
    events, _ = changes(bed, member, lambda: admin_get(bed, link))
    expired = only(events, "subscription.expired")
    assert_membership_event(expired, member, membership_id, "Mensuel", "expired", "admin")
    assert utc(expired["subscription"]["access_ends_at"]) == utc(expired["occurred_at"])
    assert not state(bed, membership_id)["active"]


def test_an_administrator_deletes_a_membership_one_expiry_now(bed):
    """"Delete Membership" disables it: RCP stops the billing (a cancellation) and removes access
    at once. One event: the expiry, now."""
    member = Member(bed, "admindelete")
    membership_id, profile = subscribe(bed, member)
    events, _ = changes(bed, member, lambda: edit_membership(bed, membership_id, rcp_delete_membership="Delete Membership"))
    expired = only(events, "subscription.expired")
    assert_membership_event(expired, member, membership_id, "Mensuel", "expired", "admin")
    assert utc(expired["subscription"]["access_ends_at"]) == utc(expired["occurred_at"])
    st = state(bed, membership_id)
    assert st["disabled"] and not st["active"]
    assert profile in bed.site.wp_json("return get_option('farewell_test_rcp_cancelled_profiles', array());")


def test_an_administrator_changes_the_status_on_the_edit_screen(bed):
    member = Member(bed, "adminstatus")
    membership_id, _ = subscribe(bed, member, "Annuel")
    events, _ = changes(bed, member, lambda: edit_membership(bed, membership_id, status="cancelled"))
    assert_membership_event(only(events, "subscription.cancelled"), member, membership_id, "Annuel", "cancelled", "admin")
    # Saved again without a change: nothing changed for the member.
    events, _ = changes(bed, member, lambda: edit_membership(bed, membership_id))
    assert events == []
    events, _ = changes(bed, member, lambda: edit_membership(bed, membership_id, status="active"))
    resumed = only(events, "subscription.resumed")
    assert_membership_event(resumed, member, membership_id, "Annuel", "active", "admin")
    assert_access_ends_as_rcp_says(bed, resumed, membership_id)


def test_an_administrator_changes_the_level_one_created_event(bed):
    """"Change Level" disables the membership and adds one on the new level, active at once: the
    member keeps access, so the one event is the new membership's start."""
    member = Member(bed, "adminlevel")
    old_id, _ = subscribe(bed, member, "Mensuel")
    events, _ = changes(bed, member, lambda: edit_membership(bed, old_id, object_id=str(bed.setup["levels"]["Annuel"]),
                                                             rcp_change_membership_level="Change Level"))
    new_id = latest_membership(bed, member)
    assert new_id != old_id and state(bed, old_id)["disabled"]
    assert_membership_event(only(events, "subscription.created"), member, new_id, "Annuel", "active", "admin")
    assert_replaced(bed, only(events, "subscription.created"), old_id)


# --------------------------------------------------------------------------- the payment service
def test_the_payment_service_cancels_the_subscription(bed):
    member = Member(bed, "gwcancel")
    membership_id, profile = subscribe(bed, member)
    event_id = f"evt_{secrets.token_hex(8)}"
    events, _ = changes(bed, member, lambda: notify(bed, "customer.subscription.deleted", profile, event_id))
    cancelled = only(events, "subscription.cancelled")
    assert_membership_event(cancelled, member, membership_id, "Mensuel", "cancelled", "gateway")
    assert_access_ends_as_rcp_says(bed, cancelled, membership_id)
    # The service sends the same notification again (it retries until answered): nothing changed.
    events, _ = changes(bed, member, lambda: notify(bed, "customer.subscription.deleted", profile, event_id))
    assert events == []


def test_a_renewal_paid_is_payment_succeeded_a_failed_one_puts_the_member_at_risk_and_the_retry_takes_them_off(bed):
    """The payment service's renewal: RCP_Membership::renew(), then a `renewal` payment inserted
    complete (as RCP's Stripe gateway does). The first payment (`new`) only starts the membership."""
    member = Member(bed, "renewal")
    events, (membership_id, profile) = changes(bed, member, lambda: subscribe(bed, member))
    only(events, "subscription.created")
    before = state(bed, membership_id)["expiration_date"]
    event_id = f"evt_{secrets.token_hex(8)}"
    events, _ = changes(bed, member, lambda: notify(bed, "invoice.payment_succeeded", profile, event_id))
    succeeded = only(events, "payment.succeeded")
    assert state(bed, membership_id)["expiration_date"] > before  # renewed by RCP
    assert_membership_event(succeeded, member, membership_id, "Mensuel", "active", "gateway")
    assert_access_ends_as_rcp_says(bed, succeeded, membership_id)  # the renewed date
    # The same notification again: RCP knows that payment (rcp_ipn_duplicate_payment), nor do we send it twice.
    events, _ = changes(bed, member, lambda: notify(bed, "invoice.payment_succeeded", profile, event_id))
    assert events == []

    event_id = f"evt_{secrets.token_hex(8)}"
    events, _ = changes(bed, member, lambda: notify(bed, "invoice.payment_failed", profile, event_id))
    failed = only(events, "payment.failed")
    assert_membership_event(failed, member, membership_id, "Mensuel", "active", "gateway")
    assert_access_ends_as_rcp_says(bed, failed, membership_id)
    # The same notification again, seconds later: the same failure, no second event.
    events, _ = changes(bed, member, lambda: notify(bed, "invoice.payment_failed", profile, event_id))
    assert events == []
    at_risk = bed.at_risk(membership_id)
    assert at_risk["on_list"] and at_risk["failed_attempts"] == 1, at_risk

    # The service's retry goes through: a renewal again, and the member leaves the list.
    events, _ = changes(bed, member, lambda: notify(bed, "invoice.payment_succeeded", profile))
    retried = only(events, "payment.succeeded")
    assert_membership_event(retried, member, membership_id, "Mensuel", "active", "gateway")
    at_risk = bed.at_risk(membership_id)
    assert not at_risk["on_list"] and at_risk["failed_attempts"] == 0, at_risk
    assert at_risk["last_succeeded_at"] == utc(retried["occurred_at"]), at_risk


def test_an_administrator_records_a_renewal_payment_one_payment_succeeded(bed):
    """Restrict → Memberships → Edit → "Record Payment Only" (a renewal paid by hand, the form's
    status left at Complete): RCP inserts a complete `renewal` payment; no gateway hook fires."""
    member = Member(bed, "adminrecords")
    membership_id, _ = subscribe(bed, member)
    fields = admin_form(bed, edit_path(membership_id), "rcp_add_membership_payment_nonce")
    assert fields["status"] == "complete" and float(fields["amount"]) == 12.0, fields
    fields["add_payment_only"] = "Record Payment Only"
    events, _ = changes(bed, member, lambda: admin_post(bed, edit_path(membership_id), fields))
    succeeded = only(events, "payment.succeeded")
    assert_membership_event(succeeded, member, membership_id, "Mensuel", "active", "admin")
    assert_access_ends_as_rcp_says(bed, succeeded, membership_id)


def test_a_refund_expires_the_membership_now(bed):
    member = Member(bed, "refund")
    membership_id, profile = subscribe(bed, member, "Annuel")
    events, _ = changes(bed, member, lambda: notify(bed, "charge.refunded", profile))
    expired = only(events, "subscription.expired")
    assert_membership_event(expired, member, membership_id, "Annuel", "expired", "gateway")
    assert utc(expired["subscription"]["access_ends_at"]) == utc(expired["occurred_at"])


def test_an_expired_membership_paid_again_is_resumed(bed):
    """The member's card works again after the end: the payment service's renewal reactivates
    the same membership (RCP_Membership::renew())."""
    member = Member(bed, "comeback")
    membership_id, profile = subscribe(bed, member)
    admin_get(bed, admin_link(bed, membership_id, "expire_membership"))
    events, _ = changes(bed, member, lambda: notify(bed, "invoice.payment_succeeded", profile))
    assert sorted(e["type"] for e in events) == ["payment.succeeded", "subscription.resumed"], events
    for event in events:  # the renewal payment, and the access it gives back
        assert_membership_event(event, member, membership_id, "Mensuel", "active", "gateway")
        assert_access_ends_as_rcp_says(bed, event, membership_id)


def test_a_member_buys_again_after_the_end_one_created_event(bed):
    """A new registration after the old membership expired: RCP disables the old one when the
    new one is activated (rcp_disable_memberships_on_activate) — the old one gave nothing any more."""
    member = Member(bed, "buysagain")
    old_id, _ = subscribe(bed, member)
    admin_get(bed, admin_link(bed, old_id, "expire_membership"))
    new_id, profile = pending_membership(bed, member, "Annuel")
    events, _ = changes(bed, member, lambda: notify(bed, "invoice.payment_succeeded", profile))
    assert state(bed, old_id)["disabled"]
    assert_membership_event(only(events, "subscription.created"), member, new_id, "Annuel", "active", "gateway")


def test_an_upgrade_while_active_is_one_created_event(bed):
    """The member buys the yearly level while the monthly one runs: RCP disables the monthly one
    as the yearly one is activated. The member never loses access: one event, the new start."""
    member = Member(bed, "upgrades")
    old_id, _ = subscribe(bed, member, "Mensuel")
    new_id, profile = pending_membership(bed, member, "Annuel")
    events, _ = changes(bed, member, lambda: notify(bed, "invoice.payment_succeeded", profile))
    assert state(bed, old_id)["disabled"]
    assert_membership_event(only(events, "subscription.created"), member, new_id, "Annuel", "active", "gateway")
    assert_replaced(bed, only(events, "subscription.created"), old_id)


def assert_replaced(bed, created: dict, old_id: int) -> None:
    """The new membership's start names the one it replaced, which the sidecar then counts as no
    longer active (replaced: no cancellation, no churn; task 13y)."""
    assert created["subscription"]["replaces"] == str(old_id), created
    assert bed.subscription(old_id)["status"] == "replaced"
    assert bed.subscription(created["subscription"]["id"])["status"] == "active"


# --------------------------------------------------------------------------- expiry, dates
def expire_by_cron(bed, moment: datetime) -> None:
    """RCP's daily cron job (rcp_expired_users_check → rcp_check_for_expired_users()), run as
    WP-Cron runs it, on a clock set at `moment`."""
    bed.site.wp_eval("define('DOING_CRON', true); do_action('rcp_expired_users_check');",
                     env=php_env_at(moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")))


def test_the_expiry_cron_ends_a_cancelled_membership_at_its_date(bed):
    member = Member(bed, "cronexpire")
    membership_id, _ = subscribe(bed, member)
    admin_get(bed, admin_link(bed, membership_id, "cancel_membership"))
    st = state(bed, membership_id)
    ends = site_local(st["expiration_date"], st["timezone"])
    events, _ = changes(bed, member, lambda: expire_by_cron(bed, ends + timedelta(hours=2)))
    expired = only(events, "subscription.expired")
    assert_membership_event(expired, member, membership_id, "Mensuel", "expired", "system")
    assert utc(expired["subscription"]["access_ends_at"]) == ends
    # The next day's run: nothing changed.
    events, _ = changes(bed, member, lambda: expire_by_cron(bed, ends + timedelta(days=1, hours=2)))
    assert events == []


@pytest.mark.parametrize("zone", ["Europe/Paris", "America/New_York"])
def test_dates_are_converted_from_the_site_time_zone(bed68, site_timezone, zone):
    """RCP writes created_date and expiration_date in the site's time zone: the bridge sends the
    same moments in UTC, not the wall-clock figures with a Z."""
    bed = bed68
    site_timezone(zone)
    member = Member(bed, "zone")
    membership_id, profile = pending_membership(bed, member, "Mensuel")
    events, _ = changes(bed, member, lambda: notify(bed, "invoice.payment_succeeded", profile))
    created = only(events, "subscription.created")
    st = state(bed, membership_id)
    assert st["timezone"] == zone
    assert utc(created["subscription"]["started_at"]) == site_local(st["created_date"], zone)
    assert utc(created["subscription"]["started_at"]) <= utc(created["occurred_at"])
    assert_access_ends_as_rcp_says(bed, created, membership_id)

    events, _ = changes(bed, member, lambda: notify(bed, "customer.subscription.deleted", profile))
    cancelled = only(events, "subscription.cancelled")
    assert utc(cancelled["subscription"]["started_at"]) == site_local(st["created_date"], zone)
    assert_access_ends_as_rcp_says(bed, cancelled, membership_id)


@pytest.mark.parametrize("zone, bought", [
    ("Europe/Paris", "2025-10-20 10:00:00"),      # CEST (+2) to CET (+1) on 26 October
    ("America/New_York", "2026-02-20 15:00:00"),  # EST (-5) to EDT (-4) on 8 March
])
def test_across_a_daylight_saving_change_access_ends_when_rcp_removes_it(bed68, site_timezone, zone, bought):
    """Bought before a daylight-saving change, ending after it: each date with its own offset, and
    access_ends_at is the second RCP itself stops granting access (RCP_Membership::is_active(), on
    a clock set just before and just after)."""
    bed = bed68
    site_timezone(zone)
    member = Member(bed, "dst")
    start = datetime.strptime(bought, "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc)
    membership_id, _ = pending_membership(bed, member, "Mensuel", env=php_env_at(bought))

    def pay():  # the first payment completes (RCP_Payments::update → rcp_complete_registration)
        bed.site.wp_eval(f"""
            $payment = rcp_get_membership_meta({membership_id}, 'pending_payment_id', true);
            (new RCP_Payments())->update($payment, array('status' => 'complete', 'transaction_id' => 'ch_{membership_id}'));
        """, env=php_env_at((start + timedelta(minutes=5)).strftime("%Y-%m-%d %H:%M:%S")))

    events, _ = changes(bed, member, pay)
    created = only(events, "subscription.created")
    st = state(bed, membership_id, access=False)
    started, ends = site_local(st["created_date"], zone), site_local(st["expiration_date"], zone)
    local = ZoneInfo(zone)
    assert started.astimezone(local).utcoffset() != ends.astimezone(local).utcoffset()  # the change is between
    assert abs(started - start) < timedelta(minutes=1)
    assert utc(created["subscription"]["started_at"]) == started
    assert utc(created["subscription"]["access_ends_at"]) == ends

    def active_at(moment: datetime) -> bool:
        return bed.site.wp_json(f"return rcp_get_membership({membership_id})->is_active();",
                                env=php_env_at(moment.strftime("%Y-%m-%d %H:%M:%S")))

    assert active_at(ends - timedelta(seconds=30))
    # RCP's own check after the end expires the membership there and then: one event.
    events, still = changes(bed, member, lambda: active_at(ends + timedelta(seconds=1)))
    assert still is False
    expired = only(events, "subscription.expired")
    assert_membership_event(expired, member, membership_id, "Mensuel", "expired", "system")
    assert utc(expired["subscription"]["access_ends_at"]) == ends
