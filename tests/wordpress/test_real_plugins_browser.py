"""A member cancels on the real membership plugin's own page, in a real browser (Debian's Chromium
driven by Playwright), on WordPress 6.8 with the bridge and the real sidecar.

- Paid Memberships Pro 3.8.4: Membership Account → the level's "Cancel" link → PMPro's Cancel page
  → "Yes, cancel this membership" (its confirm form, with its nonce) → PMPro's own confirmation.
- Restrict Content 3.2.26: the account page ([subscription_details]) → "Cancel your membership" →
  RCP's own confirm() dialog, accepted → RCP's "successfully cancelled" notice.

Each member signs in through wp-login.php in the browser and uses only the page's own UI. Then:
exactly one subscription.cancelled event, initiated_by member, reached the sidecar; the plugin's
confirmation rendered (the cancel itself worked); the exit survey appears once, on the page the
member sees after the cancel is done, as an addition to the plugin's page (nothing to answer
before the plugin's confirmation is there), and not again on the next page.

The beds (sites with the real plugins) are the session's (tests/wordpress/real_plugins.py), shared
with test_real_pmpro.py and test_real_restrict_content.py; each test has a member of its own.
No fixed sleep anywhere: the browser waits for the page it expects, the outbox is drained by
bed.deliver() (tests/wordpress/real_plugins.py).
"""

from __future__ import annotations

import pytest

from tests.support.wordpress import sign_in
from tests.wordpress import test_real_pmpro as pmpro
from tests.wordpress import test_real_restrict_content as rcp
from tests.wordpress.real_plugins import Member, changes, only, site_local, utc

SURVEY = "#farewell-survey"
SURVEY_TITLE_FR = "Avant de partir"  # the members are French (locale fr_FR): the survey speaks French
# A busy machine (two cores, `stress-ng --cpu 2` beside the suite) can make one page take long:
# a generous cap on each wait, never a sleep.
PAGE_TIMEOUT_MS = 90_000


@pytest.fixture
def member_page(page):
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    page.set_default_navigation_timeout(PAGE_TIMEOUT_MS)
    return page


def assert_survey_once(page, leave) -> None:
    """The survey is on the page shown after the cancel, optional (nothing required, a way to
    skip it), and only there: the member leaves it unanswered with `leave()` and the next page is
    the plugin's alone."""
    survey = page.locator(SURVEY)
    assert survey.get_by_role("heading", name=SURVEY_TITLE_FR).is_visible()
    assert page.locator(f"{SURVEY} input[name=reason]").count() > 0
    assert page.locator(f"{SURVEY} [required]").count() == 0
    leave()
    page.wait_for_load_state()
    assert page.locator(SURVEY).count() == 0, "the survey shows once"


# --------------------------------------------------------------------------- Paid Memberships Pro
def test_a_member_cancels_on_pmpros_cancel_page_in_chromium(real_plugin_bed, member_page, screenshots_dir):
    bed = real_plugin_bed(pmpro.SLUG, "6.8")
    page = member_page
    member = Member(bed, "pmprobrowser")
    level_id = bed.setup["levels"]["Mensuel"]
    pmpro.checkout(bed, member)
    account = bed.setup["account_url"]
    confirmation = {}

    def cancel_in_the_browser():
        sign_in(page, bed.site, member, account)
        page.goto(account)
        with page.expect_navigation():
            page.click(f"#pmpro_actionlink-cancel-{level_id}")  # the account page's "Cancel"
        form = page.locator("#pmpro_form")
        assert "Are you sure you want to cancel your Mensuel membership?" in form.inner_text()
        # PMPro's form posts to pmpro_url('cancel', '', 'https'): that $scheme only reaches the
        # pmpro_url filter, the address stays the site's own (http here), so no set-up is needed.
        assert form.get_attribute("action").startswith(bed.site.url + "/"), form.get_attribute("action")
        with page.expect_navigation():
            form.locator("input[type=submit]").click()  # "Yes, cancel this membership"
        message = page.locator(".pmpro_message.pmpro_success")
        message.wait_for()
        confirmation["text"] = message.inner_text()
        confirmation["url"] = page.url

    events, _ = changes(bed, member, cancel_in_the_browser)

    # PMPro's own confirmation, on its Cancel page, over the site's own scheme.
    assert confirmation["url"].startswith(bed.site.url + "/"), confirmation
    assert "Your active membership will expire on" in confirmation["text"], confirmation
    state = pmpro.membership(bed, member, level_id)
    assert state["has_level"] and state["enddate"], state  # kept until the next payment date
    assert state["subscription"]["status"] == "cancelled", state

    cancelled = only(events, "subscription.cancelled")
    pmpro.assert_subscription(cancelled, member, "Mensuel", level_id, "cancelled", "member")
    assert utc(cancelled["subscription"]["access_ends_at"]) == site_local(state["enddate"], "")

    # The survey came with the page that confirms the cancel (the cancel was done before the page
    # was drawn), as an addition: PMPro's message is there beside it.
    page.set_viewport_size({"width": 1000, "height": 1200})
    page.screenshot(path=str(screenshots_dir / "real-pmpro-cancelled.png"), full_page=True)
    assert page.locator(".pmpro_message.pmpro_success").is_visible()

    def leave_by_pmpros_link():
        with page.expect_navigation():
            page.get_by_role("link", name="View Your Membership Account").click()
        assert page.url.split("#")[0].rstrip("/") == account.rstrip("/"), page.url
        # PMPro's account page, the membership still there until its end date.
        assert page.locator(f"#pmpro_account-membership-{level_id}").is_visible()

    assert_survey_once(page, leave_by_pmpros_link)


# --------------------------------------------------------------------------- Restrict Content
def test_a_member_cancels_on_restrict_contents_account_page_in_chromium(real_plugin_bed, member_page,
                                                                        screenshots_dir):
    bed = real_plugin_bed("restrict-content", "6.8")
    page = member_page
    member = Member(bed, "rcpbrowser")
    membership_id, profile = rcp.subscribe(bed, member)
    account = bed.setup["account_url"]
    dialogs = []

    def accept(dialog):
        dialogs.append(dialog.message)
        dialog.accept()

    def cancel_in_the_browser():
        sign_in(page, bed.site, member, account)
        page.goto(account)
        page.on("dialog", accept)  # RCP asks "Are you sure…?" with confirm()
        with page.expect_navigation(url=lambda url: "profile=cancelled" in url):
            page.click(f"#rcp_cancel_membership_{membership_id}")
        page.locator("p.rcp_success").wait_for()

    events, _ = changes(bed, member, cancel_in_the_browser)

    assert len(dialogs) == 1, dialogs
    notice = page.locator("p.rcp_success").inner_text()
    assert "Your Mensuel subscription has been successfully cancelled." in notice, notice
    st = rcp.state(bed, membership_id)
    assert st["status"] == "cancelled" and st["active"], st  # until the end of the paid period
    assert profile in bed.site.wp_json("return get_option('farewell_test_rcp_cancelled_profiles', array());")

    cancelled = only(events, "subscription.cancelled")
    rcp.assert_membership_event(cancelled, member, membership_id, "Mensuel", "cancelled", "member")
    rcp.assert_access_ends_as_rcp_says(bed, cancelled, membership_id)

    # RCP redirects after its cancel: the survey is on the page it lands on, beside its notice.
    page.set_viewport_size({"width": 1000, "height": 1200})
    page.screenshot(path=str(screenshots_dir / "real-restrict-content-cancelled.png"), full_page=True)
    assert page.locator("p.rcp_success").is_visible()
    assert_survey_once(page, lambda: page.goto(account))
