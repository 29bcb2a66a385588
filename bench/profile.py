"""Where the time goes, for the hot paths whose goal is missed (see BENCHMARKS.md).

python -m bench.profile [ingest|apply|dispatch] [--events 300] [--imported]

Runs the real code in-process under pyinstrument on a throw-away MariaDB: `record_event` for
distinct cancellations (ingest), and `dispatch_due` for seeded farewell emails into a local SMTP
server (dispatch); for apply, the events are accepted first (one insert each, as a 202 does) and
the applier's `apply_all_pending` is profiled alone. Writes the text profile to bench/profiles/<name>.txt and prints its top;
for ingest and apply, also how many SQL statements each event ran (the cost that grows with each lookup).
``apply --imported``: instead of live cancellations, the history bench.import seeds for
``--events`` subscriptions as the bridge sends it (imported subscription.created for each, and
subscription.cancelled for every third), to bench/profiles/apply_imported.txt; also prints the
applier's wall and CPU time per event.
``apply --measure [--rounds 3]``: no profiler; the applier as the jobs process runs it (batches of
BACKLOG_BATCH), a fresh backlog each round, and per applied event: the client's CPU, the MariaDB
server's CPU (its process's utime + stime), statements, and the server's own counters (rows
inserted and updated, index and row writes by its handlers, round trips): the counts the machine's
load does not move.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from pyinstrument import Profiler
from sqlalchemy import event

from sidecar import db
from sidecar.domain.events import parse_event
from sidecar.domain.ingest import record_event
from sidecar.domain.sites import create_site
from tests.support.mariadb import MariaDB

PROFILES = Path(__file__).parent / "profiles"


def _event(n: int) -> dict:
    return {"type": "subscription.cancelled", "occurred_at": datetime.now(timezone.utc).isoformat(),
            "source": "test", "initiated_by": "member",
            "member": {"id": str(n), "email": f"m{n}@example.org", "first_name": "Zoë", "locale": "fr_FR"},
            "subscription": {"id": f"sub_{n}", "plan_name": "Or", "amount": "29.00", "currency": "EUR",
                             "interval": "month"}}


def profile_ingest(engine, count: int) -> Profiler:
    site = create_site(engine, "https://bench.example.org", "Bench")
    documents = [_event(n) for n in range(count)]
    statements = []

    def count_statement(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count_statement)
    profiler = Profiler()
    with profiler:
        for n, document in enumerate(documents):
            record_event(engine, site["id"], f"profile_{n}", json.dumps(document), parse_event(document))
    event.remove(engine, "before_cursor_execute", count_statement)
    print(f"{len(statements) / count:g} SQL statements per event (a cancellation by a new member)")
    return profiler


def imported_history(count: int) -> list[tuple[str, dict]]:
    """(webhook id, event) of bench.import's ``count`` past subscriptions as the bridge's history
    reader sends them: imported, initiator unknown, oldest first."""
    history = importlib.import_module("bench.import").history  # "import" is a keyword

    def utc(text: str) -> str:
        return text.replace(" ", "T") + "Z"

    events = []
    for i, row in enumerate(history(count, datetime.now(timezone.utc))):
        member = {"id": str(1000 + i), "email": f"{row['login']}@example.org", "first_name": "Zoë", "locale": "fr_FR"}
        subscription = {"id": f"mp_{i}", "plan_id": str(i % 3), "plan_name": row["plan"], "amount": "29.00",
                        "currency": "EUR", "interval": "month", "status": "active", "started_at": utc(row["start"])}
        common = {"source": "memberpress", "initiated_by": "unknown", "imported": True, "member": member}
        events.append((f"created_{i}", {**common, "type": "subscription.created", "occurred_at": utc(row["start"]),
                                        "subscription": subscription}))
        if "cancelled" in row:
            events.append((f"cancelled_{i}", {
                **common, "type": "subscription.cancelled", "occurred_at": utc(row["cancelled"]),
                "subscription": {**subscription, "status": "cancelled", "access_ends_at": utc(row["expires"])}}))
    return events


def profile_apply(engine, count: int, imported: bool = False) -> Profiler:
    from sidecar.domain.applier import apply_all_pending
    from sidecar.domain.ingest import accept_event

    site = create_site(engine, "https://bench.example.org", "Bench")
    documents = imported_history(count) if imported else [(f"profile_{n}", _event(n)) for n in range(count)]
    for webhook_id, document in documents:
        accept_event(engine, site["id"], webhook_id, json.dumps(document), parse_event(document))
    statements = []

    def count_statement(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count_statement)
    profiler = Profiler()
    wall, cpu = time.perf_counter(), time.process_time()
    with profiler:
        report = apply_all_pending(engine)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    event.remove(engine, "before_cursor_execute", count_statement)
    assert report.applied == len(documents), report
    what = "imported history: created, every third cancelled" if imported else "a cancellation by a new member"
    print(f"{len(statements) / len(documents):g} SQL statements per applied event ({what}); {len(documents)} "
          f"applied in {wall:.2f} s ({len(documents) / wall:.0f}/s), CPU {cpu / len(documents) * 1000:.2f} ms per "
          "event (under the profiler)")
    return profiler


# MariaDB's global counters read before and after each round (the server is the bench's own).
_COUNTERS = ("Questions", "Com_insert", "Com_update", "Com_select", "Com_commit", "Innodb_rows_inserted",
             "Innodb_rows_updated", "Innodb_rows_read", "Handler_write", "Handler_update", "Handler_read_key",
             "Innodb_buffer_pool_write_requests", "Innodb_log_write_requests", "Innodb_os_log_written")


def _server_counters(mariadb: MariaDB) -> dict[str, int]:
    out = mariadb.sql("SHOW GLOBAL STATUS").stdout
    values = dict(line.split("\t", 1) for line in out.splitlines() if "\t" in line)
    return {name: int(values.get(name, "0")) for name in _COUNTERS}


def _server_cpu(mariadb: MariaDB) -> float:
    fields = Path(f"/proc/{mariadb.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure_apply(engine, mariadb: MariaDB, count: int, rounds: int) -> None:
    """The applier's cost per applied event without a profiler, as the jobs process applies a
    backlog: ``apply_pending`` in batches of BACKLOG_BATCH until none is due."""
    from sidecar.domain.applier import BACKLOG_BATCH, apply_pending
    from sidecar.domain.ingest import accept_event

    site = create_site(engine, "https://bench.example.org", "Bench")
    statements = []

    def count_statement(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    for r in range(rounds):
        for n in range(r * count, (r + 1) * count):
            document = _event(n)
            accept_event(engine, site["id"], f"profile_{n}", json.dumps(document), parse_event(document))
        statements.clear()
        before, server = _server_counters(mariadb), _server_cpu(mariadb)
        event.listen(engine, "before_cursor_execute", count_statement)
        wall, cpu = time.perf_counter(), time.process_time()
        applied = 0
        while (report := apply_pending(engine, limit=BACKLOG_BATCH)).claimed:
            applied += report.applied
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        event.remove(engine, "before_cursor_execute", count_statement)
        server = _server_cpu(mariadb) - server
        after = _server_counters(mariadb)
        assert applied == count, (applied, count)
        # SHOW GLOBAL STATUS itself counts one question and a few handler reads: negligible here.
        per = {name: (after[name] - before[name]) / count for name in _COUNTERS}
        print(json.dumps({"round": r + 1, "events": count, "wall_s": round(wall, 3),
                          "client_cpu_ms_per_event": round(cpu / count * 1000, 4),
                          "server_cpu_ms_per_event": round(server / count * 1000, 4),
                          "statements_per_event": round(len(statements) / count, 4),
                          **{name: round(value, 3) for name, value in per.items()},
                          "loadavg": Path("/proc/loadavg").read_text().split()[:3]}))


def profile_dispatch(engine, count: int) -> Profiler:
    from sidecar.domain.compose import MailConfig
    from sidecar.domain.dispatch import DispatchConfig, dispatch_due
    from sidecar.mail.transports import transport_from_url
    from tests.support.smtp import SmtpServer

    from .dispatch import seed_due_emails

    site = create_site(engine, "https://bench.example.org", "Bench")
    now = datetime.now(timezone.utc)
    seed_due_emails(engine, site["id"], count, now)
    inbox = SmtpServer().start()
    try:
        config = DispatchConfig(mail=MailConfig("bench-secret", "http://127.0.0.1:8000", "farewell@localhost"),
                                batch_size=20)
        profiler = Profiler()
        with profiler:
            dispatch_due(engine, transport_from_url(inbox.url), config, lambda: now, time_budget=3600)
    finally:
        inbox.stop()
    return profiler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile")
    parser.add_argument("path", choices=["ingest", "apply", "dispatch"])
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--imported", action="store_true", help="apply: bench.import's history, not live cancels")
    parser.add_argument("--measure", action="store_true", help="apply: CPU and counts per event, no profiler")
    parser.add_argument("--rounds", type=int, default=3, help="apply --measure: rounds, each a fresh backlog")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        mariadb = MariaDB(Path(tmp) / "mariadb").start()
        try:
            engine = db.create_engine(mariadb.create_database("bench_profile"))
            db.migrate(engine)
            if args.path == "apply" and args.measure:
                measure_apply(engine, mariadb, args.events, args.rounds)
                engine.dispose()
                return
            run = {"ingest": profile_ingest, "apply": profile_apply, "dispatch": profile_dispatch}[args.path]
            profiler = (profile_apply(engine, args.events, imported=True) if args.path == "apply" and args.imported
                        else run(engine, args.events))
            engine.dispose()
        finally:
            mariadb.stop()
    text = profiler.output_text(unicode=False, color=False, show_all=False)
    PROFILES.mkdir(exist_ok=True)
    name = "apply_imported" if args.path == "apply" and args.imported else args.path
    (PROFILES / f"{name}.txt").write_text(text)
    print("\n".join(text.splitlines()[:60]))


if __name__ == "__main__":
    main()
