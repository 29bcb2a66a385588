"""Building the scheduler: APScheduler 3.11 is only the clock here (in-memory job store, explicit
job ids); the work itself is claimed in the database, so several job processes, or the thread of
``python -m sidecar serve``, can run side by side without sending anything twice.

Never start this inside gunicorn workers: each forked worker would run its own scheduler.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Mapping

from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.engine import Engine

from sidecar import db
from sidecar.domain.dispatch import DispatchConfig
from sidecar.mail.transports import Transport, transport_from_url

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


@dataclass
class Jobs:
    engine: Engine
    transport: Transport
    config: DispatchConfig
    clock: Clock
    interval: float

    @classmethod
    def from_config(cls, config: Mapping, engine: Engine | None = None) -> "Jobs":
        speed = config["FAREWELL_CLOCK_SPEED"]
        return cls(
            engine=engine or db.create_engine(config["FAREWELL_DATABASE_URL"]),
            transport=transport_from_url(config["FAREWELL_MAIL_URL"]),
            config=DispatchConfig.from_app_config(config),
            clock=accelerated_clock(speed),
            interval=config.get("FAREWELL_DISPATCH_INTERVAL")
            or (DISPATCH_INTERVAL_SECONDS if speed == 1 else DEMO_DISPATCH_INTERVAL_SECONDS),
        )

    def tick(self):
        return tasks.dispatch_tick(self.engine, self.transport, self.config, self.clock)


def build_scheduler(jobs: Jobs) -> BackgroundScheduler:
    # APScheduler logs every run at INFO; our tick logs what it did.
    logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING)
    scheduler = BackgroundScheduler(
        timezone="UTC",
        jobstores={"default": MemoryJobStore()},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30},
    )
    scheduler.add_job(
        tasks.safe_dispatch_tick, "interval", seconds=jobs.interval, id=DISPATCH_JOB_ID, replace_existing=True,
        args=(jobs.engine, jobs.transport, jobs.config, jobs.clock),
        # Each tick stops sending before the next one is due.
        kwargs={"time_budget": max(jobs.interval - 5, 1)},
    )
    scheduler.add_job(
        tasks.safe_digest_tick, "interval", seconds=DIGEST_INTERVAL_SECONDS, id=DIGEST_JOB_ID, replace_existing=True,
        args=(jobs.engine, jobs.transport, jobs.config.mail, jobs.clock),
    )
    return scheduler
