"""The periodic work, as plain functions of what they need (engine, transport, config, clock),
so tests call them directly with an injected clock."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from ..domain import alerts, dispatch
from ..mail.transports import Transport
from .clock import Clock


def dispatch_tick(engine: Engine, transport: Transport, config: dispatch.DispatchConfig, clock: Clock,
                  time_budget: float = 25.0) -> dispatch.BatchReport:
    """Queue the owners' alerts, then send whatever is due."""
    alerts.queue_owner_alerts(engine, clock())
    return dispatch.dispatch_due(engine, transport, config, clock, time_budget=time_budget)
