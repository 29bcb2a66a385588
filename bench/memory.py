"""Memory: resident size of the web worker after many events, and of the jobs process after many
emails, each beside the same process after 1,000 (does memory follow the work, or stay flat?).

python -m bench.memory [--events 100000] [--emails 100000] [--small]

Web: one gunicorn worker of the sidecar on a throw-away MariaDB, fed distinct signed events by 8
client threads in a second process; VmRSS read from /proc after 1,000 and after all of them.
Jobs: N due emails seeded in the database, `python -m jobs --drain` sending them into a local
SMTP server; its VmRSS sampled while it works at the 1,000th sent email, and written by the process
itself as its last act (read from outside, the end would race its exit).
Appends a JSON line to bench/results/memory.jsonl. A measurement, never a test assertion.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import requests
import sqlalchemy as sa

from sidecar import db
from sidecar.domain.sites import create_site
from sidecar.signing import sign
from sidecar.storage.tables import scheduled_emails
from tests.support.mariadb import MariaDB
from tests.support.net import free_port
from tests.support.smtp import SmtpServer

from . import results
from .dispatch import seed_due_emails
from .ingest import gunicorn

ROOT = Path(__file__).resolve().parents[1]


class ProcessGone(RuntimeError):
    """The process ended before its memory could be read."""


def rss_kib(pid: int) -> int:
    """Resident size of a running process, or ProcessGone: once a process has exited, /proc either
    has no entry for it (reaped) or still lists it without any memory (a zombie its parent has not
    waited for yet), and a reading taken then would be no figure at all."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        raise ProcessGone(f"process {pid} has exited: /proc/{pid} is gone, its memory can no longer be read") from None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise ProcessGone(f"process {pid} has exited: /proc/{pid}/status lists no memory (a zombie)")


def send_events(url: str, site: dict, first: int, count: int, threads: int = 8) -> None:
    def worker(offset: int):
        session = requests.Session()
        for n in range(first + offset, first + count, threads):
            body = json.dumps({
                "type": "subscription.cancelled", "occurred_at": datetime.now(timezone.utc).isoformat(),
                "source": "test", "initiated_by": "member",
                "member": {"id": str(n), "email": f"m{n}@example.org", "first_name": "Zoë"},
                "subscription": {"id": f"sub_{n}", "plan_name": "Or", "amount": "29.00", "currency": "EUR",
                                 "interval": "month"},
            })
            headers = {"Content-Type": "application/json", **sign(site["secret"], f"mem_{uuid.uuid4().hex}", body)}
            response = session.post(f"{url}/v1/sites/{site['id']}/events", data=body.encode(), headers=headers)
            if response.status_code != 202:
                raise RuntimeError(f"event {n}: {response.status_code} {response.text}")

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()


def web_worker(database_url: str, work: Path, events: int) -> dict:
    engine = db.create_engine(database_url)
    db.migrate(engine)
    site = create_site(engine, "https://bench.example.org", "Bench")
    engine.dispose()
    port = free_port()
    env = {**os.environ, "FAREWELL_DATABASE_URL": database_url, "FAREWELL_DATA_DIR": str(work / "web"),
           "FAREWELL_SECRET_KEY": "bench-secret-key-0123456789"}
    master = gunicorn("sidecar:create_app()", port, env, work / "web.log", workers=1)
    try:
        url = f"http://127.0.0.1:{port}"
        worker_pid = int(Path(f"/proc/{master.pid}/task/{master.pid}/children").read_text().split()[0])
        send_events(url, site, 0, 1_000)
        after_first = rss_kib(worker_pid)
        started = time.monotonic()
        send_events(url, site, 1_000, events - 1_000)
        elapsed = time.monotonic() - started
        after_all = rss_kib(worker_pid)
    finally:
        master.terminate()
        master.wait(timeout=30)
    return {"events": events, "rss_kib_after_1000": after_first, "rss_kib_after_all": after_all,
            "growth": round(after_all / after_first - 1, 3), "events_per_second": round((events - 1_000) / elapsed, 1)}


# `python -m jobs --drain`, whose last act is to write its own resident size to argv[1]. Read from
# outside, the figure at the end would race the exit: the process may be gone by the time it is read.
JOBS_DRAIN_THEN_REPORT_RSS = """
import sys
from pathlib import Path
from jobs.__main__ import main
code = main(["--drain"])
rss = [line.split()[1] for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmRSS:")]
Path(sys.argv[1]).write_text(rss[0])
sys.exit(code)
"""


def jobs_process(database_url: str, work: Path, emails: int) -> dict:
    engine = db.create_engine(database_url)
    db.migrate(engine)
    site = create_site(engine, "https://bench.example.org", "Bench jobs")
    seed_due_emails(engine, site["id"], emails, datetime.now(timezone.utc))
    smtp = SmtpServer().start()
    env = {**os.environ, "FAREWELL_DATABASE_URL": database_url, "FAREWELL_DATA_DIR": str(work / "jobs"),
           "FAREWELL_SECRET_KEY": "bench-secret-key-0123456789", "FAREWELL_MAIL_URL": f"smtp://127.0.0.1:{smtp.port}"}
    at_end_file, log = work / "jobs-rss-at-end", work / "jobs.log"
    with open(log, "ab") as out:
        process = subprocess.Popen([sys.executable, "-c", JOBS_DRAIN_THEN_REPORT_RSS, str(at_end_file)], cwd=ROOT,
                                   env=env, stdout=out, stderr=subprocess.STDOUT)
    sent_query = sa.select(sa.func.count()).select_from(scheduled_emails).where(scheduled_emails.c.status == "sent")
    at_first_thousand = None
    try:
        while process.poll() is None:
            try:
                rss = rss_kib(process.pid)
            except ProcessGone:
                break  # it ended between the poll and the reading: its own figure at the end follows
            smtp.received.clear()  # the test server keeps every message; this run only counts them
            if at_first_thousand is None:
                with engine.connect() as conn:
                    if conn.execute(sent_query).scalar_one() >= 1_000:
                        at_first_thousand = rss
            time.sleep(0.2)
        if process.wait(timeout=600) != 0:
            raise RuntimeError(f"jobs --drain exited with {process.returncode}; its log:\n{log.read_text()[-4000:]}")
        last = int(at_end_file.read_text())
        with engine.connect() as conn:
            sent = conn.execute(sent_query).scalar_one()
    finally:
        if process.poll() is None:
            process.kill()
        smtp.stop()
        engine.dispose()
    return {"emails": emails, "sent": sent, "rss_kib_after_1000": at_first_thousand, "rss_kib_at_end": last,
            "growth": round(last / at_first_thousand - 1, 3) if at_first_thousand else None}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.memory")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--emails", type=int, default=100_000)
    parser.add_argument("--small", action="store_true", help="2,000 of each (CI smoke run)")
    args = parser.parse_args(argv)
    events, emails = (2_000, 2_000) if args.small else (args.events, args.emails)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        mariadb = MariaDB(work / "mariadb").start()
        try:
            web = web_worker(mariadb.create_database("bench_web"), work, events)
            print(f"web worker: {web}", flush=True)  # a long run shows each half as soon as it is known
            jobs = jobs_process(mariadb.create_database("bench_jobs"), work, emails)
        finally:
            mariadb.stop()
    row = {"web_worker": web, "jobs": jobs}
    print(f"{'process':<12}{'work':>9}{'RSS after 1,000':>17}{'RSS after all':>15}{'growth':>8}   (goal <= 10%)")
    print(f"{'web worker':<12}{events:>9}{web['rss_kib_after_1000']:>14} KiB{web['rss_kib_after_all']:>11} KiB"
          f"{web['growth']:>8.1%}")
    print(f"{'jobs':<12}{emails:>9}{jobs['rss_kib_after_1000'] or 0:>14} KiB{jobs['rss_kib_at_end'] or 0:>11} KiB"
          f"{(jobs['growth'] or 0):>8.1%}   sent {jobs['sent']}")
    results.append("memory", row)
    return row


if __name__ == "__main__":
    main()
