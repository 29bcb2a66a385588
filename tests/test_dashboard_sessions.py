"""Ending dashboard sessions: a copy of the session cookie (a stolen one) dies when its owner signs
out, when anyone presses "Sign out everywhere", when the site's signing secret changes and when
WordPress reports a new administration address. And a forged sign-in link learns nothing about the
site it names. Real Flask test clients; both databases."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

from sidecar.domain import login_tokens
from sidecar.domain.login_tokens import mint
from sidecar.domain.sites import new_secret


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
