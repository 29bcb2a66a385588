"""``python -m jobs``: the background process.

APScheduler is only the clock here: jobs registered with explicit ids, an in-memory job store, and
every piece of work claimed in the database so that several job processes can run side by side.
Every 30 s it queues owners' alerts and sends the emails that are due (sidecar.domain.dispatch).
Every 5 minutes it sends the owners' weekly digests that are due (sidecar.domain.digest).
Beside them, a thread applies the events the web processes stored (sidecar.jobs.applier), within a
second of their arrival.
``--once`` runs one tick of each and exits; ``--drain`` ticks until nothing is due, then exits.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from sidecar import config, db, logs
from sidecar.domain.applier import apply_all_pending
from sidecar.jobs.applier import Applier
from sidecar.jobs.runner import Jobs, build_scheduler

log = logging.getLogger("jobs")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jobs", description="Farewell background jobs")
    parser.add_argument("--once", action="store_true", help="run one dispatch tick and one digest tick, then exit")
    parser.add_argument("--drain", action="store_true", help="dispatch until nothing is due, then exit")
    args = parser.parse_args(argv)
    try:
        settings = config.load()
        jobs = Jobs.from_config(settings)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    logs.configure(settings["FAREWELL_LOG_FORMAT"])
    url = settings["FAREWELL_DATABASE_URL"]
    try:
        db.migrate(jobs.engine)
    except db.UNAVAILABLE_ERRORS as error:
        print(f"error: cannot reach the database at {db.redacted(url)}: {type(error).__name__}", file=sys.stderr)
        return 1
    if args.once or args.drain:
        apply_all_pending(jobs.engine)
        while True:
            report = jobs.tick()
            log.info("dispatch: %s", report)
            if args.once or report.claimed == 0 or report.released:
                break
        jobs.scheduled_digests()
        log.info("jobs stopped")
        return 0
    applier = Applier(jobs.engine).start()
    scheduler = build_scheduler(jobs)
    scheduler.start()
    log.info("jobs started with %d scheduled job(s)", len(scheduler.get_jobs()))
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
    scheduler.shutdown(wait=True)
    applier.stop()
    log.info("jobs stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
