"""``python -m jobs``: the background process.

APScheduler is only the clock here: jobs registered with explicit ids, an in-memory job store, and
every piece of work claimed in the database so that several job processes can run side by side.
There are no periodic jobs yet (email dispatch and the weekly digest come next); the process
checks the database, then runs until SIGTERM/SIGINT, or exits at once with --once.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from apscheduler.schedulers.background import BackgroundScheduler

from sidecar import config, db, logs

log = logging.getLogger("jobs")


def build_scheduler() -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1})
    return scheduler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jobs", description="Farewell background jobs")
    parser.add_argument("--once", action="store_true", help="start, check the database, and exit")
    args = parser.parse_args(argv)
    logs.configure()
    url = config.load()["FAREWELL_DATABASE_URL"]
    engine = db.create_engine(url)
    try:
        db.migrate(engine)
    except db.UNAVAILABLE_ERRORS as error:
        print(f"error: cannot reach the database at {db.redacted(url)}: {type(error).__name__}", file=sys.stderr)
        return 1
    scheduler = build_scheduler()
    scheduler.start()
    log.info("jobs started with %d scheduled job(s)", len(scheduler.get_jobs()))
    stop = threading.Event()
    if not args.once:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        stop.wait()
    scheduler.shutdown(wait=True)
    log.info("jobs stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
