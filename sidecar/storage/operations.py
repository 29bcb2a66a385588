"""What operators watch: the jobs' heartbeats, and fleet-wide figures for /metrics and /healthz.

Every query here runs at each scrape or health check, so each one reads through an index or a
small table: ``(status, due_at)``, ``(status, lease_until)`` and ``(interrupted_sends)`` of
scheduled_emails, the digests table (one row per site and week) and job_heartbeats (one row per
jobs process and job).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.engine import Connection

from . import leases
from .statuses import EmailStatus
from .tables import digests, job_heartbeats, scheduled_emails

# The background jobs that report a heartbeat (sidecar/jobs/runner.py), and their default interval in
# seconds when a heartbeat does not say (each heartbeat reports the interval its process uses).
JOBS = {"dispatch": 30.0, "digests": 300.0}
# A job is late when no process completed a tick of it for this many of its intervals.
LATE_AFTER_INTERVALS = 3
# Heartbeats of processes that stopped ticking this long ago are deleted (their hosts are gone).
HEARTBEAT_RETENTION = timedelta(days=1)
# A retried email waits at most 6 hours (sidecar.domain.dispatch.DispatchConfig.longest_retry):
# retrying rows are all due within this horizon, which keeps their count an index range.
RETRY_HORIZON = timedelta(days=1)
# Statuses counted by farewell_emails: the live ones and failures. Sent, skipped and cancelled
# rows only ever grow; counting them would cost a scan that grows with the history.
COUNTED_EMAIL_STATUSES = (EmailStatus.PENDING.value, EmailStatus.SENDING.value, EmailStatus.FAILED.value)
REPORT_MAX_CHARS = 500


# --- heartbeats --------------------------------------------------------------------------------

def record_heartbeat(conn: Connection, worker: str, job: str, started_at: datetime, now: datetime,
                     report: dict) -> None:
    """Upsert this process's heartbeat for ``job``: it just completed a tick that did ``report``."""
    text = json.dumps(report, separators=(",", ":"), default=str)
    if len(text) > REPORT_MAX_CHARS:
        text = json.dumps({"truncated": True})
    values = {"worker": worker[:100], "job": job, "started_at": started_at, "last_tick_at": now,
              "last_report": text}
    changes = {"started_at": started_at, "last_tick_at": now, "last_report": text}
    if conn.dialect.name == "sqlite":
        statement = sqlite.insert(job_heartbeats).values(values).on_conflict_do_update(
            index_elements=["worker", "job"], set_=changes)
    else:
        statement = mysql.insert(job_heartbeats).values(values).on_duplicate_key_update(changes)
    conn.execute(statement)


def prune_heartbeats(conn: Connection, now: datetime) -> int:
    """Forget processes that have not ticked for HEARTBEAT_RETENTION; returns how many rows went."""
    return conn.execute(delete(job_heartbeats).where(job_heartbeats.c.last_tick_at < now - HEARTBEAT_RETENTION)
                        ).rowcount


@dataclass
class JobState:
    job: str
    status: str  # "ok", "late" (no tick for LATE_AFTER_INTERVALS intervals) or "never"
    last_tick_at: datetime | None
    age_seconds: float | None
    workers: int  # processes whose latest tick is not late
    interval_seconds: float
    last_report: dict | None = None


def job_states(conn: Connection, now: datetime) -> list[JobState]:
    """Each known job's newest tick, whichever process ran it."""
    rows = conn.execute(select(job_heartbeats.c.job, job_heartbeats.c.last_tick_at,
                               job_heartbeats.c.last_report)).all()
    states = []
    for job, default_interval in JOBS.items():
        ticks = sorted(((row.last_tick_at, _report(row.last_report)) for row in rows if row.job == job),
                       key=lambda tick: tick[0], reverse=True)
        if not ticks:
            states.append(JobState(job, "never", None, None, 0, default_interval))
            continue
        last_tick_at, report = ticks[0]
        interval = _interval(report, default_interval)
        limit = LATE_AFTER_INTERVALS * interval
        age = max((now - last_tick_at).total_seconds(), 0.0)
        workers = sum(1 for at, r in ticks if (now - at).total_seconds() <= LATE_AFTER_INTERVALS *
                      _interval(r, default_interval))
        states.append(JobState(job, "ok" if age <= limit else "late", last_tick_at, round(age, 3), workers,
                               interval, report))
    return states


def _report(text: str | None) -> dict | None:
    try:
        value = json.loads(text) if text else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _interval(report: dict | None, default: float) -> float:
    value = (report or {}).get("interval_seconds")
    return float(value) if isinstance(value, (int, float)) and value > 0 else default


# --- fleet figures -----------------------------------------------------------------------------

@dataclass
class FleetFigures:
    due_backlog: int
    oldest_due_age_seconds: float
    emails_by_status: dict[str, int]
    retrying: int
    interrupted_sends: int
    digests_by_status: dict[str, int]
    jobs: list[JobState] = field(default_factory=list)


def fleet_figures(conn: Connection, now: datetime) -> FleetFigures:
    e = scheduled_emails.c
    pending = EmailStatus.PENDING.value
    due_count, due_oldest = conn.execute(
        select(func.count(), func.min(e.due_at)).where(e.status == pending, e.due_at <= now)).one()
    # Being sent under a lease that ran out: its sender died or stalled, and another will take it.
    stale_count, stale_oldest = conn.execute(
        select(func.count(), func.min(e.due_at)).where(leases.ended(scheduled_emails, now))).one()
    oldest = min((at for at in (due_oldest, stale_oldest) if at is not None), default=None)
    by_status = {status: 0 for status in COUNTED_EMAIL_STATUSES}
    by_status.update(conn.execute(select(e.status, func.count()).where(e.status.in_(COUNTED_EMAIL_STATUSES))
                                  .group_by(e.status)).all())
    retrying = conn.execute(select(func.count()).where(e.status == pending, e.due_at <= now + RETRY_HORIZON,
                                                       e.attempts > 0)).scalar_one()
    interrupted = interrupted_sends(conn)
    digest_counts = dict(conn.execute(select(digests.c.status, func.count()).group_by(digests.c.status)).all())
    return FleetFigures(
        due_backlog=due_count + stale_count,
        oldest_due_age_seconds=max((now - oldest).total_seconds(), 0.0) if oldest else 0.0,
        emails_by_status=by_status,
        retrying=retrying,
        interrupted_sends=interrupted,
        digests_by_status=digest_counts,
        jobs=job_states(conn, now),
    )


def interrupted_sends(conn: Connection) -> int:
    """The sum of every email's ``interrupted_sends``. Zeros add nothing: the rows above zero are
    the few a take-over counted, read by their index (without the condition, every email stored
    is read)."""
    e = scheduled_emails.c
    return int(conn.execute(select(func.coalesce(func.sum(e.interrupted_sends), 0))
                            .where(e.interrupted_sends > 0)).scalar_one())
