"""MariaDB restarted while events arrive and emails are sent.

A real sidecar (``python -m sidecar serve``) and a real jobs process (``python -m jobs``, its
clock at 3,600× so each farewell email is due about a second after its cancellation) share a
MariaDB server of their own; four senders that behave like the bridge post cancellations. In the
middle of it the server is shut down for a few seconds and started again on the same port and
data. The sidecar answers 503 (never 500) while it is down, the senders retry, and in the end
every event is stored once and every due email reached the SMTP server exactly once, sent by the
same jobs process, which lived through the outage on its own.
"""

from __future__ import annotations

import collections
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from sidecar import db
from sidecar.storage.tables import cancellations, events, scheduled_emails
from tests.reliability.bridge import BridgeSender
from tests.reliability.conftest import SECRET_KEY, cancellation
from tests.support.sidecar import JobsProcess

pytestmark = pytest.mark.slow

EVENTS = 120
SENDERS = 4
DOWN_SECONDS = 4.0


def _counts(engine) -> dict:
    with engine.connect() as conn:
        def count(query):
            return conn.execute(query).scalar_one()
        return {
            "events": count(sa.select(sa.func.count()).select_from(events)),
            "webhook_ids": count(sa.select(sa.func.count(sa.distinct(events.c.webhook_id)))),
            "cancellations": count(sa.select(sa.func.count()).select_from(cancellations)),
            "statuses": {(step, status): n for step, status, n in conn.execute(
                sa.select(scheduled_emails.c.step, scheduled_emails.c.status, sa.func.count())
                .group_by(scheduled_emails.c.step, scheduled_emails.c.status))},
            "sent_ids": set(conn.execute(sa.select(scheduled_emails.c.id).where(scheduled_emails.c.status == "sent"))
                            .scalars()),
            "interrupted_sends": int(count(sa.select(sa.func.coalesce(sa.func.sum(scheduled_emails.c.interrupted_sends),
                                                                      0)))),
        }


def test_a_mariadb_restart_mid_run_loses_and_duplicates_nothing(own_mariadb, sidecar_server, smtp, tmp_path, figures):
    url = own_mariadb.create_database("farewell")
    env = {"FAREWELL_SECRET_KEY": SECRET_KEY}
    web = sidecar_server(database_url=url, extra_env=env, serve_args=("--no-jobs",))
    jobs = JobsProcess(url, tmp_path / "jobs", smtp.url, extra_env={
        **env, "FAREWELL_CLOCK_SPEED": "3600", "FAREWELL_DISPATCH_INTERVAL": "1", "FAREWELL_DISPATCH_LEASE": "8",
    }).start()
    bridge = BridgeSender(web.url, web.site_id, web.secret)
    engine = db.create_engine(url)
    statuses: dict[str, int] = {}
    outage: dict[str, float] = {}

    down = threading.Event()

    def send(n: int) -> None:
        # Spread over about 7 s, so that events arrive before, during and after the outage; the last
        # third waits for the outage to have begun, so that some arrive while the server is down
        # however slowly a busy machine brings the emails that start it.
        time.sleep(max(0.0, t0 + n * 0.06 - time.monotonic()))
        if n >= EVENTS * 2 // 3:
            down.wait(timeout=180)
        statuses[f"msg_{n}"] = bridge.deliver(cancellation(n, datetime.now(timezone.utc)), f"msg_{n}")

    def restart() -> None:
        try:
            smtp.wait_for(10, timeout=120)  # emails are flowing
            outage["down_at"] = time.monotonic()
            own_mariadb.stop()
            down.set()
            time.sleep(DOWN_SECONDS)
            own_mariadb.start()
            outage["up_at"] = time.monotonic()
            marks["down"], marks["up"] = outage["down_at"] - t0, outage["up_at"] - t0
        finally:
            down.set()  # a restart that failed holds no sender back (its own assertion reports it)

    t0 = time.monotonic()
    marks = {}
    try:
        restarter = threading.Thread(target=restart)
        restarter.start()
        with ThreadPoolExecutor(SENDERS) as pool:
            list(pool.map(send, range(EVENTS)))
        marks["events_done"] = time.monotonic() - t0
        restarter.join(timeout=300)
        assert not restarter.is_alive()
        expected = EVENTS  # one farewell per cancellation, each due about a second after it
        deadline = time.monotonic() + 180  # a bound for a busy machine; usually a few seconds
        while time.monotonic() < deadline and _counts(engine)["statuses"].get(("farewell", "sent"), 0) < expected:
            time.sleep(0.3)
        marks["all_sent"] = time.monotonic() - t0
        time.sleep(1.5)  # a duplicate, if any, would be on its way now
        assert jobs.alive(), "the jobs process survived the outage on its own\n" + jobs.log()[-3000:]
        counts = _counts(engine)
        received = collections.Counter(m.message_id for m in smtp.messages())
    finally:
        jobs.stop()
        engine.dispose()

    figures.update(marks=marks, events=EVENTS, senders=SENDERS, answers=dict(bridge.answers), retries=bridge.retries, slowest_attempt=round(bridge.slowest, 1),
                   seconds_down=round(outage["up_at"] - outage["down_at"], 1), emails_due=expected,
                   smtp_deliveries=sum(received.values()), distinct_message_ids=len(received),
                   interrupted_sends=counts["interrupted_sends"],
                   jobs_outage_log_lines=jobs.log().count("database unavailable"))
    # While the database was down the sidecar said "retry later", never "I broke".
    assert bridge.answers[503] > 0, bridge.answers
    assert not [code for code in bridge.answers if code not in (200, 202, 503)], bridge.answers
    assert set(statuses.values()) <= {200, 202} and len(statuses) == EVENTS
    # Every event stored once, and applied once.
    assert counts["events"] == counts["webhook_ids"] == counts["cancellations"] == EVENTS
    # Every due email sent, and sent once.
    assert counts["statuses"].get(("farewell", "sent")) == expected, counts["statuses"]
    assert received.most_common(1)[0][1] == 1, received.most_common(3)
    assert set(received) == {f"<farewell.{web.site_id}.{i}@localhost>" for i in counts["sent_ids"]}
    # The jobs process saw the outage (and said so) rather than missing it.
    assert figures["jobs_outage_log_lines"] > 0
