"""Waiting for the applier: a 202 stores an event, the applier applies it moments later
(sidecar.domain.applier). Tests that assert an event's effects go through one of these, never a
fixed sleep."""

from __future__ import annotations

import time

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from sidecar import db
from sidecar.domain.applier import ApplyReport, apply_all_pending
from sidecar.storage import events as events_store
from sidecar.storage.tables import events


def _engine(engine_or_url: Engine | str) -> tuple[Engine, bool]:
    if isinstance(engine_or_url, Engine):
        return engine_or_url, False
    return db.create_engine(engine_or_url), True


def apply_pending_events(engine_or_url: Engine | str) -> ApplyReport:
    """Apply every due event in this process, as the applier thread would, until none is due."""
    engine, own = _engine(engine_or_url)
    try:
        return apply_all_pending(engine)
    finally:
        if own:
            engine.dispose()


def wait_until_applied(engine_or_url: Engine | str, timeout: float = 120, webhook_ids: list[str] | None = None) -> None:
    """Wait until a real process's applier has applied every event (none pending; parked ones are
    not waited for), or only the events of ``webhook_ids``. ``timeout`` is a bound for a hang on a
    busy machine, not a timing."""
    engine, own = _engine(engine_or_url)
    try:
        deadline = time.monotonic() + timeout
        while True:
            with engine.connect() as conn:
                if webhook_ids is not None:
                    if conn.execute(select(func.count()).where(events.c.webhook_id.in_(webhook_ids),
                                                               events.c.applied_at.is_not(None))).scalar_one() \
                            == len(webhook_ids):
                        return
                elif events_store.unapplied_figures(conn)["pending"] == 0:
                    return
            if time.monotonic() > deadline:
                raise AssertionError(f"events still unapplied after {timeout} s")
            time.sleep(0.05)
    finally:
        if own:
            engine.dispose()


def settle(engine_or_url: Engine | str, applier_running: bool) -> None:
    """Before reading what a real sidecar made of the events it accepted: wait for its applier
    (``applier_running``), or apply them here as a jobs process would. A database that cannot be
    reached is left for the read itself to report."""
    try:
        if applier_running:
            wait_until_applied(engine_or_url)
        else:
            apply_pending_events(engine_or_url)
    except db.UNAVAILABLE_ERRORS:
        pass
