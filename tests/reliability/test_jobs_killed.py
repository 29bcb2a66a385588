"""The jobs process killed with SIGKILL mid-batch, twice in a row.

100 emails are due; the SMTP server is slow (20 ms a message) and kills the jobs process itself
at the worst moment, twice: right after keeping a message and before answering "250", so the
dispatcher dies with that message delivered but not recorded, and the rest of its batch claimed
(at a batch's last four messages, the next batch too: it is claimed while the server takes the
first of them).
Each time a new jobs process is started. In the end no email is lost; the duplicates are exactly
the messages that were in flight, one per kill (each email is marked sent right after its own
acceptance, so a batch in flight is one message); and every taken-over email is counted in
``interrupted_sends`` and named in a warning.
"""

from __future__ import annotations

import collections
import signal
import threading
import time
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from bench.dispatch import seed_due_emails
from sidecar import db
from sidecar.domain.dispatch import DispatchConfig
from sidecar.domain.sites import create_site
from sidecar.storage.tables import scheduled_emails
from tests.reliability.conftest import SECRET_KEY
from tests.support.sidecar import JobsProcess

pytestmark = pytest.mark.slow

EMAILS = 100
KILL_AT = (25, 60)  # the n-th message kept by the SMTP server
BATCH = DispatchConfig.batch_size


def _statuses(engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(scheduled_emails.c.status, sa.func.count()).group_by(scheduled_emails.c.status))
        return dict(rows.all())


def test_two_sigkills_mid_batch_lose_nothing_and_duplicate_one_message_each(fresh_mariadb_url, smtp, tmp_path,
                                                                            figures):
    engine = db.create_engine(fresh_mariadb_url)
    db.migrate(engine)
    site = create_site(engine, "https://club.example.org", "Le Club", "Europe/Paris", "fr_FR")
    email_ids = seed_due_emails(engine, site["id"], EMAILS, datetime.now(timezone.utc))
    env = {"FAREWELL_SECRET_KEY": SECRET_KEY, "FAREWELL_DISPATCH_INTERVAL": "1", "FAREWELL_DISPATCH_LEASE": "3"}
    generations: list[JobsProcess] = []
    killed = threading.Event()

    def start() -> None:
        generations.append(JobsProcess(fresh_mariadb_url, tmp_path / f"jobs-{len(generations)}", smtp.url,
                                       extra_env=env).start())

    def kill_mid_batch(count: int) -> None:
        if count in KILL_AT:
            generations[-1].process.send_signal(signal.SIGKILL)
            killed.set()

    smtp.delay = 0.02
    smtp.on_accept = kill_mid_batch
    left_sending = []
    try:
        start()
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if killed.is_set():
                generations[-1].wait(timeout=10)
                killed.clear()
                left_sending.append(_statuses(engine).get("sending", 0))
                start()
            if _statuses(engine) == {"sent": EMAILS} and len(smtp.messages()) >= EMAILS:
                break
            time.sleep(0.1)
        time.sleep(0.5)  # anything still on its way
        assert generations[-1].alive()
        with engine.connect() as conn:
            interrupted = dict(conn.execute(sa.select(scheduled_emails.c.id, scheduled_emails.c.interrupted_sends)
                                            .where(scheduled_emails.c.interrupted_sends > 0)).all())
        statuses = _statuses(engine)
    finally:
        for process in generations:
            process.stop()
        engine.dispose()

    received = collections.Counter(m.message_id for m in smtp.messages())
    duplicated = {mid for mid, n in received.items() if n > 1}
    duplicates = sum(received.values()) - len(received)
    kills = len(left_sending)
    logs = "".join(p.log() for p in generations)
    figures.update(emails=EMAILS, kills=kills, claimed_left_sending_at_each_kill=left_sending, duplicates=duplicates,
                   interrupted_sends=sum(interrupted.values()), batch_size=BATCH, smtp_deliveries=sum(received.values()))

    assert kills == 2 and all(n > 0 for n in left_sending), "each kill landed mid-batch"
    assert statuses == {"sent": EMAILS}
    assert set(received) == {f"<farewell.{site['id']}.{i}@localhost>" for i in email_ids}, "no email lost"
    # The bound: one message per kill, the one between "kept by the server" and "marked sent".
    assert duplicates == kills
    # Taken over per kill: the rest of the batch in flight, and at its last four messages (the one
    # in flight and those after it) the batch claimed ahead (dispatch._LookAhead), never sent: at
    # most BATCH + 4.
    assert duplicates <= sum(interrupted.values()) <= (BATCH + 4) * kills
    # Each duplicate is reported: counted on its email, and named in a warning.
    for message_id in duplicated:
        email_id = int(message_id.split(".")[2].split("@")[0])
        assert interrupted.get(email_id, 0) >= 1
        assert f"scheduled email {email_id}: its sender stopped mid-batch" in logs
