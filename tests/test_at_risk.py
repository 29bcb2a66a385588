"""Members at risk (issue 18): failed renewals and pauses, shown before they become cancellations.

Each test runs on SQLite and on MariaDB (the ``db_url`` fixture behind ``app`` and ``engine``).
"""

from __future__ import annotations

from sidecar.storage.tables import events
from tests.conftest import count_rows, make_event


def _payment(type_: str, occurred_at: str, **subscription) -> dict:
    event = make_event(type_, occurred_at, initiated_by="gateway")
    event["subscription"].update(status="active", **subscription)
    return event


def test_a_renewal_payment_is_an_event_type_that_needs_its_subscription(post_event, app, client):
    engine = app.extensions["farewell.engine"]
    assert post_event(_payment("payment.succeeded", "2026-11-29T10:00:00Z")).status_code == 202
    without = make_event("payment.succeeded")
    del without["subscription"]
    refused = post_event(without, webhook_id="msg_2")
    assert refused.status_code == 400
    assert refused.json["fields"] == {"subscription": "is required"}
    assert count_rows(engine, events) == 1
    spec = client.get("/openapi.json").json
    assert "payment.succeeded" in str(spec)


# --- the list's rules -------------------------------------------------------------------------

import itertools  # noqa: E402
import json  # noqa: E402
from datetime import datetime, timedelta, timezone  # noqa: E402
from decimal import Decimal  # noqa: E402

import pytest  # noqa: E402

from sidecar.domain import at_risk  # noqa: E402
from sidecar.domain.events import parse_event  # noqa: E402
from sidecar.domain.ingest import record_event  # noqa: E402
from sidecar.domain.sites import create_site  # noqa: E402
from sidecar.storage import at_risk as at_risk_store  # noqa: E402
from sidecar.storage.subscriptions import find_subscription  # noqa: E402

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)  # a Monday


def _at(hours: float) -> str:
    return (T0 + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _event(type_: str, hours: float, member: str = "42", sub: str = "sub_7", imported: bool = False, **subscription):
    document = make_event(type_, _at(hours), initiated_by="gateway")
    document["member"]["id"] = member
    document["member"]["email"] = f"m{member}@example.org"
    document["subscription"].update(id=sub, status=None, **subscription)
    if imported:
        document["imported"] = True
    return document


@pytest.fixture
def site_of(engine):
    return create_site(engine, "https://club.example.org", "Le Club", "Europe/Paris", "fr_FR")


def _record(engine, site, document, webhook_id=None):
    event = parse_event(document)
    record_event(engine, site["id"], webhook_id or f"w_{document['member']['id']}_{document['subscription']['id']}"
                 f"_{document['type']}_{document['occurred_at']}", json.dumps(document), event, now=T0)


def _state(engine, site, sub="sub_7"):
    with engine.connect() as conn:
        subscription = find_subscription(conn, site["id"], "memberpress", sub)
        return at_risk_store.state_of(conn, subscription["id"]), at_risk_store.spells_of(conn, subscription["id"])


def _on_list(engine, site):
    with engine.connect() as conn:
        return at_risk.members_at_risk(conn, site["id"])


def test_a_failed_renewal_puts_the_member_on_the_list_with_what_the_owner_needs(engine, site_of):
    _record(engine, site_of, _event("payment.failed", 1, access_ends_at="2026-11-20T00:00:00Z"))
    _record(engine, site_of, _event("payment.failed", 25, access_ends_at="2026-11-20T00:00:00Z"))
    [row] = _on_list(engine, site_of)
    assert row["member_external_id"] == "42" and row["source"] == "memberpress"
    assert row["email"] == "m42@example.org" and row["plan_name"] == "Or"
    assert (row["amount"], row["currency"], row["interval"]) == (Decimal("29.00"), "EUR", "month")
    assert row["since"] == T0 + timedelta(hours=1) and row["failing_since"] == T0 + timedelta(hours=1)
    assert row["failed_attempts"] == 2 and row["reasons"] == ["failed"]
    assert row["access_ends_at"] == datetime(2026, 11, 20, tzinfo=timezone.utc)
    assert row["monthly"] == Decimal("29.00")


def test_a_later_success_takes_the_member_off_and_a_new_failure_puts_them_back(engine, site_of):
    _record(engine, site_of, _event("payment.failed", 1))
    _record(engine, site_of, _event("payment.succeeded", 2))
    assert _on_list(engine, site_of) == []
    state, spells = _state(engine, site_of)
    assert state["last_succeeded_at"] == T0 + timedelta(hours=2) and state["failed_attempts"] == 0
    _record(engine, site_of, _event("payment.failed", 3))
    [row] = _on_list(engine, site_of)
    assert row["since"] == T0 + timedelta(hours=3) and row["failed_attempts"] == 1
    assert [s["left_reason"] for s in _state(engine, site_of)[1]] == ["recovered", None]


def test_a_pause_is_on_the_list_until_resumed_even_if_a_payment_succeeds(engine, site_of):
    _record(engine, site_of, _event("subscription.paused", 1))
    _record(engine, site_of, _event("payment.succeeded", 2))
    [row] = _on_list(engine, site_of)
    assert row["reasons"] == ["paused"] and row["paused_since"] == T0 + timedelta(hours=1)
    _record(engine, site_of, _event("subscription.resumed", 3))
    assert _on_list(engine, site_of) == []


@pytest.mark.parametrize("ending,reason", [("subscription.cancelled", "cancelled"),
                                           ("subscription.expired", "expired")])
def test_cancelling_or_expiring_takes_the_member_off(engine, site_of, ending, reason):
    _record(engine, site_of, _event("payment.failed", 1))
    _record(engine, site_of, _event(ending, 2))
    assert _on_list(engine, site_of) == []
    assert _state(engine, site_of)[1] == [{"entered_at": T0 + timedelta(hours=1), "left_at": T0 + timedelta(hours=2),
                                           "left_reason": reason}]


@pytest.mark.parametrize("arrival", ["expiry_last", "expiry_first"])
def test_access_ended_at_the_failure_keeps_the_member_on_the_list_until_the_retry_pays(engine, site_of, arrival):
    """MemberPress ends access at a failed renewal (its gateways expire the transactions) and the
    payment service retries: the lapse it reports at that instant is no way off the list."""
    failed = _event("payment.failed", 1, access_ends_at="2026-11-02T10:00:00Z")
    lapsed = _event("subscription.expired", 1, access_ends_at="2026-11-02T10:00:00Z")
    for document in ([failed, lapsed] if arrival == "expiry_last" else [lapsed, failed]):
        _record(engine, site_of, document)
    [row] = _on_list(engine, site_of)
    assert row["failed_attempts"] == 1 and row["since"] == T0 + timedelta(hours=1)
    _record(engine, site_of, _event("payment.succeeded", 30))
    assert _on_list(engine, site_of) == []
    assert [s["left_reason"] for s in _state(engine, site_of)[1]] == ["recovered"]
    # An expiry later than the failure is an end, as before.
    _record(engine, site_of, _event("payment.failed", 40))
    _record(engine, site_of, _event("subscription.expired", 41))
    assert _on_list(engine, site_of) == []
    assert [s["left_reason"] for s in _state(engine, site_of)[1]] == ["recovered", "expired"]


def test_a_success_applied_before_the_failure_it_follows_leaves_the_member_off(post_event, app, site):
    """Through the route and the applier: arrival order is not time order."""
    engine = app.extensions["farewell.engine"]
    assert post_event(_event("payment.succeeded", 2)).status_code == 202
    assert post_event(_event("payment.failed", 1)).status_code == 202
    assert _on_list(engine, site) == []
    assert post_event(_event("payment.failed", 3)).status_code == 202
    assert [r["member_external_id"] for r in _on_list(engine, site)] == ["42"]


# Two timelines of the five kinds of event, each applied in all 120 orders (one member per order):
# the outcome is the one of the time order every time.
_ENDS_OFF = [("payment.failed", 1), ("payment.succeeded", 2), ("subscription.paused", 3),
             ("subscription.resumed", 4), ("subscription.cancelled", 5)]
_ENDS_ON = [("payment.succeeded", 1), ("subscription.paused", 2), ("subscription.resumed", 3),
            ("payment.failed", 4), ("subscription.cancelled", 0)]


@pytest.mark.parametrize("timeline", [_ENDS_OFF, _ENDS_ON], ids=["ends_off_the_list", "ends_on_the_list"])
def test_every_arrival_order_gives_the_same_list(engine, site_of, timeline):
    outcomes = set()
    for n, order in enumerate(itertools.permutations(timeline)):
        for type_, hours in order:
            _record(engine, site_of, _event(type_, hours, member=f"p{n}", sub=f"sub_p{n}"))
        state, spells = _state(engine, site_of, f"sub_p{n}")
        state = {k: v for k, v in state.items() if k not in ("subscription_id", "site_id")}
        outcomes.add((tuple(sorted(state.items())), tuple(tuple(sorted(s.items())) for s in spells)))
    assert len(outcomes) == 1
    [(state, spells)] = outcomes
    state = dict(state)
    if timeline is _ENDS_OFF:
        assert state["since"] is None and state["last_succeeded_at"] == T0 + timedelta(hours=2)
        assert [dict(s)["left_reason"] for s in spells] == ["recovered", "recovered"]
        assert len(_on_list(engine, site_of)) == 0
    else:
        assert state["since"] == T0 + timedelta(hours=4) and state["failed_attempts"] == 1
        assert [dict(s)["left_reason"] for s in spells] == ["recovered", None]  # the cancel came first
        assert len(_on_list(engine, site_of)) == 120


# A live cancellation inside a pause known from imported history (paused and resumed, both
# imported): the pause was on the list until the cancellation, whichever arrived first. In the
# orders where the imported pause and resume come first, the subscription's stay is left out and
# the cancellation comes to a subscription with nothing on the list: it must still be recomputed.
_INSIDE_IMPORTED = [("subscription.paused", 1, True), ("subscription.cancelled", 2, False),
                    ("subscription.resumed", 3, True), ("subscription.expired", 4, False),
                    ("subscription.cancelled", 5, True)]


def test_every_arrival_order_of_ends_around_imported_history_gives_the_same_list(engine, site_of):
    outcomes = set()
    for n, order in enumerate(itertools.permutations(_INSIDE_IMPORTED)):
        for type_, hours, imported in order:
            _record(engine, site_of, _event(type_, hours, member=f"i{n}", sub=f"sub_i{n}", imported=imported))
        state, spells = _state(engine, site_of, f"sub_i{n}")
        state = {k: v for k, v in state.items() if k not in ("subscription_id", "site_id")}
        outcomes.add((tuple(sorted(state.items())), tuple(tuple(sorted(s.items())) for s in spells)))
    assert len(outcomes) == 1
    [(state, spells)] = outcomes
    assert dict(state)["since"] is None
    assert [dict(s) for s in spells] == [{"entered_at": T0 + timedelta(hours=1), "left_at": T0 + timedelta(hours=2),
                                          "left_reason": "cancelled"}]


def test_an_end_of_a_subscription_never_on_the_list_is_not_recomputed_but_still_waits_for_its_lock(
        engine, site_of):
    import sqlalchemy as sa
    statements = []
    sa.event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    for type_, hours in (("subscription.created", 0), ("subscription.cancelled", 1), ("subscription.expired", 2),
                         ("subscription.resumed", 3)):
        _record(engine, site_of, _event(type_, hours))
    compact = [" ".join(s.split()).upper() for s in statements]
    # The subscription's events are never read back (before: once per end) ...
    assert not [s for s in compact if s.startswith("SELECT EVENTS.TYPE, EVENTS.OCCURRED_AT, EVENTS.IMPORTED")], compact
    # ... but each end still takes the subscription's lock, then looks for its state row.
    assert sum(s.startswith("SELECT SUBSCRIPTIONS.ID") and "FROM SUBSCRIPTIONS WHERE SUBSCRIPTIONS.ID" in s
               for s in compact) >= 3, compact
    assert sum(s.startswith("SELECT AT_RISK.") for s in compact) == 3, compact
    assert _state(engine, site_of) == (None, [])
    # A success records when it was: a row, and the next end is recomputed as before.
    _record(engine, site_of, _event("payment.succeeded", 4))
    assert _state(engine, site_of)[0]["last_succeeded_at"] == T0 + timedelta(hours=4)


def test_imported_history_fills_the_list_only_with_what_is_still_open(engine, site_of):
    # Over before Farewell knew the site: left out.
    _record(engine, site_of, _event("payment.failed", 1, member="1", sub="s1", imported=True))
    _record(engine, site_of, _event("payment.succeeded", 2, member="1", sub="s1", imported=True))
    # Still failing today: on the list from its first failure.
    _record(engine, site_of, _event("payment.failed", 3, member="2", sub="s2", imported=True))
    # Imported, then ended by a live event: it was on the list until then.
    _record(engine, site_of, _event("payment.failed", 4, member="3", sub="s3", imported=True))
    _record(engine, site_of, _event("subscription.expired", 50, member="3", sub="s3"))
    assert [r["member_external_id"] for r in _on_list(engine, site_of)] == ["2"]
    assert _state(engine, site_of, "s1")[1] == []
    assert _state(engine, site_of, "s1")[0]["last_succeeded_at"] == T0 + timedelta(hours=2)
    assert [s["left_reason"] for s in _state(engine, site_of, "s3")[1]] == ["expired"]


def test_the_week_figures(engine, site_of):
    week = T0
    before = -24 * 3  # the Friday before
    _record(engine, site_of, _event("payment.failed", before, member="1", sub="s1"))  # open all week
    _record(engine, site_of, _event("payment.failed", 10, member="2", sub="s2", amount="120.00", interval="year"))
    _record(engine, site_of, _event("payment.failed", 11, member="3", sub="s3"))
    _record(engine, site_of, _event("payment.succeeded", 30, member="3", sub="s3"))  # recovered
    _record(engine, site_of, _event("subscription.paused", 12, member="4", sub="s4", currency="USD"))
    _record(engine, site_of, _event("subscription.cancelled", 40, member="4", sub="s4"))  # cancelled
    _record(engine, site_of, _event("payment.failed", before, member="5", sub="s5"))
    _record(engine, site_of, _event("subscription.expired", 50, member="5", sub="s5"))  # expired
    _record(engine, site_of, _event("payment.failed", 13, member="6", sub="s6", interval="lifetime"))
    _record(engine, site_of, _event("payment.failed", 24 * 7 + 1, member="7", sub="s7"))  # next week
    with engine.connect() as conn:
        figures = at_risk.week_figures(conn, site_of["id"], week)
        previous = at_risk.week_figures(conn, site_of["id"], week - timedelta(days=7))
    assert figures == {"entered": 4, "left": {"recovered": 1, "cancelled": 1, "expired": 1}, "at_end": 3,
                       "revenue_at_stake": {"EUR": Decimal("39.00")}, "revenue_excluded": 1}
    assert previous["entered"] == 2 and previous["at_end"] == 2 and previous["left"] == dict.fromkeys(
        ("recovered", "cancelled", "expired"), 0)
    assert previous["revenue_at_stake"] == {"EUR": Decimal("58.00")}


# --- the dashboard page -------------------------------------------------------------------------

import csv as csv_module  # noqa: E402
import io  # noqa: E402


def _live(type_: str, days_ago: float, member: str, sub: str, **kwargs) -> dict:
    document = _event(type_, 0, member=member, sub=sub, **kwargs)
    document["occurred_at"] = (datetime.now(timezone.utc) - timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return document


@pytest.fixture
def at_risk_members(post_event):
    first = _live("payment.failed", 3, "11", "s11")
    first["member"]["first_name"] = "=Zoé <b>"
    assert post_event(first).status_code == 202
    second = _live("payment.failed", 2, "11", "s11")
    second["member"]["first_name"] = "=Zoé <b>"
    assert post_event(second).status_code == 202
    paused = _live("subscription.paused", 1, "12", "s12", plan_name="Argent")
    assert post_event(paused).status_code == 202
    assert post_event(_live("payment.failed", 2, "13", "s13")).status_code == 202
    assert post_event(_live("payment.succeeded", 1, "13", "s13")).status_code == 202  # recovered


@pytest.mark.parametrize("locale, words", [("fr_FR", ("Membres à risque", "Renouvellement échoué", "En pause")),
                                           ("en_US", ("Members at risk", "Renewal failed", "Paused"))])
def test_the_page_lists_who_is_at_risk_in_both_languages(client, site, sign_in, at_risk_members, locale, words):
    sign_in(locale=locale)
    page = client.get("/admin/at-risk")
    assert page.status_code == 200
    for word in words:
        assert word in page.text
    assert "m11@example.org" in page.text and "m12@example.org" in page.text
    assert "m13@example.org" not in page.text
    assert "=Zoé &lt;b&gt;" in page.text and "=Zoé <b>" not in page.text
    assert "https://club.example.org/wp-admin/user-edit.php?user_id=11" in page.text
    assert 'href="/admin/at-risk"' in client.get("/admin/").text  # in the menu
    paused_only = client.get("/admin/at-risk?reason=paused").text
    assert "m12@example.org" in paused_only and "m11@example.org" not in paused_only
    by_plan = client.get("/admin/at-risk?plan=Argent&q=m12").text
    assert "m12@example.org" in by_plan and "m11@example.org" not in by_plan


def test_the_csv_lists_the_filtered_members_with_no_formulas(client, site, sign_in, at_risk_members):
    sign_in()
    response = client.get("/admin/at-risk.csv?reason=failed")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv_module.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[0][0] == "email" and rows[0][6] == "Depuis"
    assert len(rows) == 2
    assert rows[1][0] == "m11@example.org" and rows[1][1] == "'=Zoé <b>" and rows[1][8] == "2"
    assert rows[1][10:] == ["memberpress", "11"]


def test_the_page_needs_a_session(client, site):
    assert client.get("/admin/at-risk").status_code == 401
    assert client.get("/admin/at-risk.csv").status_code == 401


def test_with_no_one_at_risk_the_page_says_so(client, site, sign_in):
    sign_in(locale="en_US")
    page = client.get("/admin/at-risk")
    assert page.status_code == 200 and 'id="no-one-at-risk"' in page.text


def test_the_migration_fills_the_list_from_the_events_applied_before_it(engine, site_of):
    """The bridge sent payment.failed and subscription.paused before the list existed."""
    from alembic import command

    from sidecar import db

    _record(engine, site_of, _event("payment.failed", 1, member="1", sub="s1"))
    _record(engine, site_of, _event("subscription.paused", 2, member="2", sub="s2"))
    _record(engine, site_of, _event("payment.failed", 3, member="3", sub="s3"))
    _record(engine, site_of, _event("subscription.cancelled", 4, member="3", sub="s3"))
    _record(engine, site_of, _event("payment.failed", 5, member="4", sub="s4"))  # access ended at the failure
    _record(engine, site_of, _event("subscription.expired", 5, member="4", sub="s4"))
    # Paused and resumed in imported history: no stay kept, but a row (the recompute of a later
    # end relies on it), filled by the migration too.
    _record(engine, site_of, _event("subscription.paused", 6, member="5", sub="s5", imported=True))
    _record(engine, site_of, _event("subscription.resumed", 7, member="5", sub="s5", imported=True))
    subs = ("s1", "s2", "s3", "s4", "s5")
    assert _state(engine, site_of, "s5")[0] is not None
    before = {sub: _state(engine, site_of, sub) for sub in subs}
    command.downgrade(db.alembic_config(engine), "0009")
    db.migrate(engine)
    assert {sub: _state(engine, site_of, sub) for sub in subs} == before
    assert [r["member_external_id"] for r in _on_list(engine, site_of)] == ["1", "2", "4"]


# --- the weekly digest's section (rules at the top of sidecar/domain/digest_figures.py) -----------

from sidecar.domain.digest import IsoWeek, build_digest, render_digest, week_of  # noqa: E402
from sidecar.domain.sequences import member_timezone  # noqa: E402
from tests.support.cli import run  # noqa: E402

W45 = IsoWeek.parse("2026-W45")  # Monday 2 November 2026 (T0's week), Paris time


@pytest.fixture
def risky_weeks(engine, site_of):
    """Week 45 and the four before it, every at-risk figure chosen by hand (T0 is Monday 09:00 UTC)."""
    def record(*args, **kwargs):
        _record(engine, site_of, _event(*args, **kwargs))

    record("payment.failed", -72, member="1", sub="s1")  # week 44, still failing: the oldest
    record("payment.failed", -48, member="1", sub="s1")
    document = _event("payment.failed", 10, member="2", sub="s2", amount="120.00", interval="year")  # 10.00 a month
    document["member"]["first_name"] = "<b>Zoé</b>"
    _record(engine, site_of, document)
    record("payment.failed", 11, member="3", sub="s3")
    record("payment.succeeded", 30, member="3", sub="s3")  # recovered
    record("subscription.paused", 12, member="4", sub="s4", currency="USD")
    record("subscription.cancelled", 40, member="4", sub="s4")  # cancelled
    record("payment.failed", -72, member="5", sub="s5")  # week 44…
    record("subscription.expired", 50, member="5", sub="s5")  # …expired in week 45
    record("payment.failed", 13, member="6", sub="s6", interval="lifetime")  # no monthly value
    record("subscription.paused", 20, member="8", sub="s8")
    record("payment.failed", 100, member="9", sub="s9")
    record("payment.failed", 24 * 7 + 1, member="7", sub="s7")  # week 46, no cancellation in it
    return T0 + timedelta(days=8)  # the digest is built on Tuesday of week 46


def test_the_digest_counts_who_entered_and_left_the_list_beside_last_week_and_the_average(
        engine, site_of, risky_weeks):
    with engine.connect() as conn:
        d = build_digest(conn, site_of, W45, risky_weeks)
    risk = d["at_risk"]
    assert risk["week"] == {"entered": 6, "left": {"recovered": 1, "cancelled": 1, "expired": 1}, "at_end": 5,
                            "revenue_at_stake": {"EUR": Decimal("97.00")}, "revenue_excluded": 1}
    assert risk["previous"] == {"entered": 2, "left": {"recovered": 0, "cancelled": 0, "expired": 0}, "at_end": 2,
                                "revenue_at_stake": {"EUR": Decimal("58.00")}, "revenue_excluded": 0}
    assert risk["average_4_weeks"] == {"entered": 0.5, "left": {"recovered": 0, "cancelled": 0, "expired": 0},
                                       "at_end": 0.5, "revenue_at_stake": {"EUR": Decimal("14.50")},
                                       "revenue_excluded": 0}
    # Now (week 46): six on the list, the five there longest shown, oldest first.
    assert risk["on_list_count"] == 6
    assert [m["email"] for m in risk["oldest"]] == [f"m{n}@example.org" for n in (1, 2, 6, 8, 9)]
    assert risk["oldest"][0] == {"first_name": "Ana", "email": "m1@example.org", "plan": "Or",
                                 "since": (T0 - timedelta(hours=72)).isoformat(), "failed_attempts": 2,
                                 "reasons": ["failed"]}
    assert risk["oldest"][3]["reasons"] == ["paused"] and not d["quiet"]


def test_revenue_at_stake_is_never_added_across_currencies(engine, site_of):
    _record(engine, site_of, _event("payment.failed", 1, member="1", sub="s1"))
    _record(engine, site_of, _event("payment.failed", 2, member="2", sub="s2", currency="USD", amount="10.00",
                                    interval="week"))
    with engine.connect() as conn:
        d = build_digest(conn, site_of, W45, T0 + timedelta(days=8))
    assert d["at_risk"]["week"]["revenue_at_stake"] == {"EUR": Decimal("29.00"), "USD": Decimal("43.33")}
    text = render_digest(d, {**site_of, "locale": "en_GB"}, "en", "http://sidecar.test/admin").text
    assert "Monthly revenue at stake: €29.00 · US$43.33" in text


@pytest.mark.parametrize("language, lines", [
    ("fr", ("MEMBRES À RISQUE", "Entrés dans la liste : 6  (semaine précédente 2; moyenne sur 4 semaines 0,5)",
            "Sortis de la liste : 3", "  rétablis : 1", "  résiliés : 1", "  expirés : 1",
            "Dans la liste en fin de semaine : 5",
            "Revenu mensuel en jeu : 97,00\u00a0€  (semaine précédente 58,00\u00a0€; moyenne sur 4 semaines "
            "14,50\u00a0€)",
            "- Ana <m1@example.org> — Or, depuis le 30 oct. 2026, 2 tentatives échouées",
            "- <b>Zoé</b> <m2@example.org> — Or, depuis le 2 nov. 2026, 1 tentative échouée",
            "- Ana <m8@example.org> — Or, depuis le 3 nov. 2026, en pause",
            "…et 1 autre dans le tableau de bord.")),
    ("en", ("MEMBERS AT RISK", "Entered the list: 6  (previous week 2; 4-week average 0.5)", "Left the list: 3",
            "  recovered: 1", "Monthly revenue at stake: €97.00  (previous week €58.00; 4-week average €14.50)",
            "- Ana <m1@example.org> — Or, since 30 Oct 2026, 2 failed attempts",
            "- Ana <m8@example.org> — Or, since 3 Nov 2026, paused", "…and 1 more in the dashboard.")),
])
def test_the_digest_shows_the_section_in_both_languages(engine, site_of, risky_weeks, language, lines):
    with engine.connect() as conn:
        d = build_digest(conn, site_of, W45, risky_weeks)
    site = site_of if language == "fr" else {**site_of, "locale": "en_GB"}
    rendered = render_digest(d, site, language, "http://sidecar.test/admin")
    text_lines = rendered.text.splitlines()
    for line in lines:  # each the start of one line of the text part
        assert any(shown.startswith(line) for shown in text_lines), line
    assert 'id="at-risk"' in rendered.html and "m9@example.org" in rendered.html
    # A member's name is their own words: escaped in the HTML, as written in the text part.
    assert "&lt;b&gt;Zoé&lt;/b&gt;" in rendered.html and "<b>Zoé" not in rendered.html
    assert 'id="at-risk-quiet"' not in rendered.html  # not a quiet week


def test_a_quiet_week_says_how_many_members_are_on_the_list(engine, site_of, risky_weeks):
    with engine.connect() as conn:
        d = build_digest(conn, site_of, W45.shifted(1), risky_weeks)
    assert d["quiet"] and d["at_risk"]["on_list_count"] == 6
    french = render_digest(d, site_of, "fr", "http://sidecar.test/admin")
    english = render_digest(d, {**site_of, "locale": "en_GB"}, "en", "http://sidecar.test/admin")
    assert ("6 membres sont toutefois dans la liste des membres à risque (renouvellements échoués ou pauses) : "
            "voir plus bas.") in " ".join(french.text.split())
    assert 'id="at-risk-quiet"' in french.html and 'id="at-risk"' in french.html
    assert "6 members are on the at-risk list now, though" in " ".join(english.text.split())
    assert english.text.index("at-risk list now") < english.text.index("THE WEEK AT A GLANCE")


def test_one_member_on_the_list_is_said_in_the_singular(engine, site_of):
    _record(engine, site_of, _event("payment.failed", -24 * 14, member="1", sub="s1"))
    with engine.connect() as conn:
        d = build_digest(conn, site_of, W45, T0 + timedelta(days=8))
    assert d["quiet"]
    french = render_digest(d, site_of, "fr", "http://sidecar.test/admin")
    english = render_digest(d, {**site_of, "locale": "en_GB"}, "en", "http://sidecar.test/admin")
    assert "1 membre est toutefois dans la liste" in " ".join(french.text.split())
    assert "1 member is on the at-risk list now, though" in " ".join(english.text.split())


def test_with_nobody_ever_at_risk_the_digest_leaves_the_section_out(engine, site_of):
    with engine.connect() as conn:
        d = build_digest(conn, site_of, W45, T0 + timedelta(days=8))
    assert d["quiet"] and not d["at_risk"]["shown"] and d["at_risk"]["on_list_count"] == 0
    rendered = render_digest(d, {**site_of, "locale": "en_GB"}, "en", "http://sidecar.test/admin")
    assert "MEMBERS AT RISK" not in rendered.text and "at-risk list" not in rendered.text
    assert 'id="at-risk"' not in rendered.html and 'id="at-risk-quiet"' not in rendered.html


def test_the_dashboard_preview_and_the_text_preview_show_the_section(app, client, site, sign_in, post_event,
                                                                     db_url, tmp_path):
    """The preview an owner opens (Dashboard → Digest → Preview) and `digest preview --text`."""
    now = datetime.now(timezone.utc)
    zone = member_timezone(site)
    last_week = week_of(now, zone).previous()
    tuesday = last_week.bounds(zone)[0] + timedelta(days=1, hours=12)

    def at(document, moment):
        document["occurred_at"] = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        return document

    assert post_event(at(_event("payment.failed", 0, member="21", sub="s21"), tuesday)).status_code == 202
    assert post_event(at(_event("payment.failed", 0, member="22", sub="s22"), tuesday)).status_code == 202
    assert post_event(at(_event("payment.succeeded", 0, member="22", sub="s22"),
                         tuesday + timedelta(days=1))).status_code == 202
    sign_in(locale="fr_FR")
    html = client.get(f"/admin/digest/preview?week={last_week}").text
    assert 'id="at-risk"' in html and "Membres à risque" in html and "m21@example.org" in html
    assert "m22@example.org" not in html  # recovered: counted, not listed
    result = run("digest", "preview", "--site", site["id"], "--week", str(last_week), "--text",
                 env_extra={"FAREWELL_DATABASE_URL": db_url}, data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "MEMBRES À RISQUE" in lines
    assert any(line.startswith("Entrés dans la liste : 2  ") for line in lines)
    assert any(line.startswith("  rétablis : 1  ") for line in lines)
    assert any(line.startswith("- Ana <m21@example.org> — Or, depuis le ") for line in lines)


# --- the overview ---------------------------------------------------------------------------------

import re  # noqa: E402


@pytest.mark.parametrize("locale, label, at_stake", [("fr_FR", "Membres à risque", "58,00\u00a0€"),
                                                     ("en_US", "Members at risk", "€58.00")])
def test_the_overview_shows_who_is_at_risk_beside_the_cancellations_and_links_to_them(
        client, site, sign_in, at_risk_members, locale, label, at_stake):
    sign_in(locale=locale)
    page = client.get("/admin/").text
    # This week's column is now: two on the list (one failing, one paused), 29.00 a month each.
    rows = re.findall(r'<tr class="at-risk"><th scope="row"><a href="/admin/at-risk">([^<]*)</a></th><td>([^<]*)</td>',
                      page)
    assert [(text.startswith(label), cell) for text, cell in rows] == [(True, "2"), (False, at_stake)]
    assert page.index('class="at-risk"') > page.index('class="figures"')  # in the week's table


def test_the_overview_leaves_the_rows_out_while_nobody_was_ever_at_risk(client, site, sign_in):
    sign_in(locale="en_US")
    assert 'class="at-risk"' not in client.get("/admin/").text
