"""Ending dashboard sessions: a copy of the session cookie (a stolen one) dies when its owner signs
out, when anyone presses "Sign out everywhere", when the site's signing secret changes and when
WordPress reports a new administration address. And a forged sign-in link learns nothing about the
site it names. Real Flask test clients; both databases."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

import pytest

from sidecar.domain import login_tokens
from sidecar.domain.login_tokens import mint
from sidecar.domain.sites import new_secret, rotate_secret
from sidecar.signing import verification_secrets
from sidecar.storage.sites import get_site
from tests.conftest import make_event
from tests.support.dashboard import csrf_token

COOKIE = "farewell_admin"


def copy_of_cookie(client) -> str:
    """The session cookie's value, as a thief would take it from the browser."""
    cookie = client.get_cookie(COOKIE, path="/admin")
    assert cookie is not None
    return cookie.value


def thief(app, value: str):
    """Another browser, holding a copy of the cookie."""
    other = app.test_client()
    other.set_cookie(COOKIE, value, path="/admin")
    return other


def signed_in(client) -> bool:
    response = client.get("/admin/")
    assert response.status_code in (200, 401), response.text
    return response.status_code == 200


@pytest.fixture
def site_engine(app):
    return app.extensions["farewell.engine"]


# --- signing out ------------------------------------------------------------------------------

def test_a_copy_of_the_cookie_dies_when_its_owner_signs_out(app, client, site, sign_in):
    sign_in()
    stolen = copy_of_cookie(client)
    assert signed_in(thief(app, stolen))
    assert client.post("/admin/logout", data={"csrf_token": csrf_token(client)}).status_code == 303
    assert not signed_in(client)
    assert not signed_in(thief(app, stolen))


def test_signing_out_ends_that_session_only(app, client, site, sign_in):
    sign_in()
    other_browser = app.test_client()
    token = mint(site["secret"], site["id"], 2, "second@example.org", "Second Admin", "en_US")
    assert other_browser.get("/admin/login", query_string={"token": token}).status_code == 303
    client.post("/admin/logout", data={"csrf_token": csrf_token(client)})
    assert not signed_in(client)
    assert signed_in(other_browser)


def test_sign_out_everywhere_ends_every_session_of_the_site(app, client, site, sign_in):
    sign_in()
    stolen = copy_of_cookie(client)
    other_browser = app.test_client()
    token = mint(site["secret"], site["id"], 2, "second@example.org", "Second Admin", "en_US")
    assert other_browser.get("/admin/login", query_string={"token": token}).status_code == 303
    page = client.get("/admin/settings")
    assert "Se déconnecter partout" in page.text
    response = client.post("/admin/sign-out-everywhere", data={"csrf_token": csrf_token(client, "/admin/settings")})
    assert response.status_code == 303 and response.headers["Location"].endswith("/admin/signed-out")
    assert "déconnecté" in client.get(response.headers["Location"]).text
    assert not signed_in(client)
    assert not signed_in(other_browser)
    assert not signed_in(thief(app, stolen))
    # WordPress opens a new session as before.
    sign_in()
    assert signed_in(client)


def test_sign_out_everywhere_needs_the_csrf_token(app, client, site, sign_in):
    sign_in()
    response = client.post("/admin/sign-out-everywhere")
    assert response.status_code == 400
    assert signed_in(client)


def test_a_session_of_another_site_is_not_ended(app, client, site, sign_in, site_engine):
    from sidecar.domain.sites import create_site

    other_site = create_site(site_engine, "https://other.example.org", "Other", "UTC", "en_US")
    other_browser = app.test_client()
    token = mint(other_site["secret"], other_site["id"], 1, "o@example.org", "O", "en_US")
    assert other_browser.get("/admin/login", query_string={"token": token}).status_code == 303
    sign_in()
    client.post("/admin/sign-out-everywhere", data={"csrf_token": csrf_token(client)})
    assert not signed_in(client)
    assert signed_in(other_browser)


def test_a_session_cookie_without_an_issue_time_is_refused(app, client, site):
    """Cookies made before sessions could be ended carry no issue time: they are not honoured."""
    now = int(datetime.now(timezone.utc).timestamp())
    old_style = app.session_interface.get_signing_serializer(app).dumps(
        {"site_id": site["id"], "user_id": "1", "email": "o@example.org", "name": "O", "locale": "fr_FR",
         "signed_in_at": now, "_permanent": True})
    assert not signed_in(thief(app, old_style))


# --- a new secret -----------------------------------------------------------------------------

def test_a_new_secret_from_the_command_line_ends_every_session(app, client, site, sign_in, site_engine, post_event):
    sign_in()
    stolen = copy_of_cookie(client)
    rotate_secret(site_engine, site["id"])
    assert not signed_in(client)
    assert not signed_in(thief(app, stolen))
    # The routine rotation: the old secret still signs events and sign-in links for 24 hours.
    assert post_event(make_event(), secret=site["secret"]).status_code == 202
    sign_in()
    assert signed_in(client)


def test_rotating_now_stops_the_old_secret_at_once(app, client, site, sign_in, site_engine, post_event):
    sign_in()
    stolen = copy_of_cookie(client)
    secret = rotate_secret(site_engine, site["id"], immediately=True)
    assert not signed_in(thief(app, stolen))
    assert post_event(make_event(), secret=site["secret"]).status_code == 401
    old_link = mint(site["secret"], site["id"], 1, "o@example.org", "O", "fr_FR")
    assert client.get("/admin/login", query_string={"token": old_link}).status_code == 403
    assert post_event(make_event(), secret=secret).status_code == 202
    with site_engine.connect() as conn:
        assert verification_secrets(get_site(conn, site["id"]), datetime.now(timezone.utc)) == [secret]


def test_rotating_now_also_drops_a_previous_secret_still_in_its_grace_period(site, site_engine, post_event):
    second = rotate_secret(site_engine, site["id"])
    third = rotate_secret(site_engine, site["id"], immediately=True)
    for old in (site["secret"], second):
        assert post_event(make_event(), secret=old).status_code == 401
    assert post_event(make_event(), secret=third).status_code == 202


def test_a_new_secret_from_the_dashboard_ends_other_sessions_and_keeps_this_one(app, client, site, sign_in,
                                                                               site_engine, post_event):
    sign_in()
    stolen = copy_of_cookie(client)
    page = client.get("/admin/settings")
    rotated = client.post("/admin/settings/secret",
                          data={"csrf_token": csrf_token(client, "/admin/settings"), "confirm": "1"})
    assert rotated.status_code == 200
    assert not signed_in(thief(app, stolen))
    assert signed_in(client)  # whoever rotated keeps working (and sees the new secret once)
    with site_engine.connect() as conn:
        stored = get_site(conn, site["id"])
    assert stored["secret"] in rotated.text and stored["previous_secret"] == site["secret"]
    assert post_event(make_event(), secret=site["secret"]).status_code == 202  # still inside the 24 hours
    assert "immediately" in page.text  # the form offers the leaked-secret option


def test_a_leaked_secret_is_stopped_at_once_from_the_dashboard(app, client, site, sign_in, site_engine, post_event):
    sign_in()
    stolen = copy_of_cookie(client)
    rotated = client.post("/admin/settings/secret", data={"csrf_token": csrf_token(client, "/admin/settings"),
                                                          "confirm": "1", "immediately": "1"})
    assert rotated.status_code == 200
    with site_engine.connect() as conn:
        stored = get_site(conn, site["id"])
    assert stored["secret"] in rotated.text
    assert post_event(make_event(), secret=site["secret"]).status_code == 401
    assert post_event(make_event(), secret=stored["secret"]).status_code == 202
    assert not signed_in(thief(app, stolen))
    assert signed_in(client)


def test_the_command_lines_now_flag_stops_the_old_secret_at_once(db_url, tmp_path, engine):
    from tests.support.cli import run

    def cli(*args):
        return run(*args, env_extra={"FAREWELL_DATABASE_URL": db_url}, data_dir=tmp_path)

    created = json.loads(cli("sites", "add", "--url", "https://a.example.org", "--name", "A").stdout)
    routine = cli("sites", "rotate-secret", created["site_id"])
    assert routine.returncode == 0 and "24 hours" in routine.stderr and "session" in routine.stderr
    at = datetime.now(timezone.utc)
    with engine.connect() as conn:
        site = get_site(conn, created["site_id"])
    assert verification_secrets(site, at) == [routine.stdout.strip(), created["secret"]]
    assert site["sessions_valid_after"] is not None

    leaked = cli("sites", "rotate-secret", created["site_id"], "--now")
    assert leaked.returncode == 0, leaked.stderr
    assert "no longer verifies" in leaked.stderr
    with engine.connect() as conn:
        site = get_site(conn, created["site_id"])
    assert verification_secrets(site, datetime.now(timezone.utc)) == [leaked.stdout.strip()]


# --- a new administrator ----------------------------------------------------------------------

def test_a_new_wordpress_admin_email_ends_every_session(app, client, site, sign_in, site_engine):
    from sidecar.domain.digest import save_wordpress_admin_email

    def report(email):
        with site_engine.begin() as conn:
            save_wordpress_admin_email(conn, site["id"], email)

    report("ancien@club.example.org")  # the first report: nothing to end
    sign_in()
    assert signed_in(client)
    report("ancien@club.example.org")  # reported again unchanged ("Test connection")
    report("Ancien@Club.example.org")  # the same address in other capitals
    assert signed_in(client)
    stolen = copy_of_cookie(client)
    report("nouveau@club.example.org")
    assert not signed_in(client)
    assert not signed_in(thief(app, stolen))


# --- a forged sign-in link --------------------------------------------------------------------

def test_a_forged_link_naming_a_real_site_learns_nothing_about_it(client, site):
    claims = {"site_id": site["id"], "user_id": 1, "user_email": "eve@example.org", "display_name": "Eve",
              "locale": "fr_FR", "iat": int(datetime.now(timezone.utc).timestamp()),
              "exp": int(datetime.now(timezone.utc).timestamp()) + 60, "nonce": "0" * 32}
    made_up = {**claims, "site_id": "site_doesnotexist"}
    for signature in ("A" * 43, login_tokens._b64(b"not a mac"), ""):
        forged = login_tokens._b64(json.dumps(claims).encode()) + "." + signature
        response = client.get("/admin/login", query_string={"token": forged})
        assert response.status_code == 403
        assert "pas valide" in response.text  # the claimed language is still used
        for detail in (site["url"], "club.example.org", site["name"]):
            assert detail not in response.text
        # Not even whether the site exists: the page is the one a made-up site id gets.
        unknown = login_tokens._b64(json.dumps(made_up).encode()) + "." + signature
        assert client.get("/admin/login", query_string={"token": unknown}).text == response.text
    other_secret = mint(new_secret(), site["id"], 1, "eve@example.org", "Eve", "en_US")
    response = client.get("/admin/login", query_string={"token": other_secret})
    assert response.status_code == 403 and "club.example.org" not in response.text


def test_a_genuine_but_expired_link_still_leads_back_to_wordpress(client, site):
    token = mint(site["secret"], site["id"], 1, "owner@example.org", "Owner", "fr_FR",
                 now=datetime.now(timezone.utc) - timedelta(seconds=61 + login_tokens.CLOCK_SKEW))
    response = client.get("/admin/login", query_string={"token": token})
    assert response.status_code == 403 and "expiré" in response.text
    assert re.search(r'href="https://club\.example\.org/wp-admin/admin\.php\?page=farewell"', response.text)


# --- requests without the cookie ---------------------------------------------------------------

def test_a_request_without_the_cookie_builds_no_signing_serializer_and_a_signed_in_one_still_reads_its_session(
        app, client, site, sign_in, post_event, monkeypatch):
    # Flask builds the session cookie's serializer (hashlib, itsdangerous) for every request before it
    # looks for the cookie; the bridge's events never carry it (issue 15: a few percent of a 202).
    built = []
    original = type(app.session_interface).get_signing_serializer
    monkeypatch.setattr(type(app.session_interface), "get_signing_serializer",
                        lambda self, app_: built.append(1) or original(self, app_))
    assert post_event(make_event(), apply=False).status_code == 202
    assert client.get("/healthz").status_code == 200
    assert built == []
    sign_in()
    assert signed_in(client)
    built.clear()
    assert signed_in(thief(app, copy_of_cookie(client)))  # read from the cookie alone
    assert built
