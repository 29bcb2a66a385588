"""MemberPress 1.12.11 itself (not a stand-in) on WordPress 6.8, with the bridge and the real sidecar.

Every way a subscription starts, ends or changes goes through MemberPress's own code: its checkout
page, its account page (over HTTP signed in as the member, and once in Chromium), the buttons of
its Subscriptions screen (the admin-ajax calls their script makes), PayPal's IPNs posted to its
gateway listener (PayPal's servers are played by fixtures/real-plugins/paypal-stand-in.php), its
expiry cron. Each must reach the sidecar as exactly one event, of the right type and initiator,
with the member, plan, amount, currency and interval — and nothing at all where nothing changed
for the member. Dates: what the sidecar receives is compared with MemberPress's own storage (UTC)
and with the moment MemberPress itself stops granting access, on sites in Europe/Paris and
America/New_York and across a daylight-saving change.

One site for the whole module (tests/wordpress/real_plugins.py); each test has members of its own.
"""

from __future__ import annotations

import json
import re
import secrets
from datetime import datetime, timedelta, timezone

import pytest
import requests

from tests.support.wordpress import sign_in
from tests.wordpress.real_plugins import Member, assert_event, changes, form_fields, only, php_env_at, utc
from tests.wordpress.site import ADMIN_PASSWORD, ADMIN_USER

CANCELLED = "Your subscription was successfully cancelled."
PAUSED = "Your subscription was successfully paused."
RESUMED = "You successfully resumed your subscription."
PLANS = {"Or": ("29.00", "month"), "Argent": ("9.90", "week"), "Platine": ("290.00", "year")}


@pytest.fixture(scope="module")
def bed(real_plugin_bed):
    bed = real_plugin_bed("memberpress", "6.8")
    # What a site owner ticks on MemberPress → Settings → Account to let members pause.
    bed.site.wp_eval("$o = MeprOptions::fetch(); $o->allow_suspend_subs = true; $o->store(false);")
    return bed


@pytest.fixture
def site_timezone(bed, request):
    """Sets the site's time zone (Settings → General) for one test; UTC again afterwards."""
    def set_zone(name: str):
        bed.site.wp_eval(f"update_option('timezone_string', '{name}'); update_option('gmt_offset', '');")
    yield set_zone
    set_zone("UTC")


# --------------------------------------------------------------------------- helpers
def mysql_utc(text: str) -> datetime:
    """A MemberPress date column ("Y-m-d H:i:s", UTC by MemberPress's convention: MeprUtils::db_now())."""
    return datetime.strptime(text[:19].replace("T", " "), "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc)


def subscription_state(bed, sub_id: int) -> dict:
    """MemberPress's own view of a subscription."""
    return bed.site.wp_json(f"""
        $sub = new MeprSubscription({int(sub_id)});
        $user = new MeprUser($sub->user_id);
        return array('status' => $sub->status, 'created_at' => $sub->created_at,
            'expires_at' => $sub->expires_at, 'price' => $sub->price, 'period_type' => $sub->period_type,
            'subscr_id' => $sub->subscr_id, 'product_id' => (int) $sub->product_id,
            'active' => $user->is_already_subscribed_to($sub->product_id));
    """)


def account_url(bed) -> str:
    return bed.setup["account_url"]


def latest_subscription(bed, member: Member) -> int:
    return int(bed.site.wp_json(f"""
        global $wpdb;
        return (int) $wpdb->get_var($wpdb->prepare("SELECT id FROM {{$wpdb->prefix}}mepr_subscriptions
            WHERE user_id = %d ORDER BY id DESC LIMIT 1", {member.id}));
    """))


def latest_transaction(bed, member: Member) -> int:
    return int(bed.site.wp_json(f"""
        global $wpdb;
        return (int) $wpdb->get_var($wpdb->prepare("SELECT id FROM {{$wpdb->prefix}}mepr_transactions
            WHERE user_id = %d ORDER BY id DESC LIMIT 1", {member.id}));
    """))


def checkout(bed, member: Member, plan: str | int, gateway: str) -> int:
    """The member buys `plan` (a name of the bed's plans, or a product id) on MemberPress's
    checkout form (the membership's page), signed in."""
    product_id = plan if isinstance(plan, int) else bed.setup["plans"][plan]
    url = bed.site.wp_json(f"return get_permalink({product_id});")
    with member.session(bed) as session:
        page = session.get(url, timeout=60)
        assert page.status_code == 200, page.text[:500]
        fields = form_fields(page.text, "mepr_process_signup_form")
        fields["mepr_payment_method"] = gateway
        fields["mepr_no_val"] = ""
        response = session.post(url, data=fields, timeout=60, allow_redirects=False)
    assert response.status_code in (302, 303), f"checkout answered {response.status_code}: {response.text[:800]}"
    return latest_subscription(bed, member)


def account_action(bed, member: Member, action: str, sub_id: int, expected: str) -> None:
    """What the account page's links do: {account}?action=cancel|suspend|resume&sub=ID, signed in."""
    url = account_url(bed)
    delim = "&" if "?" in url else "?"
    with member.session(bed) as session:
        response = session.get(f"{url}{delim}action={action}&sub={sub_id}", timeout=60)
    assert response.status_code == 200, response.text[:500]
    assert expected in response.text, response.text[-3000:]


def admin_ajax(bed, action: str, nonce_name: str, **data) -> str:
    """What a button of MemberPress → Subscriptions does: its script posts to admin-ajax.php with
    the nonce the page gave it (MeprSub.*_nonce)."""
    with bed.site.login(ADMIN_USER, ADMIN_PASSWORD) as session:
        page = session.get(f"{bed.site.url}/wp-admin/admin.php?page=memberpress-subscriptions", timeout=60)
        assert page.status_code == 200, page.text[:500]
        match = re.search(r"var MeprSub = (\{.*?\});", page.text)
        assert match, "no MeprSub settings on the Subscriptions screen"
        nonce = json.loads(match.group(1))[nonce_name]
        response = session.post(f"{bed.site.url}/wp-admin/admin-ajax.php",
                                data={"action": action, "mepr_subscriptions_nonce": nonce, **data}, timeout=60)
    assert response.status_code == 200, response.text[:500]
    return response.text


def paypal_ipn(bed, **fields) -> requests.Response:
    """PayPal posting an IPN to MemberPress's listener, with no session (as PayPal does)."""
    url = f"{bed.site.url}/index.php?plugin=mepr&pmt={bed.setup['paypal']}&action=ipn"
    response = requests.post(url, data=fields, timeout=60)
    assert response.status_code == 200, response.text[:500]
    return response


def paypal_subscription(bed, member: Member, plan: str = "Or") -> tuple[int, str]:
    """The member checks out with PayPal; PayPal then sends the first payment's IPN (the real
    order: MemberPress activates the subscription on subscr_payment). Returns (id, PayPal's I-…)."""
    sub_id = checkout(bed, member, plan, bed.setup["paypal"])
    txn_id = latest_transaction(bed, member)
    profile = f"I-{secrets.token_hex(6).upper()}"
    paypal_ipn(bed, txn_type="subscr_payment", subscr_id=profile, item_number=str(txn_id),
               custom=json.dumps({"gateway_id": bed.setup["paypal"]}), mc_gross=PLANS[plan][0],
               mc_currency="EUR", payment_status="Completed", txn_id=f"PAY-{secrets.token_hex(6)}",
               ipn_track_id=secrets.token_hex(6))
    state = subscription_state(bed, sub_id)
    assert state["status"] == "active" and state["subscr_id"] == profile, state
    return sub_id, profile


def assert_subscription(event: dict, member: Member, sub_id: int, plan: str, status: str, initiated_by: str):
    amount, interval = PLANS[plan]
    assert_event(event, member, source="memberpress", initiated_by=initiated_by, status=status, id=str(sub_id),
                 plan_name=plan, amount=amount, currency="EUR", interval=interval)


def assert_access_ends_as_memberpress_says(bed, event: dict, sub_id: int):
    """access_ends_at is MemberPress's own expiry of the subscription (UTC in its tables)."""
    state = subscription_state(bed, sub_id)
    assert state["expires_at"], state
    assert utc(event["subscription"]["access_ends_at"]) == mysql_utc(state["expires_at"]), (event, state)


def cli_checkout(bed, member: Member, plan: str, env: dict | None = None) -> int:
    """The checkout's own steps (MeprCheckoutCtrl::prepare_transaction, then the payment method's
    process_payment_form), in a CLI request: for the tests that need a clock in the past."""
    return int(bed.site.wp_json(f"""
        wp_set_current_user({member.id});
        list($txn, $sub) = MeprCheckoutCtrl::prepare_transaction(new MeprProduct({bed.setup['plans'][plan]}), 0,
            {member.id}, '{bed.setup['offline']}');
        MeprOptions::fetch()->payment_method('{bed.setup['offline']}')->process_payment_form($txn);
        return (int) $sub->id;
    """, env=env))


def is_active_at(bed, member: Member, plan: str, moment: datetime) -> bool:
    """Whether MemberPress grants the member the plan at `moment` (its own check, on a clock set there)."""
    return bed.site.wp_json(f"""
        $user = new MeprUser({member.id});
        return $user->is_already_subscribed_to({bed.setup['plans'][plan]});
    """, env=php_env_at(moment.strftime("%Y-%m-%d %H:%M:%S")))


# --------------------------------------------------------------------------- starts
def test_a_checkout_gives_one_created_event_once_the_subscription_is_active(bed):
    member = Member(bed, "buyer")
    events, sub_id = changes(bed, member, lambda: checkout(bed, member, "Or", bed.setup["offline"]))
    created = only(events, "subscription.created")
    assert_subscription(created, member, sub_id, "Or", "active", "member")
    assert_access_ends_as_memberpress_says(bed, created, sub_id)
    assert subscription_state(bed, sub_id)["active"]


def test_a_checkout_left_at_paypal_gives_no_event(bed):
    """The member chose PayPal and never paid: MemberPress keeps a pending subscription, the
    member has nothing — no comeback for the sidecar."""
    member = Member(bed, "abandons")
    events, sub_id = changes(bed, member, lambda: checkout(bed, member, "Or", bed.setup["paypal"]))
    assert events == []
    assert subscription_state(bed, sub_id)["status"] == "pending"


def test_paypal_activating_a_subscription_gives_one_created_event(bed):
    member = Member(bed, "paypal")
    events, (sub_id, _) = changes(bed, member, lambda: paypal_subscription(bed, member, "Platine"))
    created = only(events, "subscription.created")
    assert_subscription(created, member, sub_id, "Platine", "active", "gateway")
    assert_access_ends_as_memberpress_says(bed, created, sub_id)


# --------------------------------------------------------------------------- the member
def test_the_member_cancels_on_the_account_page(bed):
    member = Member(bed, "cancels")
    sub_id = checkout(bed, member, "Argent", bed.setup["offline"])
    events, _ = changes(bed, member, lambda: account_action(bed, member, "cancel", sub_id, CANCELLED))
    cancelled = only(events, "subscription.cancelled")
    assert_subscription(cancelled, member, sub_id, "Argent", "cancelled", "member")
    assert_access_ends_as_memberpress_says(bed, cancelled, sub_id)
    assert subscription_state(bed, sub_id)["active"]  # until the end of the paid period

    # The same link again (a reload, a double click): MemberPress changes nothing, nor do we.
    events, _ = changes(bed, member, lambda: account_action(bed, member, "cancel", sub_id, "Subscriptions"))
    assert events == []


def test_the_event_reads_the_products_post_alone_and_carries_what_memberpress_says(bed):
    """Issue 15: the plan's name is read with get_post(), one query, not with MemberPress's
    MeprProduct, which also reads every meta of the product on the member's cancel; the event is
    the same as through MemberPress's own product() (which a filter on it makes the bridge use)."""
    member = Member(bed, "product-read")
    sub_id = checkout(bed, member, "Platine", bed.setup["offline"])
    read = bed.site.wp_json(f"""
        global $wpdb;
        $source = new Farewell_Bridge_Source_Memberpress();
        $sub = new MeprSubscription({sub_id});
        $queries = array();
        $record = function ( $query ) use ( &$queries ) {{ $queries[] = $query; return $query; }};
        wp_cache_flush();
        add_filter( 'query', $record );
        $event = $source->subscription( $sub, 'subscription.cancelled' );
        remove_filter( 'query', $record );
        $product = (int) $sub->product_id;
        $meta = preg_grep( '/' . preg_quote( $wpdb->postmeta, '/' ) . '/', $queries );
        $posts = preg_grep( '/FROM ' . preg_quote( $wpdb->posts, '/' ) . '/', $queries );
        // Through MemberPress's product(), as the bridge read it before and still does when filtered.
        add_filter( 'mepr_subscription_product', function ( $p ) {{ return $p; }} );
        wp_cache_flush();
        $through_memberpress = $source->subscription( new MeprSubscription({sub_id}), 'subscription.cancelled' );
        return array( 'event' => $event, 'memberpress' => $through_memberpress, 'meta' => array_values( $meta ),
            'posts' => array_values( $posts ), 'title' => ( new MeprProduct( $product ) )->post_title );
    """)
    assert read["meta"] == [], read["meta"]
    assert len(read["posts"]) == 1, read["posts"]
    assert read["event"]["plan_name"] == read["title"] == "Platine"
    assert read["event"] == read["memberpress"]


def test_the_member_pauses_and_resumes_on_the_account_page(bed):
    member = Member(bed, "pauses")
    sub_id, _ = paypal_subscription(bed, member)
    events, _ = changes(bed, member, lambda: account_action(bed, member, "suspend", sub_id, PAUSED))
    assert_subscription(only(events, "subscription.paused"), member, sub_id, "Or", "paused", "member")
    events, _ = changes(bed, member, lambda: account_action(bed, member, "resume", sub_id, RESUMED))
    resumed = only(events, "subscription.resumed")
    assert_subscription(resumed, member, sub_id, "Or", "active", "member")
    assert_access_ends_as_memberpress_says(bed, resumed, sub_id)


def test_cancelled_reactivated_and_cancelled_again_gives_two_cancellations(bed):
    """MemberPress records its subscription-stopped event once per subscription: the second
    cancel only updates that row. The member still cancelled twice."""
    member = Member(bed, "twice")
    sub_id = checkout(bed, member, "Or", bed.setup["offline"])
    account_action(bed, member, "cancel", sub_id, CANCELLED)
    events, _ = changes(bed, member, lambda: admin_ajax(bed, "mepr_subscr_edit_status", "update_status_subscription_nonce",
                                                           id=sub_id, value="active"))
    assert_subscription(only(events, "subscription.resumed"), member, sub_id, "Or", "active", "admin")
    events, _ = changes(bed, member, lambda: account_action(bed, member, "cancel", sub_id, CANCELLED))
    assert_subscription(only(events, "subscription.cancelled"), member, sub_id, "Or", "cancelled", "member")


# --------------------------------------------------------------------------- the administrator
def test_an_administrator_cancels_with_the_subscriptions_screen_button(bed):
    member = Member(bed, "admincancel")
    sub_id = checkout(bed, member, "Or", bed.setup["offline"])
    events, answer = changes(bed, member, lambda: admin_ajax(bed, "mepr_cancel_subscription", "cancel_subscription_nonce",
                                                                id=sub_id))
    assert answer == "true"
    cancelled = only(events, "subscription.cancelled")
    assert_subscription(cancelled, member, sub_id, "Or", "cancelled", "admin")
    assert_access_ends_as_memberpress_says(bed, cancelled, sub_id)


def test_an_administrator_changes_the_status_in_the_list(bed):
    """The status drop-down of MemberPress → Subscriptions stores the status and records no
    MemberPress event at all: the change is still the member's subscription ending."""
    member = Member(bed, "adminstatus")
    sub_id = checkout(bed, member, "Platine", bed.setup["offline"])
    events, _ = changes(bed, member, lambda: admin_ajax(bed, "mepr_subscr_edit_status", "update_status_subscription_nonce",
                                                           id=sub_id, value="cancelled"))
    assert_subscription(only(events, "subscription.cancelled"), member, sub_id, "Platine", "cancelled", "admin")
    # The same status again: nothing changed for the member.
    events, _ = changes(bed, member, lambda: admin_ajax(bed, "mepr_subscr_edit_status", "update_status_subscription_nonce",
                                                           id=sub_id, value="cancelled"))
    assert events == []


def test_an_administrator_deletes_a_subscription(bed):
    """Deleting removes its transactions: MemberPress stops granting access at once."""
    member = Member(bed, "admindelete")
    sub_id = checkout(bed, member, "Or", bed.setup["offline"])
    events, answer = changes(bed, member, lambda: admin_ajax(bed, "mepr_delete_subscription", "delete_subscription_nonce",
                                                                id=sub_id))
    assert answer == "true"
    ended = only(events, "subscription.expired")
    assert_subscription(ended, member, sub_id, "Or", "expired", "admin")
    assert utc(ended["subscription"]["access_ends_at"]) == utc(ended["occurred_at"])
    assert not bed.site.wp_json(f"return (new MeprUser({member.id}))->is_already_subscribed_to({bed.setup['plans']['Or']});")


# --------------------------------------------------------------------------- the payment service
def upgrade_path(bed) -> dict:
    """Two new plans of one MemberPress group that is an upgrade path (as Groups → "Upgrade path"
    sets it): a member of one who buys the other upgrades or downgrades."""
    return bed.site.wp_json(r"""
        $group = new MeprGroup();
        $group->post_title = 'Paliers ' . wp_generate_password(6, false);
        $group->post_status = 'publish';
        $group->is_upgrade_path = true;
        $group->store();
        $plans = array();
        foreach (array(array('Bronze', '10.00', 0), array('Diamant', '50.00', 1)) as $row) {
            $product = new MeprProduct();
            $product->post_title = $row[0];
            $product->post_status = 'publish';
            $product->price = $row[1];
            $product->period = 1;
            $product->period_type = 'months';
            $product->group_id = $group->ID;
            $product->group_order = $row[2];
            $product->store();
            $plans[$row[0]] = $product->ID;
        }
        return $plans;
    """)


def test_an_upgrade_names_the_subscription_it_replaces(bed):
    """The member buys the upper plan of an upgrade path while the lower one runs: MemberPress
    cancels the old subscription silently (no cancellation reported), and the new one's start
    names it, so that the sidecar holds it as replaced, not active and no churn (task 13y)."""
    plans = upgrade_path(bed)
    member = Member(bed, "upgrades")
    old_id = checkout(bed, member, plans["Bronze"], bed.setup["offline"])
    events, new_id = changes(bed, member, lambda: checkout(bed, member, plans["Diamant"], bed.setup["offline"]))
    assert new_id != old_id
    created = only(events, "subscription.created")
    assert created["subscription"]["id"] == str(new_id) and created["subscription"]["plan_name"] == "Diamant"
    assert created["subscription"]["replaces"] == str(old_id), created
    assert bed.subscription(old_id)["status"] == "replaced"
    assert bed.subscription(new_id)["status"] == "active"


def test_paypal_cancels_the_subscription(bed):
    member = Member(bed, "ppcancel")
    sub_id, profile = paypal_subscription(bed, member)
    ipn = dict(txn_type="subscr_cancel", subscr_id=profile, ipn_track_id=secrets.token_hex(6))
    events, _ = changes(bed, member, lambda: paypal_ipn(bed, **ipn))
    cancelled = only(events, "subscription.cancelled")
    assert_subscription(cancelled, member, sub_id, "Or", "cancelled", "gateway")
    assert_access_ends_as_memberpress_says(bed, cancelled, sub_id)
    # PayPal sends the same IPN again (it does, until answered in time): nothing changed.
    events, _ = changes(bed, member, lambda: paypal_ipn(bed, **ipn))
    assert events == []


def test_a_renewal_paid_is_one_payment_succeeded_a_renewal_failed_ends_access_once_and_its_retry_resumes_it(bed):
    member = Member(bed, "renewal")
    # The first payment (PayPal's first IPN) starts the subscription: no renewal.
    events, (sub_id, profile) = changes(bed, member, lambda: paypal_subscription(bed, member))
    only(events, "subscription.created")
    renewal = dict(txn_type="subscr_payment", subscr_id=profile, mc_gross="29.00", mc_currency="EUR",
                   payment_status="Completed", txn_id=f"PAY-{secrets.token_hex(6)}")
    events, _ = changes(bed, member, lambda: paypal_ipn(bed, **renewal))
    succeeded = only(events, "payment.succeeded")
    assert_subscription(succeeded, member, sub_id, "Or", "active", "gateway")
    assert_access_ends_as_memberpress_says(bed, succeeded, sub_id)
    assert bed.at_risk(sub_id)["last_succeeded_at"] == utc(succeeded["occurred_at"])
    # PayPal sends the same IPN again: MemberPress stores nothing new, nor do we.
    events, _ = changes(bed, member, lambda: paypal_ipn(bed, **renewal))
    assert events == []

    failure = dict(txn_type="subscr_failed", subscr_id=profile, mc_gross="29.00", ipn_track_id=secrets.token_hex(6))
    events, _ = changes(bed, member, lambda: paypal_ipn(bed, **failure))
    assert sorted(e["type"] for e in events) == ["payment.failed", "subscription.expired"], events
    failed, = (e for e in events if e["type"] == "payment.failed")
    ended, = (e for e in events if e["type"] == "subscription.expired")
    assert_subscription(failed, member, sub_id, "Or", "active", "gateway")
    # MemberPress expires the subscription's transactions on a failed payment: access ends now,
    # and the subscription stays active (PayPal retries): a lapse, not a cancellation.
    state = subscription_state(bed, sub_id)
    assert not state["active"] and state["status"] == "active", state
    assert utc(failed["subscription"]["access_ends_at"]) == utc(failed["occurred_at"])
    assert_subscription(ended, member, sub_id, "Or", "expired", "system")
    assert utc(ended["occurred_at"]) == utc(ended["subscription"]["access_ends_at"]) == utc(failed["occurred_at"])

    # The lapse at the failure's instant is access ended for that failure, not a way off the list
    # (sidecar/domain/at_risk.py's rules): the member is at risk until PayPal's retry pays.
    at_risk = bed.at_risk(sub_id)
    assert at_risk["on_list"] and at_risk["failed_attempts"] == 1, at_risk
    # Its expiry cron then finds the transactions it back-dated by a day: already reported.
    events, _ = changes(bed, member, lambda: bed.site.wp_eval(
        "define('DOING_CRON', true); do_action('mepr_send_txn_expire_events');"))
    assert events == []

    # PayPal's retry goes through: access is back, and the payment is a renewal.
    retry = dict(renewal, txn_id=f"PAY-{secrets.token_hex(6)}")
    events, _ = changes(bed, member, lambda: paypal_ipn(bed, **retry))
    assert sorted(e["type"] for e in events) == ["payment.succeeded", "subscription.resumed"], events
    resumed, = (e for e in events if e["type"] == "subscription.resumed")
    succeeded, = (e for e in events if e["type"] == "payment.succeeded")
    assert_subscription(resumed, member, sub_id, "Or", "active", "gateway")
    assert_access_ends_as_memberpress_says(bed, resumed, sub_id)
    assert_subscription(succeeded, member, sub_id, "Or", "active", "gateway")
    assert_access_ends_as_memberpress_says(bed, succeeded, sub_id)
    assert subscription_state(bed, sub_id)["active"]
    at_risk = bed.at_risk(sub_id)
    assert not at_risk["on_list"] and at_risk["failed_attempts"] == 0, at_risk
    assert at_risk["last_succeeded_at"] == utc(succeeded["occurred_at"]), at_risk



def test_the_member_cancels_on_the_account_page_in_a_browser(bed, page):
    """Chromium on MemberPress's account page: Subscriptions → the row's actions → Cancel → "Yes"."""
    member = Member(bed, "browser")
    sub_id = checkout(bed, member, "Or", bed.setup["offline"])
    url = account_url(bed)
    delim = "&" if "?" in url else "?"

    def cancel_in_the_browser():
        sign_in(page, bed.site, member, then=f"{url}{delim}action=subscriptions")
        page.click(f"#mepr-action-{sub_id}")  # the row's actions menu (ReadyLaunch account template)
        page.click(f"a[href='#mepr-cancel-sub-{sub_id}']")
        with page.expect_navigation():
            page.click(f"#mepr-cancel-sub-{sub_id} .mepr-confirm-yes")
        page.get_by_text(CANCELLED).wait_for()

    events, _ = changes(bed, member, cancel_in_the_browser)
    cancelled = only(events, "subscription.cancelled")
    assert_subscription(cancelled, member, sub_id, "Or", "cancelled", "member")
    assert_access_ends_as_memberpress_says(bed, cancelled, sub_id)


# --------------------------------------------------------------------------- time: expiry, zones, daylight saving
def at(moment: datetime) -> dict:
    return php_env_at(moment.strftime("%Y-%m-%d %H:%M:%S"))


@pytest.mark.parametrize("zone, start", [
    # Both subscriptions start on summer time and end on winter time (Europe changed on
    # 25 October 2026, the United States on 1 November).
    ("Europe/Paris", datetime(2026, 10, 20, 9, 0, tzinfo=timezone.utc)),
    ("America/New_York", datetime(2026, 10, 28, 14, 0, tzinfo=timezone.utc)),
])
def test_dates_are_memberpress_utc_across_a_daylight_saving_change(bed, site_timezone, zone, start):
    """MemberPress stores UTC whatever the site's zone; the sidecar must get the same instants,
    and the expiry must be the moment MemberPress itself stops granting access."""
    site_timezone(zone)
    member = Member(bed, "dst")

    events, sub_id = changes(bed, member, lambda: cli_checkout(bed, member, "Or", env=at(start)))
    created = only(events, "subscription.created")
    state = subscription_state(bed, sub_id)
    assert_subscription(created, member, sub_id, "Or", "active", "system")  # a CLI request
    assert utc(created["subscription"]["started_at"]) == mysql_utc(state["created_at"])
    assert start <= mysql_utc(state["created_at"]) < start + timedelta(minutes=2)
    assert start <= utc(created["occurred_at"]) < start + timedelta(minutes=2)
    ends = mysql_utc(state["expires_at"])
    assert ends > datetime(2026, 11, 2, tzinfo=timezone.utc)  # after both changes
    assert utc(created["subscription"]["access_ends_at"]) == ends

    cancel_at = start + timedelta(days=2)
    events, _ = changes(bed, member, lambda: bed.site.wp_eval(
        f"(new MeprSubscription({sub_id}))->cancel();", env=at(cancel_at)))
    cancelled = only(events, "subscription.cancelled")
    assert_subscription(cancelled, member, sub_id, "Or", "cancelled", "system")
    assert cancel_at <= utc(cancelled["occurred_at"]) < cancel_at + timedelta(minutes=2)
    assert utc(cancelled["subscription"]["started_at"]) == mysql_utc(state["created_at"])
    assert utc(cancelled["subscription"]["access_ends_at"]) == ends

    # MemberPress's own answer on either side of that instant.
    assert is_active_at(bed, member, "Or", ends - timedelta(minutes=1))
    assert not is_active_at(bed, member, "Or", ends + timedelta(minutes=1))

    # Its expiry cron (hourly) records the expiry once the transaction is 12 hours past its end.
    assert bed.site.wp_json("return (bool) wp_next_scheduled('mepr_send_txn_expire_events');")
    expire_cron = "define('DOING_CRON', true); do_action('mepr_send_txn_expire_events');"
    events, _ = changes(bed, member, lambda: bed.site.wp_eval(expire_cron, env=at(ends + timedelta(hours=13))))
    expired = only(events, "subscription.expired")
    assert_subscription(expired, member, sub_id, "Or", "expired", "system")
    assert utc(expired["occurred_at"]) == ends  # when access ended, not when the cron noticed
    assert utc(expired["subscription"]["access_ends_at"]) == ends
    events, _ = changes(bed, member, lambda: bed.site.wp_eval(expire_cron, env=at(ends + timedelta(hours=14))))
    assert events == []

    # Bought again, today, on the checkout page: a new subscription starts.
    events, again = changes(bed, member, lambda: checkout(bed, member, "Or", bed.setup["offline"]))
    assert again != sub_id
    assert_subscription(only(events, "subscription.created"), member, again, "Or", "active", "member")


def test_a_renewal_that_never_comes_ends_access_once_and_a_late_payment_resumes_it(bed):
    """Nobody cancels, PayPal's next payment never arrives: the subscription stays active in
    MemberPress, which records no subscription-expired for it, yet stops granting access when its
    last transaction runs out. A payment that comes late gives access back."""
    member = Member(bed, "lapse")
    start = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=9)
    profile = f"I-{secrets.token_hex(6).upper()}"
    first_payment = dict(txn_type="subscr_payment", subscr_id=profile, mc_gross="9.90", mc_currency="EUR",
                         payment_status="Completed", txn_id=f"PAY-{secrets.token_hex(6)}",
                         ipn_track_id=secrets.token_hex(6), custom=json.dumps({"gateway_id": bed.setup["paypal"]}))

    # Bought 9 days ago, weekly, with PayPal: the checkout's own step, then MemberPress's IPN
    # listener with PayPal's first payment, in a request on a clock set then.
    def buy():
        return int(bed.site.wp_json(f"""
            wp_set_current_user({member.id});
            list($txn, $sub) = MeprCheckoutCtrl::prepare_transaction(new MeprProduct({bed.setup['plans']['Argent']}), 0,
                {member.id}, '{bed.setup['paypal']}');
            $_POST = json_decode({json.dumps(json.dumps(first_payment))}, true);
            $_POST['item_number'] = (string) $txn->id;
            MeprOptions::fetch()->payment_method('{bed.setup['paypal']}')->listener();
            return (int) $sub->id;
        """, env=at(start)))

    events, sub_id = changes(bed, member, buy)
    only(events, "subscription.created")
    state = subscription_state(bed, sub_id)
    assert state["status"] == "active" and state["subscr_id"] == profile, state
    ends = mysql_utc(state["expires_at"])
    assert start + timedelta(days=7) <= ends < datetime.now(timezone.utc) - timedelta(hours=14), state
    assert is_active_at(bed, member, "Argent", ends - timedelta(minutes=1))
    assert not is_active_at(bed, member, "Argent", ends + timedelta(minutes=1))

    # MemberPress's expiry cron, 13 hours after: one expiry by the system, dated when access ended.
    expire_cron = "define('DOING_CRON', true); do_action('mepr_send_txn_expire_events');"
    events, _ = changes(bed, member, lambda: bed.site.wp_eval(expire_cron, env=at(ends + timedelta(hours=13))))
    expired = only(events, "subscription.expired")
    assert_subscription(expired, member, sub_id, "Argent", "expired", "system")
    assert utc(expired["occurred_at"]) == ends
    assert utc(expired["subscription"]["access_ends_at"]) == ends
    assert subscription_state(bed, sub_id)["status"] == "active"  # not cancelled: lapsed
    events, _ = changes(bed, member, lambda: bed.site.wp_eval(expire_cron, env=at(ends + timedelta(hours=14))))
    assert events == []

    # Today PayPal's late payment arrives (its IPN, as PayPal posts it): access is back.
    late = dict(first_payment, txn_id=f"PAY-{secrets.token_hex(6)}", ipn_track_id=secrets.token_hex(6))
    del late["custom"]
    events, _ = changes(bed, member, lambda: paypal_ipn(bed, **late))
    assert sorted(e["type"] for e in events) == ["payment.succeeded", "subscription.resumed"], events
    resumed, = (e for e in events if e["type"] == "subscription.resumed")
    assert_subscription(next(e for e in events if e["type"] == "payment.succeeded"), member, sub_id, "Argent",
                        "active", "gateway")
    assert_subscription(resumed, member, sub_id, "Argent", "active", "gateway")
    assert_access_ends_as_memberpress_says(bed, resumed, sub_id)
    assert utc(resumed["subscription"]["access_ends_at"]) > datetime.now(timezone.utc)
    assert subscription_state(bed, sub_id)["active"]
    # PayPal sends it again: MemberPress changes nothing, nor do we.
    events, _ = changes(bed, member, lambda: paypal_ipn(bed, **late))
    assert events == []


@pytest.fixture(autouse=True)
def no_php_errors_from_the_bridge(bed):
    """Whatever MemberPress did, nothing of ours warned or failed in the site's debug.log."""
    start = len(bed.site.debug_log())
    yield
    new = bed.site.debug_log()[start:]
    problems = [line for line in new.splitlines() if "farewell" in line.lower() and "PHP " in line]
    assert not problems, "\n".join(problems)
