"""Demo mode and the operator's sign-in link: `dashboard-link` works in demo mode only, and its
link opens the dashboard once; the demo data fills every page."""

from __future__ import annotations

from urllib.parse import urlsplit

from sidecar.demo import seed_dashboard_demo
from tests.test_cli import run


def test_dashboard_link_is_refused_outside_demo_mode(db_url, tmp_path, site):
    result = run("dashboard-link", site["id"], env_extra={"FAREWELL_DATABASE_URL": db_url}, data_dir=tmp_path)
    assert result.returncode == 2
    assert result.stdout == "" and "demo mode only" in result.stderr


def test_dashboard_link_signs_in_once_in_demo_mode(db_url, tmp_path, site, client):
    result = run("dashboard-link", site["id"], env_extra={"FAREWELL_DATABASE_URL": db_url, "FAREWELL_DEMO": "1"},
                 data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    url = urlsplit(result.stdout.strip())
    assert url.path == "/admin/login"
    assert client.get(f"{url.path}?{url.query}").status_code == 303
    assert client.get("/admin/").status_code == 200
    client.delete_cookie("farewell_admin", path="/admin")
    assert client.get(f"{url.path}?{url.query}").status_code == 403


def test_the_demo_data_fills_the_dashboard_once(app, site, client):
    from sidecar.domain.login_tokens import mint

    engine = app.extensions["farewell.engine"]
    assert seed_dashboard_demo(engine, site) > 50
    assert seed_dashboard_demo(engine, site) == 0
    token = mint(site["secret"], site["id"], 1, "o@example.org", "O", "fr_FR")
    client.get("/admin/login", query_string={"token": token})
    feedback = client.get("/admin/feedback").text
    assert feedback.count('<tr class="answer">') == 25 and "Page 1 sur" in feedback
    assert 'class="request"' in client.get("/admin/contact-requests").text
    overview = client.get("/admin/").text
    assert overview.count('<rect x=') >= 24 and "Regagné" in overview
