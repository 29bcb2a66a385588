"""Demo mode: it keeps to its own folder, database and site (the real ones are never touched), its
twelve weeks of history send nothing, its one sample member gets the four emails, and nothing in it
calls a WordPress. The operator's sign-in link: `dashboard-link` works in demo mode only, and its
link opens the dashboard once; the demo data fills every page."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email import message_from_bytes
from email.policy import default as default_policy
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from sidecar import bridge, config, create_app, db, demo
from sidecar.demo import seed_dashboard_demo
from sidecar.domain import alerts
from sidecar.domain.digest_weeks import week_of
from sidecar.domain.dispatch import DispatchConfig
from sidecar.domain.sites import create_site
from sidecar.jobs.tasks import dispatch_tick
from sidecar.mail.transports import transport_from_url
from sidecar.storage.tables import (cancellations, contact_requests, members, scheduled_emails, survey_answers,
                                   winbacks)
from tests.support.cli import run


@pytest.fixture
def real_site(tmp_path):
    """The site `make run` makes in the data dir, and the bytes of its database."""
    settings = config.load({"FAREWELL_DATA_DIR": str(tmp_path)})
    engine = db.create_engine(settings["FAREWELL_DATABASE_URL"])
    db.migrate(engine)
    site = create_site(engine, "http://localhost", "My membership site")
    engine.dispose()
    return site, (tmp_path / "farewell.db").read_bytes()


@pytest.fixture
def bridge_calls(monkeypatch):
    """Every call the sidecar makes to a WordPress bridge (coupons, wordpress:// mail), recorded,
    then made as usual."""
    calls, call = [], bridge.call
    monkeypatch.setattr(bridge, "call", lambda site, route, *args, **kwargs: (
        calls.append((site["url"], route)), call(site, route, *args, **kwargs))[1])
    return calls


def start_demo(data_dir, now):
    """What `serve --demo` does before serving: the demo's folder made afresh, then its data."""
    settings = config.load({"FAREWELL_DATA_DIR": str(data_dir)}, demo=True)
    demo.start_afresh(settings)
    engine = db.create_engine(settings["FAREWELL_DATABASE_URL"])
    db.migrate(engine)
    return settings, engine, demo.set_up(engine, now)


def test_the_demo_sends_its_one_member_four_emails_and_never_touches_the_real_site(tmp_path, real_site,
                                                                                   bridge_calls):
    site, real_database = real_site
    now = datetime.now(timezone.utc).replace(microsecond=0)
    settings, engine, started = start_demo(tmp_path, now)
    assert settings["FAREWELL_DATA_DIR"] == str(tmp_path / "demo")
    assert started.site["id"] != site["id"] and started.history == 72
    with engine.connect() as conn:
        planned = conn.execute(sa.select(scheduled_emails.c.step, members.c.external_id)
                               .join(members, members.c.id == scheduled_emails.c.member_id)).all()
        assert sorted(planned) == sorted((step, started.member_id) for step in
                                         ("farewell", "feedback", "offer", "door_open"))
        # The history is there, for the dashboard: cancellations, "contact me" answers, win-backs.
        assert conn.execute(sa.select(sa.func.count()).select_from(cancellations)).scalar_one() == 73
        assert conn.execute(sa.select(sa.func.count()).select_from(winbacks)).scalar_one() > 0
        assert conn.execute(sa.select(sa.func.count()).select_from(contact_requests)).scalar_one() == 0
    assert alerts.queue_owner_alerts(engine, now) == 0

    # The whole sequence, on a clock that runs through the next ten weeks.
    transport = transport_from_url(settings["FAREWELL_MAIL_URL"])
    dispatch = DispatchConfig.from_app_config(settings)
    for hours in range(0, 70 * 24, 6):
        dispatch_tick(engine, transport, dispatch, lambda: now + timedelta(hours=hours))
    engine.dispose()
    sent = [message_from_bytes(path.read_bytes(), policy=default_policy)
            for path in sorted((tmp_path / "demo" / "mail" / "new").glob("*.eml"))]
    assert len(sent) == 4 and {message["To"].addresses[0].username for message in sent} == {started.member_id}
    offer = next(m for m in sent if m["Subject"] == "A note from Demo membership site")
    assert demo.DEMO_COUPON_CODE in offer.get_body(("plain",)).get_content()
    assert bridge_calls == []
    assert (tmp_path / "farewell.db").read_bytes() == real_database
    assert not (tmp_path / "mail").exists()


def test_every_demo_starts_afresh(tmp_path):
    now = datetime.now(timezone.utc)
    _, engine, first = start_demo(tmp_path, now)
    engine.dispose()
    settings, engine, second = start_demo(tmp_path, now)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(scheduled_emails)).scalar_one() == 4
        assert [s["id"] for s in conn.execute(sa.text("select id from sites")).mappings()] == [second.site["id"]]
    engine.dispose()
    with pytest.raises(ValueError):
        demo.start_afresh(config.load({"FAREWELL_DATA_DIR": str(tmp_path)}))  # never the real folder
    assert first.site["id"] != second.site["id"]


def test_dashboard_link_is_refused_outside_demo_mode(db_url, tmp_path, site):
    result = run("dashboard-link", site["id"], env_extra={"FAREWELL_DATABASE_URL": db_url}, data_dir=tmp_path)
    assert result.returncode == 2
    assert result.stdout == "" and "demo mode only" in result.stderr


def test_dashboard_link_signs_in_once_in_demo_mode(tmp_path):
    _, engine, started = start_demo(tmp_path, datetime.now(timezone.utc))
    engine.dispose()
    result = run("dashboard-link", env_extra={"FAREWELL_DEMO": "1", "FAREWELL_SECRET_KEY": "k" * 32},
                 data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    url = urlsplit(result.stdout.strip())
    assert url.path == "/admin/login"
    app = create_app({"FAREWELL_DATA_DIR": str(tmp_path), "FAREWELL_SECRET_KEY": "k" * 32}, demo=True)
    client = app.test_client()
    assert client.get(f"{url.path}?{url.query}").status_code == 303
    assert started.site["name"] in client.get("/admin/").text
    client.delete_cookie("farewell_admin", path="/admin")
    assert client.get(f"{url.path}?{url.query}").status_code == 403
    app.extensions["farewell.engine"].dispose()


def test_the_demo_data_fills_the_dashboard_once(app, site, client):
    from sidecar.domain.login_tokens import mint

    engine = app.extensions["farewell.engine"]
    assert seed_dashboard_demo(engine, site) > 50
    assert seed_dashboard_demo(engine, site) == 0
    token = mint(site["secret"], site["id"], 1, "o@example.org", "O", "fr_FR")
    client.get("/admin/login", query_string={"token": token})
    feedback = client.get("/admin/feedback").text
    assert feedback.count('<tr class="answer">') == 25 and "Page 1 sur" in feedback
    # The history's "contact me" answers are what was said then, not calls waiting now.
    with engine.connect() as conn:
        asked = conn.execute(sa.select(sa.func.count()).select_from(survey_answers)
                             .where(survey_answers.c.contact_requested.is_(True))).scalar_one()
    assert asked > 0 and 'class="request"' not in client.get("/admin/contact-requests").text
    overview = client.get("/admin/").text
    assert overview.count('<rect x=') >= 24 and "Regagné" in overview


def test_a_demo_seeded_as_the_sites_week_begins_still_fills_this_week(app, site):
    """Seeded on a Monday ten minutes after midnight in Paris (Sunday 23:10 UTC), the demo's "this
    week so far" is not empty: the overview's revenue chart and wp-admin's figures read it."""
    engine = app.extensions["farewell.engine"]
    now = datetime(2026, 12, 6, 23, 10, tzinfo=timezone.utc)
    week_start, week_end = week_of(now, site["timezone"]).bounds(site["timezone"])
    assert week_start == datetime(2026, 12, 6, 23, 0, tzinfo=timezone.utc)
    seed_dashboard_demo(engine, site, now)
    with engine.connect() as conn:
        this_week = conn.execute(sa.select(sa.func.count()).select_from(cancellations).where(
            cancellations.c.cancelled_at >= week_start, cancellations.c.cancelled_at <= now)).scalar_one()
    assert this_week == 2


def test_the_demo_has_members_at_risk_and_one_who_recovered(app, site, client):
    """Issue 18: the At risk page, the overview and the digest have someone to show."""
    from sidecar.domain import at_risk
    from sidecar.domain.login_tokens import mint

    engine = app.extensions["farewell.engine"]
    now = datetime.now(timezone.utc)
    seed_dashboard_demo(engine, site, now)
    with engine.connect() as conn:
        listed = at_risk.members_at_risk(conn, site["id"])
        last_week = at_risk.week_figures(conn, site["id"], now - timedelta(days=7), now)
        planned = conn.execute(sa.select(sa.func.count()).select_from(scheduled_emails)).scalar_one()
    assert [(row["first_name"], row["reasons"], row["failed_attempts"]) for row in listed] == [
        ("Alice", ["paused"], 0), ("Margaux", ["failed"], 2), ("Théo", ["failed"], 1)]
    assert last_week["left"] == {"recovered": 1, "cancelled": 0, "expired": 0}
    assert planned == 0  # Farewell writes to nobody about a payment
    token = mint(site["secret"], site["id"], 1, "o@example.org", "O", "en_US")
    client.get("/admin/login", query_string={"token": token})
    page = client.get("/admin/at-risk").text
    assert "margaux.1000@example.org" in page and "nathan.1003@example.org" not in page
    assert 'class="at-risk"' in client.get("/admin/").text
