"""Prometheus metrics: what each web process counts, and the fleet-wide figures read from the database.

Counters live in the process (prometheus_client's default registry). Under gunicorn, several
worker processes each count their own share: with PROMETHEUS_MULTIPROC_DIR set (before
prometheus_client is imported: deploy/gunicorn.conf.py does it) every worker writes its counters
to files there and ``exposition`` adds them up, so one scrape sees the whole server.

The database gauges are the same whichever process is scraped (they describe the fleet, not the
process); they are read at scrape time with a few indexed queries and left out — with
``farewell_database_up 0`` — when the database cannot answer, so the counters are still served.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy.engine import Engine

from .db import UNAVAILABLE_ERRORS, error_kind

log = logging.getLogger(__name__)

# Why an event was refused: a small, fixed set, so that the label cannot grow without bound.
REJECTION_REASONS = ("bad_signature", "stale_timestamp", "invalid", "too_large", "unknown_site",
                     "unsupported_media_type", "rate_limited")

EVENTS = Counter(
    "farewell_events", "Events received from the bridges, by outcome (accepted, duplicate, rejected, unavailable: "
    "the database could not take it and the bridge retries, error: a bug) and, for rejected ones, the reason.", ["outcome", "reason"])
HTTP_REQUESTS = Counter(
    "farewell_http_requests", "HTTP requests answered, by route rule (never the path), method and status.",
    ["route", "method", "status"])
HTTP_DURATION = Histogram(
    "farewell_http_request_duration_seconds", "Time to answer an HTTP request, by route rule and method.",
    ["route", "method"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))


def count_event(outcome: str, reason: str = "") -> None:
    EVENTS.labels(outcome=outcome, reason=reason).inc()


def count_request(route: str, method: str, status: int, seconds: float) -> None:
    HTTP_REQUESTS.labels(route=route, method=method, status=str(status)).inc()
    HTTP_DURATION.labels(route=route, method=method).observe(seconds)


def exposition(engine: Engine | None, multiprocess_dir: str | None, now: datetime | None = None) -> bytes:
    """The text exposition of this process's (or, multiprocess, every worker's) counters and of the
    database gauges."""
    if multiprocess_dir:
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=multiprocess_dir)
    else:
        registry = REGISTRY
    database = CollectorRegistry()
    if engine is not None:
        database.register(DatabaseCollector(engine, now))
    return generate_latest(registry) + generate_latest(database)


class DatabaseCollector:
    """Gauges read from the database at scrape time (sidecar.storage.operations)."""

    def __init__(self, engine: Engine, now: datetime | None = None):
        self.engine = engine
        self.now = now

    def collect(self):
        from .storage import events as events_store
        from .storage import operations

        now = self.now or datetime.now(timezone.utc)
        up = GaugeMetricFamily("farewell_database_up", "1 when the database answered this scrape, 0 when it did "
                                                       "not (the database gauges are then left out).")
        try:
            with self.engine.connect() as conn:
                figures = operations.fleet_figures(conn, now)
                unapplied = events_store.unapplied_figures(conn)
        except UNAVAILABLE_ERRORS as error:
            log.warning("metrics: database unavailable: %s", error_kind(error))
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield _gauge("farewell_events_unapplied", "Events stored (answered 202) and not applied yet, waiting for "
                     "the applier or for their next attempt.", unapplied["pending"])
        yield _gauge("farewell_events_unapplied_oldest_age_seconds", "How long the oldest event not applied yet "
                     "has been waiting since it was received (0 when none waits).",
                     age_seconds(unapplied["oldest_received_at"], now))
        yield _gauge("farewell_events_parked", "Events whose apply failed every attempt (or contradicts what is "
                     "stored), kept with their error until `python -m sidecar events reapply`.", unapplied["parked"])
        yield _gauge("farewell_emails_due", "Emails that should be leaving now: pending and due, plus being sent "
                     "under an expired lease (the dispatchers' backlog).", figures.due_backlog)
        yield _gauge("farewell_emails_due_oldest_age_seconds", "How long the oldest due email has been waiting "
                     "(0 when none is due).", figures.oldest_due_age_seconds)
        by_status = GaugeMetricFamily("farewell_emails", "Scheduled emails in a live or failed status (pending, "
                                      "sending, failed); final statuses grow forever and are not counted.",
                                      labels=["status"])
        for status, count in sorted(figures.emails_by_status.items()):
            by_status.add_metric([status], count)
        yield by_status
        yield _gauge("farewell_emails_retrying", "Pending emails that already failed at least once (a transient "
                     "error: they wait for their next attempt).", figures.retrying)
        yield _gauge("farewell_emails_interrupted_sends", "Sends interrupted by a dispatcher's crash or stall (sum "
                     "of scheduled_emails.interrupted_sends): each may have reached the member twice.",
                     figures.interrupted_sends)
        digests = GaugeMetricFamily("farewell_digests", "Weekly digest runs (rows of the digests table) by status.",
                                    labels=["status"])
        for status, count in sorted(figures.digests_by_status.items()):
            digests.add_metric([status], count)
        yield digests
        age = GaugeMetricFamily("farewell_job_last_tick_age_seconds", "Seconds since the newest completed tick of "
                                "each background job, whichever jobs process ran it.", labels=["job"])
        workers = GaugeMetricFamily("farewell_job_workers", "Jobs processes whose latest tick of the job is recent "
                                    "(within 3 of its intervals).", labels=["job"])
        ok = GaugeMetricFamily("farewell_job_ok", "1 when some jobs process completed a tick of the job within 3 "
                               "of its intervals, 0 when the job is late or never ticked.", labels=["job"])
        for job in figures.jobs:
            if job.age_seconds is not None:  # never ticked: no age (alert on farewell_job_ok)
                age.add_metric([job.job], job.age_seconds)
            workers.add_metric([job.job], job.workers)
            ok.add_metric([job.job], 1 if job.status == "ok" else 0)
        yield age
        yield workers
        yield ok


def age_seconds(since: datetime | None, now: datetime) -> float:
    return round(max((now - since).total_seconds(), 0.0), 3) if since is not None else 0.0


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)
