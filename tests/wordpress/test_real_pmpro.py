"""Paid Memberships Pro 3.8.4 itself (not a stand-in) on WordPress 6.8 and 6.1, with the bridge and
the real sidecar.

Every way a membership starts, ends or changes goes through PMPro's own code: its checkout page
with PayPal Standard, whose IPNs are posted to PMPro's own handler (admin-ajax.php?action=ipnhandler,
PayPal's servers played by fixtures/real-plugins/paypal-stand-in.php); its Cancel page (over HTTP
signed in as the member with its nonce and confirm step, and once in Chromium:
test_real_plugins_browser.py); the administrator's Edit Member screen over HTTP with its nonce
(a level removed, changed, ended with time left, saved unchanged), and a level given as that
screen does (pmpro_changeMembershipLevel); PMPro's expiry
task (PMPro_Recurring_Actions, run by Action Scheduler); a second checkout. Each must reach
the sidecar as exactly one event of the right type and initiator, with the member, level, amount,
currency and interval — and nothing where nothing changed for the member.

Dates: PMPro keeps memberships_users.startdate/enddate as wall-clock times of the site's time zone
(current_time('mysql')) and compares them with current_time() to expire a membership. What the
sidecar receives is compared with that storage read in the site's zone, on sites in Europe/Paris and
America/New_York and across a daylight-saving change.

One site per WordPress version for the whole run (tests/wordpress/real_plugins.py); each test has
members of its own.
"""

from __future__ import annotations

import html
import re
import secrets
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests

from tests.wordpress.real_plugins import (
    Member,
    assert_event,
    changes,
    form_fields,
    only,
    php_env_at,
    site_local,
    utc,
)
from tests.wordpress.site import ADMIN_PASSWORD, ADMIN_USER

SLUG = "paid-memberships-pro"
LEVELS = {"Mensuel": ("10.00", "month"), "Annuel": ("100.00", "year")}


@pytest.fixture(scope="module")
def bed(real_plugin_bed, request):
    """The plugin's site on WordPress 6.8, or the version ON_BOTH_VERSIONS gives."""
    return real_plugin_bed(SLUG, getattr(request, "param", "6.8"))


# Every flow runs on 6.8; the two a member goes through most (joining, cancelling themselves) run on
# Debian 12's 6.1 too. The plugin's flows are its own code on both versions, and the bridge's own
# suites (PHPUnit, the end-to-end tests) run on both; every flow on 6.1 as well cost about two
# minutes of the suite and never differed.
ON_BOTH_VERSIONS = pytest.mark.parametrize("bed", ["6.8", "6.1"], indirect=True, scope="module")


@pytest.fixture(scope="module")
def bed68(real_plugin_bed):
    return real_plugin_bed(SLUG, "6.8")


@pytest.fixture
def site_timezone(bed68):
    """Sets the 6.8 site's time zone (Settings → General) for one test; UTC again afterwards."""
    def set_zone(name: str):
        bed68.site.wp_eval(f"update_option('timezone_string', '{name}'); update_option('gmt_offset', '');")
    yield set_zone
    set_zone("")


# --------------------------------------------------------------------------- helpers
def membership(bed, member: Member, level_id: int | None = None) -> dict:
    """PMPro's own rows for the member: the newest memberships_users row (of that level) as stored,
    and whether PMPro grants the level now."""
    where = f"AND membership_id = {int(level_id)}" if level_id else ""
    return bed.site.wp_json(f"""
        global $wpdb;
        $row = $wpdb->get_row("SELECT id, membership_id, status, startdate, enddate FROM {{$wpdb->pmpro_memberships_users}}
            WHERE user_id = {member.id} {where} ORDER BY id DESC LIMIT 1", ARRAY_A);
        pmpro_clear_level_cache_for_user({member.id});
        $row['has_level'] = $row ? pmpro_hasMembershipLevel((int) $row['membership_id'], {member.id}) : false;
        $sub = $wpdb->get_row("SELECT id, status, subscription_transaction_id, next_payment_date FROM {{$wpdb->pmpro_subscriptions}}
            WHERE user_id = {member.id} ORDER BY id DESC LIMIT 1", ARRAY_A);
        $row['subscription'] = $sub;
        return $row;
    """)



def ipn(bed, **fields) -> str:
    """PayPal posting an IPN to PMPro's handler, with no session (as PayPal does)."""
    data = {"receiver_email": "shop@example.org", "business": "shop@example.org",
            "ipn_track_id": secrets.token_hex(6), **fields}
    response = requests.post(f"{bed.site.url}/wp-admin/admin-ajax.php?action=ipnhandler", data=data, timeout=60)
    assert response.status_code == 200, response.text[:800]
    return response.text


def checkout(bed, member: Member, level: str = "Mensuel") -> dict:
    """The member buys `level` on PMPro's checkout page (signed in, PayPal Standard); PMPro sends
    them to PayPal; PayPal then sends the first payment's IPN. Returns the membership as PMPro has it."""
    level_id = bed.setup["levels"][level]
    url = bed.setup["checkout_url"]
    delim = "&" if "?" in url else "?"
    with member.session(bed) as session:
        page = session.get(f"{url}{delim}pmpro_level={level_id}", timeout=60)
        assert page.status_code == 200, page.text[:500]
        fields = form_fields(page.text, "pmpro_checkout_nonce")
        fields.update({"submit-checkout": "1", "javascriptok": "1", "gateway": "paypalstandard"})
        response = session.post(f"{url}{delim}pmpro_level={level_id}", data=fields, timeout=60, allow_redirects=False)
    assert response.status_code in (301, 302, 303), f"checkout answered {response.status_code}: {response.text[-3000:]}"
    assert "paypal.com" in response.headers["Location"], response.headers["Location"]
    code = bed.site.wp_json(f"""
        global $wpdb;
        return $wpdb->get_var("SELECT code FROM {{$wpdb->pmpro_membership_orders}} WHERE user_id = {member.id} ORDER BY id DESC LIMIT 1");
    """)
    profile = f"I-{secrets.token_hex(6).upper()}"
    log = ipn(bed, txn_type="subscr_payment", subscr_id=profile, item_number=code, mc_gross=LEVELS[level][0],
              mc_currency="EUR", payment_status="Completed", txn_id=f"PAY-{secrets.token_hex(6)}")
    state = membership(bed, member, level_id)
    assert state["has_level"], (log, state)
    assert state["subscription"]["subscription_transaction_id"] == profile, state
    return state


def cancel_page(bed, member: Member, level_id: int) -> str:
    """The member cancels on PMPro's Cancel page: opens it with ?levelstocancel=ID (the "Cancel"
    link of their account page), then submits its confirm form (levelstocancel, confirm and the
    pmpro_cancel-nonce), signed in."""
    url = bed.setup["cancel_url"]
    delim = "&" if "?" in url else "?"
    with member.session(bed) as session:
        page = session.get(f"{url}{delim}levelstocancel={level_id}", timeout=60)
        assert page.status_code == 200, page.text[:500]
        fields = form_fields(page.text, "pmpro_cancel-nonce")
        action = html.unescape(re.search(r'<form id="pmpro_form"[^>]*action="([^"]*)"', page.text).group(1))
        assert action.split("://", 1)[1] == url.split("://", 1)[1], action
        response = session.post(url, data=fields, timeout=60)
    assert response.status_code == 200, response.text[:500]
    return response.text


def assert_subscription(event: dict, member: Member, level: str, level_id: int, status: str, initiated_by: str):
    amount, interval = LEVELS[level]
    assert_event(event, member, source="paidmembershipspro", initiated_by=initiated_by, status=status,
                 id=f"{member.id}-{level_id}", plan_id=str(level_id), plan_name=level, amount=amount,
                 currency="EUR", interval=interval)


# --------------------------------------------------------------------------- starts
@ON_BOTH_VERSIONS
def test_checkout_with_paypal_gives_one_created_event(bed):
    member = Member(bed, "buyer")
    events, state = changes(bed, member, lambda: checkout(bed, member))
    event = only(events, "subscription.created")
    assert_subscription(event, member, "Mensuel", bed.setup["levels"]["Mensuel"], "active", "gateway")
    assert utc(event["subscription"]["started_at"]) == site_local(state["startdate"], "")
    assert "access_ends_at" not in event["subscription"], event

    # A renewal PayPal took: the member keeps their level, the payment is all that is sent.
    events, _ = changes(bed, member, lambda: ipn(
        bed, txn_type="subscr_payment", subscr_id=state["subscription"]["subscription_transaction_id"],
        mc_gross="10.00", mc_currency="EUR", payment_status="Completed", txn_id=f"PAY-{secrets.token_hex(6)}"))
    assert_subscription(only(events, "payment.succeeded"), member, "Mensuel", bed.setup["levels"]["Mensuel"],
                        "active", "gateway")


# --------------------------------------------------------------------------- ends
@ON_BOTH_VERSIONS
def test_member_cancels_on_the_cancel_page(bed):
    """PMPro keeps the level until the next payment date (pmpro_set_expiration_date) and cancels at
    PayPal: one cancellation, by the member, whose access_ends_at is that end date."""
    member = Member(bed, "leaver")
    level_id = bed.setup["levels"]["Mensuel"]
    checkout(bed, member)
    events, page = changes(bed, member, lambda: cancel_page(bed, member, level_id))
    assert "membership will expire on" in page or "has been cancelled" in page, page[-2000:]
    state = membership(bed, member, level_id)
    assert state["has_level"] and state["enddate"], state  # PMPro keeps access until then
    event = only(events, "subscription.cancelled")
    assert_subscription(event, member, "Mensuel", level_id, "cancelled", "member")
    assert utc(event["subscription"]["access_ends_at"]) == site_local(state["enddate"], "")
    assert utc(event["subscription"]["access_ends_at"]) > utc(event["occurred_at"]) + timedelta(days=27)

    # PayPal confirms the cancel PMPro asked for: PMPro says it already processed it; nothing sent.
    events, log = changes(bed, member, lambda: ipn(
        bed, txn_type="subscr_cancel", subscr_id=state["subscription"]["subscription_transaction_id"]))
    assert events == [], log

    # The member changes their mind and buys the level again: one new membership.
    events, again = changes(bed, member, lambda: checkout(bed, member))
    created = only(events, "subscription.created")
    assert_subscription(created, member, "Mensuel", level_id, "active", "gateway")
    assert again["enddate"] in (None, "", "0000-00-00 00:00:00") and "access_ends_at" not in created["subscription"]


def test_paypal_cancels_the_subscription(bed):
    """subscr_cancel from PayPal (the member cancelled in their PayPal account):
    pmpro_handle_subscription_cancellation_at_gateway() keeps the level until the next payment date."""
    member = Member(bed, "paypalcancel")
    level_id = bed.setup["levels"]["Annuel"]
    state = checkout(bed, member, "Annuel")
    profile = state["subscription"]["subscription_transaction_id"]
    events, log = changes(bed, member, lambda: ipn(bed, txn_type="subscr_cancel", subscr_id=profile))
    state = membership(bed, member, level_id)
    assert state["has_level"] and state["enddate"] and state["subscription"]["status"] == "cancelled", (log, state)
    event = only(events, "subscription.cancelled")
    assert_subscription(event, member, "Annuel", level_id, "cancelled", "gateway")
    assert utc(event["subscription"]["access_ends_at"]) == site_local(state["enddate"], "")

    # The same notification again (PayPal retries): nothing changed, nothing sent.
    events, log = changes(bed, member, lambda: ipn(bed, txn_type="subscr_cancel", subscr_id=profile))
    assert events == [], log


def test_a_renewal_payment_fails(bed):
    """subscr_payment with payment_status Failed: pmpro_ipnFailedPayment() →
    pmpro_handle_recurring_payment_failure_at_gateway() → pmpro_subscription_payment_failed."""
    member = Member(bed, "declined")
    level_id = bed.setup["levels"]["Mensuel"]
    state = checkout(bed, member)
    payment = f"PAY-{secrets.token_hex(6)}"
    events, log = changes(bed, member, lambda: ipn(
        bed, txn_type="subscr_payment", subscr_id=state["subscription"]["subscription_transaction_id"],
        mc_gross="10.00", mc_currency="EUR", payment_status="Failed", txn_id=payment))
    event = only(events, "payment.failed")
    assert event["initiated_by"] == "gateway"
    sub = event["subscription"]
    assert (sub["id"], sub["plan_id"], sub["amount"], sub["currency"], sub["interval"]) == (
        f"{member.id}-{level_id}", str(level_id), "10.00", "EUR", "month"), event
    assert membership(bed, member, level_id)["has_level"]  # PMPro keeps the level; PayPal retries


def test_a_renewal_paid_is_payment_succeeded_and_takes_a_failed_member_off_the_at_risk_list(bed):
    """subscr_payment Completed for a subscription PMPro knows: pmpro_ipnSaveOrder() →
    pmpro_handle_recurring_payment_succeeded_at_gateway() → pmpro_subscription_payment_completed.
    The first payment completes the checkout instead: no renewal."""
    member = Member(bed, "renews")
    level_id = bed.setup["levels"]["Mensuel"]
    events, state = changes(bed, member, lambda: checkout(bed, member))
    only(events, "subscription.created")
    sub_id = f"{member.id}-{level_id}"
    payment = dict(txn_type="subscr_payment", subscr_id=state["subscription"]["subscription_transaction_id"],
                   mc_gross="10.00", mc_currency="EUR")

    events, log = changes(bed, member, lambda: ipn(bed, **payment, payment_status="Failed",
                                                   txn_id=f"PAY-{secrets.token_hex(6)}"))
    only(events, "payment.failed")
    at_risk = bed.at_risk(sub_id)
    assert at_risk["on_list"] and at_risk["failed_attempts"] == 1, (at_risk, log)

    paid = f"PAY-{secrets.token_hex(6)}"
    events, log = changes(bed, member, lambda: ipn(bed, **payment, payment_status="Completed", txn_id=paid))
    succeeded = only(events, "payment.succeeded")
    assert_subscription(succeeded, member, "Mensuel", level_id, "active", "gateway")
    assert membership(bed, member, level_id)["has_level"]
    at_risk = bed.at_risk(sub_id)
    assert not at_risk["on_list"] and at_risk["failed_attempts"] == 0, at_risk
    assert at_risk["last_succeeded_at"] == utc(succeeded["occurred_at"]), at_risk

    # PayPal sends the same IPN again: PMPro has processed that payment, nothing new.
    events, log = changes(bed, member, lambda: ipn(bed, **payment, payment_status="Completed", txn_id=paid))
    assert events == [], log
    # The next month's payment: a renewal of its own.
    events, log = changes(bed, member, lambda: ipn(bed, **payment, payment_status="Completed",
                                                   txn_id=f"PAY-{secrets.token_hex(6)}"))
    assert_subscription(only(events, "payment.succeeded"), member, "Mensuel", level_id, "active", "gateway")


# --------------------------------------------------------------------------- the administrator
# Memberships → Members → Edit Member (admin.php?page=pmpro-member), its Memberships panel
# (adminpages/member-edit/pmpro-class-member-edit-panel-memberships.php): one form with the
# panel's nonce (pmpro_member_edit_saved_panel_memberships), saved on admin_init by
# pmpro_member_edit_save(); the button pressed says what to do — "Cancel Membership"
# (pmpro_cancelMembershipLevel( …, 'admin_cancelled' )), "Change Membership"
# (pmpro_changeMembershipLevel( …, 'admin_changed' )), "Edit Membership" (end date, and optionally
# cancel the payment subscription).
_ADMIN_SESSIONS: dict[int, requests.Session] = {}


def admin_session(bed) -> requests.Session:
    """The administrator's session on the bed's site (one sign-in: WordPress ties nonces to it)."""
    if id(bed) not in _ADMIN_SESSIONS:
        _ADMIN_SESSIONS[id(bed)] = bed.site.login(ADMIN_USER, ADMIN_PASSWORD)
    return _ADMIN_SESSIONS[id(bed)]


def _browser_fields(form: str) -> dict:
    """What a browser submits for `form` with no button pressed: its inputs (checkboxes and radios
    only when checked), its selects (the selected option, else the first) and textareas."""
    fields: dict = {}
    for tag in re.findall(r"<input\b[^>]*>", form, re.S):
        attrs = {k.lower(): html.unescape(v1 or v2) for k, v1, v2 in re.findall(r"""([\w-]+)=(?:'([^']*)'|"([^"]*)")""", tag)}
        kind = attrs.get("type", "text").lower()
        if "name" not in attrs or kind in ("submit", "button", "image", "file"):
            continue
        if kind in ("checkbox", "radio") and not re.search(r"\schecked\b", tag):
            continue
        fields[attrs["name"]] = attrs.get("value", "on")
    for name, body in re.findall(r'<select\b[^>]*name="([^"]*)"[^>]*>(.*?)</select>', form, re.S):
        options = re.findall(r"<option\b([^>]*)>", body)
        chosen = next((o for o in options if re.search(r"\sselected\b", o)), options[0] if options else "")
        value = re.search(r"""value=(?:'([^']*)'|"([^"]*)")""", chosen)
        fields[html.unescape(name)] = html.unescape((value.group(1) or value.group(2)) if value else "")
    for name, body in re.findall(r'<textarea\b[^>]*name="([^"]*)"[^>]*>(.*?)</textarea>', form, re.S):
        fields[html.unescape(name)] = html.unescape(body)
    return fields


def member_edit_panel(bed, member: Member) -> tuple[str, str]:
    """Edit Member's Memberships panel as the administrator sees it: (its form's action, its HTML)."""
    url = f"{bed.site.url}/wp-admin/admin.php?page=pmpro-member&user_id={member.id}&pmpro_member_edit_panel=memberships"
    page = admin_session(bed).get(url, timeout=60)
    assert page.status_code == 200, page.text[-1500:]
    for form in re.findall(r"<form\b.*?</form>", page.text, re.S):
        action = re.search(r'<form\b[^>]*action="([^"]*)"', form)
        if action and "pmpro_member_edit_panel=memberships" in html.unescape(action.group(1)):
            return html.unescape(action.group(1)), form
    raise AssertionError(f"no Memberships panel on Edit Member:\n{page.text[-3000:]}")


def press(bed, member: Member, button: str, **fields) -> str:
    """Submits the Memberships panel as shown, with `fields` changed and the button named
    "pmpro-member-edit-memberships-panel-{button}" pressed (its value as on the page); returns
    PMPro's messages, joined (PMPro refusing fails here)."""
    action, form = member_edit_panel(bed, member)
    name = f"pmpro-member-edit-memberships-panel-{button}"
    value = re.search(rf'<button[^>]*name="{re.escape(name)}"[^>]*value="([^"]*)"', form)
    assert value, f"no {button} button on the panel:\n{form[-3000:]}"
    data = {**_browser_fields(form), name: value.group(1), **fields}
    assert "pmpro_member_edit_saved_panel_nonce" in data
    response = admin_session(bed).post(action, data=data, timeout=60)
    assert response.status_code == 200, response.text[-1500:]
    messages = [(kind, re.sub(r"<[^>]+>", "", text).strip()) for kind, text in re.findall(
        r'<div[^>]*class="([^"]*pmpro_message[^"]*)"[^>]*>(.*?)</div>', response.text, re.S)]
    assert not [text for kind, text in messages if "pmpro_error" in kind], f"PMPro refused: {messages}"
    return " | ".join(text for _, text in messages)


def test_an_administrator_removes_the_level_on_edit_member(bed):
    """"Cancel Membership" (payment subscription: "Cancel payment subscription", the default):
    PMPro removes the level now and cancels at PayPal. One cancellation, by the administrator,
    access ending at the moment PMPro wrote as the end."""
    member = Member(bed, "adminremoves")
    level_id = bed.setup["levels"]["Mensuel"]
    checkout(bed, member)
    events, _ = changes(bed, member, lambda: press(bed, member, "cancel_level"))
    state = membership(bed, member, level_id)
    assert not state["has_level"] and state["status"] == "admin_cancelled", state
    assert state["subscription"]["status"] == "cancelled", state
    event = only(events, "subscription.cancelled")
    assert_subscription(event, member, "Mensuel", level_id, "cancelled", "admin")
    assert utc(event["subscription"]["access_ends_at"]) == site_local(state["enddate"], "")

    # PayPal confirms the cancel PMPro asked for: nothing changed for the member, nothing sent.
    events, log = changes(bed, member, lambda: ipn(
        bed, txn_type="subscr_cancel", subscr_id=state["subscription"]["subscription_transaction_id"]))
    assert events == [], log


def test_an_administrator_changes_the_level_on_edit_member(bed):
    """"Change Membership" to another level of the same group: PMPro gives the new level (free of
    charge, as Edit Member does) and ends the old one as 'admin_changed' without its
    pmpro_after_change_membership_level( 0, … ) — one event: the new membership, by the
    administrator; none for the old level."""
    member = Member(bed, "adminchanges")
    old_id, new_id = bed.setup["levels"]["Mensuel"], bed.setup["levels"]["Annuel"]
    checkout(bed, member)
    _, form = member_edit_panel(bed, member)
    group = re.search(r'name="pmpro-member-edit-memberships-panel-add_level_to_group"[^>]*value="(\d+)"', form).group(1)
    events, _ = changes(bed, member, lambda: press(
        bed, member, "add_level_to_group", **{f"pmpro-member-edit-memberships-panel-add_level_to_group_{group}[level_id]": str(new_id)}))
    old = membership(bed, member, old_id)
    assert not old["has_level"] and old["status"] == "admin_changed", old
    assert old["subscription"]["status"] == "cancelled", old  # PayPal stops billing the old level
    state = membership(bed, member, new_id)
    assert state["has_level"], state
    created = only(events, "subscription.created")
    assert created["initiated_by"] == "admin" and created["member"]["id"] == str(member.id)
    sub = created["subscription"]
    assert (sub["id"], sub["plan_id"], sub["plan_name"], sub["status"], sub["amount"], sub["currency"]) == (
        f"{member.id}-{new_id}", str(new_id), "Annuel", "active", "0.00", "EUR"), sub
    assert utc(sub["started_at"]) == site_local(state["startdate"], "") <= utc(created["occurred_at"])
    assert "access_ends_at" not in sub, sub
    # The new level names the one it replaced, which the sidecar then counts as no longer active
    # (replaced: no cancellation, no churn; task 13y).
    assert sub["replaces"] == f"{member.id}-{old_id}", sub
    assert bed.subscription(f"{member.id}-{old_id}")["status"] == "replaced"
    assert bed.subscription(f"{member.id}-{new_id}")["status"] == "active"


def test_an_administrator_ends_the_subscription_with_time_left_on_edit_member(bed):
    """"Edit Membership" with an end date (the field shows the next payment date) and "Cancel the
    user's subscription": the level stays until that date and PayPal stops billing — one
    cancellation, by the administrator, access ending on that date."""
    member = Member(bed, "adminends")
    level_id = bed.setup["levels"]["Annuel"]
    checkout(bed, member, "Annuel")
    base = f"pmpro-member-edit-memberships-panel-edit_level_{level_id}"
    events, _ = changes(bed, member, lambda: press(
        bed, member, "edit_level", **{f"{base}[expires]": "1", f"{base}[cancel_subscription]": "1"}))
    state = membership(bed, member, level_id)
    assert state["has_level"] and state["enddate"] and state["subscription"]["status"] == "cancelled", state
    event = only(events, "subscription.cancelled")
    assert_subscription(event, member, "Annuel", level_id, "cancelled", "admin")
    assert utc(event["subscription"]["access_ends_at"]) == site_local(state["enddate"], "")
    assert utc(event["subscription"]["access_ends_at"]) > utc(event["occurred_at"]) + timedelta(days=360)


def test_saving_edit_member_unchanged_sends_nothing(bed):
    """"Edit Membership" pressed with the panel as shown (no end date, the subscription kept):
    nothing changed for the member, nothing is sent. (PMPro says nothing that proves it saved —
    its one message slot often holds its license-server notice — but press() is the same request
    that changes the membership in the tests above.)"""
    member = Member(bed, "adminsaves")
    level_id = bed.setup["levels"]["Mensuel"]
    before = checkout(bed, member)
    events, message = changes(bed, member, lambda: press(bed, member, "edit_level"))
    after = membership(bed, member, level_id)
    assert after["has_level"] and after["subscription"]["status"] == "active", (message, after)
    assert (after["id"], after["startdate"], after["enddate"]) == (before["id"], before["startdate"], before["enddate"])
    assert events == [], message


# --------------------------------------------------------------------------- dates
@pytest.mark.parametrize("zone", ["Europe/Paris", "America/New_York"])
def test_dates_are_read_in_the_sites_time_zone(bed68, site_timezone, zone):
    """PMPro writes startdate with current_time('mysql') and the Cancel page's end date with
    pmpro_set_expiration_date(): wall-clock times of the site's zone. Sent as true UTC moments."""
    bed = bed68
    site_timezone(zone)
    member = Member(bed, "zone")
    level_id = bed.setup["levels"]["Mensuel"]
    before = datetime.now(timezone.utc).replace(microsecond=0)
    events, state = changes(bed, member, lambda: checkout(bed, member))
    after = datetime.now(timezone.utc)
    created = only(events, "subscription.created")
    started = utc(created["subscription"]["started_at"])
    assert started == site_local(state["startdate"], zone)
    assert before - timedelta(seconds=1) <= started <= after, (before, started, after)

    events, _ = changes(bed, member, lambda: cancel_page(bed, member, level_id))
    cancelled = only(events, "subscription.cancelled")
    state = membership(bed, member, level_id)
    assert utc(cancelled["subscription"]["access_ends_at"]) == site_local(state["enddate"], zone)
    assert utc(cancelled["subscription"]["started_at"]) == started <= utc(cancelled["occurred_at"])


def expiry_run(bed, member: Member, level_id: int, moment: datetime) -> dict:
    """PMPro's expiry at `moment` (a faked clock): its quarter-hourly check_for_expired_memberships()
    queues pmpro_expire_memberships in Action Scheduler, whose runner then executes it."""
    return bed.site.wp_json(f"""
        PMPro_Recurring_Actions::instance()->check_for_expired_memberships();
        $ids = as_get_scheduled_actions(array('hook' => 'pmpro_expire_memberships', 'status' => 'pending',
            'args' => array('user_id' => '{member.id}', 'membership_id' => '{level_id}'), 'per_page' => 5), 'ids');
        foreach ($ids as $id) {{ ActionScheduler::runner()->process_action($id, 'farewell-test'); }}
        pmpro_clear_level_cache_for_user({member.id});
        return array('queued' => count($ids), 'has_level' => pmpro_hasMembershipLevel({level_id}, {member.id}));
    """, env=php_env_at(moment.strftime("%Y-%m-%d %H:%M:%S")))


@pytest.mark.parametrize("zone, start, end_local", [
    # Given on summer time, ending on winter time (Europe changed on 25 October 2026 at 01:00 UTC,
    # the United States on 1 November at 06:00 UTC).
    ("Europe/Paris", datetime(2026, 10, 20, 10, 0, tzinfo=timezone.utc), "2026-10-25 03:30:00"),
    ("America/New_York", datetime(2026, 10, 28, 15, 0, tzinfo=timezone.utc), "2026-11-01 03:30:00"),
])
def test_expiry_across_a_daylight_saving_change(bed68, site_timezone, zone, start, end_local):
    """The administrator gives a level (pmpro_changeMembershipLevel, as Edit Member does) and an end
    date on the other side of a daylight-saving change (pmpro_set_expiration_date, the screen's
    "ends" field); PMPro's expiry removes it when the site's clock reaches it — access_ends_at is
    that moment, and nothing is sent a minute before."""
    bed = bed68
    site_timezone(zone)
    member = Member(bed, "dst")
    level_id = bed.setup["levels"]["Mensuel"]
    env = php_env_at(start.strftime("%Y-%m-%d %H:%M:%S"))

    def give():
        bed.site.wp_eval(f"pmpro_changeMembershipLevel({level_id}, {member.id});"
                         f"pmpro_set_expiration_date({member.id}, {level_id}, '{end_local}');", env=env)
    began = time.monotonic()
    events, _ = changes(bed, member, give)
    took = timedelta(seconds=time.monotonic() - began + 1)  # how far the faked clock ran on, and a second
    created = only(events, "subscription.created")
    assert start <= utc(created["subscription"]["started_at"]) <= start + took, created
    ends = site_local(end_local, zone)
    assert ends.utcoffset() == timedelta(0)

    events, run = changes(bed, member, lambda: expiry_run(bed, member, level_id, ends - timedelta(minutes=1)))
    assert run == {"queued": 0, "has_level": True} and events == [], (run, events)

    began = time.monotonic()
    events, run = changes(bed, member, lambda: expiry_run(bed, member, level_id, ends + timedelta(minutes=1)))
    took = timedelta(seconds=time.monotonic() - began + 1)
    assert run["has_level"] is False, run
    expired = only(events, "subscription.expired")
    assert expired["initiated_by"] == "system" and expired["member"]["id"] == str(member.id)
    sub = expired["subscription"]
    # Edit Member gives a level free of charge (initial and billing amounts 0): what PMPro charges.
    assert (sub["id"], sub["plan_id"], sub["plan_name"], sub["status"], sub["amount"], sub["currency"]) == (
        f"{member.id}-{level_id}", str(level_id), "Mensuel", "expired", "0.00", "EUR"), sub
    removed = utc(expired["subscription"]["access_ends_at"])
    # Removed by the run a minute after the end, as of its faked clock (however long the run took).
    assert ends <= removed <= ends + timedelta(minutes=1) + took, (ends, removed)
    assert utc(expired["subscription"]["started_at"]) < ends
