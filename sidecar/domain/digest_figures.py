"""What the owners' weekly digest says about one ISO week of a site, as plain data (``build_digest``;
sidecar.domain.digest sends it, sidecar.domain.digest_render words it).

Rules, so that every figure can be explained to an owner:

- The week is Monday 00:00 to the next Monday 00:00 in the site's time zone (``IsoWeek.bounds``).
  A digest sent on week W reports on W-1, the last full week.
- Cancellations are counted when they happened; "by the member" is ``initiated_by = member``,
  "not recorded" is ``initiated_by = unknown`` (imported history whose plugin kept no initiator:
  neither the member's nor another's), "by others" is everything else (admin, payment gateway,
  system, expiry).
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
- Imported history (events.Event.imported: the membership plugin's past) counts in every figure
  and in the trend like live events. Nobody was asked then, so when some was imported the digest
  says that reasons are only known since the day (the site's time zone) of the first survey answer
  or the first live event, whichever came first, or since the site was connected when neither came
  yet (``reasons_known_since``).
- At risk (who is on the list, and why, is sidecar.domain.at_risk's rules): for each week, the
  members who entered the list in it; those who left it, by why: recovered (a later payment
  succeeded, or the subscription resumed), cancelled, expired; how many were still on it at the
  week's end; and the monthly revenue at stake then: the monthly amount of every subscription
  still on the list at the week's end, one total per currency (lifetime plans and unknown amounts
  left out, and counted). The 4-week average is each figure's mean over the 4 weeks before, a
  currency missing from a week counting 0 there. "Still on the list" is now, when the digest is
  built (as the contact requests waiting): the MAX_AT_RISK members on it longest, with how many
  are on it; the quiet-week email says that number when it is not 0. The section is left out
  when there is nothing to say (no figure and nobody on the list): a site whose plugin sends no
  renewal events gets no empty table every week.
"""

from __future__ import annotations

import re
import statistics
import unicodedata
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Callable

from sqlalchemy.engine import Connection

from ..storage import history, reports
from . import at_risk
from .digest_weeks import IsoWeek
# In a module of their own so that at_risk needs not import the digest; monthly_history reads them here.
from .monthly_amounts import CENTS, MONTHLY_FACTOR
from .offers import variant_for
from .sequences import OFFER, member_timezone

TREND_WEEKS = 12
COMPARED_WEEKS = 4
MAX_COMMENTS = 5
COMMENT_MAX_CHARS = 500
MAX_PLANS = 5
MAX_WAITING = 10
MAX_AT_RISK = 5

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
    risk_weeks = {i: at_risk.week_figures(conn, site["id"], *bounds[i]) for i in (current, *compared)}
    on_list = at_risk.members_at_risk(conn, site["id"])

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
        "reasons_known_since": _iso(reasons_known_since(conn, site)),
        "at_risk": _at_risk(risk_weeks[current], risk_weeks[previous], [risk_weeks[i] for i in compared], on_list),
    }


def reasons_known_since(conn: Connection, site: dict) -> date | None:
    """None when no history was imported (every cancellation could be asked about); else the day,
    in the site's time zone, since which reasons are known (see the rules above)."""
    if not history.has_imported_events(conn, site["id"]):
        return None
    firsts = [at for at in (history.first_answer_at(conn, site["id"]), history.first_live_event_at(conn, site["id"]))
              if at is not None]
    since = min(firsts) if firsts else site.get("created_at")
    return since.astimezone(member_timezone(site)).date() if since else None


def _at_risk(week: dict, previous: dict, before: list[dict], on_list: list[dict]) -> dict:
    """The At risk section (rules above): the week, the one before, the 4-week average, and who is
    on the list now, longest first."""
    n = len(before)
    currencies = sorted({c for w in before for c in w["revenue_at_stake"]})
    average = {
        "entered": round(sum(w["entered"] for w in before) / n, 2),
        "left": {r: round(sum(w["left"][r] for w in before) / n, 2) for r in at_risk.LEFT_REASONS},
        "at_end": round(sum(w["at_end"] for w in before) / n, 2),
        "revenue_at_stake": {c: _cents(sum((w["revenue_at_stake"].get(c, Decimal(0)) for w in before), Decimal(0)) / n)
                             for c in currencies},
        "revenue_excluded": round(sum(w["revenue_excluded"] for w in before) / n, 2),
    }
    oldest = [{"first_name": r["first_name"], "email": r["email"], "plan": r["plan_name"],
               "since": r["since"].isoformat(), "failed_attempts": r["failed_attempts"], "reasons": r["reasons"]}
              for r in on_list[:MAX_AT_RISK]]
    shown = any(w["entered"] or any(w["left"].values()) or w["at_end"] for w in (week, previous, *before))
    return {"shown": shown or bool(on_list), "week": week, "previous": previous, "average_4_weeks": average,
            "on_list_count": len(on_list), "oldest": oldest}


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def _empty_figures() -> dict:
    return {"cancellations": 0, "by_member": 0, "by_others": 0, "by_unknown": 0, "revenue_lost": {}, "lifetime_excluded": 0,
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
    elif row["initiated_by"] == "unknown":
        f["by_unknown"] += row["count"]
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
              for key in ("cancellations", "by_member", "by_others", "by_unknown", "lifetime_excluded", "winbacks")}
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
