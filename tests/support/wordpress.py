"""The bridge on a test WordPress site (tests/wordpress/site.py), as the WordPress tests drive it:
members who cancel (by request or in a browser), what reached the sidecar, the bridge's outbox,
the exit survey's landmarks. Shared by several test modules and bench/."""

from __future__ import annotations

import re
import subprocess
import time
import warnings
from urllib.parse import quote

import pytest
import requests

CANCEL_PAGE = "Your subscription was cancelled."
TITLE_FR = "Avant de partir"
THANKS_FR = "Merci — vos réponses nous aident à nous améliorer."
SURVEY = "#farewell-survey"


def bridge_constants(sidecar) -> dict:
    return {"FAREWELL_SIDECAR_URL": sidecar.url, "FAREWELL_SITE_ID": sidecar.site_id, "FAREWELL_SECRET": sidecar.secret}


def make_members(site, members: int, subscriptions_each: int, plan="Or", price="29.00") -> list[dict]:
    """Members with active MemberPress subscriptions, created in WordPress (a CLI request)."""
    return site.wp_json(f"""
        $product = farewell_test_mepr_product({plan!r}, {price!r}, 'months');
        $out = array();
        for ($m = 0; $m < {members}; $m++) {{
            $login = 'member' . $m . '_' . wp_generate_password(6, false, false);
            $id = wp_insert_user(array('user_login' => $login, 'user_pass' => $login . '-pw',
                'user_email' => $login . '@example.org', 'first_name' => 'Anaïs ' . $m, 'locale' => 'fr_FR'));
            $subs = array();
            for ($s = 0; $s < {subscriptions_each}; $s++) {{
                $subs[] = (int) farewell_test_mepr_subscribe($id, $product)->id;
            }}
            $out[] = array('id' => $id, 'login' => $login, 'password' => $login . '-pw',
                'email' => $login . '@example.org', 'subscriptions' => $subs);
        }}
        return $out;
    """)


def cancel(session: requests.Session, site, subscription_id: int) -> float:
    """The member cancels on the front end; returns how long WordPress took to answer."""
    started = time.perf_counter()
    response = session.get(f"{site.url}/?farewell_test_cancel={subscription_id}", timeout=30)
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.text[:500]
    assert CANCEL_PAGE in response.text
    return elapsed


def cancellations(sidecar) -> list[dict]:
    response = sidecar.get(f"/v1/sites/{sidecar.site_id}/cancellations", limit=500)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def outbox(site) -> list[dict]:
    return site.wp_json("""
        global $wpdb;
        return $wpdb->get_results('SELECT id, webhook_id, event_type, status, attempts, last_error FROM '
            . Farewell_Bridge_Outbox::table() . ' ORDER BY id', ARRAY_A);
    """)


def wait_for(condition, timeout: float, interval: float = 0.5, describe=lambda: ""):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s: {describe()}")
        time.sleep(interval)


def assert_no_php_errors(site):
    problems = [line for line in site.debug_log().splitlines()
                if re.search(r"PHP (Fatal|Parse|Warning|Notice)", line) and "farewell" in line.lower()]
    assert not problems, "\n".join(problems)


def install_french(site) -> None:
    """Makes fr_FR an installed language of the site, as on a site whose members speak French
    (WordPress only switches to installed languages). An empty catalogue stands in for
    WordPress's own French files, which are not packaged here; the bridge brings its own."""
    languages = site.docroot / "wp-content" / "languages"
    languages.mkdir(parents=True, exist_ok=True)
    po = languages / "fr_FR.po"
    po.write_text('msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n"Language: fr_FR\\n"\n'
                  '"Plural-Forms: nplurals=2; plural=(n > 1);\\n"\n', encoding="utf-8")
    subprocess.run(["msgfmt", "-o", str(languages / "fr_FR.mo"), str(po)], check=True)


# WordPress's own login page runs scripts of its own after it loads: user-profile.js binds the
# password field (and disables it when it is hidden), and wp_attempt_focus() moves the focus to
# the user name 200 ms later. A form filled while they run was, twice in CI on a loaded machine,
# submitted without signing in or not submitted at all; so the form is filled once they are done.
LOGIN_PAGE_SETTLED = """() => document.readyState === 'complete'
    && (document.activeElement && document.activeElement.id === 'user_login')"""


class SignInTriedAgain(UserWarning):
    """A first sign-in through wp-login.php failed and was tried again (shown in the run's
    warnings summary, not an error: pyproject.toml lets this one category through)."""


def sign_in(page, site, member, then: str | None = None) -> None:
    """Signs `member` (a dict or an object with login and password) in through wp-login.php,
    asking to land on `then` (the site's front page by default)."""
    login, password = (member["login"], member["password"]) if isinstance(member, dict) else (member.login,
                                                                                              member.password)
    page.goto(f"{site.url}/wp-login.php?redirect_to={quote(then or site.url + '/', safe='')}")
    submit_login_form(page, site, login, password)


def submit_login_form(page, site, login: str, password: str) -> None:
    """Fills and submits the login form the browser is on, and returns once it has left
    wp-login.php with WordPress's session cookie.

    The form is WordPress's, not ours: when a first try does not sign in, what the page and the
    server said is kept as a warning, and the form is loaded and sent once more. A second
    failure fails the test with both accounts, so a sign-in that is really broken still fails."""
    login_url = page.url
    first = _try_login_form(page, site, login, password)
    if first is None:
        return
    warnings.warn(SignInTriedAgain(f"signing in through wp-login.php failed once and was tried again: {first}"))
    page.goto(login_url)
    second = _try_login_form(page, site, login, password)
    if second is not None:
        pytest.fail(f"could not sign {login} in through wp-login.php, twice.\nFirst: {first}\nSecond: {second}")


def _try_login_form(page, site, login: str, password: str) -> str | None:
    """One sign-in through the form; None when signed in, else what went wrong."""
    requests_seen = []

    def seen(request):  # the pages asked for, not their assets
        if request.resource_type == "document":
            requests_seen.append(f"{request.method} {request.url}")

    page.on("request", seen)
    try:
        return _fill_and_send(page, site, login, password, requests_seen)
    finally:
        page.remove_listener("request", seen)


def _fill_and_send(page, site, login: str, password: str, requests_seen: list) -> str | None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    try:
        page.wait_for_function(LOGIN_PAGE_SETTLED, timeout=15_000)
    except PlaywrightTimeoutError:
        pass  # a login page without the autofocus (an error shown, a plugin's filter): fill it anyway
    page.fill("#user_login", login)
    page.fill("#user_pass", password)
    state = page.evaluate("""() => ({login: document.getElementById('user_login').value,
        password: document.getElementById('user_pass').value.length,
        disabled: document.getElementById('user_pass').disabled})""")
    page.press("#user_pass", "Enter")
    try:
        page.wait_for_url(lambda url: "wp-login.php" not in url, wait_until="commit")
    except PlaywrightTimeoutError:
        pass
    if "wp-login.php" not in page.url and any(c["name"].startswith("wordpress_logged_in_")
                                              for c in page.context.cookies()):
        return None
    error = page.locator("#login_error")
    said = error.inner_text() if error.count() else "nothing"
    cookies = sorted(c["name"] for c in page.context.cookies())
    return (f"the browser is at {page.url}; the form held {state} when sent; the login page says {said!r}; "
            f"cookies {cookies}; pages asked for {requests_seen}\n{site.logs_tail()}")


def cancel_in_browser(page, site, member):
    page.goto(f"{site.url}/?farewell_test_cancel={member['subscriptions'][0]}")
    assert CANCEL_PAGE in page.content()


def answered(sidecar, **expected):
    """The sidecar's only cancellation, once it carries the expected answer fields."""
    def check():
        items = cancellations(sidecar)
        if len(items) == 1 and all(items[0].get(k) == v for k, v in expected.items()):
            return items[0]
        return None

    return check
