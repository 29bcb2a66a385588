"""The applier's multi-row INSERTs (storage/_upsert.py: insert_rows) render their values with the
driver's C converter on MariaDB, one call per row instead of mysql-connector's Python formatting
of each parameter: the rows stored are the ones executemany stores, any value escaped, and an
error shows the statement's placeholders, never the members' data it now holds."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy import insert

from sidecar.domain.sites import create_site
from sidecar.storage._upsert import insert_all_if_absent, insert_rows
from sidecar.storage.tables import members, subscriptions

# Built once, as insert_rows asks (its rendering is kept by the statement's identity).
INSERT_MEMBERS = insert(members)
INSERT_SUBSCRIPTIONS = insert(subscriptions)

# What an escape could get wrong: quotes, backslashes, a percent sign (pyformat's), a NUL,
# letters outside ASCII and outside the BMP, SQL in a name, NULL.
AWKWARD = ["O'Brien", 'say "hi"', "back\\slash", "100 % sure %(email)s %s", "nul\x00byte", "Zoë ÉLOÏSE",
           "🎉 party", "'); DROP TABLE members; --", None]


def _statements(engine):
    seen = []
    sa_event.listen(engine, "before_cursor_execute",
                    lambda conn, cursor, statement, parameters, context, executemany:
                    seen.append((statement, parameters, executemany)))
    return seen


def test_the_rows_stored_are_the_values_given_whatever_they_hold(engine):
    site = create_site(engine, "https://club.example.org", "Le Club")
    paris = timezone(timedelta(hours=1))
    at = datetime(2026, 11, 29, 10, 0, 0, 123456, tzinfo=paris)  # stored as naive UTC, read back as UTC
    rows = [dict(site_id=site["id"], external_id=f"m{n}", email=f"m{n}@example.org", first_name=name,
                 locale=None if n % 2 else "fr_FR", details_at=at + timedelta(seconds=n), created_at=at)
            for n, name in enumerate(AWKWARD)]
    seen = _statements(engine)
    with engine.begin() as conn:
        insert_rows(conn, INSERT_MEMBERS, rows)
        ids = dict(conn.execute(sa.select(members.c.external_id, members.c.id)).all())
        insert_rows(conn, INSERT_SUBSCRIPTIONS, [
            dict(site_id=site["id"], source="test", external_id=f"sub_{n}", member_id=ids[f"m{n}"],
                 plan_name=AWKWARD[n], amount=amount, currency="EUR", interval="month", status="active",
                 status_at=at, details_at=at, created_at=at)
            for n, amount in enumerate([Decimal("29.00"), Decimal("0.0001"), Decimal("12345.6789"), None])])
    with engine.connect() as conn:
        stored = [dict(row) for row in conn.execute(sa.select(*(members.c[name] for name in rows[0]))
                                                     .order_by(members.c.id)).mappings()]
        plans = conn.execute(sa.select(subscriptions.c.plan_name, subscriptions.c.amount)
                             .order_by(subscriptions.c.id)).all()
    assert stored == [{**row, "details_at": row["details_at"].astimezone(timezone.utc),
                       "created_at": at.astimezone(timezone.utc)} for row in rows]
    assert [tuple(p) for p in plans] == [(AWKWARD[0], Decimal("29.00")), (AWKWARD[1], Decimal("0.0001")),
                                         (AWKWARD[2], Decimal("12345.6789")), (AWKWARD[3], None)]
    inserts = [s for s in seen if s[0].startswith("INSERT")]
    assert len(inserts) == 2  # one statement per table, whatever the number of rows
    if engine.dialect.name == "mysql":
        # Rendered by the C converter: the driver is given no parameters to format.
        assert all(not parameters and not executemany for _, parameters, executemany in inserts), inserts


def test_insert_if_absent_of_many_rows_keeps_the_existing_ones(engine):
    site = create_site(engine, "https://club.example.org", "Le Club")
    at = datetime(2026, 11, 29, tzinfo=timezone.utc)
    first = dict(site_id=site["id"], external_id="m1", email="first@example.org", details_at=at, created_at=at)
    with engine.begin() as conn:
        insert_all_if_absent(conn, members, [first])
        insert_all_if_absent(conn, members, [{**first, "email": "second@example.org"},
                                             {**first, "external_id": "m2", "email": "o'neil@example.org"}])
    with engine.connect() as conn:
        assert conn.execute(sa.select(members.c.external_id, members.c.email).order_by(members.c.id)).all() == \
            [("m1", "first@example.org"), ("m2", "o'neil@example.org")]


def test_an_error_shows_the_placeholders_not_the_members_data(engine):
    at = datetime(2026, 11, 29, tzinfo=timezone.utc)
    row = dict(site_id="site_unknown", external_id="m1", email="secret.person@example.org", first_name="Secret",
               details_at=at, created_at=at)
    with pytest.raises(sa.exc.IntegrityError) as raised, engine.begin() as conn:
        insert_rows(conn, INSERT_MEMBERS, [row, {**row, "external_id": "m2"}])
    text = str(raised.value)
    assert "secret.person" not in text and "Secret" not in text, text
    if engine.dialect.name == "mysql":
        assert "%(email)s" in text


def test_a_datetime_in_utc_is_stored_as_is_another_converted_and_a_naive_one_refused(engine):
    """On MariaDB a UTC datetime skips UTCDateTime's conversion (the driver ignores tzinfo): the
    same stored value; one in another zone is still converted, a naive one still refused."""
    site = create_site(engine, "https://club.example.org", "Le Club")
    utc = datetime(2026, 11, 29, 9, 0, 0, 5, tzinfo=timezone.utc)
    elsewhere = datetime(2026, 11, 29, 10, 0, 0, 5, tzinfo=timezone(timedelta(hours=1)))  # the same moment
    with engine.begin() as conn:
        insert_rows(conn, INSERT_MEMBERS, [
            dict(site_id=site["id"], external_id=f"m{n}", email=f"m{n}@example.org", details_at=at, created_at=at)
            for n, at in enumerate([utc, elsewhere])])
    with engine.connect() as conn:
        assert conn.execute(sa.select(members.c.details_at)).scalars().all() == [utc, utc]
    with pytest.raises(sa.exc.StatementError, match="naive datetime"), engine.begin() as conn:
        insert_rows(conn, INSERT_MEMBERS, [dict(site_id=site["id"], external_id="m9", email="m9@example.org",
                                                details_at=utc.replace(tzinfo=None), created_at=utc)])


def test_the_pure_python_driver_keeps_its_own_formatting(fresh_mariadb_url):
    """The C converter is the extension's: a database URL asking for the pure-Python driver
    (``use_pure=True``), or a platform without the extension, stores the same rows through
    executemany, and a 202's INSERT through the driver's parameters."""
    import json

    from sidecar import db
    from sidecar.domain.events import parse_event
    from sidecar.domain.ingest import accept_event
    from sidecar.storage._upsert import c_converter_of
    from sidecar.storage.tables import events
    from tests.conftest import make_event

    engine = db.create_engine(str(sa.engine.make_url(fresh_mariadb_url).update_query_dict({"use_pure": "True"})))
    try:
        db.migrate(engine)
        site = create_site(engine, "https://club.example.org", "Le Club")
        at = datetime(2026, 11, 29, 10, 0, tzinfo=timezone.utc)
        with engine.begin() as conn:
            assert c_converter_of(conn) is None
            insert_rows(conn, INSERT_MEMBERS, [
                dict(site_id=site["id"], external_id=f"m{n}", email=f"m{n}@example.org", first_name=name,
                     details_at=at, created_at=at) for n, name in enumerate(AWKWARD)])
        document = make_event(member={"id": "1", "email": "o'brien@example.org", "first_name": AWKWARD[3]})
        accept_event(engine, site["id"], "msg_pure", json.dumps(document), parse_event(document))
        with engine.connect() as conn:
            names = conn.execute(sa.select(members.c.first_name).order_by(members.c.id)).scalars().all()
            payload = conn.execute(sa.select(events.c.payload)).scalar_one()
        assert names == AWKWARD and json.loads(payload) == document
    finally:
        engine.dispose()
