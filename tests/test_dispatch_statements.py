"""The dispatcher reads the rules once per batch: the number of SQL statements it runs for a batch
does not grow with six reads per email (it did: about thirteen statements per email). Counted on
both databases, with the real SMTP server; each email is still sent once."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from bench.dispatch import seed_due_emails
from sidecar import db
from sidecar.domain.compose import MailConfig
from sidecar.domain.dispatch import DispatchConfig, dispatch_batch
from sidecar.domain.sites import create_site
from sidecar.mail.transports import transport_from_url
from sidecar.storage.tables import scheduled_emails

CONFIG = DispatchConfig(mail=MailConfig("statements-secret-0123456789", "http://sidecar.test", "farewell@localhost"),
                        batch_size=20)


@pytest.fixture(params=["sqlite", "mariadb"])
def engine(request, tmp_path):
    url = f"sqlite:///{tmp_path}/dispatch.db" if request.param == "sqlite" else request.getfixturevalue(
        "fresh_mariadb_url")
    engine = db.create_engine(url)
    db.migrate(engine)
    yield engine
    engine.dispose()


def test_a_batch_runs_a_few_statements_per_email_not_a_dozen(engine, smtp):
    site = create_site(engine, "https://club.example.org", "Le Club", "Europe/Paris", "fr_FR")
    now = datetime.now(timezone.utc)
    ids = seed_due_emails(engine, site["id"], 20, now)
    statements = []
    sa.event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    report = dispatch_batch(engine, transport_from_url(smtp.url), CONFIG, lambda: datetime.now(timezone.utc))
    assert (report.claimed, report.sent) == (20, 20)
    assert sorted(m.recipients[0] for m in smtp.messages()) == sorted(f"member{i}@example.org" for i in ids)
    with engine.connect() as conn:
        statuses = dict(conn.execute(sa.select(scheduled_emails.c.id, scheduled_emails.c.status)).all())
    assert {statuses[i] for i in ids} == {"sent"}
    # The claim, the batch's reads and its check, the site's settings, then one write per email
    # (its record; on SQLite with its BEGIN IMMEDIATE) and the settings of the connection that records.
    per_email = len(statements) / 20
    assert per_email <= 3, (per_email, statements)


def test_a_batch_reads_its_site_with_the_sites_settings_and_steps_in_one_statement(engine, smtp):
    # The batch's site, its settings and its steps are rows no dispatch writes: one joined read per
    # batch (as the applier's batch reads them), not three round trips before the first exchange.
    site = create_site(engine, "https://club.example.org", "Le Club", "Europe/Paris", "fr_FR")
    seed_due_emails(engine, site["id"], 20, datetime.now(timezone.utc))
    statements = []
    sa.event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    report = dispatch_batch(engine, transport_from_url(smtp.url), CONFIG, lambda: datetime.now(timezone.utc))
    assert (report.claimed, report.sent) == (20, 20)
    site_reads = [s for s in statements if "FROM sites" in s or "site_settings" in s or "sequence_steps" in s]
    assert len(site_reads) == 1, site_reads
