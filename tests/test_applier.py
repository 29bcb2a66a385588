"""A 202 stores the event; the applier applies it once, retries a failing apply with backoff,
parks it with its error, and `events reapply` applies it after the fix (sidecar.domain.applier)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from click.testing import CliRunner

from sidecar.cli import main as cli
from sidecar.domain.applier import FIRST_RETRY, MAX_ATTEMPTS, apply_pending
from sidecar.storage.tables import cancellations, events, survey_answers
from tests.conftest import make_event
from tests.support.applier import apply_pending_events


def count(engine, table, *where) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one()


def event_row(engine) -> dict:
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(events)).mappings().one())


def gauge(client, name: str) -> float:
    line = next(line for line in client.get("/metrics").text.splitlines() if line.startswith(name + " "))
    return float(line.split()[1])


def test_a_202_stores_the_event_and_the_applier_applies_it_once(app, client, post_event, admin_get, site):
    engine = app.extensions["farewell.engine"]
    assert post_event(make_event(), webhook_id="msg_1", apply=False).status_code == 202

    # Stored, not applied: nothing of its effects yet, and it shows as pending everywhere.
    assert count(engine, events) == 1 and count(engine, cancellations) == 0
    assert event_row(engine)["applied_at"] is None
    pending = admin_get(f"/v1/sites/{site['id']}/unapplied-events").json
    assert (pending["pending"], pending["parked"]) == (1, 0)
    assert [(i["webhook_id"], i["status"], i["attempts"]) for i in pending["items"]] == [("msg_1", "pending", 0)]
    assert client.get("/healthz").json["events"]["unapplied"] == 1
    assert gauge(client, "farewell_events_unapplied") == 1
    assert gauge(client, "farewell_events_unapplied_oldest_age_seconds") >= 0

    report = apply_pending(engine)
    assert (report.claimed, report.applied) == (1, 1)
    assert count(engine, cancellations) == 1
    assert event_row(engine)["applied_at"] is not None
    # Applied once: the next run finds nothing, a retry of the same webhook id is a duplicate.
    assert apply_pending(engine).claimed == 0
    assert post_event(make_event(), webhook_id="msg_1", apply=False).status_code == 200
    assert apply_pending(engine).claimed == 0
    assert count(engine, cancellations) == 1
    assert admin_get(f"/v1/sites/{site['id']}/unapplied-events").json == {
        "pending": 0, "parked": 0, "oldest_unapplied_age_seconds": 0.0, "items": []}
    assert client.get("/healthz").json["events"] == {"unapplied": 0, "parked": 0, "oldest_unapplied_age_seconds": 0.0}


def test_a_failing_apply_is_retried_with_backoff_then_parked_and_reapplied_after_the_fix(
        app, client, post_event, admin_get, site, db_url, tmp_path):
    engine = app.extensions["farewell.engine"]
    assert post_event(make_event(), apply=False).status_code == 202
    good_payload = event_row(engine)["payload"]
    # A stored event the applier cannot read (as a bug in the applier would): every attempt fails.
    with engine.begin() as conn:
        conn.execute(sa.update(events).values(payload="{not json"))

    at = datetime.now(timezone.utc)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        report = apply_pending(engine, now=at)
        assert report.claimed == 1
        row = event_row(engine)
        assert row["apply_attempts"] == attempt and row["applied_at"] is None
        assert row["apply_error"].startswith("JSONDecodeError")
        if attempt < MAX_ATTEMPTS:
            delay = FIRST_RETRY * 2 ** (attempt - 1)
            assert row["apply_after"] == at + delay
            # Not tried again before its time.
            assert apply_pending(engine, now=at + delay - timedelta(milliseconds=1)).claimed == 0
            at += delay
    assert report.parked == 1 and event_row(engine)["apply_after"] is None
    assert apply_pending(engine, now=at + timedelta(days=30)).claimed == 0, "parked: never tried again by itself"
    assert count(engine, cancellations) == 0

    listed = admin_get(f"/v1/sites/{site['id']}/unapplied-events").json
    assert (listed["pending"], listed["parked"]) == (0, 1)
    [item] = listed["items"]
    assert (item["status"], item["attempts"], item["next_attempt_at"]) == ("parked", MAX_ATTEMPTS, None)
    assert item["error"].startswith("JSONDecodeError")
    assert gauge(client, "farewell_events_parked") == 1
    assert client.get("/healthz").json["events"]["parked"] == 1

    # The fix, then the operator's command: applied once.
    with engine.begin() as conn:
        conn.execute(sa.update(events).values(payload=good_payload))
    env = {"FAREWELL_DATABASE_URL": db_url, "FAREWELL_DATA_DIR": str(tmp_path / "cli")}
    result = CliRunner().invoke(cli, ["events", "reapply", "--site", site["id"]], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"unparked": 1, "applied": 1, "parked_again": 0, "retrying": 0}
    assert count(engine, cancellations) == 1
    assert event_row(engine)["apply_error"] is None
    result = CliRunner().invoke(cli, ["events", "reapply"], env=env)
    assert json.loads(result.output)["unparked"] == 0
    assert count(engine, cancellations) == 1


def test_reapply_refuses_a_bad_since(db_url, tmp_path):
    env = {"FAREWELL_DATABASE_URL": db_url, "FAREWELL_DATA_DIR": str(tmp_path / "cli")}
    result = CliRunner().invoke(cli, ["events", "reapply", "--since", "yesterday"], env=env)
    assert result.exit_code == 2 and "--since" in result.output


def answer_about(subscription_id: str, member_id: str = "42", at: str = "2026-11-29T10:05:00Z") -> dict:
    event = make_event("survey.submitted", occurred_at=at,
                       survey={"version": 1, "subscription_id": subscription_id, "reason": "too_expensive",
                               "comment": "Trop cher"})
    event["member"] = {**event["member"], "id": member_id}
    del event["subscription"]
    return event


def test_an_answer_accepted_before_its_cancellation_is_applied_is_kept_and_tied_to_it(app, post_event, admin_get,
                                                                                    site):
    engine = app.extensions["farewell.engine"]
    # The member answers right after cancelling, before the applier got to the cancellation.
    assert post_event(make_event(), apply=False).status_code == 202
    assert post_event(answer_about("sub_7"), apply=False).status_code == 202
    assert count(engine, cancellations) == 0

    apply_pending_events(engine)
    [item] = admin_get(f"/v1/sites/{site['id']}/cancellations").json["items"]
    assert item["reason"] == "too_expensive" and item["answered_at"] is not None
    assert count(engine, survey_answers) == 1


def test_an_answer_about_another_members_subscription_not_applied_yet_is_parked_not_lost(app, post_event, admin_get,
                                                                                       site):
    engine = app.extensions["farewell.engine"]
    assert post_event(make_event(), apply=False).status_code == 202
    # Refused at once when the subscription is known; here it is not applied yet, so it is accepted…
    assert post_event(answer_about("sub_7", member_id="666"), apply=False).status_code == 202

    report = apply_pending_events(engine)
    # …and parked when applied, with the reason, the cancellation applied as usual.
    assert (report.applied, report.parked) == (1, 1)
    [item] = admin_get(f"/v1/sites/{site['id']}/unapplied-events").json["items"]
    assert item["status"] == "parked" and "survey.subscription_id" in item["error"]
    assert count(engine, cancellations) == 1 and count(engine, survey_answers) == 0
    # Once the subscription is known, the same answer is refused in the request.
    response = post_event(answer_about("sub_7", member_id="666"), apply=False)
    assert response.status_code == 400 and "survey.subscription_id" in response.json["fields"]


def test_an_apply_the_database_refuses_is_retried_not_a_crash(app, post_event, db_url):
    """A statement the database refuses (here a trigger; in the fuzz, a value too long for its
    column on MariaDB) fails that event alone: recorded with the driver's error class, tried again
    later. The applier used to crash on it (retry_at unset), and so did the request that woke it."""
    engine = app.extensions["farewell.engine"]
    assert post_event(make_event(), apply=False).status_code == 202
    mariadb = db_url.startswith("mysql")
    refuse = ("CREATE TRIGGER refuse_members BEFORE INSERT ON members FOR EACH ROW "
              "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'refused'") if mariadb else (
              "CREATE TRIGGER refuse_members BEFORE INSERT ON members BEGIN SELECT RAISE(ABORT, 'refused'); END")
    with engine.begin() as conn:
        conn.exec_driver_sql(refuse)
    try:
        at = datetime.now(timezone.utc)
        report = apply_pending(engine, now=at)
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP TRIGGER refuse_members")
    assert (report.claimed, report.applied, report.retrying, report.parked) == (1, 0, 1, 0)
    row = event_row(engine)
    assert row["apply_attempts"] == 1 and row["apply_after"] == at + FIRST_RETRY
    assert row["apply_error"] in ("DatabaseError", "IntegrityError") and "refused" not in row["apply_error"]
    assert apply_pending(engine, now=at + FIRST_RETRY).applied == 1
    assert count(engine, cancellations) == 1


def test_applied_at_is_when_the_batch_was_applied_not_when_it_was_claimed(engine, monkeypatch):
    """202 → applied (the issue's p99) counts the batch's own work too: an event is stamped when
    its batch is done, after every apply of it, not at the claim."""
    from sidecar.domain import applier
    from tests.test_applier_statements import accept_cancellations

    accept_cancellations(engine, 3)
    done = []
    finish = applier.finish_batch
    monkeypatch.setattr(applier, "finish_batch",
                        lambda conn, prepared: (finish(conn, prepared), done.append(datetime.now(timezone.utc))))
    assert apply_pending(engine).applied == 3
    with engine.connect() as conn:
        stamps = list(conn.execute(sa.select(events.c.applied_at)).scalars())
    assert len(done) == 1 and len(stamps) == 3 and all(stamp >= done[0] for stamp in stamps), (done, stamps)


def test_the_applier_thread_takes_larger_batches_while_a_backlog_lasts(engine, monkeypatch):
    """A full batch means more are waiting: the next ones are BACKLOG_BATCH, sharing the claim,
    the batch's fixed statements and the commit among more events, until one comes back short."""
    from sidecar.jobs import applier as thread
    from tests.test_applier_statements import accept_cancellations

    accept_cancellations(engine, 12)
    monkeypatch.setattr(thread, "BATCH", 2)
    monkeypatch.setattr(thread, "BACKLOG_BATCH", 5)
    limits, reports = [], []

    def spy(engine, limit):
        limits.append(limit)
        reports.append(apply_pending(engine, limit=limit))
        return reports[-1]

    monkeypatch.setattr(thread, "apply_pending", spy)
    running = thread.Applier(engine, poll_seconds=0.01).start()
    try:
        for _ in range(3000):  # bounded: the thread applies them, however slow the machine
            if count(engine, events, events.c.applied_at.is_(None)) == 0 and len(limits) >= 5:
                break
            running._stop.wait(0.01)
    finally:
        running.stop()
    assert count(engine, events, events.c.applied_at.is_(None)) == 0
    # 2 (full: a backlog), 5, 5 (the 12 applied), then 5 finds none and the size goes back to 2
    assert limits[:5] == [2, 5, 5, 5, 2], limits
    assert [r.applied for r in reports[:4]] == [2, 5, 5, 0], reports
