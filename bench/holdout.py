"""The holdout's figures (issue 20): 2,000 judged cancellations with a group, on top of 10,000
and of 1,000,000 older ones without.

python -m bench.holdout [--small] [--grouped 2000] [--older 10000 1000000] [--grouped-history]

What the dashboard's overview and sequence page, and the monthly digest, compute on every view:
``sidecar.domain.holdout.effect`` (both groups' win-back rates, Newcombe's interval, per reason).
On a throw-away MariaDB, for each history size, in its own database: the cancellations with a
group (the live voluntary ones since the holdout began, 10 % of them in the holdout) are written
like real ones, with answers, win-backs (more among the follow-ups) and unsubscribes, some before
the cancel (left out of the figures), and 10 % more not judged yet; the older history is
bench.digest's (members, subscriptions, events, cancellations, answers, emails, win-backs,
unsubscribes, generated server-side), with no group, as cancellations opened before the holdout
existed, by an admin or the gateway, or imported are. If the figures' cost followed the history,
the second figure would be ~100× the first.

``--grouped-history`` gives every member-initiated cancellation of the history a group too (a
site that has had the holdout for five years): then the figures read every one of them, and
their cost follows that count, which is a measurement of its own (recorded as such).

Times ``effect`` (median of 5 after the first view, which counts every judged cancellation and
keeps the counts, and is timed apart: ``first_view_ms``; the views after it count on from the kept
figures, as the dashboard's do until something forgets them), prints both sizes side by side and their ratio,
and appends a JSON line to bench/results/holdout.jsonl. ``--small`` (200 grouped, 1,000 and
20,000 older) is a smoke run for CI. A measurement, never a test assertion.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from datetime import timedelta
from functools import partial

import sqlalchemy as sa

from sidecar import db
from sidecar.domain import holdout
from sidecar.domain.holdout import FOLLOWUPS, HOLDOUT
from sidecar.domain.site_settings import update_settings
from sidecar.domain.sites import create_site
from sidecar.domain.unsubscribe import email_hash
from sidecar.storage.tables import (
    cancellations, events, members, subscriptions, suppressions, survey_answers, winbacks,
)

from . import results as bench_results
from .digest import REASONS, WEEK, ZONE, at_each_size, seed_history

SECRET_KEY = "bench-secret-key-24-chars!"
# The figures are read on the Monday after bench.digest's week, like its digest.
NOW = WEEK.shifted(1).bounds(ZONE)[0] + timedelta(hours=8)
# Grouped rows get ids above every older row's (bench.digest's week uses 50,000,000 and up).
GROUPED_ID_BASE = 60_000_000


def seed_grouped(engine, site_id: str, count: int, rng: random.Random) -> dict:
    """``count`` judged cancellations with a group over the year before the judging bound, and a
    tenth more after it (not judged yet), with the rows they bring along. Returns what the figures
    must find, to check the run measured what it says."""
    judged_until = NOW - timedelta(days=90)  # the default win-back window (site_settings)
    start = judged_until - timedelta(days=365)
    rows = {t: [] for t in (members, subscriptions, events, cancellations, survey_answers, winbacks, suppressions)}
    expected = {"judged": 0, "left_out_unsubscribed": 0, "waiting": 0}
    for n in range(count + count // 10):
        i = GROUPED_ID_BASE + n
        judged = n < count
        span = (judged_until - start) if judged else (NOW - judged_until - timedelta(hours=1))
        at = (start if judged else judged_until + timedelta(minutes=30)) + span * rng.random()
        group = HOLDOUT if rng.random() < 0.10 else FOLLOWUPS
        email = f"g{i}@example.org"
        rows[members].append({"id": i, "site_id": site_id, "external_id": f"g{i}", "email": email,
                              "first_name": "Zoë", "locale": "fr_FR", "details_at": at, "created_at": at})
        rows[subscriptions].append({
            "id": i, "site_id": site_id, "source": "bench", "external_id": f"gs{i}", "member_id": i,
            "plan_name": rng.choice(("Or", "Argent", "Bronze")), "amount": rng.choice(("9.00", "29.00", "290.00")),
            "currency": rng.choice(("EUR", "EUR", "USD")), "interval": rng.choice(("month", "month", "year")),
            "status": "cancelled", "status_at": at, "details_at": at, "created_at": at})
        rows[events].append({"id": i, "site_id": site_id, "webhook_id": f"ge{i}", "type": "subscription.cancelled",
                             "source": "bench", "initiated_by": "member", "occurred_at": at, "received_at": at,
                             "member_id": i, "subscription_id": i, "payload": "{}"})
        rows[cancellations].append({"id": i, "site_id": site_id, "member_id": i, "subscription_id": i, "event_id": i,
                                    "initiated_by": "member", "kind": "cancelled", "cancelled_at": at,
                                    "created_at": at, "followup_group": group})
        if n % 3 == 0:
            later = at + timedelta(hours=rng.randint(1, 12))
            rows[survey_answers].append({
                "id": i, "site_id": site_id, "member_id": i, "cancellation_id": i, "event_id": i,
                "definition_version": 1, "reason": rng.choice(REASONS[:3]), "comment": "Trop cher pour moi",
                "contact_requested": False, "answered_at": later, "created_at": later, "updated_at": later})
        if rng.random() < (0.12 if group == FOLLOWUPS else 0.06):
            back = at + timedelta(days=rng.randint(2, 80))
            rows[winbacks].append({"id": i, "site_id": site_id, "member_id": i, "cancellation_id": i, "event_id": i,
                                   "subscription_id": i, "event_type": "subscription.resumed", "won_back_at": back,
                                   "amount": "29.00", "currency": "EUR", "last_email_step": "farewell",
                                   "created_at": back})
        unsubscribed_before = n % 50 == 0
        if unsubscribed_before or n % 50 == 25:  # before the cancel (left out) or after it (kept)
            when = at - timedelta(days=3) if unsubscribed_before else at + timedelta(days=3)
            rows[suppressions].append({"site_id": site_id, "email_hash": email_hash(SECRET_KEY, email),
                                       "reason": "unsubscribed", "created_at": when})
        if not judged:
            expected["waiting"] += 1
        elif unsubscribed_before:
            expected["left_out_unsubscribed"] += 1
        else:
            expected["judged"] += 1
    with engine.begin() as conn:
        for table, values in rows.items():
            for chunk in range(0, len(values), 5000):
                if values[chunk:chunk + 5000]:
                    conn.execute(sa.insert(table), values[chunk:chunk + 5000])
    return expected


def _rows_read(conn) -> int:
    return sum(int(value) for _, value in conn.exec_driver_sql("SHOW SESSION STATUS LIKE 'Handler_read%'"))


def measure(url: str, grouped: int, older: int, repeats: int = 5, grouped_history: bool = False) -> dict:
    engine = db.create_engine(url)
    db.migrate(engine)
    site = create_site(engine, "https://club.example.org", "Le Club", ZONE, "fr_FR")
    update_settings(engine, site["id"], {"holdout_percent": 10})
    seeding = time.perf_counter()
    seed_history(engine, site["id"], older)
    expected = seed_grouped(engine, site["id"], grouped, random.Random(20))
    with engine.begin() as conn:
        if grouped_history:
            # Every voluntary cancellation of the history in a group, one in ten in the holdout.
            conn.exec_driver_sql("UPDATE cancellations SET followup_group = IF(id % 10 = 0, 'holdout', 'followups') "
                                 "WHERE initiated_by = 'member' AND followup_group IS NULL")
        for table in ("cancellations", "subscriptions", "survey_answers", "winbacks", "suppressions", "members"):
            conn.exec_driver_sql(f"ANALYZE TABLE {table}").fetchall()
    seeded = time.perf_counter() - seeding
    hashing = partial(email_hash, SECRET_KEY)
    timings = []
    with engine.connect() as conn:
        # The first view counts every judged cancellation and keeps the counts (holdout_tallies);
        # the views after it count on from them: the first is timed apart.
        started = time.perf_counter()
        result = holdout.effect(conn, site["id"], hashing, NOW)
        first = time.perf_counter() - started
        for _ in range(repeats):
            started = time.perf_counter()
            result = holdout.effect(conn, site["id"], hashing, NOW)
            timings.append(time.perf_counter() - started)
        # Rows MariaDB read for one view (every Handler_read_* counter of the session): a count
        # the machine's load does not move.
        reads_before = _rows_read(conn)
        holdout.effect(conn, site["id"], hashing, NOW)
        rows_read = _rows_read(conn) - reads_before
    if not grouped_history:  # the run measured the figures it says it did
        assert (result["n"], result["left_out_unsubscribed"], result["waiting"]) == (
            expected["judged"], expected["left_out_unsubscribed"], expected["waiting"]), (result, expected)
    engine.dispose()
    return {"grouped": grouped, "older": older, "judged": result["n"], "verdict": result["verdict"],
            "effect_ms_median": round(statistics.median(timings) * 1000, 1),
            "effect_ms_min": round(min(timings) * 1000, 1), "first_view_ms": round(first * 1000, 1),
            "rows_read_per_view": rows_read,
            "seed_seconds": round(seeded, 1)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.holdout")
    parser.add_argument("--small", action="store_true", help="200 grouped on 1,000 and 20,000 older (CI smoke)")
    parser.add_argument("--grouped", type=int, default=2000)
    parser.add_argument("--older", type=int, nargs=2, default=(10_000, 1_000_000))
    parser.add_argument("--grouped-history", action="store_true",
                        help="give the history's voluntary cancellations a group too: the figures then read them all")
    args = parser.parse_args(argv)
    grouped, sizes = (200, (1_000, 20_000)) if args.small else (args.grouped, tuple(args.older))
    load_before = os.getloadavg()[0]
    results = at_each_size("holdout", sizes, lambda url, older: measure(url, grouped, older,
                                                                          grouped_history=args.grouped_history))
    small, large = results
    ratio = round(large["effect_ms_median"] / small["effect_ms_median"], 2)
    print(f"{'grouped':>8}{'older':>11}{'judged':>8}{'effect (median ms)':>20}{'min ms':>9}{'first view ms':>15}"
          f"{'rows read':>11}{'seed s':>8}  verdict")
    for r in results:
        print(f"{r['grouped']:>8}{r['older']:>11,}{r['judged']:>8}{r['effect_ms_median']:>20}{r['effect_ms_min']:>9}"
              f"{r['first_view_ms']:>15}{r['rows_read_per_view']:>11,}{r['seed_seconds']:>8}  {r['verdict']}")
    print(f"ratio {large['older']:,} / {small['older']:,} older: {ratio}")
    bench_results.append("holdout", {
        "database": "MariaDB (throw-away, tests/support/mariadb.py)", "commit": bench_results.commit(),
        "history": "grouped too (--grouped-history)" if args.grouped_history else "no group",
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)], "results": results, "ratio": ratio})


if __name__ == "__main__":
    main()
