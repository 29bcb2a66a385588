"""A backlog of 10,000 undelivered events drains oldest first, within PHP's memory and time limits.

The outbox is filled with one fast SQL insert per thousand rows (ages from three days to a few
seconds, increasing with the row id as the real outbox makes them), then the bridge's cron
delivery runs again and again, each run a fresh PHP process under memory_limit=48M and
max_execution_time=16 (so the run gives itself 8 s), against the real sidecar on SQLite.
"""

from __future__ import annotations

import time

import sqlalchemy as sa

from tests.support.wordpress import assert_no_php_errors, bridge_constants

ROWS = 10_000
LIMITS = {"memory_limit": "48M", "max_execution_time": "16"}

FILL = f"""
    global $wpdb;
    $table = Farewell_Bridge_Outbox::table();
    $now = time();
    mt_srand(8);
    $age = 3 * DAY_IN_SECONDS - 600;
    for ($chunk = 0; $chunk < {ROWS} / 1000; $chunk++) {{
        $values = array();
        for ($i = 0; $i < 1000; $i++) {{
            $n = $chunk * 1000 + $i;
            $age = max(5, $age - mt_rand(0, 50));  // varied gaps, older rows first
            $at = $now - $age;
            $payload = wp_json_encode(array('type' => 'member.updated', 'occurred_at' => gmdate('Y-m-d\\\\TH:i:s\\\\Z', $at),
                'source' => 'memberpress', 'member' => array('id' => (string) ($n % 200), 'email' => 'm' . ($n % 200) . '@example.org')));
            $created = gmdate('Y-m-d H:i:s', $at);
            $values[] = $wpdb->prepare('(%s, %s, %s, %s, 0, %s, %s, %s)', sprintf('fwb_backlog_%05d', $n), 'member.updated',
                $payload, 'pending', $created, $created, $created);
        }}
        $wpdb->query("INSERT INTO {{$table}} (webhook_id, event_type, payload, status, attempts, next_attempt_at, created_at, updated_at) VALUES " . implode(',', $values));
    }}
    return (int) $wpdb->get_var("SELECT COUNT(*) FROM {{$table}} WHERE status = 'pending'");
"""

DRAIN = """
    define('DOING_CRON', true);
    $before = Farewell_Bridge_Outbox::counts();
    $started = microtime(true);
    $totals = Farewell_Bridge_Dispatcher::action_farewell_bridge_deliver();
    return array('delivered' => $totals['delivered'], 'pending_before' => $before['pending'],
        'seconds' => microtime(true) - $started, 'peak' => memory_get_peak_usage(),
        'limit' => ini_get('memory_limit'));
"""


def test_ten_thousand_undelivered_events_drain_oldest_first_within_memory_and_time_limits(wordpress_site, sidecar_server):
    sidecar = sidecar_server()
    site = wordpress_site("6.8", constants=bridge_constants(sidecar), start=False)
    assert site.wp_json(FILL) == ROWS

    runs = []
    deadline = time.monotonic() + 600  # usually well under a minute; a bound for a busy machine
    while not runs or runs[-1]["pending_before"] > runs[-1]["delivered"]:
        assert time.monotonic() < deadline, f"the backlog did not drain: {runs}"
        runs.append(site.wp_json(DRAIN, ini=LIMITS, timeout=60))
        assert runs[-1]["delivered"] > 0, f"a run delivered nothing: {runs}"
        assert runs[-1]["limit"] == "48M"
    print(f"\n{len(runs)} cron runs: " + ", ".join(
        f"{r['delivered']} in {r['seconds']:.1f} s, peak {r['peak'] / 2**20:.1f} MiB" for r in runs))

    # Each run ended on its own, inside the budget it takes under max_execution_time=16 (8 s,
    # counted from the start of the request) rather than being killed by PHP.
    assert len(runs) >= 2, "the time budget split the work over several runs"
    # Memory does not grow with the backlog: the run facing 10,000 rows peaks like the last one.
    peaks = [r["peak"] for r in runs]
    assert max(peaks) < 40 * 2**20, peaks
    assert max(peaks) - min(peaks) < 2 * 2**20, peaks

    pending = site.wp_json("return Farewell_Bridge_Outbox::counts();")
    assert pending == {"pending": 0, "delivered": ROWS, "dead": 0}

    engine = sa.create_engine(sidecar.database_url)
    try:
        with engine.connect() as conn:
            arrived = conn.execute(sa.text(
                "SELECT webhook_id, occurred_at FROM events WHERE site_id = :site ORDER BY id"), {"site": sidecar.site_id}).all()
    finally:
        engine.dispose()
    ids = [row[0] for row in arrived]
    assert len(ids) == len(set(ids)) == ROWS, "every event arrived exactly once"
    assert ids == sorted(ids), "in the order of the outbox: oldest first"
    occurred = [str(row[1]) for row in arrived]
    assert occurred == sorted(occurred), "oldest first by age, too"
    assert_no_php_errors(site)
