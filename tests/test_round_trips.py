"""Round trips to MariaDB, counted by the server itself (its global status counters, on the tests'
own throw-away server): mysql-connector pinged before every cursor on top of the pool's ping per
checkout, and the pool sent a ROLLBACK with every connection given back after a commit. Now one
ping per checkout and a rollback only for a transaction left open (sidecar/db.py); the applier's
batch and a 202 are counted, and a connection given back mid-transaction is still rolled back."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import sqlalchemy as sa

from sidecar.domain.applier import apply_pending
from sidecar.domain.events import parse_event
from sidecar.domain.ingest import accept_event
from sidecar.domain.sites import create_site
from sidecar.storage.tables import events, sites
from tests.conftest import ROOT, make_event

pytestmark = pytest.mark.parametrize("db_url", ["mariadb"], indirect=True)

LEFT_OPEN = ("INSERT INTO sites (id, url, name, timezone, locale, secret, created_at) "
             "VALUES ('left-open', 'https://open.example.org', 'Open', 'UTC', 'en_US', 's', NOW())")
COUNTERS = ("Questions", "Com_admin_commands", "Com_rollback", "Com_commit")


def server_counters(mariadb) -> dict[str, int]:
    names = ", ".join(f"'{name}'" for name in COUNTERS)
    lines = mariadb.sql(f"SHOW GLOBAL STATUS WHERE Variable_name IN ({names})").stdout.splitlines()[1:]
    return {name: int(value) for name, value in (line.split("\t") for line in lines)}


def counted(mariadb, work) -> dict[str, int]:
    """What the server counted while ``work()`` ran, less what reading the counters costs."""
    first = server_counters(mariadb)
    idle = server_counters(mariadb)
    work()
    last = server_counters(mariadb)
    return {name: (last[name] - idle[name]) - (idle[name] - first[name]) for name in COUNTERS}


def test_a_batch_of_twenty_events_is_applied_with_one_ping_and_no_more_questions_than_statements(engine, mariadb):
    site = create_site(engine, "https://club.example.org", "Le Club", "Europe/Paris", "fr_FR")
    for n in range(20):
        document = make_event(member={"id": str(n), "email": f"m{n}@example.org", "locale": "fr_FR"},
                              subscription={**make_event()["subscription"], "id": f"sub_{n}"})
        accept_event(engine, site["id"], f"msg_{n}", json.dumps(document), parse_event(document))
    statements = []
    sa.event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    reports = []
    server = counted(mariadb, lambda: reports.append(apply_pending(engine)))
    assert (reports[0].claimed, reports[0].applied) == (20, 20)
    # One checkout, one ping (before: one more before each of the batch's 200-odd statements).
    assert server["Com_admin_commands"] == 1, (server, len(statements))
    # The statements and the batch's COMMIT, nothing besides (the pings are not "questions").
    assert server["Com_commit"] == 1 and server["Questions"] == len(statements) + 1, (server, len(statements))
    assert server["Com_rollback"] == 0, server
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).where(events.c.applied_at.is_(None))).scalar_one() == 0


def test_a_202_is_one_checkout_one_ping_and_sends_no_rollback_after_its_commit(app, post_event, mariadb):
    responses = []
    server = counted(mariadb, lambda: responses.append(post_event(make_event(), apply=False)))
    assert responses[0].status_code == 202
    # The first event of a site in this process: one checkout, its ping, the site's secret, the
    # event's INSERT and the COMMIT. Before: two checkouts (6 round trips: a ping each, and the
    # site read's transaction rolled back), and before that a ping per cursor and a ROLLBACK after
    # the COMMIT.
    assert server == {"Questions": 3, "Com_admin_commands": 1, "Com_rollback": 0, "Com_commit": 1}, server
    # The next ones: the site's row is kept by the process, and the INSERT itself checks that its
    # secrets are still those (INSERT … SELECT … FROM sites WHERE): the ping, the INSERT, the COMMIT,
    # the round trips of the floor app that only stores each body (bench/bare_app.py).
    for _ in range(3):
        server = counted(mariadb, lambda: responses.append(post_event(make_event(), apply=False)))
        assert responses[-1].status_code == 202
        assert server == {"Questions": 2, "Com_admin_commands": 1, "Com_rollback": 0, "Com_commit": 1}, server
    engine = app.extensions["farewell.engine"]
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(events)).scalar_one() == 4


def test_a_duplicate_and_a_refused_event_each_take_one_checkout_and_leave_nothing_open(app, post_event, mariadb):
    engine = app.extensions["farewell.engine"]
    assert post_event(make_event(), webhook_id="msg_once", apply=False).status_code == 202
    responses = []
    server = counted(mariadb, lambda: responses.append(post_event(make_event(), webhook_id="msg_once", apply=False)))
    # The INSERT refused by the unique key, rolled back; the duplicate read in a transaction of its
    # own, rolled back: one checkout still.
    assert responses[0].status_code == 200 and responses[0].json == {"status": "duplicate"}
    assert server["Com_admin_commands"] == 1 and server["Com_commit"] == 0, server
    server = counted(mariadb, lambda: responses.append(post_event(make_event(occurred_at="yesterday"), apply=False)))
    assert responses[-1].status_code == 400 and server["Com_admin_commands"] == 1, server
    assert server["Com_commit"] == 0 and server["Com_rollback"] == 1, server  # the site read's transaction
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(events)).scalar_one() == 1
    assert engine.pool.checkedout() == 0


def test_a_connection_given_back_with_its_transaction_open_is_still_rolled_back(engine, mariadb):
    # A raw connection (no SQLAlchemy transaction to end) writes, then goes back to the pool without
    # commit or rollback: the pool's reset must roll it back, its row gone and its lock released.
    raw = engine.raw_connection()
    cursor = raw.cursor()
    cursor.execute(LEFT_OPEN)
    cursor.close()
    server = counted(mariadb, raw.close)
    assert server["Com_rollback"] == 1, server
    with engine.begin() as conn:
        conn.exec_driver_sql("SET SESSION innodb_lock_wait_timeout = 1")
        assert conn.execute(sa.select(sa.func.count()).where(sites.c.id == "left-open")).scalar_one() == 0
        # The key is free: the same row goes in at once instead of waiting for a lock.
        conn.execute(sa.text(LEFT_OPEN))


ENTRY_POINTS = {
    # gunicorn's sidecar:create_app(): the web and digest modules are imported before the engine is made.
    "web": "from sidecar import create_app\n"
           "app = create_app({'FAREWELL_DATABASE_URL': URL, 'FAREWELL_DATA_DIR': DATA, 'FAREWELL_ADMIN_TOKEN': 'a' * 24,"
           " 'FAREWELL_SECRET_KEY': 's' * 24, 'FAREWELL_PUBLIC_URL': 'http://sidecar.test'})\n"
           "engine = app.extensions['farewell.engine']\n",
    # python -m jobs: its scheduler's modules are imported before the engine is made.
    "jobs": "import jobs.__main__\nfrom sidecar import db\nengine = db.create_engine(URL)\n",
}


@pytest.mark.parametrize("entry_point", sorted(ENTRY_POINTS))
def test_the_web_app_and_the_jobs_process_talk_to_mariadb_through_the_c_extension(db_url, entry_point, tmp_path):
    # Loaded after the sidecar's other libraries, the extension failed ("cannot allocate memory in
    # static TLS block") and mysql-connector fell back to its pure-Python protocol without a word.
    script = (f"URL, DATA = {db_url!r}, {str(tmp_path)!r}\n" + ENTRY_POINTS[entry_point]
              + "with engine.connect() as conn:\n    print(type(conn.connection.dbapi_connection).__name__)\n")
    run = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.split()[-1] == "CMySQLConnection", run.stdout
