"""The owner's dashboard under /admin: who gets in, what every page shows and changes, and the
protections around it (CSRF, CSP, escaping, the one-time sign-in token). Both databases."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime, timedelta, timezone

import pytest

from sidecar.domain import login_tokens
from sidecar.domain.digest_weeks import week_of
from sidecar.domain.login_tokens import LoginRefused, accept, mint
from sidecar.domain.survey import current_definition
from sidecar.signing import sign
from sidecar.storage import dashboard as dashboard_store
from tests.conftest import make_event
from tests.support.dashboard import csrf_token

NOW = datetime.now(timezone.utc)


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def cancel_and_answer(post_event, n: int, *, reason="too_expensive", comment=None, plan="Or", contact=False,
                      email=None, days_ago=1, follow_up=None, locale="fr_FR", now=None):
    """Member n cancels (plan ``plan``) ``days_ago`` days before ``now`` (by default the module's
    NOW, read once at collection) and answers the survey."""
    at = (now or NOW) - timedelta(days=days_ago)
    member = {"id": f"m{n}", "email": email or f"membre{n}@example.org", "first_name": f"Anaïs {n}", "locale": locale}
    subscription = {**make_event()["subscription"], "id": f"sub_{n}", "plan_name": plan}
    assert post_event(make_event(occurred_at=iso(at), member=member, subscription=subscription)).status_code == 202
    event = make_event(type_="survey.submitted", occurred_at=iso(at + timedelta(minutes=5)), member=member)
    del event["subscription"]
    event["survey"] = {"version": 1, "subscription_id": f"sub_{n}", "reason": reason, "comment": comment,
                       "contact_requested": contact, "follow_up": follow_up, "locale": locale}
    if contact:
        event["survey"]["contact"] = "06 12 34 56 78"
    response = post_event(event)
    assert response.status_code == 202, response.json


# --- who gets in --------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/admin/", "/admin/feedback", "/admin/feedback.csv", "/admin/contact-requests",
                                  "/admin/sequence", "/admin/survey", "/admin/digest", "/admin/digest/preview",
                                  "/admin/settings"])
def test_without_a_session_no_page_is_shown(client, site, path):
    response = client.get(path)
    assert response.status_code == 401
    assert "Open dashboard" in response.text
    assert site["name"] not in response.text


def test_the_admin_api_token_does_not_open_the_dashboard(client, site):
    response = client.get("/admin/", headers={"Authorization": "Bearer test-admin-token-24-char"})
    assert response.status_code == 401


def test_a_bridge_token_opens_a_session_with_a_safe_cookie(client, site):
    token = mint(site["secret"], site["id"], 7, "owner@example.org", "Owner", "en_US")
    response = client.get("/admin/login", query_string={"token": token})
    assert response.status_code == 303
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/admin" in cookie and "Expires=" in cookie
    assert "Secure" not in cookie  # plain http here; see the https test below
    page = client.get("/admin/")
    assert page.status_code == 200
    assert "This week so far" in page.text  # en_US admin on a French site: the admin's language wins


def test_over_https_the_cookie_is_secure(client, site):
    token = mint(site["secret"], site["id"], 7, "owner@example.org", "Owner", "fr_FR")
    response = client.get("/admin/login", query_string={"token": token}, base_url="https://sidecar.test")
    assert "; Secure" in response.headers["Set-Cookie"]


def test_behind_a_trusted_proxy_https_is_taken_from_x_forwarded_proto(db_url, tmp_path):
    from sidecar import create_app
    from sidecar.domain.sites import create_site

    app = create_app({"FAREWELL_DATABASE_URL": db_url, "FAREWELL_DATA_DIR": str(tmp_path / "d"),
                      "FAREWELL_SECRET_KEY": "test-secret-key-24-chars", "FAREWELL_TRUSTED_PROXIES": "1"})
    site = create_site(app.extensions["farewell.engine"], "https://a.example", "A", "UTC", "en_US")
    token = mint(site["secret"], site["id"], 1, "o@example.org", "O", "en_US")
    response = app.test_client().get("/admin/login", query_string={"token": token},
                                     headers={"X-Forwarded-Proto": "https"})
    assert "; Secure" in response.headers["Set-Cookie"]
    app.extensions["farewell.engine"].dispose()


def test_a_token_works_once(client, site):
    token = mint(site["secret"], site["id"], 1, "owner@example.org", "Owner", "fr_FR")
    assert client.get("/admin/login", query_string={"token": token}).status_code == 303
    client.delete_cookie("farewell_admin", path="/admin")
    again = client.get("/admin/login", query_string={"token": token})
    assert again.status_code == 403
    assert "déjà servi" in again.text
    assert "https://club.example.org/wp-admin/admin.php?page=farewell" in again.text
    assert client.get("/admin/").status_code == 401


def test_an_expired_token_is_refused_in_the_admins_language(client, site):
    token = mint(site["secret"], site["id"], 1, "owner@example.org", "Owner", "en_US",
                 now=datetime.now(timezone.utc) - timedelta(seconds=61 + login_tokens.CLOCK_SKEW))
    response = client.get("/admin/login", query_string={"token": token})
    assert response.status_code == 403
    assert "has expired" in response.text


def test_a_tampered_token_or_one_signed_with_another_secret_is_refused(client, site, app):
    token = mint(site["secret"], site["id"], 1, "owner@example.org", "Owner", "fr_FR")
    payload, signature = token.split(".")
    claims = json.loads(login_tokens._unb64(payload))
    claims["user_email"] = "attacker@example.org"
    forged = login_tokens._b64(json.dumps(claims).encode()) + "." + signature
    assert client.get("/admin/login", query_string={"token": forged}).status_code == 403
    from sidecar.domain.sites import new_secret

    other = mint(new_secret(), site["id"], 1, "owner@example.org", "Owner", "fr_FR")
    refused = client.get("/admin/login", query_string={"token": other})
    assert refused.status_code == 403 and "pas valide" in refused.text
    assert client.get("/admin/login", query_string={"token": "garbage"}).status_code == 403
    assert client.get("/admin/").status_code == 401


def test_a_lifetime_over_60_seconds_is_refused(engine, site):
    token = mint(site["secret"], site["id"], 1, "o@example.org", "O", "fr_FR", lifetime=3600)
    with pytest.raises(LoginRefused) as refused:
        accept(engine, token)
    assert refused.value.reason == "invalid"


def test_the_previous_secret_still_signs_in_during_the_grace_period(client, site, app):
    from sidecar.domain.sites import rotate_secret

    rotate_secret(app.extensions["farewell.engine"], site["id"])
    token = mint(site["secret"], site["id"], 1, "o@example.org", "O", "fr_FR")
    assert client.get("/admin/login", query_string={"token": token}).status_code == 303


def test_the_nonce_table_refuses_the_same_nonce_twice(engine, site):
    later = NOW + timedelta(minutes=1)
    with engine.begin() as conn:
        assert dashboard_store.use_login_nonce(conn, site["id"], "n" * 32, "1", later, NOW)
    with engine.begin() as conn:
        assert not dashboard_store.use_login_nonce(conn, site["id"], "n" * 32, "1", later, NOW)


def test_signing_out_ends_the_session(client, site, sign_in):
    sign_in()
    token = csrf_token(client)
    response = client.post("/admin/logout", data={"csrf_token": token})
    assert response.status_code == 303
    assert client.get("/admin/").status_code == 401


# --- protections ------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/admin/logout", "/admin/settings", "/admin/settings/secret", "/admin/survey",
                                  "/admin/digest", "/admin/digest/send", "/admin/sequence/offer",
                                  "/admin/sequence/offer/preview", "/admin/sequence/offer/test",
                                  "/admin/contact-requests/1/answered"])
def test_every_form_needs_the_csrf_token(client, site, sign_in, path):
    sign_in()
    response = client.post(path, data={"name": "Hacked", "confirm": "1"})
    assert response.status_code == 400
    assert "Le formulaire a expiré" in response.text
    assert client.get("/admin/settings").status_code == 200
    response = client.post(path, data={"csrf_token": "not-the-token"})
    assert response.status_code == 400


def test_pages_carry_a_strict_content_security_policy(client, site, sign_in):
    sign_in()
    response = client.get("/admin/")
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "img-src 'self' data:" in csp and "unsafe-inline" not in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "<script" not in response.text and " style=" not in response.text
    refused = client.get("/admin/login", query_string={"token": "x"})
    assert "frame-ancestors 'none'" in refused.headers["Content-Security-Policy"]


def test_email_previews_are_sandboxed_and_framed_by_the_dashboard_only(client, site, sign_in):
    sign_in()
    response = client.get("/admin/sequence/farewell/preview")
    csp = response.headers["Content-Security-Policy"]
    assert "sandbox" in csp and "frame-ancestors 'self'" in csp and "script" not in csp
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"


def test_a_members_comment_is_escaped_everywhere(client, post_event, site, sign_in):
    hostile = '<script>alert("pwned")</script><img src=x onerror=alert(1)>'
    cancel_and_answer(post_event, 1, reason="customer_service", comment=hostile, contact=True)
    sign_in()
    for path in ("/admin/feedback", "/admin/contact-requests", "/admin/digest/preview"):
        text = client.get(path).text
        assert "<script>alert" not in text and "<img src=x" not in text, path
    assert "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;" in client.get("/admin/feedback").text


# --- feedback ---------------------------------------------------------------------------------

@pytest.fixture
def answers(post_event):
    cancel_and_answer(post_event, 1, reason="too_expensive", comment="Trop cher pour moi, désolée", plan="Or")
    cancel_and_answer(post_event, 2, reason="unused", comment="Pas le temps cette année", plan="Argent",
                      follow_up="no_time", days_ago=10)
    cancel_and_answer(post_event, 3, reason="too_expensive", comment="=HYPERLINK(\"http://evil\")", plan="Argent",
                      days_ago=20)
    cancel_and_answer(post_event, 4, reason="missing_features", comment="+33 6 12 34 56 78 ou -@ rien", plan="Or",
                      days_ago=3)


def rows_of(page_text: str) -> int:
    return page_text.count('<tr class="answer">')


def test_feedback_lists_every_answer_and_filters_them(client, answers, sign_in):
    sign_in()
    assert rows_of(client.get("/admin/feedback").text) == 4
    assert rows_of(client.get("/admin/feedback?reason=too_expensive").text) == 2
    assert rows_of(client.get("/admin/feedback?plan=Argent").text) == 2
    assert rows_of(client.get("/admin/feedback?reason=too_expensive&plan=Or").text) == 1
    text = client.get("/admin/feedback?q=TEMPS").text
    assert rows_of(text) == 1 and "Pas le temps" in text
    since = (NOW - timedelta(days=5)).date().isoformat()
    assert rows_of(client.get(f"/admin/feedback?from={since}").text) == 2
    until = (NOW - timedelta(days=15)).date().isoformat()
    assert rows_of(client.get(f"/admin/feedback?to={until}").text) == 1
    assert rows_of(client.get("/admin/feedback?q=100%25").text) == 0  # % is a character, not a wildcard


def test_feedback_is_paginated(client, post_event, sign_in, monkeypatch):
    from sidecar.web.dashboard import feedback

    monkeypatch.setattr(feedback, "PAGE_SIZE", 2)
    for n in range(5):
        cancel_and_answer(post_event, n, comment=f"commentaire {n}", days_ago=n + 1)
    sign_in()
    first, third = client.get("/admin/feedback").text, client.get("/admin/feedback?page=3").text
    assert rows_of(first) == 2 and "commentaire 0" in first and "Page 1 sur 3" in first
    assert rows_of(third) == 1 and "commentaire 4" in third


def test_the_csv_export_opens_in_excel_with_accents_and_no_formulas(client, answers, sign_in):
    sign_in()
    response = client.get("/admin/feedback.csv?plan=Argent")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    raw = response.data
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0][0] == "Date" and rows[0][5] == "Raison"
    assert len(rows) == 3
    comments = {row[7] for row in rows[1:]}
    assert comments == {"Pas le temps cette année", "'=HYPERLINK(\"http://evil\")"}
    everything = list(csv.reader(io.StringIO(client.get("/admin/feedback.csv").data.decode("utf-8-sig"))))
    assert "'+33 6 12 34 56 78 ou -@ rien" in {row[7] for row in everything}
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in everything for cell in row)
    assert "Anaïs 1" in {row[2] for row in everything}


@pytest.mark.parametrize("value, expected", [("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@SUM(A1)", "'@SUM(A1)"),
                                             ("\t=1", "'\t=1"), ("ok = fine", "ok = fine"), (None, ""), (3, "3")])
def test_csv_cells_that_look_like_formulas_are_neutralised(value, expected):
    from sidecar.web.dashboard.feedback import csv_cell

    assert csv_cell(value) == expected


# --- contact requests -------------------------------------------------------------------------

def test_contact_requests_show_the_wait_and_can_be_marked_answered(client, post_event, site, sign_in, admin_get):
    cancel_and_answer(post_event, 1, reason="customer_service", comment="Rappelez-moi", contact=True, days_ago=2)
    sign_in()
    page = client.get("/admin/contact-requests")
    assert "Rappelez-moi" in page.text and "06 12 34 56 78" in page.text
    assert re.search(r"<td>2\xa0jours</td>|<td>2 jours</td>", page.text), page.text
    request_id = admin_get(f"/v1/sites/{site['id']}/contact-requests").json["items"][0]["id"]
    token = csrf_token(client, "/admin/contact-requests")
    response = client.post(f"/admin/contact-requests/{request_id}/answered", data={"csrf_token": token})
    assert response.status_code == 303
    assert admin_get(f"/v1/sites/{site['id']}/contact-requests").json["items"] == []
    answered = admin_get(f"/v1/sites/{site['id']}/contact-requests", status="answered").json["items"]
    assert answered[0]["answered_at"] is not None
    after = client.get("/admin/contact-requests").text
    assert "Marqué comme répondu." in after and 'class="request"' not in after
    # Marking it again, or another site's request, is a 404.
    assert client.post(f"/admin/contact-requests/{request_id}/answered", data={"csrf_token": token}).status_code == 404


# --- sequence ---------------------------------------------------------------------------------

def test_a_sequence_step_is_saved_and_previewed(client, site, sign_in, engine):
    from sidecar.domain.sequences import configured_steps

    sign_in()
    token = csrf_token(client, "/admin/sequence/feedback?lang=fr")
    page = client.get("/admin/sequence/feedback?lang=fr").text
    assert "Une question sur votre passage" in page or "question" in page
    form = {"csrf_token": token, "lang": "fr", "enabled": "1", "delay_hours": "96",
            "copy.subject": "Votre avis compte, {first_name}", "copy.intro": "Nouveau texte d’intro <b>gras</b>."}
    live = client.post("/admin/sequence/feedback/preview", data=form)
    assert live.status_code == 200
    assert "Votre avis compte, Camille" in live.text
    assert "Nouveau texte d’intro &lt;b&gt;gras&lt;/b&gt;." in live.text
    with engine.connect() as conn:
        assert configured_steps(conn, site["id"])["feedback"].copy_overrides == {}  # a preview saves nothing
    assert client.post("/admin/sequence/feedback", data=form).status_code == 303
    with engine.connect() as conn:
        step = configured_steps(conn, site["id"])["feedback"]
    assert step.enabled and step.delay == timedelta(hours=96)
    assert step.copy_overrides == {"fr": {"subject": "Votre avis compte, {first_name}",
                                          "intro": "Nouveau texte d’intro <b>gras</b>."}}
    saved = client.get("/admin/sequence/feedback/preview?lang=fr").text
    assert "Votre avis compte, Camille" in saved
    english = client.get("/admin/sequence/feedback/preview?lang=en").text
    assert "Votre avis compte" not in english
    # Turning it off.
    form.pop("enabled")
    client.post("/admin/sequence/feedback", data=form)
    with engine.connect() as conn:
        assert not configured_steps(conn, site["id"])["feedback"].enabled
    assert "96 h" in client.get("/admin/sequence").text or "4 j" in client.get("/admin/sequence").text


def test_a_bad_delay_is_refused(client, site, sign_in, engine):
    from sidecar.domain.sequences import configured_steps

    sign_in()
    token = csrf_token(client)
    client.post("/admin/sequence/offer", data={"csrf_token": token, "lang": "fr", "delay_hours": "-3"})
    assert "Le délai doit" in client.get("/admin/sequence/offer").text
    with engine.connect() as conn:
        assert configured_steps(conn, site["id"])["offer"].delay == timedelta(days=30)


def test_send_me_a_test_mails_the_signed_in_admin(client, app, site, sign_in, tmp_path):
    sign_in(email="camille.owner@example.org")
    token = csrf_token(client)
    response = client.post("/admin/sequence/offer/test", data={"csrf_token": token, "lang": "fr"})
    assert response.status_code == 303
    mail_dir = tmp_path / "data" / "mail" / "new"
    messages = [p.read_text() for p in mail_dir.iterdir()]
    assert len(messages) == 1 and "To: camille.owner@example.org" in messages[0]
    assert "Un test a été envoyé" in client.get("/admin/sequence/offer").text


def test_an_unknown_step_is_404(client, site, sign_in):
    sign_in()
    assert client.get("/admin/sequence/owner_alert").status_code == 404


# --- survey -----------------------------------------------------------------------------------

def survey_form(client) -> dict:
    page = client.get("/admin/survey").text
    form = dict(re.findall(r'<input type="(?:text|hidden)" name="([^"]+)" value="([^"]*)"', page))
    for name in re.findall(r'<input type="checkbox" name="([^"]+)" value="1" checked>', page):
        form[name] = "1"
    import html

    return {k: html.unescape(v) for k, v in form.items()}


def test_saving_the_survey_inserts_a_new_version_and_old_answers_keep_theirs(client, post_event, site, sign_in,
                                                                               engine):
    cancel_and_answer(post_event, 1, reason="too_expensive", comment="avant")
    sign_in()
    form = survey_form(client)
    assert form["reason.too_expensive.label.fr"] == "C’est trop cher"
    form["reason.too_expensive.label.fr"] = "Le prix est trop élevé"
    form["title.en"] = "Before you leave"
    del form["reason.low_quality.included"]
    assert client.post("/admin/survey", data=form).status_code == 303
    with engine.begin() as conn:
        version, definition = current_definition(conn, site["id"], NOW)
        answer = dashboard_store.list_answers(conn, site["id"], {})[0]
    assert version == 2
    assert definition["title"]["en"] == "Before you leave"
    codes = [r["code"] for r in definition["reasons"]]
    assert "low_quality" not in codes and codes[-1] == "other"
    assert next(r for r in definition["reasons"] if r["code"] == "too_expensive")["label"]["fr"] == \
        "Le prix est trop élevé"
    assert answer["definition_version"] == 1
    assert "Enregistré comme version 2." in client.get("/admin/survey").text
    # The bridge receives the new version.
    response = client.get(f"/v1/sites/{site['id']}/survey", query_string={"locale": "fr_FR"},
                          headers=sign(site["secret"], "survey_get", "", method="GET",
                                       path=f"/v1/sites/{site['id']}/survey"))
    assert response.json["version"] == 2


def test_a_survey_with_an_empty_label_is_not_saved(client, site, sign_in, engine):
    sign_in()
    form = survey_form(client)
    form["reason.unused.label.en"] = "   "
    client.post("/admin/survey", data=form)
    with engine.begin() as conn:
        assert current_definition(conn, site["id"], NOW)[0] == 1


# --- digest -----------------------------------------------------------------------------------

def test_digest_settings_preview_and_send_now(client, app, post_event, site, sign_in, engine, tmp_path):
    from sidecar.domain.digest import digest_settings

    cancel_and_answer(post_event, 1, reason="too_expensive", comment="Un commentaire de la semaine dernière",
                      days_ago=7)
    sign_in(email="patronne@example.org")
    token = csrf_token(client, "/admin/digest")
    response = client.post("/admin/digest", data={"csrf_token": token, "weekday": "3", "hour": "7",
                                                  "recipients": "a@example.org, b@example.org"})
    assert response.status_code == 303
    with engine.connect() as conn:
        settings = digest_settings(conn, site["id"])
    assert (settings["weekday"], settings["hour"], settings["recipients"]) == (3, 7, ["a@example.org", "b@example.org"])
    bad = client.post("/admin/digest", data={"csrf_token": token, "weekday": "9", "hour": "7", "recipients": ""})
    assert bad.status_code == 303
    assert "weekday" in client.get("/admin/digest").text
    preview = client.get("/admin/digest/preview")
    assert preview.status_code == 200
    assert "data:image/png;base64," in preview.text and "cid:" not in preview.text
    assert "Le Club" in preview.text
    assert client.post("/admin/digest/send", data={"csrf_token": token}).status_code == 303
    messages = [p.read_text() for p in (tmp_path / "data" / "mail" / "new").iterdir()]
    assert len(messages) == 1 and "To: patronne@example.org" in messages[0]
    assert "patronne@example.org" in client.get("/admin/digest").text


# --- overview ---------------------------------------------------------------------------------

@pytest.fixture
def dashboard_now(monkeypatch):
    """The moment the overview and the wp-admin summary read "this week so far" at, pinned to the
    test's start, so the week cannot turn between the test's data and the page. Data put at NOW,
    read when the module was collected, fell in last week once the suite crossed Monday 00:00 in
    the site's time zone (a run started on Sunday evening in Paris)."""
    from sidecar.web.dashboard import common, overview

    pinned = datetime.now(timezone.utc)
    monkeypatch.setattr(overview, "now", lambda: pinned)
    monkeypatch.setattr(common, "now", lambda: pinned)
    return pinned


def so_far_this_week(now: datetime, site: dict) -> datetime:
    """Halfway between Monday 00:00 in the site's time zone and ``now``: a cancellation there and
    its answer five minutes later are both in the week ``now`` is in (a cancel at 23:57 on Sunday
    was answered in the next week)."""
    week_start, _ = week_of(now, site["timezone"]).bounds(site["timezone"])
    return week_start + (now - week_start) / 2


def test_the_overview_shows_this_weeks_figures_and_twelve_weeks(client, post_event, site, sign_in, dashboard_now):
    cancel_and_answer(post_event, 1, reason="too_expensive", days_ago=0, now=so_far_this_week(dashboard_now, site))
    sign_in()
    page = client.get("/admin/").text
    assert "Cette semaine, jusqu’ici" in page
    figures = re.search(r"<th scope=\"row\">Résiliations</th><td>(\d+)</td>", page)
    assert figures and figures.group(1) == "1"
    assert page.count('class="bar cancellations"') >= 12
    assert "C’est trop cher" in page


def test_the_summary_route_is_signed_and_gives_this_weeks_figures(client, post_event, site, dashboard_now):
    cancel_and_answer(post_event, 1, days_ago=0, now=so_far_this_week(dashboard_now, site))
    path = f"/v1/sites/{site['id']}/summary"
    assert client.get(path).status_code == 401
    response = client.get(path, headers=sign(site["secret"], "fwb_summary_1", "", method="GET", path=path))
    assert response.status_code == 200, response.json
    data = response.json
    assert data["cancellations"] == 1 and data["revenue_lost"] == {"EUR": "29.00"}
    assert data["open_contact_requests"] == 0 and "digest" not in data


# --- settings ---------------------------------------------------------------------------------

def test_settings_are_saved_and_the_secret_is_rotated_and_shown_once(client, site, sign_in, engine):
    from sidecar.domain.site_settings import effective_settings
    from sidecar.storage.sites import get_site

    sign_in()
    token = csrf_token(client, "/admin/settings")
    form = {"csrf_token": token, "name": "Le Club des Amis", "url": "https://club.example.org",
            "timezone": "America/Montreal", "locale": "fr_FR", "support_email": "aide@example.org",
            "postal_address": "1 rue de la Paix\n75002 Paris", "default_offer_text": "Un mois offert",
            "default_offer_code": "MERCI", "sender_name": "", "owner_emails": ""}
    assert client.post("/admin/settings", data=form).status_code == 303
    with engine.connect() as conn:
        stored, settings = get_site(conn, site["id"]), effective_settings(conn, site["id"])
    assert (stored["name"], stored["timezone"]) == ("Le Club des Amis", "America/Montreal")
    assert settings["postal_address"] == "1 rue de la Paix\n75002 Paris" and settings["default_offer_code"] == "MERCI"
    refused = client.post("/admin/settings", data={**form, "support_email": "not an address"})
    assert refused.status_code == 303 and "support_email" in client.get("/admin/settings").text
    assert client.post("/admin/settings/secret", data={"csrf_token": token}).status_code == 303  # not confirmed
    rotated = client.post("/admin/settings/secret", data={"csrf_token": token, "confirm": "1"})
    assert rotated.status_code == 200
    with engine.connect() as conn:
        now_stored = get_site(conn, site["id"])
    assert now_stored["secret"] != site["secret"] and now_stored["previous_secret"] == site["secret"]
    assert now_stored["secret"] in rotated.text
    assert rotated.headers["Cache-Control"] == "no-store"
    assert now_stored["secret"] not in client.get("/admin/settings").text


def test_the_protocols_test_vector():
    from pathlib import Path

    from sidecar.domain.login_tokens import _b64, _mac

    doc = (Path(__file__).resolve().parents[1] / "docs" / "PROTOCOL.md").read_text()
    section = doc.split("## Signing in to the dashboard", 1)[1]
    payload = re.search(r"payload\s*`(\{.*?\})`", section).group(1)
    token = re.search(r"gives the token\s*`([\w.-]+)`", section).group(1)
    encoded = _b64(payload.encode())
    assert token == f"{encoded}.{_b64(_mac('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', encoded))}"


def test_a_deeply_nested_token_is_refused_not_a_crash(client):
    import base64

    nested = base64.urlsafe_b64encode(b"[" * 2500 + b"]" * 2500).decode().rstrip("=")[:3900]
    response = client.get("/admin/login", query_string={"token": nested + ".AAAA"})
    assert response.status_code in (400, 403)


# --- screens an owner reads without a manual ------------------------------------------------------

def test_the_email_editor_names_each_block_in_words_with_where_it_is_used(client, site, sign_in):
    sign_in()
    page = client.get("/admin/sequence/offer?lang=fr").text
    assert '<label class="block" id="block-subject_discount">Objet quand une réduction est proposée' in page
    assert "Quand le membre a trouvé le prix trop élevé" in page and "Bouton « nouveautés »" in page
    assert "Quand la réduction du code n’est pas connue." in page  # code_only's hint
    for block in ("subject_discount", "code_only", "whats_new_button"):
        assert f">{block}" not in page and f"<label>{block}" not in page, block
    sign_in(locale="en_US")
    english = client.get("/admin/sequence/offer?lang=fr").text
    assert "Subject when a discount is offered" in english and "When the member said it costs too much" in english
    # The live preview's script, from the dashboard's own static folder (the CSP allows no inline script).
    assert re.search(r'<script src="/admin/static/dashboard\.js[^"]*" defer></script>', english)
    assert 'data-live-preview="preview-button"' in english
    with client.get("/admin/static/dashboard.js") as script:
        assert script.status_code == 200 and "requestSubmit" in script.text


def test_a_too_long_block_is_named_in_words(client, site, sign_in):
    sign_in()
    token = csrf_token(client, "/admin/sequence/offer")
    client.post("/admin/sequence/offer", data={"csrf_token": token, "lang": "fr", "delay": "30", "delay_unit": "days",
                                               "copy.subject_discount": "x" * 300})
    assert "« Objet quand une réduction est proposée » est trop long." in client.get("/admin/sequence/offer").text


def test_delays_are_shown_and_entered_in_days_and_in_hours_below_one_day(client, site, sign_in, engine):
    from sidecar.domain.sequences import configured_steps

    sign_in()
    page = client.get("/admin/sequence/offer").text  # 30 days by default
    assert re.search(r'name="delay" id="delay" [^>]*value="30"', page)
    assert '<option value="days" selected>jours</option>' in page
    assert "30 jours" in client.get("/admin/sequence").text
    token = csrf_token(client, "/admin/sequence/offer")

    def save(value, unit):
        return client.post("/admin/sequence/offer", data={"csrf_token": token, "lang": "fr", "enabled": "1",
                                                          "delay": value, "delay_unit": unit})

    def delay():
        with engine.connect() as conn:
            return configured_steps(conn, site["id"])["offer"].delay

    save("3", "days")
    assert delay() == timedelta(days=3)
    save("6", "hours")
    assert delay() == timedelta(hours=6)
    page = client.get("/admin/sequence/offer").text
    assert re.search(r'name="delay" id="delay" [^>]*value="6"', page)
    assert '<option value="hours" selected>heures</option>' in page
    assert "6 heures" in client.get("/admin/sequence").text
    save("30", "hours")  # not a whole number of days: stays in hours, "1 jour 6 heures" in the list
    assert delay() == timedelta(hours=30)
    assert '<option value="hours" selected>' in client.get("/admin/sequence/offer").text
    assert "1 jour 6 heures" in client.get("/admin/sequence").text
    for value, unit in (("366", "days"), ("-1", "days"), ("1.5", "days"), ("deux", "days"), ("3", "weeks")):
        save(value, unit)
        assert delay() == timedelta(hours=30), (value, unit)
        assert "Le délai doit être un nombre entier de jours" in client.get("/admin/sequence/offer").text


def test_the_survey_editor_names_its_texts_and_reasons_in_words(client, site, sign_in):
    sign_in()
    page = client.get("/admin/survey").text
    assert '<fieldset id="text-title"><legend>Titre</legend>' in page
    assert "Posée au-dessus de la liste des raisons." in page  # reason_label's hint
    assert '<fieldset class="reason" id="reason-too_expensive"><legend>C’est trop cher</legend>' in page
    assert "L’e-mail d’offre propose une réduction" in page
    for key in ("title", "reason_label", "contact_detail_label", "too_expensive"):
        assert f"<legend>{key}</legend>" not in page, key
    sign_in(locale="en_US")
    english = client.get("/admin/survey").text
    assert "<legend>It costs too much</legend>" in english and "<legend>Thank-you message</legend>" in english


def test_empty_pages_say_what_to_do(client, post_event, site, sign_in):
    sign_in()
    overview = client.get("/admin/").text
    assert 'id="no-cancellations"' in overview and "WordPress → Farewell → Importer l’historique" in overview
    assert "questionnaire de départ sur la page qui suit la résiliation" in overview
    assert 'id="no-answers"' in client.get("/admin/feedback").text
    assert 'id="no-requests"' in client.get("/admin/contact-requests").text
    cancel_and_answer(post_event, 1, reason="customer_service", contact=True)
    assert 'id="no-cancellations"' not in client.get("/admin/").text
    assert 'id="no-answers"' not in client.get("/admin/feedback").text
    assert "Aucune réponse ne correspond" in client.get("/admin/feedback?reason=unused").text  # filters, not empty
    assert 'id="no-requests"' not in client.get("/admin/contact-requests").text


def test_dates_read_the_same_everywhere_and_the_time_zone_is_named_once(client, post_event, site, sign_in):
    at = datetime(2026, 11, 30, 22, 54, tzinfo=timezone.utc)  # 23:54 in Paris
    member = {"id": "m1", "email": "membre@example.org", "first_name": "Anaïs", "locale": "fr_FR"}
    assert post_event(make_event(occurred_at=iso(at), member=member)).status_code == 202
    event = make_event(type_="survey.submitted", occurred_at=iso(at), member=member)
    del event["subscription"]
    event["survey"] = {"version": 1, "subscription_id": make_event()["subscription"]["id"], "reason": "other",
                       "contact_requested": True, "contact": "06 12 34 56 78", "locale": "fr_FR"}
    assert post_event(event).status_code == 202
    sign_in()
    for path in ("/admin/feedback", "/admin/contact-requests"):
        page = client.get(path).text
        assert "30 nov. 2026, 23:54" in page, path
        assert "30/11/2026" not in page and "11/30/26" not in page, path
        assert page.count("Europe/Paris") == 1 and "Dates et heures : heure d’Europe centrale (Europe/Paris)." in page
    sign_in(locale="en_US")
    page = client.get("/admin/feedback").text
    assert "30 Nov 2026, 23:54" in page and "Dates and times are in Central European Time (Europe/Paris)." in page


def test_the_menu_folds_on_a_narrow_screen_without_script(client, site, sign_in):
    sign_in()
    page = client.get("/admin/").text
    assert '<input type="checkbox" id="menu-toggle" class="menu-toggle">' in page
    assert '<label for="menu-toggle" class="menu-button">Menu</label>' in page
    with client.get("/admin/static/dashboard.css") as response:
        css = response.text
    assert ".menu-toggle:checked ~ nav { display: flex; }" in css and ".scroll { overflow-x: auto;" in css
