"""GET /: whoever opens the sidecar's address learns what it is, where the dashboard opens and where
the docs are — a page in their browser's language, or JSON for an API client."""

from __future__ import annotations

import pytest

from sidecar import create_app

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.fixture
def client(tmp_path):
    # The page reads no database: one SQLite app is enough (no MariaDB run for it).
    app = create_app({"FAREWELL_DATABASE_URL": f"sqlite:///{tmp_path / 'farewell.db'}",
                      "FAREWELL_DATA_DIR": str(tmp_path), "FAREWELL_SECRET_KEY": "k" * 32})
    yield app.test_client()
    app.extensions["farewell.engine"].dispose()


def _strict(response) -> None:
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "script-src" not in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "Accept" in response.headers["Vary"] and "Accept-Language" in response.headers["Vary"]


@pytest.mark.parametrize("language, expected, absent", [
    ("en-GB,en;q=0.9", ["<html lang=\"en\">", "Farewell sidecar", "Open dashboard"], "Ouvrir"),
    ("fr-FR,fr;q=0.9,en;q=0.5", ["<html lang=\"fr\">", "Sidecar Farewell", "« Ouvrir le tableau de bord »"],
     "Open dashboard"),
])
def test_a_browser_gets_a_short_page_in_its_language(client, language, expected, absent):
    response = client.get("/", headers={"Accept": BROWSER, "Accept-Language": language})
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = response.text
    for text in expected:
        assert text in page
    assert absent not in page
    assert '<a href="/openapi.json">' in page and '<a href="https://github.com/farewell/farewell">' in page
    assert "<script" not in page
    _strict(response)


def test_a_browser_that_names_neither_language_gets_both(client):
    page = client.get("/", headers={"Accept": BROWSER, "Accept-Language": "de-DE,de"}).text
    assert "Open dashboard" in page and '<section lang="fr">' in page and "Ouvrir le tableau de bord" in page


@pytest.mark.parametrize("accept", ["application/json", "*/*", None])
def test_an_api_client_gets_json(client, accept):
    response = client.get("/", headers={"Accept": accept} if accept else {})
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.json["service"] == "farewell"
    assert response.json["openapi"] == "/openapi.json" and response.json["health"] == "/healthz"
    assert "WordPress" in response.json["dashboard"]
    _strict(response)


def test_other_unknown_paths_are_still_json_404s(client):
    response = client.get("/nothing-here", headers={"Accept": BROWSER})
    assert response.status_code == 404 and response.json == {"error": "not_found"}
