"""Dispatch rate: emails per second into a local SMTP server, beside a bare smtplib loop.

python -m bench.dispatch [--emails 1000] [--backend sqlite|mariadb|both] [--batch 20] [--smtp-server thread|process]
                         [--rounds 1]

For each backend: seeds N due farewell emails (members, cancellations, scheduled emails), then
times the real dispatcher (claim + render + send + mark, one SMTP connection per batch) into an
aiosmtpd server; then, in the same run, times a bare smtplib loop sending the same number of
pre-rendered messages on one connection to the same server. Prints a table (the ratio of wall-clock
times, and of this process's CPU seconds) and appends a JSON line to bench/results/dispatch.jsonl.
A measurement, never a test assertion.

``--smtp-server``: where aiosmtpd runs, the same server for both sides of the ratio. ``thread``
(the default, the method of the earlier figures): a thread of this process, competing for the GIL
with the dispatcher and the bare loop, which no deployment does. ``process``: a process of its
own, as a mail server is in production. ``--rounds R``: the two sides alternate R times, each
time on emails/R emails, and their times are summed (the load of a shared machine moves between
seconds; one round, the default, is the method of the earlier figures).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import smtplib
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import sqlalchemy as sa

from sidecar import db
from sidecar.domain.compose import MailConfig
from sidecar.domain.dispatch import DispatchConfig, dispatch_due
from sidecar.domain.sites import create_site
from sidecar.mail.transports import transport_from_url
from sidecar.storage.tables import cancellations, events, members, scheduled_emails, subscriptions

from . import results as bench_results



SEED_CHUNK = 5_000


def seed_due_emails(engine, site_id: str, count: int, now: datetime, step: str = "farewell") -> list[int]:
    """``count`` members, each with a member-initiated cancellation and one email due at ``now``.

    Bulk inserts (the ingest path would take minutes for thousands); returns the email ids.
    """
    cancelled_at = now - timedelta(hours=2)
    with engine.begin() as conn:
        base = max(conn.execute(sa.select(sa.func.max(t.c.id))).scalar() or 0
                   for t in (members, subscriptions, events, cancellations, scheduled_emails)) + 1
    ids = range(base, base + count)
    # In chunks: the connector sends an executemany as one multi-row INSERT, which must stay under
    # MariaDB's max_allowed_packet (16 MiB by default) even for 100,000 emails.
    for start in range(0, count, SEED_CHUNK):
        chunk = ids[start:start + SEED_CHUNK]
        with engine.begin() as conn:
            conn.execute(sa.insert(members), [
                {"id": i, "site_id": site_id, "external_id": f"m{i}", "email": f"member{i}@example.org",
                 "first_name": "Zoë", "locale": "fr_FR", "details_at": cancelled_at, "created_at": cancelled_at}
                for i in chunk])
            conn.execute(sa.insert(subscriptions), [
                {"id": i, "site_id": site_id, "source": "test", "external_id": f"sub{i}", "member_id": i,
                 "plan_name": "Or", "amount": "29.00", "currency": "EUR", "interval": "month", "status": "cancelled",
                 "status_at": cancelled_at, "started_at": cancelled_at - timedelta(days=200),
                 "access_ends_at": now + timedelta(days=20), "details_at": cancelled_at, "created_at": cancelled_at}
                for i in chunk])
            conn.execute(sa.insert(events), [
                {"id": i, "site_id": site_id, "webhook_id": f"seed{i}", "type": "subscription.cancelled",
                 "source": "test", "initiated_by": "member", "occurred_at": cancelled_at, "received_at": cancelled_at,
                 "member_id": i, "subscription_id": i, "payload": "{}"}
                for i in chunk])
            conn.execute(sa.insert(cancellations), [
                {"id": i, "site_id": site_id, "member_id": i, "subscription_id": i, "event_id": i,
                 "initiated_by": "member", "kind": "cancelled", "cancelled_at": cancelled_at,
                 "access_ends_at": now + timedelta(days=20), "created_at": cancelled_at}
                for i in chunk])
            conn.execute(sa.insert(scheduled_emails), [
                {"id": i, "site_id": site_id, "member_id": i, "cancellation_id": i, "step": step, "status": "pending",
                 "due_at": now - timedelta(minutes=1), "attempts": 0, "created_at": cancelled_at,
                 "updated_at": cancelled_at}
                for i in chunk])
    return list(ids)


def _prepared(database_url: str) -> tuple:
    engine = db.create_engine(database_url)
    db.migrate(engine)
    site = create_site(engine, "https://club.example.org", "Le Club", "Europe/Paris", "fr_FR")
    return engine, site


def measure(database_url: str, smtp_url: str, inbox, count: int, batch: int, rounds: int = 1) -> dict:
    """``rounds``: the emails sent in that many alternations of the two sides (dispatcher, then the
    bare loop on the same messages), each side's times summed: on a machine whose load changes
    from one second to the next, both sides then meet about the same load."""
    engine, site = _prepared(database_url)
    config = DispatchConfig(mail=MailConfig("bench-secret", "http://127.0.0.1:8000", "farewell@localhost"),
                            batch_size=batch)
    transport = transport_from_url(smtp_url)
    host, port = smtp_url.removeprefix("smtp://").split(":")
    elapsed = cpu = bare = bare_cpu = 0.0
    for share in [count // rounds + (1 if r < count % rounds else 0) for r in range(rounds)]:
        seed_due_emails(engine, site["id"], share, datetime.now(timezone.utc))
        before = len(inbox.messages())
        started, cpu_started = time.perf_counter(), time.process_time()
        report = dispatch_due(engine, transport, config, lambda: datetime.now(timezone.utc), time_budget=3600)
        elapsed, cpu = elapsed + time.perf_counter() - started, cpu + time.process_time() - cpu_started
        received = inbox.messages()[before:]
        assert report.sent == share == len(received), (report, len(received))

        # The same messages as the server received them (same bytes, same size and headers),
        # through a bare smtplib loop on one connection.
        rendered = [(m.sender, m.recipients, m.raw) for m in received]
        bare_started, bare_cpu_started = time.perf_counter(), time.process_time()
        with smtplib.SMTP(host, int(port)) as connection:
            for sender, recipients, raw in rendered:
                connection.sendmail(sender, recipients, raw)
        bare, bare_cpu = bare + time.perf_counter() - bare_started, bare_cpu + time.process_time() - bare_cpu_started
    engine.dispose()
    # The CPU seconds of this process (the SMTP server's thread included; MariaDB's are its own):
    # on a machine busy with other work they move less than the wall-clock times.
    return {"emails": count, "dispatcher_per_second": round(count / elapsed, 1),
            "bare_smtplib_per_second": round(count / bare, 1), "dispatcher_seconds": round(elapsed, 2),
            "bare_seconds": round(bare, 2), "ratio": round(bare / elapsed, 3),
            "dispatcher_cpu_seconds": round(cpu, 2), "bare_cpu_seconds": round(bare_cpu, 2),
            "cpu_ratio": round(bare_cpu / cpu, 3), "rounds": rounds}


class ProcessInbox:
    """tests.support.smtp.SmtpServer run in a process of its own, asked over a pipe for what it
    received (the part of SmtpServer that measure uses)."""

    def __init__(self):
        self.requests, child = multiprocessing.Pipe()
        self.process = multiprocessing.get_context("spawn").Process(target=_serve_inbox, args=(child,), daemon=True)

    def start(self) -> "ProcessInbox":
        self.process.start()
        self.url = self.requests.recv()
        return self

    def messages(self) -> list:
        self.requests.send("messages")
        return self.requests.recv()

    def stop(self) -> None:
        self.requests.send("stop")
        self.process.join(10)


def _serve_inbox(pipe) -> None:
    from tests.support.smtp import SmtpServer

    server = SmtpServer().start()
    pipe.send(server.url)
    while pipe.recv() != "stop":  # any other request: the messages so far
        # What measure reads of each message: sender, recipients, bytes (parsed messages do not pickle cheaply).
        pipe.send([_Kept(m.sender, m.recipients, m.raw) for m in server.messages()])
    server.stop()


class _Kept:
    def __init__(self, sender, recipients, raw):
        self.sender, self.recipients, self.raw = sender, recipients, raw


def main(argv: list[str] | None = None) -> None:
    from tests.support.mariadb import MariaDB
    from tests.support.smtp import SmtpServer

    parser = argparse.ArgumentParser(prog="python -m bench.dispatch")
    parser.add_argument("--emails", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--backend", choices=("sqlite", "mariadb", "both"), default="both")
    parser.add_argument("--smtp-server", choices=("thread", "process"), default="thread")
    parser.add_argument("--rounds", type=int, default=1,
                        help="alternate the two sides this many times (each sends emails/rounds)")
    args = parser.parse_args(argv)
    inbox = SmtpServer().start() if args.smtp_server == "thread" else ProcessInbox().start()
    results: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        try:
            if args.backend in ("sqlite", "both"):
                results["sqlite"] = measure(f"sqlite:///{tmp}/bench.db", inbox.url, inbox, args.emails, args.batch,
                                             args.rounds)
            if args.backend in ("mariadb", "both"):
                server = MariaDB(Path(tmp) / "mariadb").start()
                try:
                    url = server.create_database("farewell_bench")
                    results["mariadb"] = measure(url, inbox.url, inbox, args.emails, args.batch, args.rounds)
                finally:
                    server.stop()
        finally:
            inbox.stop()
    print(f"{'backend':<10}{'emails':>8}{'dispatcher/s':>15}{'bare smtplib/s':>17}{'ratio':>8}{'cpu ratio':>11}")
    for backend, r in results.items():
        print(f"{backend:<10}{r['emails']:>8}{r['dispatcher_per_second']:>15}{r['bare_smtplib_per_second']:>17}"
              f"{r['ratio']:>8}{r['cpu_ratio']:>11}")
    where = "same process, own thread" if args.smtp_server == "thread" else "own process"
    print(f"aiosmtpd: {where}")
    bench_results.append("dispatch", {"smtp_server": f"aiosmtpd 1.4 ({where})", "batch": args.batch,
                                      "commit": bench_results.commit(),
                                      "load_average": [round(x, 2) for x in os.getloadavg()], "results": results})


if __name__ == "__main__":
    main()
