"""What an operator can see: JSON logs with request ids, Prometheus metrics, and the jobs' heartbeats.

Every promise is checked on the real thing: the app on SQLite and MariaDB, the real server and
jobs processes, a real gunicorn with two workers, and a MariaDB that is stopped.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest
import requests
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from sidecar import create_app, db
from sidecar.logs import JsonFormatter
from sidecar.storage import operations
from sidecar.storage.tables import digests, job_heartbeats, scheduled_emails
from tests.conftest import ROOT, make_event
from tests.support.net import free_port, wait_for_http

NOW = lambda: datetime.now(timezone.utc)  # noqa: E731


def samples(text: str) -> dict[tuple, float]:
    """{(name, (label, value), ...): value} for every sample of a scrape."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, *sorted(sample.labels.items()))] = sample.value
    return found


def value(scrape: dict, name: str, **labels) -> float:
    return scrape.get((name, *sorted(labels.items())), 0.0)


def scrape(client, **kwargs) -> dict:
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.data
    assert response.mimetype == "text/plain"
    return samples(response.get_data(as_text=True))


def json_lines(text: str) -> list[dict]:
    """The JSON log lines of a process's output (click's few lines for people are not logs)."""
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


# --- logs and request ids ------------------------------------------------------------------------

def test_every_log_line_of_a_request_carries_its_id_and_the_id_is_echoed(client, caplog):
    caplog.set_level(logging.INFO)
    response = client.get("/healthz", headers={"X-Request-Id": "lb-7f3a.2_x"})
    assert response.headers["X-Request-Id"] == "lb-7f3a.2_x"
    [access] = [r for r in caplog.records if r.name == "sidecar.access"]
    line = json.loads(JsonFormatter().format(access))
    assert line["request_id"] == "lb-7f3a.2_x"
    assert {"time", "level", "logger", "message"} <= set(line)
    assert (line["method"], line["route"], line["status"]) == ("GET", "/healthz", 200)
    assert isinstance(line["duration_ms"], float)


@pytest.mark.parametrize("header", ["has space", "x" * 65, "<script>", "a\u00e9b", ""])
def test_a_request_id_that_is_not_a_sane_token_is_replaced(client, header):
    response = client.get("/healthz", headers={"X-Request-Id": header} if header else {})
    given = response.headers["X-Request-Id"]
    assert given != header and len(given) == 32 and all(c in "0123456789abcdef" for c in given)


def test_no_token_of_a_path_or_query_reaches_the_logs_of_the_real_server(sidecar_server):
    server = sidecar_server(extra_env={"FAREWELL_LOG_FORMAT": "json"})
    secrets_sent = ["UNSUBSCRIBETOKEN0123456789", "SIGNINTOKEN0123456789", "QUERYTOKEN0123456789"]
    requests.get(f"{server.url}/u/{secrets_sent[0]}", timeout=10)
    requests.get(f"{server.url}/admin/login", params={"token": secrets_sent[1]}, timeout=10)
    answered = requests.get(f"{server.url}/v1/sites/{server.site_id}/cancellations", timeout=10,
                            params={"token": secrets_sent[2]},
                            headers={"Authorization": f"Bearer {server.admin_token}", "X-Request-Id": "trace-42"})
    assert answered.status_code == 200 and answered.headers["X-Request-Id"] == "trace-42"
    server.stop()  # flushes and closes the output
    output = server.log_path.read_text()
    for secret in [*secrets_sent, server.admin_token, server.secret]:
        assert secret not in output
    lines = json_lines(output)
    routes = {line["route"] for line in lines if line["logger"] == "sidecar.access"}
    assert {"/u/<token>", "/admin/login", "/v1/sites/<site_id>/cancellations"} <= routes
    [listed] = [line for line in lines if line.get("route") == "/v1/sites/<site_id>/cancellations"]
    assert listed["request_id"] == "trace-42"


def test_a_crash_is_logged_by_its_route_and_without_the_statements_values(app, client, engine, caplog):
    @app.get("/crash/<token>")
    def crash(token):
        with engine.connect() as conn:  # a failing statement whose value and error quote a member's address
            conn.execute(sa.text("CREATE TEMPORARY TABLE crash_probe (email VARCHAR(254) PRIMARY KEY)"))
            for _ in range(2):
                conn.execute(sa.text("INSERT INTO crash_probe (email) VALUES (:email)"),
                             {"email": "ana.private@example.org"})

    app.config["PROPAGATE_EXCEPTIONS"] = False  # answer 500 and log, as in production
    with caplog.at_level("ERROR"):
        assert client.get("/crash/CAPABILITY0123456789").status_code == 500
    logged = "\n".join(record.getMessage() + (JsonFormatter().formatException(record.exc_info)
                                               if record.exc_info else "") for record in caplog.records)
    assert "Exception on /crash/<token> [GET]: IntegrityError" in logged  # the kind of error and where ...
    assert "in crash" in logged
    assert "CAPABILITY0123456789" not in logged and "ana.private@example.org" not in logged  # ... not the secrets


# --- /metrics --------------------------------------------------------------------------------------

def test_metrics_count_accepted_duplicate_and_rejected_events(client, post_event, site):
    before = scrape(client)
    assert post_event(make_event(), webhook_id="msg_1").status_code == 202
    assert post_event(make_event(), webhook_id="msg_1").status_code == 200
    assert post_event(make_event(), secret="whsec_" + "A" * 32).status_code == 401
    assert post_event(make_event(), at=NOW() - timedelta(minutes=6)).status_code == 401
    # A wrong secret and an old timestamp: the secret is what to fix, so it counts as bad_signature.
    assert post_event(make_event(), secret="whsec_" + "B" * 32, at=NOW() - timedelta(minutes=6)).status_code == 401
    assert post_event(make_event(), site_id="no-such-site").status_code == 404
    assert post_event(body="{not json").status_code == 400
    assert post_event(body="x" * 70_000).status_code == 413
    after = scrape(client)

    def delta(**labels):
        return value(after, "farewell_events_total", **labels) - value(before, "farewell_events_total", **labels)

    assert delta(outcome="accepted", reason="") == 1
    assert delta(outcome="duplicate", reason="") == 1
    assert delta(outcome="rejected", reason="bad_signature") == 2
    for reason in ("stale_timestamp", "unknown_site", "invalid", "too_large"):
        assert delta(outcome="rejected", reason=reason) == 1, reason
    route = "/v1/sites/<site_id>/events"
    assert (value(after, "farewell_http_requests_total", route=route, method="POST", status="202")
            - value(before, "farewell_http_requests_total", route=route, method="POST", status="202")) == 1


def test_the_database_gauges_follow_the_emails_digests_and_heartbeats(client, post_event, site, app):
    engine = app.extensions["farewell.engine"]
    assert post_event(make_event()).status_code == 202
    now = NOW()
    e = scheduled_emails.c
    with engine.begin() as conn:
        ids = conn.execute(sa.select(e.id).order_by(e.id)).scalars().all()
        assert len(ids) >= 4
        conn.execute(scheduled_emails.update().values(due_at=now + timedelta(days=2)))
        # Two due for 10 minutes, one whose sender's lease ran out, one that failed once and waits.
        conn.execute(scheduled_emails.update().where(e.id.in_(ids[:2])).values(due_at=now - timedelta(minutes=10)))
        conn.execute(scheduled_emails.update().where(e.id == ids[2]).values(
            status="sending", lease_token="t", lease_until=now - timedelta(seconds=5), interrupted_sends=1,
            due_at=now - timedelta(minutes=20)))
        conn.execute(scheduled_emails.update().where(e.id == ids[3]).values(
            attempts=1, last_error="timeout", due_at=now + timedelta(minutes=4)))
        conn.execute(digests.insert().values(site_id=site["id"], week="2026-W47", status="sent", attempts=1,
                                             created_at=now, updated_at=now))
        operations.record_heartbeat(conn, "host:1", "dispatch", now, now - timedelta(seconds=12),
                                    {"interval_seconds": 30})
    metrics = scrape(client)
    # The ages are counted from the scrape, which came this long after ``now`` however busy the
    # machine (plus a second for a stored time's lost fraction): a bound from the run, not a guess.
    waited = (NOW() - now).total_seconds() + 1
    assert value(metrics, "farewell_database_up") == 1
    assert value(metrics, "farewell_emails_due") == 3
    assert 20 * 60 <= value(metrics, "farewell_emails_due_oldest_age_seconds") <= 20 * 60 + waited
    assert value(metrics, "farewell_emails", status="pending") == len(ids) - 1
    assert value(metrics, "farewell_emails", status="sending") == 1
    assert value(metrics, "farewell_emails", status="failed") == 0
    assert value(metrics, "farewell_emails_retrying") == 1
    assert value(metrics, "farewell_emails_interrupted_sends") == 1
    assert value(metrics, "farewell_digests", status="sent") == 1
    assert 12 <= value(metrics, "farewell_job_last_tick_age_seconds", job="dispatch") <= 12 + waited
    assert value(metrics, "farewell_job_ok", job="dispatch") == 1
    assert value(metrics, "farewell_job_ok", job="digests") == 0  # never ticked
    assert ("farewell_job_last_tick_age_seconds", ("job", "digests")) not in metrics


def test_metrics_are_for_local_clients_or_the_bearer_of_the_token(client, app):
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"}).status_code == 403
    app.config["FAREWELL_METRICS_TOKEN"] = "metrics-secret"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"},
                      headers={"Authorization": "Bearer metrics-secret"}).status_code == 200


def test_gunicorn_workers_add_up_their_counters(tmp_path):
    """Two gunicorn workers, one scrape: prometheus_client's multiprocess mode sums them."""
    port = free_port()
    url = f"sqlite:///{tmp_path / 'farewell.db'}"
    db.migrate(db.create_engine(url))
    env = {**os.environ, "FAREWELL_DATABASE_URL": url, "FAREWELL_DATA_DIR": str(tmp_path),
           "FAREWELL_SECRET_KEY": "test-secret-key-24-chars", "FAREWELL_BIND": f"127.0.0.1:{port}",
           "WEB_WORKERS": "2",
           "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"), "FAREWELL_LOG_FORMAT": "json"}
    log_path = tmp_path / "gunicorn.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py"], cwd=ROOT,
                                   env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for_http(base + "/healthz", process=process)
        sent = 0
        # Concurrent requests keep both workers busy; stop once both have answered (bounded).
        with ThreadPoolExecutor(max_workers=6) as pool:
            for _ in range(20):
                statuses = list(pool.map(lambda _: requests.get(base + "/healthz", params={"token": "QS"},
                                                                timeout=10).status_code, range(12)))
                assert set(statuses) == {200}
                sent += len(statuses)
                pids = {line["pid"] for line in json_lines(log_path.read_text()) if line.get("route") == "/healthz"}
                if len(pids) == 2:
                    break
        assert len(pids) == 2, "one worker answered every request"
        assert requests.get(base + "/u/SECRETINPATH", timeout=10).status_code == 404
        metrics = samples(requests.get(base + "/metrics", timeout=10).text)
        # Every /healthz answered, by either worker (wait_for_http's included): as many as the access lines.
        answered = [line for line in json_lines(log_path.read_text()) if line.get("route") == "/healthz"]
        assert len(answered) >= sent
        assert value(metrics, "farewell_http_requests_total", route="/healthz", method="GET", status="200") == len(
            answered)
        assert value(metrics, "farewell_http_requests_total", route="/u/<token>", method="GET", status="404") == 1
    finally:
        process.terminate()
        process.wait(timeout=30)
    output = log_path.read_text()
    assert "SECRETINPATH" not in output and "token=QS" not in output
    assert all(line["logger"] for line in json_lines(output))
    assert any(line["logger"] == "gunicorn.error" for line in json_lines(output))


# --- the jobs' heartbeats and /healthz ---------------------------------------------------------------

def test_the_jobs_process_records_its_heartbeat_and_healthz_reports_it(db_url, client, app, tmp_path):
    env = {**os.environ, "FAREWELL_DATABASE_URL": db_url, "FAREWELL_DATA_DIR": str(tmp_path),
           "FAREWELL_SECRET_KEY": "test-secret-key-24-chars", "FAREWELL_LOG_FORMAT": "json"}
    before = client.get("/healthz").json
    assert before["jobs"]["dispatch"]["status"] == "never" and before["jobs"]["digests"]["status"] == "never"
    assert client.get("/healthz?jobs=required").status_code == 503
    started = NOW()
    ran = subprocess.run([sys.executable, "-m", "jobs", "--once"], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr
    assert all(line["logger"] for line in json_lines(ran.stderr))
    health = client.get("/healthz")
    # Each heartbeat is this run's: written after it started, and no older than the run itself
    # (plus a second for a stored time's lost fraction), however long a busy machine took.
    waited = (NOW() - started).total_seconds() + 1
    assert health.status_code == 200
    for job in ("dispatch", "digests"):
        state = health.json["jobs"][job]
        assert state["status"] == "ok" and state["workers"] == 1 and 0 <= state["age_seconds"] <= waited
        ticked = datetime.fromisoformat(state["last_tick_at"].replace("Z", "+00:00"))
        assert started - timedelta(seconds=1) <= ticked <= NOW()
    assert client.get("/healthz?jobs=required").status_code == 200
    engine = app.extensions["farewell.engine"]
    with engine.connect() as conn:
        [row] = conn.execute(sa.select(job_heartbeats).where(job_heartbeats.c.job == "dispatch")).mappings().all()
    assert json.loads(row["last_report"])["claimed"] == 0
    # No tick for three intervals: late, and the monitors' form of the check says so.
    with engine.begin() as conn:
        conn.execute(job_heartbeats.update().where(job_heartbeats.c.job == "dispatch")
                     .values(last_tick_at=NOW() - timedelta(seconds=91)))
    late = client.get("/healthz")
    assert late.status_code == 200 and late.json["jobs"]["dispatch"]["status"] == "late"
    assert late.json["jobs"]["dispatch"]["workers"] == 0
    required = client.get("/healthz?jobs=required")
    assert required.status_code == 503 and required.json["status"] == "jobs_late"


def test_heartbeats_of_processes_gone_for_a_day_are_pruned(engine):
    from sidecar.jobs.runner import Heartbeat

    now = NOW()
    with engine.begin() as conn:
        operations.record_heartbeat(conn, "gone:1", "dispatch", now - timedelta(days=3), now - timedelta(days=2), {})
        operations.record_heartbeat(conn, "alive:2", "dispatch", now, now - timedelta(hours=2), {})
    assert Heartbeat(engine, worker="me:3").beat("dispatch", 30, {"sent": 1}) is True
    with engine.connect() as conn:
        workers = set(conn.execute(sa.select(job_heartbeats.c.worker)).scalars())
    assert workers == {"alive:2", "me:3"}


def test_the_jobs_hourly_housekeeping_also_prunes_old_rate_limit_windows(engine):
    from sidecar.jobs.runner import Heartbeat
    from sidecar.storage.rate_limits import count_hit
    from sidecar.storage.tables import rate_limit_hits

    now = NOW()
    with engine.begin() as conn:
        count_hit(conn, "unsubscribe:old", now - timedelta(hours=3))
        count_hit(conn, "unsubscribe:current", now)
    assert Heartbeat(engine, worker="me:4").beat("dispatch", 30, {}) is True
    with engine.connect() as conn:
        buckets = set(conn.execute(sa.select(rate_limit_hits.c.bucket)).scalars())
    assert buckets == {"unsubscribe:current"}


# --- with the database stopped ----------------------------------------------------------------------

@pytest.mark.slow
def test_with_mariadb_stopped_healthz_says_so_metrics_still_serve_and_ticks_survive(own_mariadb, tmp_path):
    from sidecar.jobs.runner import Heartbeat, Jobs

    url = own_mariadb.create_database("farewell")
    app = create_app({"FAREWELL_DATABASE_URL": url, "FAREWELL_DATA_DIR": str(tmp_path),
                      "FAREWELL_SECRET_KEY": "test-secret-key-24-chars",
                      "FAREWELL_ADMIN_TOKEN": "test-admin-token-24-char"})
    engine = app.extensions["farewell.engine"]
    db.migrate(engine)
    client = app.test_client()
    jobs = Jobs.from_config({**app.config, "FAREWELL_MAIL_URL": f"maildir://{tmp_path / 'mail'}"}, engine=engine)
    jobs.scheduled_dispatch(time_budget=5)
    assert client.get("/healthz").json["jobs"]["dispatch"]["status"] == "ok"
    own_mariadb.stop()
    down = client.get("/healthz")
    assert down.status_code == 503
    assert down.json == {"status": "unavailable", "database": "unavailable"}
    metrics = scrape(client)
    assert value(metrics, "farewell_database_up") == 0
    assert ("farewell_emails_due",) not in metrics
    assert value(metrics, "farewell_http_requests_total", route="/healthz", method="GET", status="503") >= 1
    # A tick and a heartbeat during the outage: logged, never raised.
    jobs.scheduled_dispatch(time_budget=5)
    jobs.scheduled_digests()
    assert Heartbeat(engine).beat("dispatch", 30, {}) is False
    own_mariadb.start()
    assert client.get("/healthz").status_code == 200
    assert value(scrape(client), "farewell_database_up") == 1
    engine.dispose()
