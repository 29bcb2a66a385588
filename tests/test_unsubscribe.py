"""Unsubscribing: a page that asks first, a one-click POST that stops everything at once and never
redirects, links that only ever touch their own member, and suppressions that outlive erasure."""

from __future__ import annotations

import json
import re
from datetime import timedelta

from sidecar.domain.sites import create_site
from sidecar.domain.tokens import unsubscribe_token
from sidecar.signing import sign
from tests.support.emails import CANCELLED_AT, cancel

SECRET_KEY = "test-secret-key-24-chars"


def link_of(received) -> str:
    return re.search(r"http://sidecar\.test(/u/[\w.\-]+)", received.message["List-Unsubscribe"]).group(1)


def first_marketing_email(post, send, smtp):
    post(cancel())
    send(CANCELLED_AT + timedelta(days=3, hours=1))
    return smtp.messages()[1]


def test_a_get_shows_one_button_in_the_members_language_and_changes_nothing(client, post, send, smtp, emails_of):
    path = link_of(first_marketing_email(post, send, smtp))
    page = client.get(path)
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert html.count("<button") == 1 and "Ne plus recevoir ces e-mails" in html and 'lang="fr"' in html
    assert "a•••@example.org" in html and "ana@example.org" not in html
    assert page.headers["Referrer-Policy"] == "no-referrer" and "no-store" in page.headers["Cache-Control"]
    assert emails_of()["offer"]["status"] == "pending"


def test_a_one_click_post_stops_the_rest_and_answers_200_without_a_redirect(client, post, send, smtp, emails_of):
    path = link_of(first_marketing_email(post, send, smtp))
    response = client.post(path, data="List-Unsubscribe=One-Click",
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200 and "Location" not in response.headers
    assert "Vous ne recevrez plus ces e-mails de Le Club Hélène." in response.get_data(as_text=True)
    steps = emails_of()
    assert {steps[s]["status"] for s in ("offer", "door_open")} == {"cancelled"}
    assert steps["offer"]["skip_reason"] == "unsubscribed"
    send(CANCELLED_AT + timedelta(days=400))
    assert len(smtp.messages()) == 2
    assert client.post(path).status_code == 200, "unsubscribing twice is fine"
    assert "C’est fait" in client.get(path).get_data(as_text=True)


def test_the_farewell_also_carries_a_visible_unsubscribe_link(client, post, send, smtp, emails_of):
    post(cancel())
    send(CANCELLED_AT + timedelta(hours=1))
    text = smtp.messages()[0].message.get_body(("plain",)).get_content()
    path = re.search(r"http://sidecar\.test(/u/\S+)", text).group(1)
    assert client.post(path).status_code == 200
    assert emails_of()["feedback"]["status"] == "cancelled"


def test_a_link_of_one_site_cannot_touch_a_member_of_another(app, client, post, emails_of, club):
    post(cancel())
    member_id = _member_row_id(app)
    other = create_site(app.extensions["farewell.engine"], "https://other.example", "Other", "UTC", "en_US")
    forged = unsubscribe_token(SECRET_KEY, other["id"], member_id)  # right key, wrong site
    response = client.post(f"/u/{forged}")
    assert response.status_code == 404 and "Location" not in response.headers
    assert emails_of()["feedback"]["status"] == "pending"
    not_a_token = client.get("/u/not-a-token")
    assert not_a_token.status_code == 404
    # Who opened it is unknown: the page says it in both languages, French marked as such.
    assert "<title>This link does not work · Ce lien ne fonctionne pas</title>" in not_a_token.text
    assert '<h1 lang="fr">Ce lien ne fonctionne pas</h1>' in not_a_token.text
    tampered = unsubscribe_token(SECRET_KEY, club["id"], member_id)[:-2] + "xx"
    assert client.post(f"/u/{tampered}").status_code == 404
    assert emails_of()["feedback"]["status"] == "pending"


def _member_row_id(app) -> int:
    import sqlalchemy as sa

    from sidecar.storage.tables import members

    with app.extensions["farewell.engine"].connect() as conn:
        return conn.execute(sa.select(members.c.id).where(members.c.external_id == "42")).scalar_one()


def test_an_erased_member_stays_unsubscribed(client, post, send, smtp, emails_of, club):
    path = link_of(first_marketing_email(post, send, smtp))
    client.post(path)
    body = json.dumps({"email": "ana@example.org"})
    erase = f"/v1/sites/{club['id']}/privacy/erase"
    erased = client.post(erase, data=body, headers={"Content-Type": "application/json",
                                                    **sign(club["secret"], "erase-1", body, method="POST", path=erase)})
    assert erased.json == {"items_removed": 1}
    # She signs up again later under a new account, then cancels: still nothing.
    later = cancel(CANCELLED_AT + timedelta(days=200))
    later["member"]["id"] = "77"
    later["subscription"]["id"] = "sub_77"
    post(later)
    send(CANCELLED_AT + timedelta(days=200, hours=2))
    assert len(smtp.messages()) == 2
    assert emails_of("77")["farewell"]["skip_reason"] == "unsubscribed"


def test_erasure_cancels_waiting_emails(client, post, emails_of, club):
    post(cancel())
    body = json.dumps({"email": "ana@example.org"})
    erase = f"/v1/sites/{club['id']}/privacy/erase"
    client.post(erase, data=body,
                headers={"Content-Type": "application/json", **sign(club["secret"], "erase-2", body, method="POST",
                                                                      path=erase)})
    items = emails_of(_erased_id(client, club))
    assert {e["status"] for e in items.values()} == {"cancelled"}


def _erased_id(client, club) -> str:
    from tests.conftest import ADMIN_TOKEN

    items = client.get(f"/v1/sites/{club['id']}/emails", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).json
    return items["items"][0]["member"]["id"]
