"""One run of the dispatcher records all its batches' sends on one thread and one connection, not a
thread started and a connection set up per batch (which the batch's first record waited for), and
leaves no thread running after it and the connection's checks on again. Real aiosmtpd (in this
process, so its hook sees the dispatcher's threads), real SQLite and MariaDB."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

import sqlalchemy as sa

from bench.dispatch import seed_due_emails
from sidecar.domain.compose import MailConfig
from sidecar.domain.dispatch import DispatchConfig, dispatch_due
from sidecar.domain.sites import create_site
from sidecar.mail.transports import transport_from_url

CONFIG = DispatchConfig(mail=MailConfig("record-thread-secret-0123", "http://sidecar.test", "farewell@localhost"),
                        batch_size=3)
EMAILS = 9  # three full batches, and the empty claim that ends the run


def _record_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("farewell-record")]


def test_a_run_records_every_batch_on_one_thread(engine, smtp):
    site = create_site(engine, "https://club.example.org", "Le Club", "Europe/Paris", "fr_FR")
    seed_due_emails(engine, site["id"], EMAILS, datetime.now(timezone.utc))
    seen: list[threading.Thread] = []  # the objects themselves: an ident can be reused

    def look(_count: int) -> None:  # on_accept: a batch's earlier records went on its record thread
        seen.extend(t for t in _record_threads() if t not in seen)

    smtp.on_accept = look
    report = dispatch_due(engine, transport_from_url(smtp.url), CONFIG, lambda: datetime.now(timezone.utc))
    assert report.sent == EMAILS
    assert len(seen) == 1, seen
    assert not seen[0].is_alive() and _record_threads() == []


def test_a_run_records_every_batch_on_one_connection_its_checks_turned_off_once(engine, smtp):
    # On MariaDB the connection that records does not check the members its batch holds
    # (emails_store.check_members_on_write): turned off once for the run, on again at its end,
    # after the last record; it was twice per batch. SQLite has nothing to turn off.
    site = create_site(engine, "https://club.example.org", "Le Club", "Europe/Paris", "fr_FR")
    seed_due_emails(engine, site["id"], EMAILS, datetime.now(timezone.utc))
    statements: list[str] = []
    sa.event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    report = dispatch_due(engine, transport_from_url(smtp.url), CONFIG, lambda: datetime.now(timezone.utc))
    assert report.sent == EMAILS
    checks = [i for i, statement in enumerate(statements) if "foreign_key_checks" in statement]
    if engine.dialect.name == "sqlite":
        assert checks == []
        return
    assert [statements[i].split("=")[-1].strip() for i in checks] == ["0", "1"], statements
    last_record = max(i for i, statement in enumerate(statements) if statement.lstrip().upper().startswith("UPDATE"))
    assert checks[0] < last_record < checks[1]
    with engine.connect() as conn:  # the pool's connections all check again
        assert conn.exec_driver_sql("SELECT @@session.foreign_key_checks").scalar() == 1
