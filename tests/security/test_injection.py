"""Markup, SQL and spreadsheet formulas typed by members (names, plan names, survey comments and
follow-ups) are stored exactly as typed and stay inert wherever they are shown: the dashboard,
the CSV export, the emails (text and HTML parts, sent for real over SMTP) and the weekly digest.
Both databases; one test in a real browser."""

from __future__ import annotations

import csv
import html
import io
import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import requests
from markupsafe import escape

from sidecar.domain.digest import build_digest, week_of
from sidecar.domain.digest_render import render_digest
from sidecar.domain.login_tokens import mint
from sidecar.signing import sign
from sidecar.storage.sites import get_site
from sidecar.storage.tables import members, subscriptions
from tests.conftest import ADMIN_TOKEN, make_event
from tests.support.emails import bodies

PAYLOADS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "'; DROP TABLE members; --",
    # A template expression: evaluated, it would read TEMPLATED (a word no token or id contains,
    # where the old "{{7*7}}" was checked by looking for "49", which a random token can hold).
    "{{ 'TEMPL' ~ 'ATED' }}",
    '=HYPERLINK("http://evil","x")',
    "+1",
    "-1+1",
    "@SUM(1)",
    "\t=1+1",
    "\r=1+1",
]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
NOW = datetime.now(timezone.utc).replace(microsecond=0)
CANCELLED_AT = NOW - timedelta(days=2)


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def hostile_member(n: int, payload: str) -> list[dict]:
    """Member n cancels a plan named ``payload``, is called ``payload``, and answers with it."""
    member = {"id": f"m{n}", "email": f"member{n}@example.org", "first_name": payload, "locale": "fr_FR"}
    subscription = {**make_event()["subscription"], "id": f"sub_{n}", "plan_name": payload}
    cancelled = make_event(occurred_at=_iso(CANCELLED_AT + timedelta(minutes=n)), member=member,
                           subscription=subscription)
    answered = make_event(type_="survey.submitted", occurred_at=_iso(CANCELLED_AT + timedelta(minutes=30 + n)),
                          member=member)
    del answered["subscription"]
    answered["survey"] = {"version": 1, "subscription_id": f"sub_{n}", "reason": "too_expensive",
                          "follow_up": payload, "comment": payload, "contact_requested": True,
                          "contact": f"+33 6 00 00 00 {n:02d}", "locale": "fr_FR"}
    return [cancelled, answered]


@pytest.fixture
def hostile(post, club):
    for n, payload in enumerate(PAYLOADS):
        for event in hostile_member(n, payload):
            post(event)
    return club


def assert_inert(page: str, where: str, shown: bool = True) -> None:
    assert "<script>alert" not in page and "<img src=x" not in page, where
    if shown:  # the payload is on the page, as text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page, where


def test_payloads_are_stored_byte_exact(client, hostile):
    items = client.get(f"/v1/sites/{hostile['id']}/cancellations", query_string={"limit": 100},
                       headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).json["items"]
    stored = {item["member"]["id"]: item for item in items}
    for n, payload in enumerate(PAYLOADS):
        item = stored[f"m{n}"]
        # Text is trimmed of surrounding whitespace (so "\t=1+1" keeps "=1+1"); every other byte is kept.
        for stored_text in (item["comment"], item["follow_up"], item["member"]["first_name"],
                            item["subscription"]["plan_name"]):
            assert stored_text == payload.strip(), repr(payload)
    assert len(stored) == len(PAYLOADS)  # and the members table is still there


def test_the_dashboard_shows_them_as_text(client, hostile):
    token = mint(hostile["secret"], hostile["id"], 1, "owner@example.org", "Owner", "fr_FR")
    assert client.get("/admin/login", query_string={"token": token}).status_code == 303
    for path in ("/admin/", "/admin/feedback", "/admin/contact-requests", "/admin/digest/preview"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert_inert(page.text, path, shown=path != "/admin/")
    feedback = client.get("/admin/feedback").text
    assert str(escape('"><img src=x onerror=alert(1)>')) in feedback
    assert str(escape("{{ 'TEMPL' ~ 'ATED' }}")) in feedback and "TEMPLATED" not in feedback  # not evaluated


def test_the_csv_export_neutralises_formulas(client, hostile):
    token = mint(hostile["secret"], hostile["id"], 1, "owner@example.org", "Owner", "fr_FR")
    client.get("/admin/login", query_string={"token": token})
    response = client.get("/admin/feedback.csv")
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"), newline="")))
    cells = [cell for row in rows[1:] for cell in row]
    assert not [cell for cell in cells if cell.startswith(FORMULA_STARTS)]
    for payload in (p.strip() for p in PAYLOADS):
        expected = "'" + payload if payload.startswith(FORMULA_STARTS) else payload
        assert expected in cells, repr(payload)  # the comment, whole, behind one apostrophe if needed


@pytest.mark.parametrize("cell", ["\t=1+1", "\r=1+1", "\r\n@SUM(1)", "-1+1", "+1"])
def test_a_cell_starting_with_tab_or_carriage_return_is_neutralised_too(cell):
    from sidecar.web.dashboard.feedback import csv_cell

    assert csv_cell(cell) == "'" + cell


def test_emails_and_the_digest_keep_them_inert(hostile, send, smtp, app):  # noqa: F811
    send(NOW)  # the farewells (an hour after each cancel) and the owner's alerts about the contact requests
    messages = smtp.messages()
    farewells = [m for m in messages if "member" in m.recipients[0]]
    alerts = [m for m in messages if m.recipients[0] == "patronne@club.example"]
    assert len(farewells) == len(PAYLOADS) and len(alerts) == len(PAYLOADS)
    for received in messages:
        text, html_part = bodies(received)
        assert "<script>alert" not in html_part and "<img src=x" not in html_part
        assert "TEMPLATED" not in html_part and "TEMPLATED" not in text
        for name, value in received.message.items():
            assert "\r" not in value and "\n" not in value.strip(), name  # no header injection
    alert_text = " ".join(bodies(m)[0] for m in alerts)
    alert_html = " ".join(bodies(m)[1] for m in alerts)
    assert "<script>alert(1)</script>" in alert_text  # the text part is plain text: shown as typed
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in alert_html

    engine = app.extensions["farewell.engine"]
    with engine.connect() as conn:
        site = get_site(conn, hostile["id"])
        digest = build_digest(conn, site, week_of(CANCELLED_AT, site["timezone"]), NOW)
    rendered = render_digest(json.loads(json.dumps(digest, default=str)), site, "fr", "http://sidecar.test/admin")
    assert "<script>alert" not in rendered.html and "<img src=x" not in rendered.html
    shown = [p for p in PAYLOADS if p.strip() in rendered.text]
    assert shown, "the digest quotes some comments and plans"
    # Text content: < > & escaped (quotes need not be, outside attributes; the CSS inliner leaves them bare).
    assert all(html.escape(p.strip(), quote=False) in rendered.html for p in shown if "<" in p)


def test_line_breaks_in_one_line_fields_forge_no_line_in_storage_the_digest_or_the_csv(
        post, club, client, app):
    """A first name, a plan name and a contact detail are shown on one line (the digest's text
    part, a CSV row, an email's subject): every run of line breaks or other whitespace and control
    characters in them becomes one space when they come in, and again where they are shown on one
    line, for rows stored before. A comment keeps its lines."""
    [cancelled, answered] = hostile_member(0, "x")
    cancelled["member"]["first_name"] = answered["member"]["first_name"] = "Ana\r\nBcc: eve@example.org"
    cancelled["subscription"]["plan_name"] = "Or\u2028Subject:\x85forged\x0b\x0c\tplan"
    answered["survey"].update(contact="+33 6\r\n\r\nBcc: x", comment="Première ligne\nDeuxième ligne")
    post(cancelled)
    post(answered)
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    [item] = client.get(f"/v1/sites/{club['id']}/cancellations", headers=headers).json["items"]
    assert item["member"]["first_name"] == "Ana Bcc: eve@example.org"
    assert item["subscription"]["plan_name"] == "Or Subject: forged plan"
    assert item["comment"] == "Première ligne\nDeuxième ligne"
    [request] = client.get(f"/v1/sites/{club['id']}/contact-requests", headers=headers).json["items"]
    assert request["contact"] == "+33 6 Bcc: x"

    engine = app.extensions["farewell.engine"]
    with engine.begin() as conn:  # a name and a plan stored before they were put on one line
        conn.execute(members.update().values(first_name="Ana\nBcc: old"))
        conn.execute(subscriptions.update().values(plan_name="Or\r\nSubject: old"))
    with engine.connect() as conn:
        site = get_site(conn, club["id"])
        digest = build_digest(conn, site, week_of(CANCELLED_AT, site["timezone"]), NOW)
    text = render_digest(json.loads(json.dumps(digest, default=str)), site, "fr", "http://x/admin").text
    lines = text.splitlines()
    assert any("Ana Bcc: old" in line and "+33 6 Bcc: x" in line for line in lines), text
    assert any("Or Subject: old" in line for line in lines), text
    assert not [line for line in lines if line.lstrip().startswith(("Bcc:", "Subject:"))], text

    client.get("/admin/login", query_string={"token": mint(club["secret"], club["id"], 1, "owner@example.org",
                                                          "Owner", "fr_FR")})
    exported = client.get("/admin/feedback.csv").data.decode("utf-8-sig")
    [_header, row] = list(csv.reader(io.StringIO(exported, newline="")))
    assert {"Ana Bcc: old", "Or Subject: old", "'+33 6 Bcc: x"} <= set(row)
    # One physical line per row, but for the comment's own line break (quoted in its cell).
    assert exported.count("\r\n") == 2 and exported.count("\n") == 3


def test_a_real_browser_runs_nothing_from_them(sidecar_server, page):
    server = sidecar_server()
    for n, payload in enumerate(PAYLOADS):
        for event in hostile_member(n, payload):
            body = json.dumps(event)
            response = requests.post(f"{server.url}/v1/sites/{server.site_id}/events", data=body.encode(), timeout=10,
                                     headers={"Content-Type": "application/json",
                                              **sign(server.secret, f"msg_{uuid.uuid4().hex}", body)})
            assert response.status_code == 202, response.text
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    token = mint(server.secret, server.site_id, 1, "owner@example.org", "Owner", "fr_FR")
    page.goto(f"{server.url}/admin/login?token={token}")
    for path in ("/admin/feedback", "/admin/contact-requests", "/admin/"):
        page.goto(server.url + path)
        assert page.locator("img[src='x']").count() == 0, path
        assert page.locator("script:not([src])").count() == 0, path
    page.goto(server.url + "/admin/feedback")
    assert page.get_by_text("<script>alert(1)</script>").count() >= 1  # shown, as text
    assert dialogs == []
