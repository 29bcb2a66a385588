"""The owner's dashboard in tests: signing in as the bridge would send the WordPress admin
(``sign_in``, a fixture loaded for every test by tests/conftest.py) and a page's CSRF token."""

from __future__ import annotations

import re

import pytest

from sidecar.domain.login_tokens import mint


@pytest.fixture
def sign_in(client, site):
    """Sign in as the WordPress admin, with a token minted exactly as the bridge mints it."""

    def go(locale="fr_FR", email="owner@example.org"):
        token = mint(site["secret"], site["id"], 1, email, "Owner Name", locale)
        response = client.get("/admin/login", query_string={"token": token})
        assert response.status_code == 303, response.text
        assert response.headers["Location"].endswith("/admin/")
        return token

    return go


def csrf_token(client, path="/admin/") -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
