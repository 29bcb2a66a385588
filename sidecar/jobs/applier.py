"""The applier's thread: applies the stored events (sidecar.domain.applier) in the jobs process and
in ``python -m sidecar serve``.

It is not an APScheduler job: it must apply within moments of a 202, so it polls every tenth of a
second and ``serve``'s ingest route wakes it at once (``wake``); a full batch is followed by the
next one without waiting, and a larger one (BACKLOG_BATCH) while a backlog lasts. The jobs
process has no wake-up from the web workers: with a poll of one second, an event waited up to a
second before its batch even began, half of the 2 s the issue allows. A poll that finds nothing
is one indexed read in a short transaction. Several threads and processes may run it side by
side: the events are claimed in the database. Never started inside gunicorn workers (the jobs
process applies for them).
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy.engine import Engine

from ..db import UNAVAILABLE_ERRORS, error_kind
from ..domain.applier import BACKLOG_BATCH, BATCH, apply_pending

POLL_SECONDS = 0.1

log = logging.getLogger("jobs")


class Applier:
    def __init__(self, engine: Engine, poll_seconds: float = POLL_SECONDS):
        self.engine = engine
        self.poll_seconds = poll_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def wake(self) -> None:
        """Apply now rather than at the next poll (called after a 202)."""
        self._wake.set()

    def start(self) -> "Applier":
        self._thread = threading.Thread(target=self._run, name="farewell-applier", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 30) -> None:
        """Let the batch being applied finish (its transaction commits or rolls back whole), then stop."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        failing = backlog = False
        while not self._stop.is_set():
            self._wake.clear()
            # After a failed batch (a deadlock rolls the whole transaction back), one event at a
            # time until one goes through, so that no single event can hold the others back.
            limit = 1 if failing else BACKLOG_BATCH if backlog else BATCH
            try:
                report = apply_pending(self.engine, limit=limit)
            except UNAVAILABLE_ERRORS as error:
                if not failing:
                    log.error("applying events: database unavailable or batch rolled back: %s", error_kind(error))
                failing = True
                self._stop.wait(self.poll_seconds)
                continue
            except Exception:  # a bug outside any one event's apply: keep the thread alive, say so
                log.exception("applying events failed")
                failing = True
                self._stop.wait(self.poll_seconds)
                continue
            if failing:
                log.info("applying events again")
            failing = False
            if report.claimed:
                log.info("applied events: %s", report)
            backlog = report.claimed >= limit > 1
            if report.claimed < limit:
                self._wake.wait(self.poll_seconds)
