"""The dashboard in a real browser (Debian's Chromium, driven by Playwright), opened from wp-admin
on a real WordPress with the bridge, against the real sidecar process.

The owner signs in with the bridge's button, reads the overview, finds a hostile comment shown as
text (no dialog, no script), exports the CSV, edits and previews a follow-up email, marks a contact
request answered; a sign-in link used twice or after 60 seconds is refused. Screenshots of the
overview and of the digest go to test-output/run/screenshots/; `make screenshots` refreshes the
copies kept in git, in test-output/screenshots/, for people to look at.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import requests

from sidecar import db
from sidecar.demo import seed_dashboard_demo
from sidecar.domain.sequences import configured_steps
from sidecar.signing import sign
from sidecar.storage.sites import get_site
from tests.support.applier import wait_until_applied
from tests.support.wordpress import sign_in
from tests.wordpress.site import ADMIN_PASSWORD, ADMIN_USER

HOSTILE = '<script>window.farewellPwned = 1; alert("pwned")</script><img src=x onerror="window.farewellPwned = 2">'


def post_signed(sidecar, document: dict) -> None:
    body = json.dumps(document)
    response = requests.post(f"{sidecar.url}/v1/sites/{sidecar.site_id}/events", data=body.encode(),
                             headers={"Content-Type": "application/json",
                                      **sign(sidecar.secret, f"msg_{uuid.uuid4().hex}", body)}, timeout=10)
    assert response.status_code == 202, response.text
    wait_until_applied(sidecar.database_url)


def hostile_answer(sidecar) -> None:
    """A member cancels today and writes a comment full of markup, asking to be contacted."""
    now = datetime.now(timezone.utc)
    member = {"id": "hostile", "email": "mallory@example.org", "first_name": "Mallory", "locale": "fr_FR"}
    post_signed(sidecar, {
        "type": "subscription.cancelled", "occurred_at": (now - timedelta(minutes=30)).isoformat(), "source": "test",
        "initiated_by": "member", "member": member,
        "subscription": {"id": "sub-hostile", "plan_name": "Premium", "amount": "12.00", "currency": "EUR",
                         "interval": "month", "status": "cancelled"}})
    post_signed(sidecar, {
        "type": "survey.submitted", "occurred_at": (now - timedelta(minutes=20)).isoformat(), "source": "test",
        "initiated_by": "member", "member": member,
        "survey": {"version": 1, "subscription_id": "sub-hostile", "reason": "customer_service", "comment": HOSTILE,
                   "contact_requested": True, "contact": "+33 6 00 00 00 00", "locale": "fr_FR"}})


@pytest.fixture
def setup(sidecar_server, wordpress_site):
    sidecar = sidecar_server()
    engine = db.create_engine(sidecar.database_url)
    with engine.connect() as conn:
        site = get_site(conn, sidecar.site_id)
    # The site speaks French, in Paris; twelve weeks of demo data, then today's hostile answer.
    with engine.begin() as conn:
        from sidecar.storage.dashboard import update_site

        update_site(conn, site["id"], locale="fr_FR", timezone="Europe/Paris", name="Le Club des Curieux")
        site = get_site(conn, sidecar.site_id)
    seed_dashboard_demo(engine, site)
    hostile_answer(sidecar)
    wp = wordpress_site("6.8", constants={"FAREWELL_SIDECAR_URL": sidecar.url, "FAREWELL_SITE_ID": sidecar.site_id,
                                          "FAREWELL_SECRET": sidecar.secret})
    wp.wp_eval("update_user_meta(1, 'locale', 'fr_FR');")
    yield sidecar, wp, engine
    engine.dispose()


def wp_login(page, wp) -> None:
    """Signs the site's administrator in through wp-login.php's form, landing in wp-admin."""
    sign_in(page, wp, {"login": ADMIN_USER, "password": ADMIN_PASSWORD}, then=f"{wp.url}/wp-admin/")


def test_the_owner_works_in_the_dashboard_from_wp_admin(setup, page, browser, screenshots_dir, tmp_path):
    sidecar, wp, engine = setup
    dialogs, csp_errors, login_urls = [], [], []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on("console", lambda message: csp_errors.append(message.text)
            if "Content Security Policy" in message.text else None)
    page.on("request", lambda request: login_urls.append(request.url) if "/admin/login?token=" in request.url else None)

    # wp-admin → Farewell: this week's figures from the sidecar, and the button.
    wp_login(page, wp)
    page.goto(f"{wp.url}/wp-admin/admin.php?page=farewell")
    figures = page.locator("table.farewell-summary")
    assert figures.is_visible()
    assert int(page.locator("td.farewell-cancellations").inner_text()) >= 1

    # Open dashboard → signed in, in the admin's language (fr_FR).
    page.click("form.farewell-open-dashboard [type=submit]")
    page.wait_for_url(f"{sidecar.url}/admin/")
    assert page.locator("h1").inner_text() == "Cette semaine, jusqu’ici"
    assert "Le Club des Curieux" in page.locator("header").inner_text()
    page.screenshot(path=str(screenshots_dir / "dashboard-overview.png"), full_page=True)
    assert len(login_urls) == 1

    # The hostile comment is text on the feedback and contact pages, and never runs.
    for path in ("/admin/feedback", "/admin/contact-requests"):
        page.goto(f"{sidecar.url}{path}")
        assert page.get_by_text('<script>window.farewellPwned = 1; alert("pwned")</script>', exact=False).count() >= 1
        assert page.evaluate("typeof window.farewellPwned") == "undefined"

    # CSV export: UTF-8 with a BOM, French intact, the hostile cell as plain text.
    page.goto(f"{sidecar.url}/admin/feedback?reason=customer_service")
    with page.expect_download() as download_info:
        page.click("#export-csv")
    saved = tmp_path / "export.csv"
    download_info.value.save_as(saved)
    raw = saved.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig")
    assert text.startswith("Date,email,Membre,Formule,reason,Raison")
    assert "mallory@example.org" in text and "Je n’ai pas été satisfait·e du service client" in text

    # Sequence: edit the feedback email's subject, preview it before saving, then save.
    page.goto(f"{sidecar.url}/admin/sequence")
    page.click("#edit-feedback")
    # The page's load event waits for the preview frame's first render. Clicking Preview before the
    # frame exists (a busy CI machine) sends the form to a new window named "preview" instead.
    page.wait_for_load_state("load")
    page.fill("input[name='copy.subject']", "Votre avis sur {site_name}, {first_name} ?")
    page.click("#preview-button")
    preview = page.frame(name="preview")
    preview.wait_for_selector("text=Votre avis sur Le Club des Curieux, Camille ?")
    with engine.connect() as conn:
        assert configured_steps(conn, sidecar.site_id)["feedback"].copy_overrides == {}
    page.click("button[value=save]")
    page.wait_for_selector("text=Enregistré.")
    with engine.connect() as conn:
        assert configured_steps(conn, sidecar.site_id)["feedback"].copy_overrides == {
            "fr": {"subject": "Votre avis sur {site_name}, {first_name} ?"}}

    # Contact requests: Mallory's request, marked answered.
    waiting = sidecar.get(f"/v1/sites/{sidecar.site_id}/contact-requests").json()["items"]
    mallory = next(item for item in waiting if item["member"]["email"] == "mallory@example.org")
    page.goto(f"{sidecar.url}/admin/contact-requests")
    page.click(f"#request-{mallory['id']} button")
    page.wait_for_selector("text=Marqué comme répondu.")
    assert page.locator(f"#request-{mallory['id']}").count() == 0
    still_waiting = sidecar.get(f"/v1/sites/{sidecar.site_id}/contact-requests").json()["items"]
    assert mallory["id"] not in {item["id"] for item in still_waiting}

    # The digest as the email shows it, rendered by the browser.
    page.goto(f"{sidecar.url}/admin/digest/preview")
    assert page.locator("img[src^='data:image/png']").count() == 1
    page.screenshot(path=str(screenshots_dir / "digest.png"), full_page=True)

    assert dialogs == [] and csp_errors == []

    # The sign-in link of this session, used again from another browser: refused.
    other = browser.new_context(locale="fr-FR")
    try:
        stranger = other.new_page()
        response = stranger.goto(login_urls[0])
        assert response.status == 403
        assert "déjà servi" in stranger.locator("main").inner_text()
        assert stranger.goto(f"{sidecar.url}/admin/").status == 401
        # A link minted by the bridge 61 s ago (plus the allowed clock skew): expired.
        old = wp.wp_eval("echo Farewell_Bridge_Dashboard_Menu::mint_login_token(get_user_by('id', 1), time() - 75);")
        response = stranger.goto(f"{sidecar.url}/admin/login?token={old.strip().splitlines()[-1]}")
        assert response.status == 403
        assert "a expiré" in stranger.locator("main").inner_text()
        back = stranger.locator("a.button").get_attribute("href")
        assert back.endswith("/wp-admin/admin.php?page=farewell")
    finally:
        other.close()


def test_the_farewell_page_renders_when_the_sidecar_is_down(setup, page):
    sidecar, wp, _engine = setup
    sidecar.stop()
    wp_login(page, wp)
    response = page.goto(f"{wp.url}/wp-admin/admin.php?page=farewell")
    assert response.status == 200
    assert page.locator(".farewell-summary-unavailable").is_visible()
    assert page.locator("form.farewell-open-dashboard [type=submit]").is_visible()
