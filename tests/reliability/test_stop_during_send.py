"""An unsubscribe (or an erasure) that arrives while its member's email is in the middle of the SMTP exchange.

The dispatcher checks the rules one last time and hands the message to the server while holding
the member's row (MariaDB); the unsubscribe takes the same row before recording. So the member's
click cannot be answered "done" before that message was accepted: the email was sent before the
unsubscribe was recorded, never after. Here the SMTP server takes 1.5 s to accept the farewell,
and the unsubscribe is posted as soon as the message starts arriving.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timezone

import pytest
import requests
import sqlalchemy as sa

from sidecar import db
from sidecar.domain.tokens import unsubscribe_token
from sidecar.storage.tables import members, scheduled_emails
from tests.reliability.bridge import BridgeSender
from tests.reliability.conftest import SECRET_KEY, cancellation
from tests.support.applier import apply_pending_events
from tests.support.sidecar import JobsProcess

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("stop", ["unsubscribe", "erasure"])
def test_a_stop_during_the_smtp_exchange_is_recorded_after_the_message_was_accepted(
        stop, fresh_mariadb_url, sidecar_server, smtp, tmp_path, figures):
    env = {"FAREWELL_SECRET_KEY": SECRET_KEY}
    web = sidecar_server(database_url=fresh_mariadb_url, extra_env=env, serve_args=("--no-jobs",))
    bridge = BridgeSender(web.url, web.site_id, web.secret)
    assert bridge.deliver(cancellation(1, datetime.now(timezone.utc)), "cancel-1") == 202
    engine = db.create_engine(fresh_mariadb_url)
    apply_pending_events(engine)  # no applier runs yet (--no-jobs, the jobs process starts below)
    with engine.connect() as conn:
        member_id = conn.execute(sa.select(members.c.id).where(members.c.external_id == "m1")).scalar_one()
    token = unsubscribe_token(SECRET_KEY, web.site_id, member_id)
    answered: dict[str, float] = {}

    def unsubscribe() -> None:
        response = requests.post(f"{web.url}/u/{token}", data="List-Unsubscribe=One-Click",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=30)
        answered["status"], answered["at"] = response.status_code, time.time()

    def erase() -> None:
        # What the bridge sends when WordPress's eraser runs for this member.
        response = bridge.post(f"/v1/sites/{web.site_id}/privacy/erase",
                               json.dumps({"email": "member1@example.org"}), "erase-1")
        answered["status"], answered["at"] = response.status_code, time.time()

    clicker = threading.Thread(target=unsubscribe if stop == "unsubscribe" else erase)
    smtp.delay = 1.5
    smtp.on_data = lambda recipients: clicker.start() if not clicker.is_alive() and not answered else None
    jobs = JobsProcess(fresh_mariadb_url, tmp_path / "jobs", smtp.url, extra_env={
        **env, "FAREWELL_CLOCK_SPEED": "3600", "FAREWELL_DISPATCH_INTERVAL": "1"}).start()
    try:
        farewell = smtp.wait_for(1, timeout=30)[0]
        clicker.join(timeout=30)
        time.sleep(2)  # the jobs keep ticking: nothing more may leave
    finally:
        jobs.stop()
    with engine.connect() as conn:
        statuses = dict(conn.execute(sa.select(scheduled_emails.c.step, scheduled_emails.c.status)).all())
    engine.dispose()
    figures.update(smtp_exchange_seconds=smtp.delay,
                   unsubscribe_answered_after_acceptance_seconds=round(answered["at"] - farewell.accepted_at, 3))
    assert answered["status"] == 200
    # The member's click was answered only once the message in flight was accepted ...
    assert farewell.accepted_at < answered["at"]
    assert statuses["farewell"] == "sent"
    # ... and nothing else went out after it.
    assert len(smtp.messages()) == 1
    assert {step: status for step, status in statuses.items() if step != "farewell"} == {
        "feedback": "cancelled", "offer": "cancelled", "door_open": "cancelled"}
