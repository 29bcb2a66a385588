"""Fault tests: real processes (sidecar web, jobs), a real MariaDB, a real SMTP server, all on
127.0.0.1. Each test is bounded in time and in count, and writes the figures it measured to
test-output/reliability/<test>.json, for docs/RELIABILITY.md."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from tests.conftest import make_event

# Shared by every process of one test, so links signed by one are read by another.
SECRET_KEY = "reliability-secret-key-0123"


def iso(at: datetime) -> str:
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def cancellation(member: int, at: datetime, **overrides) -> dict:
    """Member ``m<member>`` cancels their subscription ``s<member>`` themselves, at ``at``."""
    event = make_event(occurred_at=iso(at), **overrides)
    event["member"] = {"id": f"m{member}", "email": f"member{member}@example.org", "first_name": "Zoë",
                       "locale": "fr_FR"}
    event["subscription"] = {**event["subscription"], "id": f"s{member}", "started_at": "2025-01-03T09:00:00Z",
                             "access_ends_at": iso(at + timedelta(days=365))}
    return event
