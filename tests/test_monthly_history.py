"""Imported history in the trends (issue 16): the 12-week chart and the digest count imported
cancellations, the overview and its CSV show the last 24 months in the site's time zone, and the
overview and the digest say since when reasons are known, only when some history was imported.
SQLite and MariaDB, through the real ingest (domain.ingest.record_event, and the signed endpoint
with "imported": true)."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from sidecar.domain.digest import build_digest, week_of
from sidecar.domain.digest_figures import reasons_known_since
from sidecar.domain.digest_render import render_digest
from sidecar.domain.events import parse_event
from sidecar.domain.ingest import record_event
from sidecar.domain.monthly_history import build_months, month_bounds, month_starts
from sidecar.storage import history
from tests.conftest import make_event

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 12, 6, 12, 0, tzinfo=timezone.utc)


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def event(type_: str, at: datetime, member: str, sub: str, *, by="member", plan="Or", amount="29.00",
          currency="EUR", interval="month") -> dict:
    document = make_event(type_=type_, occurred_at=iso(at), initiated_by=by)
    document["member"] = {**document["member"], "id": member, "email": f"{member}@example.org"}
    document["subscription"] = {**document["subscription"], "id": sub, "plan_name": plan, "amount": amount,
                                "currency": currency, "interval": interval,
                                "status": "cancelled" if type_ == "subscription.cancelled" else "active"}
    return document


def record(engine, site, document: dict, imported: bool) -> None:
    parsed = dataclasses.replace(parse_event(document), imported=imported)
    record_event(engine, site["id"], f"msg_{uuid.uuid4().hex}", json.dumps(document), parsed,
                 now=parsed.occurred_at)


def cancel(engine, site, at, member, imported=True, **kwargs) -> None:
    record(engine, site, event("subscription.cancelled", at, member, f"sub-{member}", **kwargs), imported)


def month(months: list[dict], key: str) -> dict:
    return next(m for m in months if m["month"] == key)


@pytest.fixture
def old_site(site, engine):
    """The conftest site (Europe/Paris), connected on 1 Sep 2026: before that, only imported history."""
    import sqlalchemy as sa

    created = datetime(2026, 9, 1, 8, 0, tzinfo=timezone.utc)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE sites SET created_at = :at WHERE id = :id"), {"at": created, "id": site["id"]})
    return {**site, "created_at": created}


# --- the 24 months, in the site's time zone ---------------------------------------------------

def test_twenty_four_months_end_with_the_current_one_and_meet_at_local_midnight():
    starts = month_starts(date(2026, 12, 6))
    assert len(starts) == 24 and starts[0] == date(2025, 1, 1) and starts[-1] == date(2026, 12, 1)
    assert month_starts(date(2026, 1, 31), 2) == [date(2025, 12, 1), date(2026, 1, 1)]
    bounds = month_bounds(starts, PARIS)
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
    assert bounds[0][0] == datetime(2024, 12, 31, 23, 0, tzinfo=timezone.utc)  # 1 Jan 00:00 in Paris (CET)
    assert bounds[6][0] == datetime(2025, 6, 30, 22, 0, tzinfo=timezone.utc)   # 1 Jul 00:00 in Paris (CEST)
    assert bounds[-1][1] == datetime(2026, 12, 31, 23, 0, tzinfo=timezone.utc)


def test_months_count_imported_and_live_cancellations_by_local_month(engine, old_site):
    site = old_site
    # Before the window: 23:30 on 31 Dec 2024 in Paris.
    cancel(engine, site, datetime(2024, 12, 31, 22, 30, tzinfo=timezone.utc), "before")
    # 00:30 on 1 Jan 2025 in Paris, still 2024 in UTC: the window's first month.
    cancel(engine, site, datetime(2024, 12, 31, 23, 30, tzinfo=timezone.utc), "first")
    # November 2026: imported (00:30 on the 1st in Paris, 31 Oct in UTC), a gateway's, a yearly
    # plan in dollars, a lifetime plan; then live ones, the last at 23:59 on the 30th in Paris.
    cancel(engine, site, datetime(2026, 10, 31, 23, 30, tzinfo=timezone.utc), "nov1")
    cancel(engine, site, datetime(2026, 11, 5, 9, 0, tzinfo=timezone.utc), "nov2", by="gateway", plan="Argent")
    cancel(engine, site, datetime(2026, 11, 6, 9, 0, tzinfo=timezone.utc), "nov3", plan="Argent", amount="120.00",
           currency="USD", interval="year")
    cancel(engine, site, datetime(2026, 11, 7, 9, 0, tzinfo=timezone.utc), "nov4", by="admin", plan="À vie",
           amount="500.00", interval="lifetime")
    cancel(engine, site, datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc), "nov5", imported=False,
           interval="week", amount="3.00")
    cancel(engine, site, datetime(2026, 11, 30, 22, 59, tzinfo=timezone.utc), "nov6", imported=False)
    # 00:00 on 1 Dec in Paris: December's.
    cancel(engine, site, datetime(2026, 11, 30, 23, 0, tzinfo=timezone.utc), "dec1", imported=False, by="system")

    with engine.connect() as conn:
        months = build_months(conn, site, NOW)
    assert [m["month"] for m in months] == [f"{y}-{m:02d}" for y in (2025, 2026) for m in range(1, 13)]
    assert sum(m["cancellations"] for m in months) == 8  # "before" is not in the window
    first = month(months, "2025-01")
    assert (first["cancellations"], first["voluntary"], first["not_voluntary"]) == (1, 1, 0)
    assert first["revenue_lost"] == {"EUR": Decimal("29.00")}
    november = month(months, "2026-11")
    assert (november["cancellations"], november["voluntary"], november["not_voluntary"]) == (6, 4, 2)
    assert november["plans"] == [{"plan": "Or", "count": 3}, {"plan": "Argent", "count": 2},
                                 {"plan": "À vie", "count": 1}]
    # 29 (nov1) + 29 (the gateway's) + 3 × 52/12 (weekly: 13) + 29 (nov6) = 100.00 EUR;
    # 120 a year = 10.00 USD; the lifetime plan has no monthly value and is counted apart.
    assert november["revenue_lost"] == {"EUR": Decimal("100.00"), "USD": Decimal("10.00")}
    assert november["lifetime_excluded"] == 1
    december = month(months, "2026-12")
    assert (december["cancellations"], december["voluntary"], december["not_voluntary"]) == (1, 0, 1)
    quiet = month(months, "2026-06")  # a month with none
    assert quiet == {"month": "2026-06", "cancellations": 0, "voluntary": 0, "not_voluntary": 0, "unknown": 0, "plans": [],
                     "revenue_lost": {}, "lifetime_excluded": 0, "comebacks": 0, "after_email": 0,
                     "revenue_won_back": {}}


def test_imported_comebacks_count_as_comebacks_credited_to_no_email(engine, old_site):
    site = old_site
    cancel(engine, site, datetime(2026, 3, 10, 9, 0, tzinfo=timezone.utc), "ana")
    cancel(engine, site, datetime(2026, 3, 12, 9, 0, tzinfo=timezone.utc), "bob", amount="120.00",
           interval="year", currency="USD")
    # Ana buys again in March, Bob resumes on 1 Apr 00:30 in Paris (31 Mar in UTC): both imported.
    record(engine, site, event("subscription.created", datetime(2026, 3, 20, 9, 0, tzinfo=timezone.utc), "ana",
                               "sub2-ana", amount="19.00"), imported=True)
    record(engine, site, event("subscription.resumed", datetime(2026, 3, 31, 22, 30, tzinfo=timezone.utc), "bob",
                               "sub-bob", amount="120.00", interval="year", currency="USD"), imported=True)
    with engine.connect() as conn:
        months = build_months(conn, site, NOW)
    march, april = month(months, "2026-03"), month(months, "2026-04")
    assert (march["cancellations"], march["comebacks"], march["after_email"]) == (2, 1, 0)
    assert march["revenue_won_back"] == {"EUR": Decimal("19.00")}
    assert (april["cancellations"], april["comebacks"], april["after_email"]) == (0, 1, 0)
    assert april["revenue_won_back"] == {"USD": Decimal("10.00")}


def test_the_months_read_one_grouped_query_per_table(engine, old_site):
    """Not one query per month: the statements run are counted."""
    from sqlalchemy import event as sa_event

    cancel(engine, old_site, datetime(2026, 3, 10, 9, 0, tzinfo=timezone.utc), "ana")
    statements = []
    with engine.connect() as conn:
        sa_event.listen(conn, "before_cursor_execute", lambda *args: statements.append(args[2]))
        build_months(conn, old_site, NOW)
    assert len([s for s in statements if s.startswith("SELECT")]) == 2


# --- the 12-week trend counts imported cancellations ------------------------------------------

def test_the_twelve_week_trend_and_the_weeks_figures_count_imported_cancellations(engine, old_site):
    site = old_site
    week = week_of(NOW, PARIS).previous()  # 23–29 Nov 2026
    cancel(engine, site, datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc), "a")
    cancel(engine, site, datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc), "b", by="admin")
    cancel(engine, site, datetime(2026, 10, 1, 9, 0, tzinfo=timezone.utc), "c")
    with engine.connect() as conn:
        digest = build_digest(conn, site, week, NOW)
    trend = {row["week"]: row["cancellations"] for row in digest["trend"]}
    assert trend["2026-W48"] == 2 and trend["2026-W40"] == 1 and sum(trend.values()) == 3
    assert digest["headline"]["week"]["cancellations"] == 2
    assert digest["headline"]["week"]["revenue_lost"] == {"EUR": Decimal("58.00")}


# --- "reasons are only known since" -----------------------------------------------------------

def test_reasons_are_known_since_the_first_live_event_once_history_was_imported(engine, old_site):
    site = old_site
    with engine.connect() as conn:
        assert reasons_known_since(conn, site) is None
    cancel(engine, site, datetime(2026, 10, 1, 9, 0, tzinfo=timezone.utc), "live", imported=False)
    with engine.connect() as conn:
        assert reasons_known_since(conn, site) is None  # live only: every reason could be asked
        assert not history.has_imported_events(conn, site["id"])
    cancel(engine, site, datetime(2025, 2, 1, 9, 0, tzinfo=timezone.utc), "past")
    # 23:30 on 30 Sep in UTC is already 1 Oct in Paris: the first live event's day, locally.
    cancel(engine, site, datetime(2026, 9, 30, 22, 30, tzinfo=timezone.utc), "first", imported=False)
    with engine.connect() as conn:
        assert reasons_known_since(conn, site) == date(2026, 10, 1)


def test_reasons_are_known_since_the_first_answer_when_it_came_before_any_live_event(engine, old_site):
    """History that carries its answers (the demo's weeks): reasons are known since the first."""
    site = old_site
    cancel(engine, site, datetime(2025, 2, 1, 9, 0, tzinfo=timezone.utc), "past")
    answer = make_event(type_="survey.submitted", occurred_at=iso(datetime(2025, 2, 1, 23, 30, tzinfo=timezone.utc)))
    del answer["subscription"]
    answer["member"] = {**answer["member"], "id": "past", "email": "past@example.org"}
    answer["survey"] = {"version": 1, "subscription_id": "sub-past", "reason": "too_expensive"}
    record(engine, site, answer, imported=True)
    cancel(engine, site, datetime(2026, 10, 1, 9, 0, tzinfo=timezone.utc), "live", imported=False)
    with engine.connect() as conn:
        assert reasons_known_since(conn, site) == date(2025, 2, 2)  # 00:30 on 2 Feb in Paris


def test_with_only_imported_history_reasons_are_known_since_the_site_was_connected(engine, old_site):
    cancel(engine, old_site, datetime(2025, 2, 1, 9, 0, tzinfo=timezone.utc), "past")
    with engine.connect() as conn:
        assert reasons_known_since(conn, old_site) == date(2026, 9, 1)


def test_the_signed_endpoint_stores_imported_history_as_such(app, engine, site, post_event):
    past = event("subscription.cancelled", datetime(2025, 2, 1, 9, 0, tzinfo=timezone.utc), "past", "sub-past")
    assert post_event(past).status_code == 202
    with engine.connect() as conn:
        assert not history.has_imported_events(conn, site["id"])
    assert post_event({**past, "imported": True,
                       "subscription": {**past["subscription"], "id": "sub-old"}}).status_code == 202
    with engine.connect() as conn:
        assert history.has_imported_events(conn, site["id"])
        assert history.first_live_event_at(conn, site["id"]) == datetime(2025, 2, 1, 9, 0, tzinfo=timezone.utc)


def test_the_digest_says_since_when_reasons_are_known_in_both_languages(engine, old_site):
    site = old_site
    week = week_of(NOW, PARIS).previous()
    cancel(engine, site, datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc), "a", imported=False)
    with engine.connect() as conn:
        live_only = build_digest(conn, site, week, NOW)
    assert live_only["reasons_known_since"] is None
    rendered = render_digest(live_only, site, "en", "http://sidecar.test/admin/")
    assert "reasons are only known" not in rendered.text and "reasons-since" not in rendered.html
    cancel(engine, site, datetime(2025, 3, 1, 9, 0, tzinfo=timezone.utc), "past")
    with engine.connect() as conn:
        digest = build_digest(conn, site, week, NOW)
    assert digest["reasons_known_since"] == "2026-11-24"
    english = render_digest(digest, site, "en", "http://sidecar.test/admin/")
    french = render_digest(digest, site, "fr", "http://sidecar.test/admin/")
    def flat(text: str) -> str:  # the text part is wrapped at 72 columns
        return " ".join(text.split())

    assert "reasons are only known since 24 November 2026" in flat(english.text)
    assert "reasons are only known since 24 November 2026" in flat(english.html)
    assert "les raisons ne sont connues que depuis le 24 novembre 2026" in flat(french.text)
    # A digest stored before the line existed still renders.
    assert render_digest({k: v for k, v in digest.items() if k != "reasons_known_since"}, site, "en",
                         "http://sidecar.test/admin/").text


# --- the overview, its CSV and the digest preview ---------------------------------------------

def _months_ago(count: int) -> datetime:
    """Noon on the 10th, ``count`` months before this one (the overview reads the real clock)."""
    today = datetime.now(PARIS).date()
    index = today.year * 12 + today.month - 1 - count
    return datetime(index // 12, index % 12 + 1, 10, 12, 0, tzinfo=PARIS).astimezone(timezone.utc)


def test_the_overview_shows_the_months_and_the_line_only_once_history_was_imported(client, engine, site, sign_in):
    sign_in()
    assert 'id="months"' not in client.get("/admin/").text  # nothing yet: the empty state says what to do
    cancel(engine, site, _months_ago(2), "live", imported=False)
    page = client.get("/admin/").text
    assert 'id="months"' in page and page.count('<tr id="month-') == 24
    assert 'id="reasons-since"' not in page
    cancel(engine, site, _months_ago(20), "old", plan="Bronze")
    cancel(engine, site, _months_ago(20) + timedelta(days=1), "old2", plan="Bronze", by="gateway")
    page = client.get("/admin/").text
    assert 'id="reasons-since"' in page
    assert "les raisons ne sont connues que depuis le" in page
    old = _months_ago(20).astimezone(PARIS)
    row = page.split(f'<tr id="month-{old.year}-{old.month:02d}"')[1].split("</tr>")[0]
    assert "<td>2</td><td>1</td><td>1</td><td>Bronze (2)</td>" in row
    assert "58,00" in row
    preview = client.get("/admin/digest/preview").text
    assert "les raisons ne sont connues que depuis le" in preview


def test_the_months_csv_is_safe_in_a_spreadsheet(client, engine, site, sign_in):
    assert client.get("/admin/months.csv").status_code == 401
    at = _months_ago(3)
    cancel(engine, site, at, "a", plan='=HYPERLINK("http://evil")')
    cancel(engine, site, at + timedelta(hours=1), "b", plan='=HYPERLINK("http://evil")')
    cancel(engine, site, at + timedelta(hours=2), "c", plan='Gold, "Plus"', amount="10.00", currency="USD")
    sign_in(locale="en_US")
    response = client.get("/admin/months.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[0][:6] == ["Month", "Cancellations", "By the member", "By others (admin, payment, expiry)",
                           "Who: not recorded (imported)", "Plans"]
    assert "Monthly revenue lost (EUR)" in rows[0] and "Monthly revenue lost (USD)" in rows[0]
    assert len(rows) == 25  # the header and 24 months, oldest first
    local = at.astimezone(PARIS)
    [row] = [r for r in rows if r[0] == f"{local.year}-{local.month:02d}"]
    header = rows[0]
    assert row[1] == "3"
    assert row[5] == "'=HYPERLINK(\"http://evil\") (2), Gold, \"Plus\" (1)"
    assert row[header.index("Monthly revenue lost (EUR)")] == "58.00"
    assert row[header.index("Monthly revenue lost (USD)")] == "10.00"
    assert all(not cell.startswith(("=", "+", "-", "@")) for r in rows for cell in r)


# --- migration 0009 -------------------------------------------------------------------------

@pytest.mark.parametrize("backend", ["sqlite", "mariadb"])
def test_migration_0009_marks_the_events_the_bridge_sent_as_imported(backend, request, tmp_path):
    import sqlalchemy as sa

    from sidecar import db
    from sidecar.storage.types import UTCDateTime

    url = f"sqlite:///{tmp_path / 'old.db'}" if backend == "sqlite" else request.getfixturevalue("fresh_mariadb_url")
    engine = db.create_engine(url)
    db.migrate(engine, "0008")
    # The site as revision 0008 stores it: create_site writes what later ones add (the holdout's seed).
    site = {"id": "site_before0009"}
    old_sites = sa.table("sites", *(sa.column(name) for name in ("id", "name", "url", "timezone", "locale", "secret")),
                         sa.column("created_at", UTCDateTime()))
    with engine.begin() as conn:
        conn.execute(sa.insert(old_sites), {"id": site["id"], "name": "Le Club", "url": "https://club.example.org",
                                            "timezone": "Europe/Paris", "locale": "fr_FR", "secret": "whsec_old",
                                            "created_at": NOW})
    old_events = sa.table("events", *(sa.column(name) for name in ("site_id", "webhook_id", "type", "source",
                                                                     "initiated_by", "payload")),
                          sa.column("occurred_at", UTCDateTime()), sa.column("received_at", UTCDateTime()),
                          sa.column("applied_at", UTCDateTime()))
    bodies = {"compact": '{"imported":true,"type":"subscription.cancelled"}',
              "spaced": '{"imported": true, "type": "subscription.cancelled"}',
              "live": '{"imported": false, "type": "subscription.cancelled"}',
              "quoted": '{"member": {"first_name": "\\"imported\\": true"}}'}
    with engine.begin() as conn:
        conn.execute(sa.insert(old_events), [
            {"site_id": site["id"], "webhook_id": name, "type": "subscription.cancelled", "source": "memberpress",
             "initiated_by": "member", "payload": body, "occurred_at": NOW, "received_at": NOW, "applied_at": NOW}
            for name, body in bodies.items()])
    db.migrate(engine)
    with engine.connect() as conn:
        marked = dict(conn.execute(sa.text("SELECT webhook_id, imported FROM events")).all())
    engine.dispose()
    assert {name: bool(value) for name, value in marked.items()} == {
        "compact": True, "spaced": True, "live": False, "quoted": False}


# --- who cancelled, when the membership plugin did not record it -------------------------------

def test_cancellations_whose_initiator_was_not_recorded_are_counted_apart(engine, old_site):
    """Imported MemberPress and Restrict Content cancellations say initiated_by "unknown" (the
    plugin keeps no initiator): the 24 months and the digest count them apart, neither the
    member's nor "by others", and the digest shows that row only when there are some."""
    site = old_site
    week = week_of(NOW, PARIS).previous()  # 23–29 Nov 2026
    cancel(engine, site, datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc), "admin", by="admin")
    cancel(engine, site, datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc), "live", imported=False)
    with engine.connect() as conn:
        without = build_digest(conn, site, week, NOW)
    assert "who: not recorded" not in render_digest(without, site, "en", "http://sidecar.test/admin/").text

    cancel(engine, site, datetime(2026, 11, 26, 9, 0, tzinfo=timezone.utc), "mp1", by="unknown")
    cancel(engine, site, datetime(2026, 11, 27, 9, 0, tzinfo=timezone.utc), "mp2", by="unknown")
    with engine.connect() as conn:
        months = build_months(conn, site, NOW)
        digest = build_digest(conn, site, week, NOW)
    november = month(months, "2026-11")
    assert (november["cancellations"], november["voluntary"], november["not_voluntary"], november["unknown"]) == (4, 1, 1, 2)
    headline = digest["headline"]["week"]
    assert (headline["cancellations"], headline["by_member"], headline["by_others"], headline["by_unknown"]) == (4, 1, 1, 2)
    assert headline["asked"] == 1  # only the member's own cancellation is asked the survey
    english = render_digest(digest, site, "en", "http://sidecar.test/admin/")
    french = render_digest(digest, site, "fr", "http://sidecar.test/admin/")
    for rendered, label in ((english, "who: not recorded (imported history)"),
                            (french, "auteur non enregistré (historique importé)")):
        assert label in rendered.text and label in rendered.html
    # A digest stored before the count existed still renders, without the row.
    old = {**digest, "headline": {k: {f: v for f, v in c.items() if f != "by_unknown"} if isinstance(c, dict) else c
                                  for k, c in digest["headline"].items()}}
    assert "who: not recorded" not in render_digest(old, site, "en", "http://sidecar.test/admin/").text


def test_the_overview_and_its_csv_show_not_recorded_initiators_apart(client, engine, site, sign_in):
    at = _months_ago(2)
    cancel(engine, site, at, "gateway", by="gateway")
    sign_in()
    page = client.get("/admin/").text
    assert "Auteur non enregistré" not in page  # no such history: no column of zeros
    cancel(engine, site, at + timedelta(hours=1), "mp", by="unknown")
    cancel(engine, site, at + timedelta(hours=2), "member")
    page = client.get("/admin/").text
    assert "Auteur non enregistré (importé)" in page
    local = at.astimezone(PARIS)
    row = page.split(f'<tr id="month-{local.year}-{local.month:02d}"')[1].split("</tr>")[0]
    assert "<td>3</td><td>1</td><td>1</td><td>1</td>" in row
    sign_in(locale="en_US")
    rows = list(csv.reader(io.StringIO(client.get("/admin/months.csv").data.decode("utf-8-sig"))))
    assert rows[0][:6] == ["Month", "Cancellations", "By the member", "By others (admin, payment, expiry)",
                           "Who: not recorded (imported)", "Plans"]
    [row] = [r for r in rows if r[0] == f"{local.year}-{local.month:02d}"]
    assert row[1:5] == ["3", "1", "1", "1"]
