"""Appliers side by side apply different events at the same time: a batch's claim locks that batch
only (migration 0012's index: the claim reads the unapplied in occurred_at order and stops at its
limit). Before it, MariaDB read and sorted every unapplied event and kept them all locked until the
batch ended, so a second applier claimed nothing meanwhile. MariaDB only: SQLite has one writer."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from sidecar.domain.applier import apply_pending
from sidecar.domain.events import parse_event
from sidecar.domain.ingest import accept_event
from sidecar.domain.sites import create_site
from sidecar.storage import events as events_store
from sidecar.storage.tables import cancellations, events
from tests.conftest import make_event

pytestmark = pytest.mark.parametrize("db_url", ["mariadb"], indirect=True)


def test_a_second_applier_applies_the_next_batch_while_the_first_holds_its_own(engine):
    site = create_site(engine, "https://club.example.org", "Le Club", "Europe/Paris", "fr_FR")
    for n in range(300):
        document = make_event(occurred_at=f"2026-11-29T{n // 60:02d}:{n % 60:02d}:00Z",
                              member={"id": str(n), "email": f"m{n}@example.org", "locale": "fr_FR"},
                              subscription={**make_event()["subscription"], "id": f"sub_{n}"})
        accept_event(engine, site["id"], f"msg_{n}", json.dumps(document), parse_event(document))
    with engine.connect() as conn:
        in_order = conn.execute(sa.select(events.c.id).order_by(events.c.occurred_at, events.c.id)).scalars().all()

    with engine.begin() as first:  # an applier with its batch claimed, not committed yet
        held = [row["id"] for row in events_store.claim_unapplied(first, datetime.now(timezone.utc), 100)]
        assert held == in_order[:100]
        report = apply_pending(engine, limit=100)  # a second applier meanwhile
        assert (report.claimed, report.applied) == (100, 100), report
        first.rollback()

    with engine.connect() as conn:
        applied = set(conn.execute(sa.select(events.c.id).where(events.c.applied_at.is_not(None))).scalars())
        cancelled = conn.execute(sa.select(cancellations.c.event_id)).scalars().all()
    # The next 100 in order, each applied once; the held ones wait for the next batch.
    assert applied == set(in_order[100:200]) and sorted(cancelled) == sorted(applied)
    assert apply_pending(engine, limit=100).claimed == 100
