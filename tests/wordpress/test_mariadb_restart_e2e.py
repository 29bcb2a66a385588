"""MariaDB restarted while members cancel, end to end: the real bridge in a real WordPress 6.8.

Members cancel through WordPress over HTTP (``php -S``), the bridge forwards each cancellation to
the real sidecar (``python -m sidecar serve``), whose database is a MariaDB server of this test's
own. After the first third of the cancellations that server is shut down, a third is made while
it is down, then it is started again on the same port and data and the last third is made.

What is promised (issue 8): the members never see the outage; the sidecar answers 503 (never
500) while its database is down; the bridge keeps each refused event pending with a retry time
rather than giving up on it; and once WP-Cron has run a few times, every event is stored once.
Few refusals are expected, by design: the bridge stops a batch at its first temporary failure
and then pauses deliveries from members' requests (its circuit breaker), so the outage costs one
refused request per delivery attempt (a loopback, a cron run), not one per event. Since issue 16 a
cron run sends its due rows in one batch: a refused batch costs each of its rows an attempt, which
the bridge's own log of its requests (an mu-plugin) counts.

WordPress's own database is the shared test server (``mariadb`` fixture), which stays up: the
outage is the sidecar's alone, as when the sidecar's database lives on another host.
"""

from __future__ import annotations

import json
import statistics
import time

import pytest
import sqlalchemy as sa

from sidecar import db
from sidecar.storage.tables import cancellations, events
from tests.support.applier import apply_pending_events
from tests.support.wordpress import assert_no_php_errors, bridge_constants, cancel, make_members, wait_for

pytestmark = pytest.mark.slow

MEMBERS = 6
SUBSCRIPTIONS_EACH = 5
CANCELS = MEMBERS * SUBSCRIPTIONS_EACH  # 30: 10 before, 10 during and 10 after the outage
DOWN_AT_LEAST = 3.0  # seconds the sidecar's database stays down, however fast the cancels are
EVENTS_ROUTES = ("/v1/sites/<site_id>/events", "/v1/sites/<site_id>/events/batch")

# Each delivery request of the bridge (web requests and cron alike), with how many outbox rows it
# carried and the status it got (0: no answer), one JSON line each.
DELIVERY_LOG_PLUGIN = """<?php
add_action('http_api_debug', function ($response, $context, $class, $args, $url) {
    if (!preg_match('#/v1/sites/[^/]+/events(/batch)?$#', (string) $url, $batch)) {
        return;
    }
    $rows = empty($batch[1]) ? 1 : count((array) json_decode($args['body'], true)['events']);
    $status = is_wp_error($response) ? 0 : (int) wp_remote_retrieve_response_code($response);
    file_put_contents(LOG, wp_json_encode(array('rows' => $rows, 'status' => $status)) . "\n", FILE_APPEND | LOCK_EX);
}, 10, 5);
"""
# The refused rows are made due once MariaDB is back (their backoff would be 7.5 to 15 s): the drain
# is bounded well above what it takes, and in count.
DRAIN_TIMEOUT = 40
DRAIN_INTERVAL = 0.5


def outbox_rows(site) -> list[dict]:
    """Every outbox row, with what the bridge recorded of its last attempt."""
    return site.wp_json("""
        global $wpdb;
        return $wpdb->get_results('SELECT id, webhook_id, event_type, status, attempts, last_status, last_error,
            next_attempt_at, updated_at FROM ' . Farewell_Bridge_Outbox::table() . ' ORDER BY id', ARRAY_A);
    """)


def events_answers(sidecar) -> list[int]:
    """The status of every answer the sidecar gave on the events route, from its JSON access log."""
    statuses = []
    for line in sidecar.log_path.read_text(errors="replace").splitlines():
        if not line.startswith("{"):
            continue
        record = json.loads(line)
        if record.get("logger") == "sidecar.access" and record.get("route") in EVENTS_ROUTES:
            statuses.append(int(record["status"]))
    return statuses


def stored(engine) -> dict:
    with engine.connect() as conn:
        return {
            "events": conn.execute(sa.select(sa.func.count()).select_from(events)).scalar_one(),
            "webhook_ids": set(conn.execute(sa.select(events.c.webhook_id)).scalars()),
            "cancelled_events": conn.execute(sa.select(sa.func.count()).select_from(events)
                                             .where(events.c.type == "subscription.cancelled")).scalar_one(),
            "cancellations": conn.execute(sa.select(sa.func.count()).select_from(cancellations)).scalar_one(),
        }


def test_the_sidecars_database_restarted_mid_run_loses_and_duplicates_no_cancellation(
        wordpress_site, sidecar_server, own_mariadb, figures, tmp_path):
    sidecar = sidecar_server(database_url=own_mariadb.create_database("farewell"),
                             extra_env={"FAREWELL_LOG_FORMAT": "json"}, serve_args=("--no-jobs",))
    site = wordpress_site("6.8", constants=bridge_constants(sidecar))
    deliveries = tmp_path / "deliveries.jsonl"
    deliveries.touch()
    (site.docroot / "wp-content" / "mu-plugins" / "delivery-log.php").write_text(
        DELIVERY_LOG_PLUGIN.replace("LOG", repr(str(deliveries))))
    members = make_members(site, MEMBERS, SUBSCRIPTIONS_EACH)
    cron_runs = {"before": 0, "during": 0, "after": 0}

    def drive_cron(phase: str) -> list[dict]:
        site.run_cron()
        cron_runs[phase] += 1
        return outbox_rows(site)

    def settled(phase: str):
        rows = drive_cron(phase)
        return not [r for r in rows if r["status"] == "pending"] and rows

    # The set-up's subscription.created events go out first: the outage meets only cancellations.
    wait_for(lambda: settled("before"), timeout=30, interval=1, describe=lambda: str(outbox_rows(site)[-3:]))

    sessions = [site.login(m["login"], m["password"]) for m in members]
    timings: list[float] = []

    def cancel_members(chosen: range) -> None:
        for index in chosen:
            for subscription in members[index]["subscriptions"]:
                # A normal answer, the confirmation page (cancel() checks both), never an error page.
                timings.append(cancel(sessions[index], site, subscription))

    third = MEMBERS // 3
    try:
        cancel_members(range(0, third))
        wait_for(lambda: settled("before"), timeout=30, interval=1, describe=lambda: str(outbox_rows(site)[-3:]))
        answers_before = len(events_answers(sidecar))

        down_at = time.monotonic()
        own_mariadb.stop()
        cancel_members(range(third, 2 * third))
        # Cron ignores the circuit breaker that the first refusal opened: it tries again, and is refused.
        during = drive_cron("during")
        time.sleep(max(0.0, down_at + DOWN_AT_LEAST - time.monotonic()))
        own_mariadb.start()
        seconds_down = time.monotonic() - down_at

        refused = [r for r in during if r["last_status"] == "503"]
        assert refused, f"the bridge met the outage: {during[-12:]}"
        for row in refused:
            # Kept, with a time for the next attempt after the refused one: not given up on.
            assert row["status"] == "pending", row
            assert int(row["attempts"]) >= 1, row
            assert row["next_attempt_at"] > row["updated_at"], row
        assert not [r for r in during if r["status"] == "dead"], during
        # Their backoff, asserted just above, is 7.5 to 15 s; the plugin's "Retry now" makes them due,
        # so that the drain below tries them again at once instead of waiting for it (the backoff's
        # length is PHPUnit's, BackoffTest). The next attempt of each is still counted below.
        site.wp_eval("Farewell_Bridge_Outbox::make_pending_due();")

        cancel_members(range(2 * third, MEMBERS))
        rows = wait_for(lambda: settled("after"), timeout=DRAIN_TIMEOUT, interval=DRAIN_INTERVAL,
                        describe=lambda: str([r for r in outbox_rows(site) if r["status"] != "delivered"][:5]))
    finally:
        for session in sessions:
            session.close()

    engine = db.create_engine(sidecar.database_url)
    try:
        # This sidecar runs no jobs (--no-jobs): its accepted events are applied here, as a jobs process would.
        apply_pending_events(engine)
        counts = stored(engine)
    finally:
        engine.dispose()
    answers = events_answers(sidecar)
    requests_made = [json.loads(line) for line in deliveries.read_text().splitlines()]
    figures.update(
        cancels=len(timings), outbox_rows=len(rows), seconds_down=round(seconds_down, 1),
        answers_503=answers.count(503), answers_503_before_outage=answers[:answers_before].count(503),
        answers={str(code): answers.count(code) for code in sorted(set(answers))},
        cron_runs=cron_runs, refused_rows_seen_during_outage=len(refused),
        failed_attempts=sum(int(r["attempts"]) for r in rows) - len(rows),
        refused_requests={"single": sum(1 for r in requests_made if r["status"] == 503 and r["rows"] == 1),
                          "batch": sum(1 for r in requests_made if r["status"] == 503 and r["rows"] > 1)},
        member_request_ms={"median": round(statistics.median(timings) * 1000),
                           "max": round(max(timings) * 1000)},
        stored={k: (len(v) if isinstance(v, set) else v) for k, v in counts.items()},
    )

    assert len(timings) == CANCELS
    # While its database was down the sidecar said "retry later", never "I broke".
    assert answers.count(503) > 0, figures["answers"]
    assert figures["answers_503_before_outage"] == 0, figures["answers"]
    assert 500 not in answers and set(answers) <= {200, 202, 503}, figures["answers"]
    # Every refusal the sidecar sent was taken by the bridge as a reason to retry (each row of a
    # refused batch), and nothing else failed.
    assert sorted(r["status"] for r in requests_made if r["status"] >= 300 or r["status"] == 0) == [503] * answers.count(503)
    assert figures["failed_attempts"] == sum(r["rows"] for r in requests_made if r["status"] == 503), figures
    # Nothing given up on, everything delivered.
    assert {r["status"] for r in rows} == {"delivered"}, [r for r in rows if r["status"] != "delivered"]
    # Every event stored once: as many rows as distinct webhook ids as outbox rows, and the same ids.
    assert counts["events"] == len(counts["webhook_ids"]) == len(rows), figures["stored"]
    assert counts["webhook_ids"] == {r["webhook_id"] for r in rows}
    # Every cancellation made in WordPress is in the sidecar exactly once.
    assert counts["cancelled_events"] == counts["cancellations"] == CANCELS, figures["stored"]
    assert len([r for r in rows if r["event_type"] == "subscription.cancelled"]) == CANCELS
    assert_no_php_errors(site)
