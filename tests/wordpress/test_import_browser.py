"""Farewell → Import history in a real browser (Debian's Chromium driven by Playwright), on
WordPress 6.8 with the real MemberPress 1.12.11, the bridge and the real sidecar (its mail going to
a real SMTP sink).

The site has three dozen past subscriptions over the last months, a third of them cancelled,
stored by MemberPress's own models before the bridge was there. The administrator signs in, opens
Import history (it says what MemberPress holds), clicks Start and watches the page's own progress
(admin/js/import.js polling admin-ajax) reach the end; cron's part (the outbox's delivery) is run
by bed.deliver(), as WP-Cron would. Then Farewell → Open dashboard: the overview's 24-month table
shows each past month's cancellations, with the line saying reasons are only known since the
survey. Importing again adds nothing to the sidecar, and nobody got an email.
"""

from __future__ import annotations

from datetime import datetime, timezone

from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.wordpress.real_plugins import REAL_PLUGINS, RealPluginBed, seed_memberpress_history
from tests.wordpress.test_dashboard_browser import wp_login
from tests.wordpress.test_real_plugins_browser import PAGE_TIMEOUT_MS

# Cancellations per month, by how many months ago (1 = last month): 12 in all.
CANCELLED_MONTHS_AGO = {1: 1, 2: 2, 3: 3, 4: 1, 5: 2, 6: 3}
STILL_ACTIVE = 24
PLANS = ("Or", "Argent", "Platine")


def month_ago(now: datetime, k: int) -> tuple[int, int]:
    index = now.year * 12 + now.month - 1 - k
    return index // 12, index % 12 + 1


def history(now: datetime) -> tuple[list[dict], dict[str, int]]:
    """The subscriptions to seed, and the expected cancellations per month ("YYYY-MM"). Dates are
    mid-month at noon UTC, far from a month's edge in any time zone the dashboard may use."""
    subscriptions, expected = [], {}
    n = 0
    for k, count in CANCELLED_MONTHS_AGO.items():
        year, month = month_ago(now, k)
        start_year, start_month = month_ago(now, k + 3)
        end_year, end_month = month_ago(now, k - 1)
        expected[f"{year:04d}-{month:02d}"] = count
        for _ in range(count):
            subscriptions.append({
                "login": f"gone{n}", "plan": PLANS[n % 3], "start": f"{start_year:04d}-{start_month:02d}-10 12:00:00",
                "cancelled": f"{year:04d}-{month:02d}-15 12:00:00",
                "expires": f"{end_year:04d}-{end_month:02d}-05 12:00:00", "expired": None})
            n += 1
    for i in range(STILL_ACTIVE):
        year, month = month_ago(now, 1 + i % 12)
        subscriptions.append({"login": f"stays{i}", "plan": PLANS[i % 3], "start": f"{year:04d}-{month:02d}-12 12:00:00",
                              "expires": "2099-01-01 23:59:59"})
    return subscriptions, expected


def counts(bed) -> tuple[int, int]:
    """(events stored, cancellations) in the sidecar, from its admin API and its database."""
    answer = bed.sidecar.get(f"/v1/sites/{bed.sidecar.site_id}/cancellations", limit="500")
    assert answer.status_code == 200, answer.text
    return len(bed.events()), len(answer.json()["items"])


def run_import(bed, page) -> dict[str, str]:
    """Clicks the page's Start (or Import again) and waits for its progress to reach the end,
    delivering the outbox meanwhile as WP-Cron would; returns the progress cells as shown."""
    with page.expect_navigation():
        page.click("#farewell-import-start")
    wrap = page.locator(".farewell-import")
    assert page.get_by_role("heading", name="Import in progress").is_visible()
    message = page.locator('[data-farewell-import="message"]')
    for _ in range(120):  # a cap on the rounds, not a clock: each waits for the page or delivers
        bed.deliver(timeout=300)
        try:
            page.wait_for_function("document.querySelector('.farewell-import').dataset.farewellImportStatus === 'done'",
                                   timeout=5_000)
            break
        except PlaywrightTimeoutError:
            continue
    assert wrap.get_attribute("data-farewell-import-status") == "done", message.inner_text()
    assert message.inner_text().strip() == "Import finished."
    return {name: page.locator(f'[data-farewell-import="{name}"]').inner_text().strip()
            for name in ("read", "subscriptions", "queued", "sent", "waiting", "known")}


def test_the_admin_imports_memberpress_history_and_sees_the_past_months(mariadb, tmp_path, smtp, page,
                                                                        screenshots_dir):
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    page.set_default_navigation_timeout(PAGE_TIMEOUT_MS)
    bed = RealPluginBed.build(REAL_PLUGINS["memberpress"], "6.8", mariadb, tmp_path,
                              sidecar_env={"FAREWELL_MAIL_URL": smtp.url})
    try:
        subscriptions, expected = history(datetime.now(timezone.utc))
        seed_memberpress_history(bed.site, bed.setup, subscriptions)
        bed.deliver()
        assert counts(bed) == (0, 0), "the seeding sent live events"

        wp_login(page, bed.site)
        page.goto(f"{bed.site.url}/wp-admin/admin.php?page=farewell-import")
        found = page.locator(".farewell-import-found").inner_text()
        assert f"MemberPress: {len(subscriptions)} subscriptions, {sum(expected.values())} cancelled" in found

        progress = run_import(bed, page)
        assert progress["read"] == progress["subscriptions"] == str(len(subscriptions)), progress
        assert progress["waiting"] == "0" and progress["sent"] == progress["queued"], progress
        page.set_viewport_size({"width": 1000, "height": 900})
        page.screenshot(path=str(screenshots_dir / "import-history.png"), full_page=True)
        stored, cancelled = counts(bed)
        assert stored == int(progress["queued"]) and cancelled == sum(expected.values())

        def overview_months() -> dict[str, int]:
            page.goto(f"{bed.site.url}/wp-admin/admin.php?page=farewell")
            page.click("form.farewell-open-dashboard [type=submit]")
            page.wait_for_url(f"{bed.sidecar.url}/admin/")
            assert page.locator("#reasons-since").is_visible()
            return {month: int(page.locator(f"#month-{month} td").first.inner_text()) for month in expected}

        # Farewell → Open dashboard: each past month with its cancellations.
        assert overview_months() == expected
        page.locator("#months").scroll_into_view_if_needed()
        page.screenshot(path=str(screenshots_dir / "overview-after-import.png"), full_page=True)

        # Import again: the sidecar counts nothing twice.
        page.goto(f"{bed.site.url}/wp-admin/admin.php?page=farewell-import")
        assert page.get_by_role("heading", name="Last import").is_visible()
        again = run_import(bed, page)
        assert again["read"] == str(len(subscriptions)), again
        assert (again["queued"], again["known"]) == ("0", progress["queued"]), again  # each one known from the first
        assert counts(bed) == (stored, cancelled)
        assert overview_months() == expected

        assert smtp.messages() == [], "an imported event sent an email"
    finally:
        bed.cleanup(mariadb)
