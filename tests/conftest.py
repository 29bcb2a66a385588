"""Shared fixtures: real databases (SQLite and a throw-away MariaDB), the app, signed requests.

Every storage-touching test takes ``db_url`` and so runs on BOTH backends.
"""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from sidecar import create_app, db
from sidecar.domain.sites import create_site
from sidecar.signing import sign
from sidecar.storage.tables import metadata
from tests.support.applier import apply_pending_events
from tests.support.mariadb import MariaDB
from tests.support.sidecar import SidecarProcess

ADMIN_TOKEN = "test-admin-token-24-char"
# Fixtures several test modules share, kept in tests/support/ rather than imported from a test module.
pytest_plugins = ["tests.support.emails", "tests.support.dashboard"]
ROOT = Path(__file__).resolve().parents[1]

# The holdout (issue 20) keeps a random tenth of a site's voluntary cancellations from the
# follow-ups, which would make every test that counts emails fail now and then: test sites start at
# 0 %, in this process (below) and in the sidecars the tests start (`sites add` reads this
# variable). tests/test_holdout.py sets the share it tests.
os.environ.setdefault("FAREWELL_HOLDOUT_PERCENT", "0")


@pytest.fixture(autouse=True)
def _holdout_off_unless_a_test_sets_it(monkeypatch):
    from sidecar.domain import site_settings

    monkeypatch.setitem(site_settings.DEFAULTS, "holdout_percent", 0)


@pytest.fixture(scope="session")
def mariadb(tmp_path_factory):
    server = MariaDB(tmp_path_factory.mktemp("mariadb")).start()
    yield server
    server.stop()


@pytest.fixture
def own_mariadb(tmp_path):
    """A MariaDB server of this test's own, which the test may stop and start again (the shared one
    must stay up for the others); stopped at the end whatever state the test left it in."""
    server = MariaDB(tmp_path / "own-mariadb").start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def _mariadb_migrated(mariadb):
    url = mariadb.create_database("farewell_test")
    engine = db.create_engine(url)
    db.migrate(engine)
    yield url
    engine.dispose()


def _empty_all_tables(url: str) -> None:
    engine = db.create_engine(url)
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())
    engine.dispose()


@pytest.fixture(scope="session")
def _sqlite_migrated(tmp_path_factory) -> Path:
    """A SQLite database migrated to head once for the run: each test gets a copy of it. Running the
    migrations took 0.2-0.5 s per test on a loaded machine, for about 600 tests; a copy, milliseconds.
    The migrations themselves are tested from an empty database in test_migrations.py."""
    path = tmp_path_factory.mktemp("sqlite-migrated") / "farewell.db"
    engine = db.create_engine(f"sqlite:///{path}")
    db.migrate(engine)
    engine.dispose()
    return path


def _copy_sqlite(source: Path, target: Path) -> None:
    # sqlite3's backup, not a file copy: it reads through SQLite, so a page still in the WAL is copied too.
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


@pytest.fixture(params=["sqlite", "mariadb"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        _copy_sqlite(request.getfixturevalue("_sqlite_migrated"), tmp_path / "farewell.db")
        url = f"sqlite:///{tmp_path / 'farewell.db'}"
        yield url
    else:
        url = request.getfixturevalue("_mariadb_migrated")
        _empty_all_tables(url)
        yield url


@pytest.fixture
def engine(db_url):
    engine = db.create_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def app(db_url, tmp_path):
    app = create_app(
        {
            "FAREWELL_DATABASE_URL": db_url,
            "FAREWELL_DATA_DIR": str(tmp_path / "data"),
            "FAREWELL_ADMIN_TOKEN": ADMIN_TOKEN,
            "FAREWELL_SECRET_KEY": "test-secret-key-24-chars",
            "FAREWELL_PUBLIC_URL": "http://sidecar.test",
        }
    )
    app.config["TESTING"] = True
    # The applier, in tests: each 202 wakes it (as `serve` wakes its thread), and here it applies the
    # pending events at once, in this process (tests.support.applier), so whatever posts an event
    # through this app sees it applied when the response comes. post_event(apply=False) leaves it pending.
    app.extensions["farewell.wake_applier"] = lambda: apply_pending_events(app.extensions["farewell.engine"])
    yield app
    app.extensions["farewell.engine"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def site(app):
    return create_site(app.extensions["farewell.engine"], "https://club.example.org", "Le Club", "Europe/Paris", "fr_FR")


def make_event(type_="subscription.cancelled", occurred_at="2026-11-29T10:00:00Z", **overrides) -> dict:
    """A valid event as the bridge sends it; keyword arguments replace top-level fields."""
    event = {
        "type": type_,
        "occurred_at": occurred_at,
        "source": "memberpress",
        "initiated_by": "member",
        "member": {"id": "42", "email": "ana@example.org", "first_name": "Ana", "locale": "fr_FR"},
        "subscription": {
            "id": "sub_7",
            "plan_id": "3",
            "plan_name": "Or",
            "amount": "29.00",
            "currency": "EUR",
            "interval": "month",
            "status": "cancelled",
            "started_at": "2026-01-03T09:00:00Z",
            "access_ends_at": "2026-12-03T09:00:00Z",
        },
    }
    event.update(overrides)
    return event


@pytest.fixture
def post_event(app, client, site):
    """POST an event signed as the bridge would; every part can be overridden to test refusals.

    An accepted event is applied before the response comes (the app fixture's applier);
    ``apply=False`` leaves it pending."""

    def post(event=None, *, body=None, webhook_id=None, secret=None, at=None, site_id=None, headers=None,
             content_type="application/json", apply=True):
        raw = body if body is not None else json.dumps(event if event is not None else make_event())
        text = raw.decode("utf-8", "surrogateescape") if isinstance(raw, bytes) else raw
        signed = sign(secret or site["secret"], webhook_id or f"msg_{uuid.uuid4().hex}", text,
                      at or datetime.now(timezone.utc)) if not isinstance(raw, bytes) else {}
        signed.update(headers or {})
        wake = app.extensions.pop("farewell.wake_applier") if not apply else None
        try:
            return client.post(
                f"/v1/sites/{site_id or site['id']}/events",
                data=raw.encode("utf-8") if isinstance(raw, str) else raw,
                headers={"Content-Type": content_type, **signed},
            )
        finally:
            if wake is not None:
                app.extensions["farewell.wake_applier"] = wake

    return post


@pytest.fixture
def admin_get(client):
    def get(path, token=ADMIN_TOKEN, **params):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return client.get(path, query_string=params, headers=headers)

    return get


@pytest.fixture
def smtp():
    """A real SMTP server (aiosmtpd) on a free loopback port, keeping every message it accepted."""
    from tests.support.smtp import SmtpServer

    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def sidecar_server(request, tmp_path):
    """Start the real sidecar in its own process: ``sidecar_server(database_url=...)``."""
    started: list[SidecarProcess] = []

    def start(database_url: str | None = None, **kwargs) -> SidecarProcess:
        data_dir = tmp_path / f"sidecar-{len(started)}"
        url = database_url or f"sqlite:///{data_dir / 'farewell.db'}"
        server = SidecarProcess(url, data_dir, **kwargs).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def fresh_mariadb_url(mariadb):
    """A new, empty MariaDB database for a test that runs separate processes."""
    name = f"farewell_{uuid.uuid4().hex[:12]}"
    url = mariadb.create_database(name)
    yield url
    mariadb.drop_database(name)


def count_rows(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


# --- a real browser: Debian's Chromium driven by Playwright ---------------------------------

CHROMIUM = "/usr/bin/chromium"
# Chromium's own background traffic would fail on this network and slow every start.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
TEST_OUTPUT = ROOT / "test-output"


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "chromium is missing: run `make test`, which installs it"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    """A fresh browser context (no cookies) per test."""
    context = browser.new_context(locale="fr-FR")
    page = context.new_page()
    yield page
    context.close()


# The screenshots kept in git for people to look at. A test run writes its own under test-output/run/
# (ignored), so `make test` changes no tracked file; `make screenshots` sets FAREWELL_UPDATE_SCREENSHOTS=1
# to run only the tests that take screenshots, and to write them here.
COMMITTED_SCREENSHOTS = TEST_OUTPUT / "screenshots"
UPDATING_SCREENSHOTS = os.environ.get("FAREWELL_UPDATE_SCREENSHOTS") == "1"


def pytest_collection_modifyitems(config, items):
    if not UPDATING_SCREENSHOTS:
        return
    # A test that takes a screenshot asks for screenshots_dir, so this list cannot miss one.
    kept, dropped = [], []
    for item in items:
        (kept if "screenshots_dir" in getattr(item, "fixturenames", ()) else dropped).append(item)
    config.hook.pytest_deselected(items=dropped)
    items[:] = kept


@pytest.fixture(scope="session")
def screenshots_dir():
    """Where the browser tests save their screenshots (see COMMITTED_SCREENSHOTS)."""
    path = COMMITTED_SCREENSHOTS if UPDATING_SCREENSHOTS else TEST_OUTPUT / "run" / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def figures(request):
    """A dict the test fills with what it measured; saved as test-output/reliability/<test>.json when
    the test ends (passed or not), for docs/RELIABILITY.md."""
    measured: dict = {}
    yield measured
    folder = TEST_OUTPUT / "reliability"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{request.node.name}.json").write_text(json.dumps(measured, indent=2, sort_keys=True, default=str))
