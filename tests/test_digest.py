"""The owners' weekly digest: its numbers on a dataset with known answers, its weeks across DST,
its rendering, and exactly one digest per site and week."""

from __future__ import annotations

import email
import itertools
import threading
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from email import policy
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from sidecar import db
from sidecar.domain import digest as dg
from sidecar.domain import digest_figures
from sidecar.domain.compose import MailConfig
from sidecar.domain.digest import IsoWeek, build_digest, render_digest, send_digest, week_of
from sidecar.domain.sites import create_site
from sidecar.mail.transports import MaildirTransport, TransportUnavailable
from sidecar.storage.tables import (
    cancellations, contact_requests, digests, events, members, scheduled_emails, subscriptions, suppressions,
    survey_answers, winbacks,
)

PARIS = ZoneInfo("Europe/Paris")
W47 = IsoWeek.parse("2026-W47")  # Monday 16 November 2026, Paris time
MAIL = MailConfig(secret_key="k", public_url="http://sidecar.test", mail_from="digest@farewell.test")


def paris(day: int, hour: int = 12, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=PARIS).astimezone(timezone.utc)


class Seed:
    """Rows written straight into the tables, so each figure of the digest is known in advance."""

    def __init__(self, engine, site_id: str):
        self.engine, self.site_id = engine, site_id
        self.ids = itertools.count(1)

    def _insert(self, table, **values) -> int:
        values.setdefault("id", next(self.ids))
        with self.engine.begin() as conn:
            conn.execute(sa.insert(table).values(**values))
        return values["id"]

    def member(self, at: datetime, name: str = "Ana") -> int:
        i = next(self.ids)
        return self._insert(members, id=i, site_id=self.site_id, external_id=f"m{i}", email=f"m{i}@example.org",
                            first_name=name, details_at=at, created_at=at)

    def subscription(self, member: int, at: datetime, amount, currency="EUR", interval="month", plan="Gold") -> int:
        i = next(self.ids)
        return self._insert(subscriptions, id=i, site_id=self.site_id, source="test", external_id=f"s{i}",
                            member_id=member, plan_name=plan, amount=amount, currency=currency, interval=interval,
                            status="cancelled", status_at=at, details_at=at, created_at=at)

    def event(self, member: int, at: datetime, subscription: int | None = None) -> int:
        i = next(self.ids)
        return self._insert(events, id=i, site_id=self.site_id, webhook_id=f"w{i}", type="subscription.cancelled",
                            source="test", initiated_by="member", occurred_at=at, received_at=at, member_id=member,
                            subscription_id=subscription, payload="{}")

    def cancellation(self, at: datetime, amount="10.00", currency="EUR", interval="month", plan="Gold",
                     initiated_by="member") -> dict:
        member = self.member(at)
        sub = self.subscription(member, at, amount, currency, interval, plan)
        event = self.event(member, at, sub)
        cid = self._insert(cancellations, site_id=self.site_id, member_id=member, subscription_id=sub,
                           event_id=event, initiated_by=initiated_by, kind="cancelled", cancelled_at=at,
                           created_at=at)
        return {"id": cid, "member": member, "subscription": sub}

    def answer(self, at: datetime, reason: str | None, comment: str | None = None, cancellation: dict | None = None):
        member = cancellation["member"] if cancellation else self.member(at)
        return self._insert(survey_answers, site_id=self.site_id, member_id=member,
                            cancellation_id=cancellation["id"] if cancellation else None,
                            event_id=self.event(member, at), definition_version=1, reason=reason, comment=comment,
                            contact_requested=False, answered_at=at, created_at=at, updated_at=at)

    def contact_request(self, answer: int, member: int, requested: datetime, answered: datetime | None = None):
        return self._insert(contact_requests, site_id=self.site_id, answer_id=answer, member_id=member,
                            contact="+33 6 00 00 00 00", requested_at=requested, answered_at=answered,
                            created_at=requested)

    def email(self, cancellation: dict, step: str, sent_at: datetime, status: str = "sent") -> int:
        return self._insert(scheduled_emails, site_id=self.site_id, member_id=cancellation["member"],
                            cancellation_id=cancellation["id"] if step != "owner_alert" else None,
                            contact_request_id=next(self.ids) if step == "owner_alert" else None,
                            step=step, status=status, due_at=sent_at, attempts=1, sent_at=sent_at,
                            created_at=sent_at, updated_at=sent_at)

    def suppress(self, at, reason):
        with self.engine.begin() as conn:
            conn.execute(sa.insert(suppressions).values(site_id=self.site_id, email_hash=f"h{next(self.ids)}",
                                                        reason=reason, created_at=at))

    def winback(self, cancellation: dict, at: datetime, amount, interval="month", step: str | None = None):
        sub = self.subscription(cancellation["member"], at, amount, "EUR", interval)
        return self._insert(winbacks, site_id=self.site_id, member_id=cancellation["member"],
                            cancellation_id=cancellation["id"], event_id=self.event(cancellation["member"], at, sub),
                            subscription_id=sub, event_type="subscription.created", won_back_at=at, amount=amount,
                            currency="EUR", last_email_step=step, created_at=at)


@pytest.fixture
def paris_site(engine):
    site = create_site(engine, "https://club.example.org", "Le Club", "Europe/Paris", "fr_FR")
    with engine.begin() as conn:  # a site created long ago: it existed during every week below
        conn.execute(sa.text("UPDATE sites SET created_at = :at"), {"at": datetime(2026, 1, 1)})
    site["created_at"] = datetime(2026, 1, 1, tzinfo=timezone.utc)
    return site


@pytest.fixture
def known_week(engine, paris_site):
    """Week 47 of 2026 (16–22 Nov, Paris) and the four before it, every figure chosen by hand."""
    s = Seed(engine, paris_site["id"])
    c1 = s.cancellation(paris(17), "30.00", plan="Gold")
    c2 = s.cancellation(paris(18), "120.00", interval="year", plan="Gold")
    c3 = s.cancellation(paris(19), "10.00", currency="USD", interval="week", plan="Silver")
    s.cancellation(paris(20), "500.00", interval="lifetime", plan="Forever")
    s.cancellation(paris(20), "1.00", interval="day", plan="Silver", initiated_by="admin")
    # 00:30 on Monday in Paris is still Sunday 23:30 in UTC: it belongs to week 47…
    s.cancellation(datetime(2026, 11, 15, 23, 30, tzinfo=timezone.utc), "20.00", plan="Gold", initiated_by="system")
    # …and this one, 00:30 on the next Monday in Paris, to week 48.
    s.cancellation(datetime(2026, 11, 22, 23, 30, tzinfo=timezone.utc), "99.00")
    a1 = s.answer(paris(17, 13), "too_expensive", "Too expensive for me, the price went up", c1)
    s.answer(paris(18, 13), "too_expensive", "Le prix est trop cher", c2)
    s.answer(paris(19, 13), "unused", "No time lately", c3)
    # Week 46: two cancellations, one answered then.
    c46 = s.cancellation(paris(10), "15.00")
    s.cancellation(paris(11), "15.00")
    s.answer(paris(10, 14), "too_expensive", None, c46)
    # Week 45: two cancellations; one is answered only during week 47 (it counts in 47's reasons).
    c45 = s.cancellation(paris(3), "15.00")
    s.cancellation(paris(4), "15.00")
    s.answer(paris(21, 9), "too_expensive", "Trop cher pour moi <script>alert(1)</script>", c45)
    # Weeks 43 and 44: four "switched_service" answers each, none in week 47: falling.
    for day in (20, 27):
        for hour in range(9, 13):
            s.answer(paris(day, hour, month=10), "switched_service")
    # Contact requests: one waiting for 50 hours at the send time; two answered in 2 h and 6 h.
    now = paris(23, 8)
    s.contact_request(a1, c1["member"], now - timedelta(hours=50))
    s.contact_request(s.answer(paris(16, 9), "other"), s.member(paris(16)), paris(16, 10), paris(16, 12))
    s.contact_request(s.answer(paris(16, 9), "other"), s.member(paris(16)), paris(17, 10), paris(17, 16))
    s.contact_request(s.answer(paris(9, 9), "other"), s.member(paris(9)), paris(9, 10), paris(9, 11))
    # The sequence: 3 farewells, 1 feedback, 1 offer sent in week 47; the rest must not count.
    for c in (c1, c2, c3):
        s.email(c, "farewell", paris(17, 14))
    s.email(c46, "feedback", paris(18, 9))
    s.email(c45, "offer", paris(19, 9))
    s.email(c46, "farewell", paris(10, 14))  # week 46
    s.email(c45, "door_open", paris(20, 9), status="pending")
    s.email(c1, "owner_alert", paris(17, 15))
    s.suppress(paris(18), "unsubscribed")
    s.suppress(paris(19), "unsubscribed")
    s.suppress(paris(19), "bounced")
    s.suppress(paris(10), "unsubscribed")
    # Win-backs in week 47: one after the offer (reason "too_expensive": the discount), one before any email.
    s.winback(c45, paris(20), "25.00", step="offer")
    s.winback(c46, paris(21), "120.00", interval="year")
    return now


def test_the_digest_counts_what_happened_in_the_week(engine, paris_site, known_week):
    with engine.connect() as conn:
        d = build_digest(conn, paris_site, W47, known_week)
    week = d["headline"]["week"]
    assert (week["cancellations"], week["by_member"], week["by_others"]) == (6, 4, 2)
    # 30 + 120/12 + 1×365/12 + 20 (EUR); 10×52/12 (USD); the lifetime plan left out and counted.
    assert week["revenue_lost"] == {"EUR": Decimal("90.42"), "USD": Decimal("43.33")}
    assert week["lifetime_excluded"] == 1
    assert (week["asked"], week["answered"], week["answer_rate"]) == (4, 3, 0.75)
    assert (week["winbacks"], week["revenue_won_back"]) == (2, {"EUR": Decimal("35.00")})
    previous = d["headline"]["previous"]
    assert (previous["cancellations"], previous["revenue_lost"], previous["answer_rate"]) == (2, {"EUR": Decimal("30.00")}, 0.5)
    average = d["headline"]["average_4_weeks"]
    assert (average["cancellations"], average["revenue_lost"], average["answer_rate"]) == (1.0, {"EUR": Decimal("15.00")}, 0.5)
    assert not d["quiet"]


def test_reasons_trends_plans_comments_and_themes(engine, paris_site, known_week):
    with engine.connect() as conn:
        d = build_digest(conn, paris_site, W47, known_week)
    reasons = {r["reason"]: (r["count"], r["average_4_weeks"], r["trend"]) for r in d["reasons"]}
    assert reasons["too_expensive"] == (3, 0.25, "rising")
    assert reasons["unused"] == (1, 0.0, "steady")
    assert reasons["switched_service"] == (0, 2.0, "falling")
    assert d["plans"] == [{"plan": "Gold", "count": 3}, {"plan": "Silver", "count": 2}, {"plan": "Forever", "count": 1}]
    # Round-robin: the most answered reason first, newest first within a reason.
    assert [c["text"] for c in d["comments"]] == [
        "Trop cher pour moi <script>alert(1)</script>", "No time lately", "Le prix est trop cher",
        "Too expensive for me, the price went up"]
    assert d["themes"] == [{"theme": "price", "count": 3}]  # "time" appears once: not recurring


def test_waiting_requests_and_the_sequence(engine, paris_site, known_week):
    with engine.connect() as conn:
        d = build_digest(conn, paris_site, W47, known_week)
    requests = d["contact_requests"]
    assert requests["open_count"] == 1 and requests["open"][0]["waited_hours"] == 50.0
    assert (requests["answered_count"], requests["median_response_hours"]) == (2, 4.0)
    sequence = d["sequence"]
    assert sequence["sent_by_step"] == {"farewell": 3, "feedback": 1, "offer": 1}
    assert sequence["unsubscribes"] == 2
    assert sequence["winbacks_by_step"] == {"none": 1, "offer": 1}
    assert sequence["winbacks_by_offer"] == {"discount": 1}
    assert [t["cancellations"] for t in d["trend"]] == [0] * 9 + [2, 2, 6]
    assert [t["winbacks"] for t in d["trend"]] == [0] * 11 + [2]
    assert d["trend"][0]["week"] == "2026-W36" and d["trend"][-1]["week"] == "2026-W47"


def test_trend_labels_follow_the_documented_rule():
    assert digest_figures.trend_label(3, 1) == "rising" and digest_figures.trend_label(2, 1) == "steady"
    assert digest_figures.trend_label(0, 2) == "falling" and digest_figures.trend_label(1, 2) == "steady"
    assert digest_figures.trend_label(10, 8) == "steady" and digest_figures.trend_label(12, 8) == "rising"


def test_themes_match_english_and_french_without_accents():
    found = digest_figures.themes_of([
        "Trop chère", "too EXPENSIVE", "pas le temps", "no time", "le contenu", "bugs partout"])
    assert found == [{"theme": "price", "count": 2}, {"theme": "time", "count": 2}]


@pytest.mark.parametrize("week, hours", [("2026-W43", 169), ("2026-W13", 167), ("2026-W47", 168)])
def test_weeks_across_a_dst_change_meet_exactly(week, hours):
    start, end = IsoWeek.parse(week).bounds("Europe/Paris")
    assert (end - start) == timedelta(hours=hours)
    assert start.astimezone(PARIS).hour == 0 and end.astimezone(PARIS).hour == 0
    assert IsoWeek.parse(week).shifted(1).bounds("Europe/Paris")[0] == end
    assert week_of(start, "Europe/Paris") == IsoWeek.parse(week)
    assert week_of(end - timedelta(microseconds=1), "Europe/Paris") == IsoWeek.parse(week)


def test_iso_weeks_parse_and_step_back_across_years():
    assert str(IsoWeek.parse("2026-W01").previous()) == "2025-W52"
    assert str(IsoWeek.parse("2026-W53").previous()) == "2026-W52"
    for bad in ("2026-48", "2025-W53", "2026-W00", ""):
        with pytest.raises(ValueError):
            IsoWeek.parse(bad)


def test_cancellations_in_the_october_dst_week_are_counted_by_local_day(engine, paris_site):
    s = Seed(engine, paris_site["id"])
    # Sunday 25 Oct 2026 is 25 hours long in Paris; 23:30 local that night is 22:30 UTC.
    s.cancellation(datetime(2026, 10, 25, 22, 30, tzinfo=timezone.utc))
    s.cancellation(datetime(2026, 10, 25, 23, 30, tzinfo=timezone.utc))  # Monday 00:30 local: next week
    s.cancellation(datetime(2026, 3, 29, 21, 30, tzinfo=timezone.utc))  # Sunday 23:30 CEST, end of week 13
    with engine.connect() as conn:
        october = build_digest(conn, paris_site, IsoWeek.parse("2026-W43"), paris(1, 8, month=11))
        march = build_digest(conn, paris_site, IsoWeek.parse("2026-W13"), paris(1, 8, month=11))
    assert october["headline"]["week"]["cancellations"] == 1
    assert october["trend"][-1]["cancellations"] == 1
    assert march["headline"]["week"]["cancellations"] == 1


def test_a_quiet_week_sends_a_short_digest_in_french_and_english(engine, paris_site):
    with engine.connect() as conn:
        d = build_digest(conn, paris_site, W47, paris(23, 8))
    assert d["quiet"] and d["headline"]["week"]["cancellations"] == 0
    french = render_digest(d, paris_site, "fr", "http://sidecar.test/admin")
    english = render_digest(d, {**paris_site, "locale": "en_GB"}, "en", "http://sidecar.test/admin")
    assert french.subject == "Le Club : une semaine calme, 16 nov. – 22 nov. 2026"
    assert "Personne n’a résilié cette semaine" in french.text
    assert english.subject.startswith("Le Club: a quiet week") and "Nobody cancelled this week" in english.text
    assert "Follow-up emails" not in english.html  # nothing happened in the sequence: section left out
    assert "WHY THEY LEFT" not in english.text and "No survey answers" not in english.text
    assert "Cancellations: 0" in english.text and "Nobody is waiting for an answer." in english.text


def test_the_rendered_digest_escapes_what_members_wrote_and_carries_its_chart(engine, paris_site, known_week):
    with engine.connect() as conn:
        d = build_digest(conn, paris_site, W47, known_week)
    rendered = render_digest(d, paris_site, "fr", "http://sidecar.test/admin")
    assert "<script>" not in rendered.html and "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered.html
    assert "<style" not in rendered.html  # inlined for Gmail and Outlook
    assert 'src="cid:trend@farewell"' in rendered.html and "alt=\"Graphique" in rendered.html
    assert rendered.images[0].content.startswith(b"\x89PNG") and len(rendered.images[0].content) < 40_000
    assert "90,42&nbsp;€ · 43,33&nbsp;$US" in rendered.html
    assert "en hausse" in rendered.html and "en baisse" in rendered.html
    assert 'href="http://sidecar.test/admin"' in rendered.html
    assert "Trop cher pour moi <script>alert(1)</script>" in rendered.text  # text/plain is not HTML


def _maildir(tmp_path) -> tuple[MaildirTransport, Path]:
    folder = tmp_path / "mail"
    return MaildirTransport(folder), folder


def _messages(folder: Path) -> list:
    return [email.message_from_bytes(p.read_bytes(), policy=policy.default) for p in sorted((folder / "new").glob("*"))]


def test_sending_marks_the_week_and_never_sends_it_twice(engine, paris_site, known_week, tmp_path):
    transport, folder = _maildir(tmp_path)
    with engine.begin() as conn:
        dg.save_digest_settings(conn, paris_site["id"], 1, 8, ["owner@example.org", "ops@example.org"])
    first = send_digest(engine, transport, paris_site["id"], W47, now=known_week, mail=MAIL)
    second = send_digest(engine, transport, paris_site["id"], W47, now=known_week, mail=MAIL)
    assert (first.status, second.status) == ("sent", "taken")
    [message] = _messages(folder)
    assert message["To"] == "owner@example.org, ops@example.org"
    assert message["Message-ID"] == f"<farewell.digest.{paris_site['id']}.2026-W47@farewell.test>"
    images = [part for part in message.walk() if part.get_content_type() == "image/png"]
    assert len(images) == 1 and images[0]["Content-ID"] == "<trend@farewell>"
    with engine.connect() as conn:
        row = conn.execute(sa.select(digests)).mappings().one()
    assert (row["status"], row["attempts"], row["lease_token"]) == ("sent", 1, None)
    # "Send now" to one address is a copy: it neither needs nor takes the week's claim.
    copy = send_digest(engine, transport, paris_site["id"], W47, recipients=["me@example.org"], now=known_week, mail=MAIL)
    assert copy.status == "sent" and len(_messages(folder)) == 2


class _Down:
    name = "down"

    def session(self):
        raise TransportUnavailable("no server")


def test_an_outage_leaves_the_digest_to_a_later_tick_and_an_expired_lease_is_taken_again(engine, paris_site, tmp_path):
    with engine.begin() as conn:
        dg.save_digest_settings(conn, paris_site["id"], 1, 8, "owner@example.org")
    now = paris(23, 9)
    assert send_digest(engine, _Down(), paris_site["id"], W47, now=now, mail=MAIL).status == "retry"
    # A sender that crashed while holding the claim: the lease expires, someone else sends.
    with engine.begin() as conn:
        conn.execute(sa.update(digests).values(status="sending", lease_token="dead", lease_until=now))
    transport, folder = _maildir(tmp_path)
    assert send_digest(engine, transport, paris_site["id"], W47, now=now - timedelta(minutes=1), mail=MAIL).status == "taken"
    assert send_digest(engine, transport, paris_site["id"], W47, now=now + timedelta(minutes=1), mail=MAIL).status == "sent"
    assert len(_messages(folder)) == 1


def test_the_tick_sends_after_the_site_time_and_skips_sites_without_recipients(engine, paris_site, tmp_path, caplog):
    transport, folder = _maildir(tmp_path)
    london = create_site(engine, "https://b.example.org", "B", "Europe/London", "en_US")
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE sites SET created_at = :at"), {"at": datetime(2026, 1, 1)})
        dg.save_digest_settings(conn, paris_site["id"], 1, 8, ["owner@example.org"])
    before = paris(23, 7, month=11) + timedelta(minutes=59)  # Monday 07:59 in Paris
    assert dg.digest_tick(engine, transport, MAIL, lambda: before) == []
    at_eight = paris(23, 8)
    results = dg.digest_tick(engine, transport, MAIL, lambda: at_eight)
    assert [(r.site_id, r.week, r.status) for r in results] == [(paris_site["id"], "2026-W47", "sent")]
    # 08:00 in London is an hour later; that site has no recipients: skipped once, with the reason logged.
    results = dg.digest_tick(engine, transport, MAIL, lambda: at_eight + timedelta(hours=1))
    assert [(r.site_id, r.week, r.status) for r in results] == [(london["id"], "2026-W47", "skipped")]
    assert "no recipients" in caplog.text
    assert dg.digest_tick(engine, transport, MAIL, lambda: at_eight + timedelta(hours=2)) == []
    assert len(_messages(folder)) == 1


def test_settings_have_defaults_and_are_checked(engine, paris_site):
    with engine.begin() as conn:
        defaults = dg.digest_settings(conn, paris_site["id"])
        assert (defaults["weekday"], defaults["hour"], defaults["recipients"]) == (1, 8, [])
        dg.save_wordpress_admin_email(conn, paris_site["id"], "admin@club.example.org")
        assert dg.digest_settings(conn, paris_site["id"])["recipients"] == ["admin@club.example.org"]
        saved = dg.save_digest_settings(conn, paris_site["id"], 5, 17, "a@x.org, b@x.org")
        assert (saved["weekday"], saved["hour"], saved["recipients"]) == (5, 17, ["a@x.org", "b@x.org"])
        for weekday, hour, recipients in ((0, 8, None), (1, 24, None), (1, 8, ["not an address"])):
            with pytest.raises(dg.DigestSettingsError):
                dg.save_digest_settings(conn, paris_site["id"], weekday, hour, recipients)


def test_two_senders_with_their_own_engines_send_one_digest(mariadb, fresh_mariadb_url, tmp_path):
    """Two job processes race on MariaDB (two threads, two engines): one digest per site and week."""
    setup = db.create_engine(fresh_mariadb_url)
    db.migrate(setup)
    sites = [create_site(setup, f"https://s{i}.example.org", f"S{i}", "Europe/Paris", "fr_FR") for i in range(3)]
    with setup.begin() as conn:
        conn.execute(sa.text("UPDATE sites SET created_at = :at"), {"at": datetime(2026, 1, 1)})
        for site in sites:
            dg.save_digest_settings(conn, site["id"], 1, 8, ["owner@example.org"])
    transport, folder = _maildir(tmp_path)
    barrier, results = threading.Barrier(2), []

    def sender():
        engine = db.create_engine(fresh_mariadb_url)
        barrier.wait()
        results.extend(dg.digest_tick(engine, transport, MAIL, lambda: paris(23, 9)))
        engine.dispose()

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.site_id for r in results if r.status == "sent") == sorted(s["id"] for s in sites)
    assert len(_messages(folder)) == 3
    with setup.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(digests).where(digests.c.status == "sent")).scalar() == 3
    setup.dispose()


def test_the_send_time_is_the_sites_local_hour_on_both_sides_of_a_dst_change(paris_site):
    settings = {"weekday": 1, "hour": 8}
    assert dg.send_time(paris_site, settings, IsoWeek.parse("2026-W13")) == datetime(2026, 3, 23, 7, tzinfo=timezone.utc)
    assert dg.send_time(paris_site, settings, IsoWeek.parse("2026-W14")) == datetime(2026, 3, 30, 6, tzinfo=timezone.utc)
    assert dg.send_time(paris_site, {"weekday": 7, "hour": 23}, IsoWeek.parse("2026-W44")) == \
        datetime(2026, 11, 1, 22, tzinfo=timezone.utc)


def test_the_same_words_twice_are_quoted_once():
    from datetime import datetime, timezone

    from sidecar.domain.digest_figures import choose_comments

    at = datetime(2026, 11, 18, tzinfo=timezone.utc)
    rows = [{"reason": "too_expensive", "comment": "Trop  cher pour moi", "answered_at": at},
            {"reason": "too_expensive", "comment": "Trop cher pour moi", "answered_at": at},
            {"reason": "unused", "comment": "Pas le temps", "answered_at": at}]
    assert [c["text"] for c in choose_comments(rows, 5)] == ["Trop cher pour moi", "Pas le temps"]


def test_counted_words_agree_with_their_number_in_french_and_english(engine, paris_site, known_week):
    with engine.connect() as conn:
        d = build_digest(conn, paris_site, W47, known_week)
    d["themes"] = [{"theme": "price", "count": 1}, {"theme": "time", "count": 3}]
    requests = d["contact_requests"]
    assert requests["open"], "the known week has someone waiting"
    d["contact_requests"] = {**requests, "open_count": len(requests["open"]) + 1}
    french = render_digest(d, paris_site, "fr", "http://sidecar.test/admin").text
    english = render_digest(d, {**paris_site, "locale": "en_GB"}, "en", "http://sidecar.test/admin").text
    assert "- Prix : 1 commentaire\n" in french and "- Temps : 3 commentaires\n" in french
    assert "- Price: 1 comment\n" in english and "- Time: 3 comments\n" in english
    assert "…et 1 autre dans le tableau de bord." in french
    assert "…and 1 more in the dashboard." in english
    assert "Commentaires affichés : " in french and "Comments shown: " in english
