"""The applier's reads kept for one transaction (sidecar/storage/_reads.py): the site, its settings
and its steps are read once per batch and each caller gets its own copy of the dicts, the values in
them shared. They were deep-copied, every datetime rebuilt, five times per applied event."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import event

from sidecar.domain.sites import create_site
from sidecar.storage import site_settings, sites
from sidecar.storage._reads import kept_for_transaction


def test_a_kept_read_gives_each_caller_its_own_dicts_over_the_same_values(engine):
    site_id = create_site(engine, "https://club.example.org", "Le Club", "Europe/Paris", "fr_FR")["id"]
    now = datetime(2026, 12, 6, 9, 0, tzinfo=timezone.utc)
    with engine.begin() as conn:
        site_settings.save_settings(conn, site_id, {"sender_name": "Le Club"}, now)
        site_settings.save_step(conn, site_id, "farewell", {"enabled": False}, now)
    statements = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    with engine.begin() as conn, kept_for_transaction(conn):
        first = (sites.get_site(conn, site_id), site_settings.get_settings(conn, site_id),
                 site_settings.get_steps(conn, site_id))
        read_count = len(statements)
        # A caller changing what it got changes nothing for the next one, at any depth.
        first[0]["name"] = "changed"
        first[1]["sender_name"] = "changed"
        first[2]["farewell"]["enabled"] = True
        first[2]["added"] = {}
        again = (sites.get_site(conn, site_id), site_settings.get_settings(conn, site_id),
                 site_settings.get_steps(conn, site_id))
        assert len(statements) == read_count  # the second reads came from the kept rows
    assert again[0]["name"] == "Le Club" and again[1]["sender_name"] == "Le Club"
    assert again[2]["farewell"]["enabled"] is False and "added" not in again[2]
    assert again[1] is not first[1] and again[2]["farewell"] is not first[2]["farewell"]
    # The values themselves (immutable) are shared, not rebuilt per read.
    assert again[0]["created_at"] is first[0]["created_at"]
    assert again[2]["farewell"]["updated_at"] is first[2]["farewell"]["updated_at"]


def test_in_a_batch_the_site_its_settings_and_its_steps_are_one_query_giving_what_each_read_gives(engine):
    now = datetime(2026, 12, 6, 9, 0, tzinfo=timezone.utc)
    bare = create_site(engine, "https://bare.example.org", "Nu", "Europe/Paris", "fr_FR")["id"]
    full = create_site(engine, "https://club.example.org", "Le Club", "Europe/Paris", "fr_FR")["id"]
    with engine.begin() as conn:
        site_settings.save_settings(conn, full, {"sender_name": "Le Club", "coupon_days": 9}, now)
        site_settings.save_step(conn, full, "farewell", {"enabled": False}, now)
        site_settings.save_step(conn, full, "feedback", {"delay_seconds": 3600}, now)
    def reads(conn, site_id):
        return (sites.get_site(conn, site_id), site_settings.get_settings(conn, site_id),
                site_settings.get_steps(conn, site_id))
    with engine.connect() as conn:
        expected = {site_id: reads(conn, site_id) for site_id in (bare, full, "site_unknown")}
    assert expected[full][1]["coupon_days"] == 9 and set(expected[full][2]) == {"farewell", "feedback"}
    statements = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    for site_id in (bare, full):
        statements.clear()
        with engine.begin() as conn, kept_for_transaction(conn):
            assert reads(conn, site_id) == expected[site_id]
        # One query for the three (three before); SQLite's BEGIN aside.
        assert [s for s in statements if s.lstrip().upper().startswith("SELECT")] == statements[-1:], statements
    with engine.begin() as conn, kept_for_transaction(conn):
        assert reads(conn, "site_unknown") == expected["site_unknown"] == (None, None, {})
