"""Digest build time: 1,000 cancellations in the week, on top of 10,000 and of 1,000,000 older ones.

python -m bench.digest [--small] [--in-week 1000] [--older 10000 1000000]

On a throw-away MariaDB, for each history size, in its own database: the week's cancellations
are written like real ones (members, subscriptions, events; about a third answered with a
comment, contact requests, follow-up emails, win-backs, unsubscribes), and the older history gets
the same kinds of rows in the same proportions, generated server-side with INSERT … SELECT from a
number sequence (seconds for a million rows). Older rows end a week before the digest's 12-week
window starts, so the two runs read the same window and differ only by the history around it:
if the digest's cost followed the history, the second figure would be ~100× the first.
``--into-window`` spreads the history up to the week instead: then the 12-week trend and the
4-week comparison read their share of it (about 4,000 older rows in the window per million).

Times ``build_digest`` (median of 5 after one warm-up), prints both and their ratio, and appends
a JSON line to bench/results/digest.jsonl. ``--small`` (100 in the week, 1,000 and 20,000 older)
is a smoke run for CI. A measurement, never a test assertion.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from sidecar import db
from sidecar.domain.digest import IsoWeek, build_digest, render_digest
from sidecar.domain.sites import create_site
from sidecar.storage.tables import (
    cancellations, contact_requests, events, members, scheduled_emails, subscriptions, suppressions,
    survey_answers, winbacks,
)

from . import results as bench_results

WEEK = IsoWeek.parse("2026-W47")
ZONE = "Europe/Paris"
# The week's rows get ids above every older row's.
WEEK_ID_BASE = 50_000_000
REASONS = ("too_expensive", "unused", "temporary", "missing_features", "switched_service", "customer_service",
           "too_complex", "low_quality", "other")
COMMENTS = (
    "Too expensive for me since the price went up.", "Trop cher pour mon budget en ce moment.",
    "I never found the time to follow the courses.", "Pas le temps, je reviendrai peut-être.",
    "The content did not match what I was looking for.", "Le contenu est bien mais pas pour moi.",
    "Login kept failing on my phone, a bug I think.", "Le support n'a jamais répondu à mon message.",
    "Nothing wrong, just taking a break.", "J'ai trouvé un autre service moins cher.",
)
INTERVALS = ("month", "month", "year", "week", "day")


def seed_week(engine, site_id: str, count: int, rng: random.Random) -> None:
    """``count`` cancellations spread over the week, with the rows a real week brings along."""
    start, end = WEEK.bounds(ZONE)
    span = (end - start).total_seconds()
    rows = {t: [] for t in (members, subscriptions, events, cancellations, survey_answers, contact_requests,
                            scheduled_emails, winbacks, suppressions)}
    for n in range(count):
        i = WEEK_ID_BASE + n
        at = start + timedelta(seconds=rng.random() * span * 0.9)
        later = at + timedelta(hours=rng.randint(1, 12))
        rows[members].append({"id": i, "site_id": site_id, "external_id": f"w{i}", "email": f"w{i}@example.org",
                              "first_name": "Zoë", "locale": "fr_FR", "details_at": at, "created_at": at})
        rows[subscriptions].append({
            "id": i, "site_id": site_id, "source": "bench", "external_id": f"ws{i}", "member_id": i,
            "plan_name": rng.choice(("Or", "Argent", "Bronze")), "amount": rng.choice(("9.00", "29.00", "290.00")),
            "currency": rng.choice(("EUR", "EUR", "USD")), "interval": rng.choice(INTERVALS), "status": "cancelled",
            "status_at": at, "details_at": at, "created_at": at})
        rows[events].append({"id": i, "site_id": site_id, "webhook_id": f"we{i}", "type": "subscription.cancelled",
                             "source": "bench", "initiated_by": "member", "occurred_at": at, "received_at": at,
                             "member_id": i, "subscription_id": i, "payload": "{}"})
        rows[cancellations].append({"id": i, "site_id": site_id, "member_id": i, "subscription_id": i, "event_id": i,
                                    "initiated_by": rng.choice(("member", "member", "member", "admin", "gateway")),
                                    "kind": "cancelled", "cancelled_at": at, "created_at": at})
        rows[scheduled_emails].append({"id": i, "site_id": site_id, "member_id": i, "cancellation_id": i,
                                       "step": "farewell", "status": "sent", "due_at": later, "attempts": 1,
                                       "sent_at": later, "created_at": at, "updated_at": later})
        if n % 3 == 0:
            rows[survey_answers].append({
                "id": i, "site_id": site_id, "member_id": i, "cancellation_id": i, "event_id": i,
                "definition_version": 1, "reason": rng.choice(REASONS), "comment": rng.choice(COMMENTS),
                "contact_requested": n % 30 == 0, "answered_at": later, "created_at": later, "updated_at": later})
            if n % 30 == 0:
                rows[contact_requests].append({
                    "id": i, "site_id": site_id, "answer_id": i, "member_id": i, "contact": "email",
                    "requested_at": later, "answered_at": later + timedelta(hours=5) if n % 60 == 0 else None,
                    "created_at": later})
        if n % 25 == 0:
            rows[winbacks].append({"id": i, "site_id": site_id, "member_id": i, "cancellation_id": i, "event_id": i,
                                   "subscription_id": i, "event_type": "subscription.created",
                                   "won_back_at": later + timedelta(hours=1), "amount": "29.00", "currency": "EUR",
                                   "last_email_step": "farewell", "created_at": later})
        if n % 50 == 0:
            rows[suppressions].append({"site_id": site_id, "email_hash": f"wh{i}", "reason": "unsubscribed",
                                       "created_at": later})
    with engine.begin() as conn:
        for table, values in rows.items():
            for chunk in range(0, len(values), 5000):
                if values[chunk:chunk + 5000]:
                    conn.execute(sa.insert(table), values[chunk:chunk + 5000])


def _numbers(conn, count: int) -> str:
    """A table of 1…count to generate rows from: MariaDB's SEQUENCE engine, else one we fill."""
    try:
        conn.exec_driver_sql("SELECT 1 FROM seq_1_to_1")
        return f"seq_1_to_{count}"
    except sa.exc.DatabaseError:
        conn.rollback()
    conn.exec_driver_sql("CREATE TABLE bench_numbers (seq INT PRIMARY KEY)")
    for first in range(1, count + 1, 50_000):
        conn.exec_driver_sql("INSERT INTO bench_numbers VALUES (%s)",
                             [(n,) for n in range(first, min(first + 50_000, count + 1))])
    return "bench_numbers"


def seed_history(engine, site_id: str, count: int, into_window: bool = False) -> None:
    """``count`` older cancellations over the 5 years before the digest's 12-week window (less a
    week), with answers, requests, emails, win-backs and unsubscribes in the week's proportions.
    ``into_window``: over the 5 years before the week itself, so the 11 earlier weeks of the
    window hold their share of the history too (what a long-lived busy site looks like)."""
    window_start = WEEK.shifted(-11).bounds(ZONE)[0]
    last = WEEK.bounds(ZONE)[0] - timedelta(hours=1) if into_window else window_start - timedelta(weeks=1)
    first = last - timedelta(days=5 * 365)
    step = (last - first).total_seconds() / count
    origin = first.replace(tzinfo=None).isoformat(sep=" ")
    with engine.begin() as conn:
        numbers = _numbers(conn, count)
        ts = f"TIMESTAMPADD(MICROSECOND, FLOOR(seq * {step * 1_000_000:.0f}), '{origin}')"
        later = f"TIMESTAMPADD(HOUR, 3, {ts})"
        s = "%(site)s"
        statements = [
            f"INSERT INTO members (id, site_id, external_id, email, first_name, locale, details_at, created_at) "
            f"SELECT seq, {s}, CONCAT('o', seq), CONCAT('o', seq, '@example.org'), 'Old', 'fr_FR', {ts}, {ts} FROM {numbers}",
            f"INSERT INTO subscriptions (id, site_id, source, external_id, member_id, plan_name, amount, currency, "
            f"`interval`, status, status_at, details_at, created_at) "
            f"SELECT seq, {s}, 'bench', CONCAT('os', seq), seq, ELT(1 + seq % 3, 'Or', 'Argent', 'Bronze'), "
            f"ELT(1 + seq % 3, 90000, 290000, 2900000), ELT(1 + seq % 3, 'EUR', 'EUR', 'USD'), "
            f"ELT(1 + seq % 5, 'month', 'month', 'year', 'week', 'day'), 'cancelled', {ts}, {ts}, {ts} FROM {numbers}",
            f"INSERT INTO events (id, site_id, webhook_id, type, source, initiated_by, occurred_at, received_at, "
            f"member_id, subscription_id, payload) SELECT seq, {s}, CONCAT('oe', seq), 'subscription.cancelled', "
            f"'bench', 'member', {ts}, {ts}, seq, seq, '{{}}' FROM {numbers}",
            f"INSERT INTO cancellations (id, site_id, member_id, subscription_id, event_id, initiated_by, kind, "
            f"cancelled_at, created_at) SELECT seq, {s}, seq, seq, seq, "
            f"ELT(1 + seq % 5, 'member', 'member', 'member', 'admin', 'gateway'), 'cancelled', {ts}, {ts} FROM {numbers}",
            f"INSERT INTO scheduled_emails (id, site_id, member_id, cancellation_id, step, status, due_at, attempts, "
            f"sent_at, created_at, updated_at) SELECT seq, {s}, seq, seq, 'farewell', 'sent', {later}, 1, {later}, "
            f"{ts}, {later} FROM {numbers}",
            f"INSERT INTO survey_answers (id, site_id, member_id, cancellation_id, event_id, definition_version, "
            f"reason, comment, contact_requested, answered_at, created_at, updated_at) SELECT seq, {s}, seq, seq, seq, "
            f"1, ELT(1 + seq % 9, {', '.join(repr(r) for r in REASONS)}), 'Trop cher pour moi', seq % 30 = 0, "
            f"{later}, {later}, {later} FROM {numbers} WHERE seq % 3 = 0",
            f"INSERT INTO contact_requests (id, site_id, answer_id, member_id, contact, requested_at, answered_at, "
            f"created_at) SELECT seq, {s}, seq, seq, 'email', {later}, TIMESTAMPADD(HOUR, 5, {later}), {later} "
            f"FROM {numbers} WHERE seq % 30 = 0",
            f"INSERT INTO winbacks (id, site_id, member_id, cancellation_id, event_id, subscription_id, event_type, "
            f"won_back_at, amount, currency, last_email_step, created_at) SELECT seq, {s}, seq, seq, seq, seq, "
            f"'subscription.created', TIMESTAMPADD(DAY, 1, {ts}), 290000, 'EUR', 'farewell', {ts} "
            f"FROM {numbers} WHERE seq % 25 = 0",
            f"INSERT INTO suppressions (site_id, email_hash, reason, created_at) SELECT {s}, CONCAT('oh', seq), "
            f"'unsubscribed', {ts} FROM {numbers} WHERE seq % 50 = 0",
        ]
        for statement in statements:
            conn.exec_driver_sql(statement, {"site": site_id})
        if numbers == "bench_numbers":
            conn.exec_driver_sql("DROP TABLE bench_numbers")


def measure(url: str, in_week: int, older: int, repeats: int = 5, into_window: bool = False) -> dict:
    engine = db.create_engine(url)
    db.migrate(engine)
    site = create_site(engine, "https://club.example.org", "Le Club", ZONE, "fr_FR")
    seeding = time.perf_counter()
    seed_history(engine, site["id"], older, into_window)
    seed_week(engine, site["id"], in_week, random.Random(47))
    with engine.begin() as conn:  # fresh statistics, as a live server would have
        for table in ("cancellations", "subscriptions", "survey_answers", "winbacks", "scheduled_emails",
                      "contact_requests", "suppressions", "members"):
            conn.exec_driver_sql(f"ANALYZE TABLE {table}").fetchall()
    seeded = time.perf_counter() - seeding
    now = WEEK.shifted(1).bounds(ZONE)[0] + timedelta(hours=8)
    timings = []
    with engine.connect() as conn:
        digest = build_digest(conn, site, WEEK, now)  # warm-up
        for _ in range(repeats):
            started = time.perf_counter()
            digest = build_digest(conn, site, WEEK, now)
            timings.append(time.perf_counter() - started)
    started = time.perf_counter()
    render_digest(digest, site, "fr", "http://127.0.0.1:8000/admin")
    rendering = time.perf_counter() - started
    assert digest["headline"]["week"]["cancellations"] == in_week, digest["headline"]["week"]
    engine.dispose()
    return {"in_week": in_week, "older": older, "build_ms_median": round(statistics.median(timings) * 1000, 1),
            "build_ms_min": round(min(timings) * 1000, 1), "render_ms": round(rendering * 1000, 1),
            "seed_seconds": round(seeded, 1)}


def at_each_size(name: str, sizes, measure) -> list[dict]:
    """``measure(database_url, older)`` for each history size, each in a database of its own on one
    throw-away MariaDB, side by side in one run."""
    from tests.support.mariadb import MariaDB

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        server = MariaDB(Path(tmp) / "mariadb").start()
        try:
            for index, older in enumerate(sizes):
                results.append(measure(server.create_database(f"farewell_{name}_{index}"), older))
        finally:
            server.stop()
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.digest")
    parser.add_argument("--small", action="store_true", help="100 in the week on 1,000 and 20,000 older (CI smoke)")
    parser.add_argument("--in-week", type=int, default=1000)
    parser.add_argument("--older", type=int, nargs=2, default=(10_000, 1_000_000))
    parser.add_argument("--into-window", action="store_true",
                        help="spread the history up to the week, through the 12-week window the digest reads")
    args = parser.parse_args(argv)
    in_week, sizes = (100, (1_000, 20_000)) if args.small else (args.in_week, tuple(args.older))
    results = at_each_size("digest", sizes, lambda url, older: measure(url, in_week, older,
                                                                         into_window=args.into_window))
    small, large = results
    ratio = round(large["build_ms_median"] / small["build_ms_median"], 2)
    print(f"{'in week':>8}{'older':>11}{'build (median ms)':>19}{'min ms':>9}{'render ms':>11}{'seed s':>8}")
    for r in results:
        print(f"{r['in_week']:>8}{r['older']:>11,}{r['build_ms_median']:>19}{r['build_ms_min']:>9}{r['render_ms']:>11}"
              f"{r['seed_seconds']:>8}")
    print(f"ratio {large['older']:,} / {small['older']:,} older: {ratio}")
    bench_results.append("digest", {
        "database": "MariaDB (throw-away, tests/support/mariadb.py)", "week": str(WEEK), "results": results,
        "history": "through the 12-week window" if args.into_window else "before the 12-week window",
        "ratio": ratio})


if __name__ == "__main__":
    main()
