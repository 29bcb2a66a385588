"""Building the scheduler: APScheduler 3.11 is only the clock here (in-memory job store, explicit
job ids); the work itself is claimed in the database, so several job processes, or the thread of
``python -m sidecar serve``, can run side by side without sending anything twice.

Never start this inside gunicorn workers: each forked worker would run its own scheduler.

After each completed tick of a job, the process records a heartbeat (job_heartbeats: one row per
process and job) that /healthz and /metrics report. A tick that fails records none, so a job
that keeps failing shows as late; a heartbeat that cannot be written is logged and the work goes on.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Mapping

from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import exc
from sqlalchemy.engine import Engine

from .. import db
from ..db import UNAVAILABLE_ERRORS, error_kind
from ..domain import digest, rate_limits
from ..domain.dispatch import DispatchConfig
from ..mail.transports import Transport, transport_from_url
from ..storage import operations
from . import tasks
from .clock import Clock, accelerated_clock

DISPATCH_JOB_ID = "dispatch-emails"
DISPATCH_INTERVAL_SECONDS = 30
# With an accelerated clock, tick more often so that the demo's emails land steadily.
DEMO_DISPATCH_INTERVAL_SECONDS = 2
# Digests are due at a whole hour of each site's time zone: a tick every 5 minutes sends them
# within 5 minutes of it, and the claim row makes every tick after that a cheap no-op.
DIGEST_JOB_ID = "send-digests"
DIGEST_INTERVAL_SECONDS = 300
# The names under which ticks are reported (sidecar.storage.operations.JOBS).
DISPATCH_HEARTBEAT, DIGEST_HEARTBEAT = "dispatch", "digests"
# How often a process deletes the heartbeats of processes gone for a day, and old rate-limit windows.
PRUNE_EVERY = timedelta(hours=1)

log = logging.getLogger("jobs")


class Heartbeat:
    """This process's heartbeats. Times are real UTC, never the demo's accelerated clock: they
    are compared with the wall clock of whoever reads them."""

    def __init__(self, engine: Engine, worker: str | None = None):
        self.engine = engine
        self.worker = (worker or f"{socket.gethostname()}:{os.getpid()}")[:100]
        self.started_at = datetime.now(timezone.utc)
        self._pruned_at: datetime | None = None

    def beat(self, job: str, interval: float, report: dict) -> bool:
        now = datetime.now(timezone.utc)
        try:
            with self.engine.begin() as conn:
                operations.record_heartbeat(conn, self.worker, job, self.started_at, now,
                                            {"interval_seconds": interval, **report})
            if self._pruned_at is None or now - self._pruned_at >= PRUNE_EVERY:
                self._prune(now)
                self._pruned_at = now
        except exc.SQLAlchemyError as error:
            # A heartbeat reports the work; failing to write it must never stop the work.
            log.warning("heartbeat of %s not recorded: %s", job, error_kind(error))
            return False
        return True

    def _prune(self, now: datetime) -> None:
        """Hourly, from whichever process gets there: the operations tables' expired rows (heartbeats of
        processes gone for a day; rate-limit windows, which the web processes also prune as they go)."""
        with self.engine.begin() as conn:
            operations.prune_heartbeats(conn, now)
        rate_limits.prune(self.engine, now)


@dataclass
class Jobs:
    engine: Engine
    transport: Transport
    config: DispatchConfig
    clock: Clock
    interval: float
    heartbeat: Heartbeat | None = None

    def __post_init__(self):
        if self.heartbeat is None:
            self.heartbeat = Heartbeat(self.engine)

    @classmethod
    def from_config(cls, config: Mapping, engine: Engine | None = None) -> "Jobs":
        speed = config["FAREWELL_CLOCK_SPEED"]
        return cls(
            engine=engine or db.create_engine(config["FAREWELL_DATABASE_URL"]),
            transport=transport_from_url(config["FAREWELL_MAIL_URL"], config["FAREWELL_BRIDGE_ALLOWED_NETWORKS"]),
            config=DispatchConfig.from_app_config(config),
            clock=accelerated_clock(speed),
            interval=config.get("FAREWELL_DISPATCH_INTERVAL")
            or (DISPATCH_INTERVAL_SECONDS if speed == 1 else DEMO_DISPATCH_INTERVAL_SECONDS),
        )

    def tick(self):
        """One dispatch tick (alerts, then due emails), reported as a heartbeat; errors propagate."""
        report = tasks.dispatch_tick(self.engine, self.transport, self.config, self.clock)
        self.heartbeat.beat(DISPATCH_HEARTBEAT, self.interval, dataclasses.asdict(report))
        return report

    def scheduled_dispatch(self, time_budget: float) -> None:
        """The scheduled form of a dispatch tick: a database outage is one line, retried next tick."""
        try:
            report = tasks.dispatch_tick(self.engine, self.transport, self.config, self.clock, time_budget)
        except UNAVAILABLE_ERRORS as error:
            log.error("dispatch skipped, database unavailable: %s", error_kind(error))
            return
        if report.claimed:
            log.info("dispatch: %s", report)
        self.heartbeat.beat(DISPATCH_HEARTBEAT, self.interval, dataclasses.asdict(report))

    def scheduled_digests(self) -> None:
        """Send the weekly digests that are due (sidecar.domain.digest.digest_tick), then report."""
        try:
            results = digest.digest_tick(self.engine, self.transport, self.config.mail, self.clock)
        except UNAVAILABLE_ERRORS as error:
            log.error("digests skipped, database unavailable: %s", error_kind(error))
            return
        outcomes: dict[str, int] = {}
        for result in results:
            log.info("digest %s for site %s: %s%s", result.week, result.site_id, result.status,
                     f" ({result.detail})" if result.detail else "")
            outcomes[result.status] = outcomes.get(result.status, 0) + 1
        self.heartbeat.beat(DIGEST_HEARTBEAT, DIGEST_INTERVAL_SECONDS, {"due": len(results), **outcomes})


def build_scheduler(jobs: Jobs) -> BackgroundScheduler:
    # APScheduler logs every run at INFO; our tick logs what it did.
    logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING)
    scheduler = BackgroundScheduler(
        timezone="UTC",
        jobstores={"default": MemoryJobStore()},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30},
    )
    # The first tick of each job runs at start, not one interval later: due work waits no longer,
    # and /healthz sees the new process at once.
    start = datetime.now(timezone.utc)
    scheduler.add_job(
        jobs.scheduled_dispatch, "interval", seconds=jobs.interval, id=DISPATCH_JOB_ID, replace_existing=True,
        next_run_time=start,
        # Each tick stops sending before the next one is due.
        kwargs={"time_budget": max(jobs.interval - 5, 1)},
    )
    scheduler.add_job(
        jobs.scheduled_digests, "interval", seconds=DIGEST_INTERVAL_SECONDS, id=DIGEST_JOB_ID,
        replace_existing=True, next_run_time=start,
    )
    return scheduler
