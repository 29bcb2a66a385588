"""The owners' weekly digest: what happened on a site during one ISO week, as plain data, and
sending it once per site and week.

Rules, so that every figure can be explained to an owner:

- The week is Monday 00:00 to the next Monday 00:00 in the site's time zone (``IsoWeek.bounds``).
  A digest sent on week W reports on W-1, the last full week.
- Cancellations are counted when they happened; "by the member" is ``initiated_by = member``,
  "by others" is everything else (admin, payment gateway, system, expiry).
- Monthly revenue lost: the cancelled subscriptions' prices turned into a month — daily × 365/12,
  weekly × 52/12, monthly × 1, yearly ÷ 12; lifetime plans have no monthly value and are left out
  (and counted, so the digest can say so). One total per currency: currencies are never added.
- Survey answer rate: of the week's cancellations made by members (the only ones asked), how many
  have an answer so far. The 4-week figure is pooled (answers ÷ cancellations over the 4 weeks).
- Reasons, comments and themes use the answers *received* during the week, so every answer shows
  up in exactly one digest even when it arrives days after the cancellation.
- Reason trend: this week's count ``c`` against the average ``a`` of the 4 weeks before.
  "rising" when c ≥ a + 2 and c ≥ 1.5 × a; "falling" when c ≤ a − 2 and a ≥ 1.5 × c; else "steady".
  The absolute margin keeps one or two answers from swinging a label on a small site.
- Comments are chosen in turn from each reason (most frequent reason first), newest first within
  a reason — never by length or tone. Themes: a comment belongs to a theme when it contains one of
  the theme's keywords (English or French, accents ignored, word starts); a comment may have several.
- Win-backs are counted when the member came back; each is attributed to the last follow-up email
  sent before it, and those after the offer email to the offer that fitted their reason.
"""

from __future__ import annotations

import base64
import dataclasses
import logging
import re
import secrets
import statistics
import unicodedata
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Callable

from sqlalchemy.engine import Connection, Engine

from ..mail import message as mime
from ..mail.render import language_of
from ..mail.transports import Transport, TransportUnavailable
from ..storage import digests as digests_store
from ..storage import reports
from ..storage import sites as sites_store
from ..storage.leases import Term
from ..storage.statuses import DigestStatus
from . import dashboard_sessions
from .compose import MailConfig
from .digest_render import RenderedDigest, render_digest
from .digest_weeks import IsoWeek, week_of
from .events import is_email
from .offers import variant_for
from .sequences import OFFER, member_timezone
from .site_settings import effective_settings, owner_addresses

__all__ = [
    "IsoWeek", "week_of", "build_digest", "render_digest", "browser_preview", "send_digest", "digest_settings",
    "save_digest_settings", "update_digest_settings", "save_wordpress_admin_email", "DigestSettingsError",
    "DigestResult", "RenderedDigest", "digest_tick", "send_time", "recipients_for", "mail_config", "dashboard_url",
]

log = logging.getLogger(__name__)

TREND_WEEKS = 12
COMPARED_WEEKS = 4
MAX_COMMENTS = 5
COMMENT_MAX_CHARS = 500
MAX_PLANS = 5
MAX_WAITING = 10
# A digest whose sending failed is tried again on later ticks, this many times in all.
MAX_ATTEMPTS = 5
LEASE = timedelta(minutes=10)
# On both clocks: the jobs' clock may run thousands of times faster than a send (the demo), see
# sidecar.storage.leases.Term.
LEASE_TERM = Term(LEASE, both_clocks=True)

CENTS = Decimal("0.01")
MONTHLY_FACTOR = {"day": Decimal(365) / 12, "week": Decimal(52) / 12, "month": Decimal(1), "year": Decimal(1) / 12}

# Keyword stems per theme, lower-case and without accents; matched at the start of a word.
THEMES: dict[str, tuple[str, ...]] = {
    "price": ("price", "pric", "expensive", "cost", "afford", "cheap", "money", "budget", "prix", "cher", "chere",
              "cout", "tarif", "argent", "payer"),
    "time": ("time", "busy", "schedule", "temps", "occupe", "dispo", "horaire"),
    "content": ("content", "course", "lesson", "video", "article", "material", "contenu", "cours", "lecon",
                "module", "exercice"),
    "bugs": ("bug", "crash", "error", "broken", "slow", "login", "log in", "bogue", "plant", "erreur", "casse",
             "lent", "connexion", "connecter"),
    "support": ("support", "help", "reply", "replied", "respon", "aide", "reponse", "repond", "assistance",
                "service client", "sav"),
}
_THEME_PATTERNS = {theme: re.compile(r"\b(?:" + "|".join(re.escape(k) for k in keys) + ")")
                   for theme, keys in THEMES.items()}


# --- settings -----------------------------------------------------------------------------------

DEFAULT_WEEKDAY = 1  # Monday
DEFAULT_HOUR = 8


class DigestSettingsError(ValueError):
    pass


def digest_settings(conn: Connection, site_id: str) -> dict:
    """``{"weekday": 1-7, "hour": 0-23, "recipients": [...], "default_recipients": [...],
    "wordpress_admin_email": str|None}``; ``recipients`` is what the digest will use (the stored
    list, else the defaults), ``recipients_customised`` whether the owner chose them."""
    stored = digests_store.get_settings(conn, site_id) or {}
    chosen = _split(stored.get("recipients"))
    defaults = _default_recipients(conn, site_id, stored.get("wordpress_admin_email"))
    return {
        "weekday": stored.get("weekday") or DEFAULT_WEEKDAY,
        "hour": stored["hour"] if stored.get("hour") is not None else DEFAULT_HOUR,
        "recipients": chosen or defaults,
        "recipients_customised": bool(chosen),
        "default_recipients": defaults,
        "wordpress_admin_email": stored.get("wordpress_admin_email"),
    }


def save_digest_settings(conn: Connection, site_id: str, weekday: int, hour: int,
                         recipients: list[str] | str | None, now: datetime | None = None) -> dict:
    """Check and store; ``recipients`` empty or None = back to the default. Raises DigestSettingsError."""
    try:
        weekday, hour = int(weekday), int(hour)
    except (TypeError, ValueError):
        raise DigestSettingsError("weekday and hour must be whole numbers") from None
    if not 1 <= weekday <= 7:
        raise DigestSettingsError("weekday must be from 1 (Monday) to 7 (Sunday)")
    if not 0 <= hour <= 23:
        raise DigestSettingsError("hour must be from 0 to 23")
    addresses = _split(recipients) if isinstance(recipients, str) else [a.strip() for a in recipients or [] if a.strip()]
    bad = [a for a in addresses if not is_email(a)]
    if bad:
        raise DigestSettingsError(f"not an email address: {bad[0]}")
    joined = ", ".join(dict.fromkeys(addresses)) or None
    if joined and len(joined) > 1000:
        raise DigestSettingsError("too many recipients (1000 characters at most)")
    if sites_store.get_site(conn, site_id) is None:
        raise DigestSettingsError(f"no site with id {site_id!r}")
    digests_store.save_settings(conn, site_id, {"weekday": weekday, "hour": hour, "recipients": joined},
                                now or datetime.now(timezone.utc))
    return digest_settings(conn, site_id)


def update_digest_settings(engine: Engine, site_id: str, weekday, hour, recipients: list[str] | str | None,
                           now: datetime | None = None) -> dict:
    """The dashboard's digest settings: save_digest_settings in a transaction of its own."""
    with engine.begin() as conn:
        return save_digest_settings(conn, site_id, weekday, hour, recipients, now)


def save_wordpress_admin_email(conn: Connection, site_id: str, email: str | None, now: datetime | None = None) -> None:
    """The site's WordPress admin email, as the bridge reports it: the digest's default recipient.

    A different address than the one reported before is a new administrator (WordPress makes the
    new address confirm the change): the site may have changed hands, so every dashboard session
    opened until now ends (``dashboard_sessions``). The first report ends nothing."""
    if email is not None and not is_email(email.strip()):
        raise DigestSettingsError("not an email address")
    now = now or datetime.now(timezone.utc)
    previous = (digests_store.get_settings(conn, site_id) or {}).get("wordpress_admin_email")
    digests_store.save_settings(conn, site_id, {"wordpress_admin_email": email.strip() if email else None}, now)
    if previous and email and previous.lower() != email.strip().lower():
        dashboard_sessions.end_all(conn, site_id, now)


def recipients_for(conn: Connection, site_id: str) -> list[str]:
    return digest_settings(conn, site_id)["recipients"]


def _default_recipients(conn: Connection, site_id: str, wordpress_admin_email: str | None) -> list[str]:
    if wordpress_admin_email:
        return [wordpress_admin_email]
    return owner_addresses(effective_settings(conn, site_id))


def _split(listed: str | None) -> list[str]:
    return [a.strip() for a in (listed or "").split(",") if a.strip()]


def send_time(site: dict, settings: dict, week: IsoWeek) -> datetime:
    """When the digest is due during ``week`` (it then reports on the week before), in UTC."""
    zone = member_timezone(site)
    day = week.monday() + timedelta(days=settings["weekday"] - 1)
    return datetime.combine(day, time(settings["hour"]), tzinfo=zone).astimezone(timezone.utc)


# --- building -----------------------------------------------------------------------------------


def build_digest(conn: Connection, site: dict, week: IsoWeek, now: datetime) -> dict:
    """Everything the digest says about ``week``, as plain data (numbers, Decimal money, ISO strings)."""
    zone = member_timezone(site)
    weeks = [week.shifted(offset) for offset in range(-(TREND_WEEKS - 1), 1)]
    bounds = [w.bounds(zone) for w in weeks]
    current, previous = TREND_WEEKS - 1, TREND_WEEKS - 2
    compared = list(range(current - COMPARED_WEEKS, current))
    start, end = bounds[current]

    # The detailed figures (prices, answers) for the week and the 4 before it; the 12-week trend
    # only counts, from the indexes.
    first = compared[0]
    figures = [_empty_figures() for _ in weeks]
    for row in reports.cancellations_by_week(conn, site["id"], bounds[first:]):
        _add_cancellations(figures[first + row["bucket"]], row)
    for row in reports.winbacks_by_week(conn, site["id"], bounds[first:]):
        _add_winbacks(figures[first + row["bucket"]], row)
    for f in figures:
        f["answer_rate"] = _rate(f["answered"], f["asked"])
    trend_cancellations = reports.cancellation_counts_by_week(conn, site["id"], bounds)
    trend_winbacks = reports.winback_counts_by_week(conn, site["id"], bounds)

    reason_counts = [dict() for _ in weeks]
    for row in reports.reasons_by_week(conn, site["id"], bounds[first:]):
        reason_counts[first + row["bucket"]][row["reason"]] = row["count"]

    comment_rows = reports.comments(conn, site["id"], start, end)
    waiting_total, waiting = reports.open_contact_requests(conn, site["id"], MAX_WAITING)
    answered = reports.contact_requests_answered(conn, site["id"], start, end)
    comebacks = reports.winbacks_with_reason(conn, site["id"], start, end)

    this_week = _money_as_cents(figures[current])
    return {
        "site_id": site["id"],
        "week": str(week),
        "timezone": zone.key,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "generated_at": now.isoformat(),
        "quiet": this_week["cancellations"] == 0,
        "headline": {
            "week": this_week,
            "previous": _money_as_cents(figures[previous]),
            "average_4_weeks": _average([figures[i] for i in compared]),
        },
        "reasons": _reasons(reason_counts[current], [reason_counts[i] for i in compared]),
        "answers": sum(reason_counts[current].values()),
        "plans": reports.plans_cancelled(conn, site["id"], start, end, MAX_PLANS),
        "comments": choose_comments(comment_rows, MAX_COMMENTS),
        "comments_total": len(comment_rows),
        "themes": themes_of([row["comment"] for row in comment_rows]),
        "contact_requests": {
            "open_count": waiting_total,
            "open": [{"first_name": r["first_name"], "email": r["email"], "contact": r["contact"],
                      "reason": r["reason"], "requested_at": r["requested_at"].isoformat(),
                      "waited_hours": _hours(now - r["requested_at"])} for r in waiting],
            "answered_count": len(answered),
            "median_response_hours": _hours(statistics.median(r["answered_at"] - r["requested_at"] for r in answered))
            if answered else None,
        },
        "sequence": {
            "sent_by_step": reports.emails_sent_by_step(conn, site["id"], start, end),
            "unsubscribes": reports.unsubscribes(conn, site["id"], start, end),
            "winbacks_by_step": _count_by(comebacks, lambda r: r["last_email_step"] or "none"),
            "winbacks_by_offer": _count_by([r for r in comebacks if r["last_email_step"] == OFFER.key],
                                           lambda r: variant_for(r["reason"])),
        },
        "trend": [{"week": str(w), "cancellations": trend_cancellations.get(i, 0), "winbacks": trend_winbacks.get(i, 0)}
                  for i, w in enumerate(weeks)],
    }


def _empty_figures() -> dict:
    return {"cancellations": 0, "by_member": 0, "by_others": 0, "revenue_lost": {}, "lifetime_excluded": 0,
            "asked": 0, "answered": 0, "answer_rate": None, "winbacks": 0, "revenue_won_back": {}}


def _monthly(amount: Decimal | None, interval: str | None) -> Decimal | None:
    factor = MONTHLY_FACTOR.get(interval or "")
    return None if amount is None or factor is None else Decimal(amount) * factor


def _add_money(totals: dict, currency: str | None, amount: Decimal | None) -> None:
    if amount is not None and currency:
        totals[currency] = totals.get(currency, Decimal(0)) + amount


def _add_cancellations(f: dict, row: dict) -> None:
    f["cancellations"] += row["count"]
    if row["initiated_by"] == "member":
        f["by_member"] += row["count"]
        f["asked"] += row["count"]
        f["answered"] += row["answered"]
    else:
        f["by_others"] += row["count"]
    if row["interval"] == "lifetime":
        f["lifetime_excluded"] += row["count"]
    # SUM over a group of one interval and currency, then the factor: exact for Decimals.
    _add_money(f["revenue_lost"], row["currency"], _monthly(row["amount"], row["interval"]))


def _add_winbacks(f: dict, row: dict) -> None:
    f["winbacks"] += row["count"]
    _add_money(f["revenue_won_back"], row["currency"], _monthly(row["amount"], row["interval"]))


def _cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENTS, rounding=ROUND_HALF_UP)


def _money_as_cents(f: dict) -> dict:
    return {**f, "revenue_lost": {c: _cents(a) for c, a in sorted(f["revenue_lost"].items())},
            "revenue_won_back": {c: _cents(a) for c, a in sorted(f["revenue_won_back"].items())}}


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _average(weeks: list[dict]) -> dict:
    n = len(weeks)
    counts = {key: round(sum(w[key] for w in weeks) / n, 2)
              for key in ("cancellations", "by_member", "by_others", "lifetime_excluded", "winbacks")}
    money = {}
    for key in ("revenue_lost", "revenue_won_back"):
        currencies = sorted({c for w in weeks for c in w[key]})
        money[key] = {c: _cents(sum((w[key].get(c, Decimal(0)) for w in weeks), Decimal(0)) / n) for c in currencies}
    asked, answered = sum(w["asked"] for w in weeks), sum(w["answered"] for w in weeks)
    return {**counts, **money, "asked": asked, "answered": answered, "answer_rate": _rate(answered, asked)}


def trend_label(count: float, average: float) -> str:
    """The documented rule (module docstring): ±2 and ×1.5 both needed to call a change."""
    if count >= average + 2 and count >= 1.5 * average:
        return "rising"
    if count <= average - 2 and average >= 1.5 * count:
        return "falling"
    return "steady"


def _reasons(this_week: dict, before: list[dict]) -> list[dict]:
    total = sum(this_week.values())
    codes = set(this_week) | {code for week in before for code in week}
    rows = []
    for code in codes:
        count = this_week.get(code, 0)
        average = sum(week.get(code, 0) for week in before) / len(before)
        rows.append({"reason": code, "count": count, "share": _rate(count, total) or 0.0,
                     "average_4_weeks": round(average, 2), "trend": trend_label(count, average)})
    return sorted(rows, key=lambda r: (-r["count"], -r["average_4_weeks"], r["reason"] or "~"))


def choose_comments(rows: list[dict], limit: int) -> list[dict]:
    """Round-robin across reasons (most answered reason first), newest first within a reason.

    ``rows`` are newest first. Long comments are shortened, never skipped; the same words said
    twice (a copied template, a double submit) are shown once."""
    by_reason: dict = {}
    seen: set[str] = set()
    for row in rows:
        key = _plain(" ".join(row["comment"].split()))
        if key in seen:
            continue
        seen.add(key)
        by_reason.setdefault(row["reason"], []).append(row)
    queues = sorted(by_reason.values(), key=lambda q: (-len(q), q[0]["reason"] or "~"))
    chosen: list[dict] = []
    while len(chosen) < limit and any(queues):
        for queue in queues:
            if queue and len(chosen) < limit:
                row = queue.pop(0)
                text = " ".join(row["comment"].split())
                if len(text) > COMMENT_MAX_CHARS:
                    text = text[:COMMENT_MAX_CHARS - 1].rstrip() + "…"
                chosen.append({"reason": row["reason"], "text": text, "answered_at": row["answered_at"].isoformat()})
    return chosen


def _plain(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).replace("’", "'")


def themes_of(comments: list[str]) -> list[dict]:
    """How many comments touch each theme (only themes found at least twice: recurring)."""
    counts = {theme: 0 for theme in THEMES}
    for comment in comments:
        plain = _plain(comment or "")
        for theme, pattern in _THEME_PATTERNS.items():
            if pattern.search(plain):
                counts[theme] += 1
    return [{"theme": t, "count": n} for t, n in sorted(counts.items(), key=lambda kv: -kv[1]) if n >= 2]


def _count_by(rows: list[dict], key: Callable[[dict], str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        counts[key(row)] = counts.get(key(row), 0) + 1
    return dict(sorted(counts.items()))


def _hours(delta: timedelta) -> float:
    return round(delta.total_seconds() / 3600, 1)


# --- sending --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DigestResult:
    site_id: str
    week: str
    # "sent", "skipped" (no recipients), "taken" (another sender has or had it), "retry", "failed"
    status: str
    recipients: tuple[str, ...] = ()
    detail: str | None = None


def mail_config(app_config) -> MailConfig:
    return MailConfig(secret_key=app_config["SECRET_KEY"], public_url=app_config["FAREWELL_PUBLIC_URL"],
                      mail_from=app_config["FAREWELL_MAIL_FROM"])


def dashboard_url(mail: MailConfig) -> str:
    return f"{mail.public_url.rstrip('/')}/admin"


def browser_preview(conn: Connection, site: dict, week: IsoWeek, now: datetime, mail: MailConfig) -> RenderedDigest:
    """The digest as a browser shows it (the dashboard's preview, ``digest preview``): the chart
    as a data: URI in the HTML instead of the cid: an email client resolves from the message."""
    rendered = render_digest(build_digest(conn, site, week, now), site, _language(site), dashboard_url(mail))
    html = rendered.html
    for image in rendered.images:
        html = html.replace(f"cid:{image.cid}",
                            f"data:image/{image.subtype};base64,{base64.b64encode(image.content).decode()}")
    return dataclasses.replace(rendered, html=html)


def send_digest(engine: Engine, transport: Transport, site_id: str, week: IsoWeek,
                recipients: list[str] | None = None, now: datetime | None = None, *, mail: MailConfig,
                clock: Callable[[], datetime] | None = None) -> DigestResult:
    """Send ``week``'s digest of a site.

    Without ``recipients``: the scheduled digest to the configured recipients, claimed by (site,
    week) so it goes out once whatever the number of senders. With ``recipients`` ("send now", the
    CLI's --to): a copy to those addresses only, which neither needs nor takes the claim.
    """
    clock = clock or (lambda: datetime.now(timezone.utc))
    now = now or clock()
    with engine.connect() as conn:
        site = sites_store.get_site(conn, site_id)
        if site is None:
            raise ValueError(f"no site with id {site_id!r}")
        configured = recipients_for(conn, site_id)
    if recipients is not None:
        return _send_copy(engine, transport, site, week, [r.strip() for r in recipients if r.strip()], now, mail)
    token = secrets.token_hex(16)
    with engine.begin() as conn:
        if not digests_store.claim(conn, site_id, str(week), token, now, LEASE_TERM.end(now), MAX_ATTEMPTS,
                                   LEASE_TERM.ended_before(now)):
            return DigestResult(site_id, str(week), "taken")
    if not configured:
        log.warning("digest %s for site %s skipped: no recipients (set them, or the owner emails)", week, site_id)
        _finish(engine, site_id, week, token, DigestStatus.SKIPPED, now, last_error="no recipients")
        return DigestResult(site_id, str(week), "skipped", detail="no recipients")
    message_id = f"<farewell.digest.{site_id}.{week}@{mail.mail_from.rsplit('@', 1)[-1]}>"
    try:
        outgoing = _outgoing(engine, site, week, configured, now, mail, message_id)
        with transport.session() as session:
            session.send(outgoing)
    except Exception as error:  # noqa: BLE001 - recorded on the claim, retried on a later tick
        return _failed(engine, site_id, week, token, clock(), error)
    # Marked right after the transport accepted it: a crash in between is the only duplicate window.
    sent_at = clock()
    _finish(engine, site_id, week, token, DigestStatus.SENT, sent_at, sent_at=sent_at, last_error=None,
            recipients=", ".join(configured)[:1000])
    return DigestResult(site_id, str(week), "sent", tuple(configured))


def _send_copy(engine, transport, site, week, recipients, now, mail) -> DigestResult:
    if not recipients:
        return DigestResult(site["id"], str(week), "skipped", detail="no recipients")
    message_id = f"<farewell.digest.{site['id']}.{week}.{secrets.token_hex(6)}@{mail.mail_from.rsplit('@', 1)[-1]}>"
    outgoing = _outgoing(engine, site, week, recipients, now, mail, message_id)
    with transport.session() as session:
        session.send(outgoing)
    return DigestResult(site["id"], str(week), "sent", tuple(recipients))


def _outgoing(engine, site, week, recipients, now, mail: MailConfig, message_id: str) -> mime.Outgoing:
    with engine.connect() as conn:
        digest = build_digest(conn, site, week, now)
        settings = effective_settings(conn, site["id"])
    language = _language(site)
    rendered = render_digest(digest, site, language, dashboard_url(mail))
    sender = mime.address(mail.mail_from, f"Farewell · {settings['sender_name'] or site['name']}")
    message = mime.build(rendered, sender=sender, to=[mime.address(r) for r in recipients], message_id=message_id,
                         date=now)
    html_part = message.get_body(("html",))
    for image in rendered.images:
        # multipart/related around the HTML: Gmail and Outlook show cid: images from there.
        html_part.add_related(image.content, "image", image.subtype, cid=f"<{image.cid}>",
                              filename=image.filename, disposition="inline")
    return mime.Outgoing(message=message, sender=mail.mail_from, recipients=tuple(recipients), site=site,
                         message_id=message_id)


def _language(site: dict) -> str:
    return language_of(site["locale"])


def _finish(engine, site_id, week, token, status: DigestStatus, now, **values) -> bool:
    with engine.begin() as conn:
        moved = digests_store.finish(conn, site_id, str(week), token, status.value, now, **values)
    if not moved:
        log.warning("digest %s for site %s: lease lost before it could be marked %s", week, site_id, status.value)
    return moved


def _failed(engine, site_id, week, token, now, error: Exception) -> DigestResult:
    reason = f"{type(error).__name__}: {error}"[:500]
    with engine.connect() as conn:
        attempts = (digests_store.get_digest(conn, site_id, str(week)) or {}).get("attempts", MAX_ATTEMPTS)
    if isinstance(error, TransportUnavailable):
        # An outage is nobody's attempt: try again on the next tick, however long it lasts.
        _finish(engine, site_id, week, token, DigestStatus.PENDING, now, last_error=reason, attempts=attempts - 1)
        log.warning("digest %s for site %s waits, mail transport unavailable: %s", week, site_id, reason)
        return DigestResult(site_id, str(week), "retry", detail=reason)
    if attempts >= MAX_ATTEMPTS:
        _finish(engine, site_id, week, token, DigestStatus.FAILED, now, last_error=reason)
        log.error("digest %s for site %s failed after %d attempts: %s", week, site_id, attempts, reason)
        return DigestResult(site_id, str(week), "failed", detail=reason)
    _finish(engine, site_id, week, token, DigestStatus.PENDING, now, last_error=reason)
    log.warning("digest %s for site %s will be retried: %s", week, site_id, reason)
    return DigestResult(site_id, str(week), "retry", detail=reason)


def due_digests(conn: Connection, now: datetime) -> list[tuple[dict, IsoWeek]]:
    """Sites whose digest send time has passed this week (in their own time zone) and whose
    report on last week is not done yet, with that week."""
    due = []
    for site in sites_store.list_sites(conn):
        zone = member_timezone(site)
        this_week = week_of(now, zone)
        report_week = this_week.previous()
        if site["created_at"] >= report_week.bounds(zone)[1]:
            continue  # the site did not exist during that week: nothing to report
        if now < send_time(site, digest_settings(conn, site["id"]), this_week):
            continue
        claim = digests_store.get_digest(conn, site["id"], str(report_week))
        if claim is None or claim["status"] == DigestStatus.PENDING.value or (
                claim["status"] == DigestStatus.SENDING.value and claim["lease_until"] < LEASE_TERM.ended_before(now)):
            due.append((site, report_week))
    return due


def digest_tick(engine: Engine, transport: Transport, mail: MailConfig,
                clock: Callable[[], datetime]) -> list[DigestResult]:
    """Send every digest that is due (the jobs call this every few minutes)."""
    with engine.connect() as conn:
        due = due_digests(conn, clock())
    results = []
    for site, week in due:
        try:
            results.append(send_digest(engine, transport, site["id"], week, mail=mail, clock=clock))
        except Exception:  # noqa: BLE001 - one site's bug must not stop the others
            log.exception("digest %s for site %s could not be sent", week, site["id"])
    return results
