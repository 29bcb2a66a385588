"""Helpers shared by the security tests: a fresh rate-limit window, a member with an unsubscribe link."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from sidecar.domain.tokens import unsubscribe_token
from sidecar.storage.tables import members
from tests.conftest import make_event


def wait_for_a_fresh_window(seconds: int = 60, room: int = 15) -> None:
    """Rate limits count in fixed windows; a test that makes a burst of requests starts it with at
    least ``room`` seconds left in the current window, so the burst never straddles two windows.
    Waits at most ``room`` seconds."""
    left = seconds - time.time() % seconds
    if left < room:
        time.sleep(left + 0.05)


@pytest.fixture
def member_link(app, post_event, site):
    """(path of the member's unsubscribe link, member row id) for a member who has just cancelled."""
    assert post_event(make_event()).status_code == 202
    with app.extensions["farewell.engine"].connect() as conn:
        member_id = conn.execute(sa.select(members.c.id).where(members.c.site_id == site["id"])).scalar_one()
    return f"/u/{unsubscribe_token(app.config['SECRET_KEY'], site['id'], member_id)}", member_id
