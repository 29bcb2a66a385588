"""Farewell → Set-up in a real browser (Debian's Chromium, driven by Playwright), on a fresh
WordPress 6.8 with the real MemberPress and the bridge, not connected yet, beside a real sidecar.

The owner opens Farewell: the page opens on the checklist, where MemberPress is found and the
survey's page is placed, while the connection and its test are still to do (no test button before
there is something to test). "Enter the connection" leads to the settings form; once it is saved
the connection step is done; the checklist's own "Test connection" sends the signed ping to the
real sidecar and comes back to the checklist, where the test and the digest's recipient are done
and collapsed, read from the sidecar with the SMTP server it sends through (a real one, aiosmtpd).
"Send me a sample digest now" makes the sidecar send last week's digest, which arrives at the
administrator's address and nowhere else. The survey's link opens the page email links use. In
French the checklist speaks French. A subscriber is refused the page.

The site is built here rather than taken from the shared ``real_plugin_bed``: that bed is connected
through wp-config.php constants from the start, and this test needs a site that is not.
"""

from __future__ import annotations

import sqlite3
import uuid

import pytest
import requests

from tests.support.sidecar import SidecarProcess
from tests.wordpress.real_plugins import REAL_PLUGINS, install_real_plugin
from tests.wordpress.site import DatabaseInfo, WordPressSite, ensure_wordpress, free_port
from tests.wordpress.test_dashboard_browser import wp_login

PAGE_TIMEOUT_MS = 90_000


@pytest.fixture
def fresh_memberpress_site(mariadb, tmp_path, smtp):
    spec = REAL_PLUGINS["memberpress"]
    spec.skip_unless_available()
    sidecar = SidecarProcess(f"sqlite:///{tmp_path / 'sidecar' / 'farewell.db'}", tmp_path / "sidecar",
                             extra_env={"FAREWELL_MAIL_URL": smtp.url}).start()
    name = f"wp_{uuid.uuid4().hex[:12]}"
    mariadb.create_database(name)
    site = WordPressSite(wp_source=ensure_wordpress("6.8"), root=tmp_path / "wordpress",
                         db=DatabaseInfo(mariadb.host, mariadb.port, name, mariadb.user, mariadb.password),
                         port=free_port(), constants={})
    try:
        site.build()
        site.start()
        install_real_plugin(spec, site)
        yield site, sidecar
    finally:
        site.cleanup()
        sidecar.stop()
        mariadb.drop_database(name)


def step(page, step_id: str):
    return page.locator(f".farewell-setup-step[data-step='{step_id}']")


def status(page, step_id: str) -> str:
    return step(page, step_id).get_attribute("data-status")


def test_the_owner_goes_through_the_checklist_on_a_fresh_site_with_memberpress(fresh_memberpress_site, page,
                                                                             screenshots_dir, smtp):
    site, sidecar = fresh_memberpress_site
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    page.set_default_navigation_timeout(PAGE_TIMEOUT_MS)
    wp_login(page, site)

    # Farewell opens on the checklist: not connected, nothing to test yet; MemberPress found, the
    # survey placed on the page the plugin created.
    page.goto(f"{site.url}/wp-admin/admin.php?page=farewell")
    assert page.locator(".farewell-setup").is_visible()
    assert status(page, "connect") == "todo"
    assert status(page, "test") == "todo"
    assert step(page, "test").locator("a.button").count() == 0
    assert status(page, "membership") == "done"
    assert "MemberPress" in step(page, "membership").text_content()  # folded: text_content, not inner_text
    assert status(page, "survey") == "done"
    assert status(page, "import") == "todo"
    assert status(page, "mail") == "info"
    # A step to do is open, a step done is folded away (its details closed).
    assert step(page, "connect").locator("details").get_attribute("open") is not None
    assert step(page, "membership").locator("details").get_attribute("open") is None
    assert not step(page, "membership").locator(".farewell-setup-body").is_visible()
    page.screenshot(path=str(screenshots_dir / "setup-checklist-fresh.png"), full_page=True)

    # The survey's link shows the administrator the form a member gets after cancelling, on the
    # page email links use; the same address shows a visitor no form.
    survey_url = step(page, "survey").locator("a.button").get_attribute("href")
    assert "farewell_survey_preview=" in survey_url
    preview = page.context.new_page()
    preview.goto(survey_url)
    assert preview.locator(".farewell-survey-preview-notice").is_visible()
    assert preview.locator("#farewell-survey input[name=reason]").count() > 0
    preview.close()
    visitor = requests.get(survey_url, timeout=30)
    assert visitor.status_code == 200 and 'name="reason"' not in visitor.text

    # Connect: the step's button leads to the settings form.
    step(page, "connect").get_by_role("link", name="Enter the connection").click()
    page.wait_for_url("**/options-general.php?page=farewell-bridge")
    page.fill("#farewell-bridge-url", sidecar.url)
    page.fill("#farewell-bridge-site-id", sidecar.site_id)
    page.fill("#farewell-bridge-secret", sidecar.secret)
    page.click("#submit")
    page.wait_for_url("**/options-general.php?page=farewell-bridge&settings-updated=true")

    # Back on the checklist (its menu entry): connected, the test still to do, with its button.
    page.goto(f"{site.url}/wp-admin/admin.php?page=farewell-setup")
    assert status(page, "connect") == "done"
    assert sidecar.site_id in step(page, "connect").text_content()
    assert status(page, "test") == "todo"
    assert status(page, "digest") == "todo"

    # Test: the signed ping reaches the real sidecar, and the browser comes back to the checklist.
    step(page, "test").get_by_role("link", name="Test connection").click()
    page.wait_for_url("**/admin.php?page=farewell-setup")
    assert "Connected" in page.locator(".farewell-bridge-notice").inner_text()
    assert status(page, "test") == "done"
    assert status(page, "digest") == "done"
    admin_email = site.wp_json("return get_option('admin_email');")
    assert admin_email in step(page, "digest").text_content()
    assert not step(page, "test").locator(".farewell-setup-body").is_visible(), "a done step is folded"
    # …and the sidecar was told who receives the digest.
    with sqlite3.connect(f"file:{sidecar.data_dir / 'farewell.db'}?mode=ro", uri=True) as conn:
        stored = conn.execute("SELECT wordpress_admin_email FROM digest_settings WHERE site_id = ?",
                              (sidecar.site_id,)).fetchone()
    assert stored == (admin_email,)
    # Both steps say what the sidecar says: the recipient it knows, the SMTP server it sends through.
    assert f"The weekly digest goes to {admin_email}." in step(page, "digest").text_content()
    assert status(page, "mail") == "info"
    assert f"through the SMTP server 127.0.0.1, port {smtp.port}." in step(page, "mail").text_content()
    page.screenshot(path=str(screenshots_dir / "setup-checklist-connected.png"), full_page=True)

    # A sample digest: the sidecar sends last week's to the administrator, through its SMTP server.
    assert smtp.received == []
    step(page, "sample").get_by_role("button", name="Send me a sample digest now").click()
    page.wait_for_url("**/admin.php?page=farewell-setup")
    assert page.locator(".farewell-bridge-notice").inner_text() == f"A sample digest is on its way to {admin_email}."
    [sample] = smtp.received  # the sidecar answers once its SMTP server accepted the message
    assert sample.recipients == [admin_email] and sample.message["To"] == admin_email
    assert sample.message["Subject"].startswith("E2E site: ")  # the sidecar's name for the site, in English
    assert sample.message.get_body(("html",)) is not None

    # The menu keeps the checklist reachable.
    assert page.locator("#adminmenu a[href='admin.php?page=farewell-setup']").count() == 1

    # In French.
    site.wp_eval("update_user_meta(1, 'locale', 'fr_FR');")
    page.goto(f"{site.url}/wp-admin/admin.php?page=farewell-setup")
    assert page.locator("h1").inner_text() == "Configurer Farewell"
    assert "Fait" in step(page, "test").inner_text()  # the badge, in the summary
    assert "Tester la connexion" in step(page, "test").inner_text()
    assert step(page, "sample").get_by_role("button", name="M’envoyer un exemple de résumé maintenant").count() == 1


    # A subscriber is refused the page.
    site.wp_eval("wp_insert_user(array('user_login' => 'sub17c', 'user_pass' => 'sub17c-pass-123', "
                 "'user_email' => 'sub17c@example.org', 'role' => 'subscriber'));")
    session = requests.Session()
    session.cookies.set("wordpress_test_cookie", "WP Cookie check")
    session.post(f"{site.url}/wp-login.php", data={"log": "sub17c", "pwd": "sub17c-pass-123", "testcookie": "1"},
                 timeout=30)
    assert any(c.name.startswith("wordpress_logged_in_") for c in session.cookies)
    answer = session.get(f"{site.url}/wp-admin/admin.php?page=farewell-setup", timeout=30)
    assert answer.status_code == 403
    assert "farewell-setup-step" not in answer.text
