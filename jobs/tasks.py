"""The periodic work, as plain functions of what they need (engine, transport, config, clock),
so tests call them directly with an injected clock."""

from __future__ import annotations

import logging

from sqlalchemy.engine import Engine

from sidecar.db import UNAVAILABLE_ERRORS
from sidecar.domain import alerts, digest, dispatch
from sidecar.mail.transports import Transport

from .clock import Clock

log = logging.getLogger("jobs")


def dispatch_tick(engine: Engine, transport: Transport, config: dispatch.DispatchConfig, clock: Clock,
                  time_budget: float = 25.0) -> dispatch.BatchReport:
    """Queue the owners' alerts, then send whatever is due."""
    alerts.queue_owner_alerts(engine, clock())
    return dispatch.dispatch_due(engine, transport, config, clock, time_budget=time_budget)


def safe_dispatch_tick(engine, transport, config, clock, time_budget: float = 25.0) -> None:
    """The scheduled form: a database outage is logged in one line and retried on the next tick."""
    try:
        report = dispatch_tick(engine, transport, config, clock, time_budget)
    except UNAVAILABLE_ERRORS as error:
        log.error("dispatch skipped, database unavailable: %s", type(getattr(error, "orig", None) or error).__name__)
        return
    if report.claimed:
        log.info("dispatch: %s", report)


def safe_digest_tick(engine: Engine, transport: Transport, mail, clock: Clock) -> None:
    """Send the owners' weekly digests that are due (sidecar.domain.digest.digest_tick)."""
    try:
        results = digest.digest_tick(engine, transport, mail, clock)
    except UNAVAILABLE_ERRORS as error:
        log.error("digests skipped, database unavailable: %s", type(getattr(error, "orig", None) or error).__name__)
        return
    for result in results:
        log.info("digest %s for site %s: %s%s", result.week, result.site_id, result.status,
                 f" ({result.detail})" if result.detail else "")
