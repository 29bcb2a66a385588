"""The digest as an email: its data (``build_digest``) turned into labelled, formatted rows in the
site's language, then into the pair of templates ``email/digest.txt`` / ``.html`` and a PNG chart.

Templates only place values; every number is formatted here with the site's locale, and every
text a member wrote reaches the HTML through Jinja's autoescape.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_timedelta
from babel.numbers import format_currency, format_decimal, format_percent

from .. import i18n
from ..mail import catalog
from ..mail.chart import trend_png
from ..mail.render import babel_locale, fill, render
from ..plurals import plural_key
from .events import one_line
from .sequences import STEPS
from .survey import DEFAULT_DEFINITION

CHART_CID = "trend@farewell"


@dataclass(frozen=True)
class InlineImage:
    cid: str  # without angle brackets; the HTML says src="cid:<cid>"
    content: bytes
    subtype: str
    filename: str


@dataclass(frozen=True)
class RenderedDigest:
    subject: str
    text: str
    html: str
    images: tuple[InlineImage, ...]


def render_digest(digest: dict, site: dict, language: str, dashboard_url: str) -> RenderedDigest:
    locale = babel_locale(site.get("locale"), language)
    copy = catalog.DIGEST.copy[language]
    monday = date.fromisoformat(_local_day(digest["start"], digest))
    week_label = _week_label(monday, locale)
    variables = {"site_name": site["name"], "week_label": week_label, "dashboard_url": dashboard_url}
    words = {name: fill(text, variables) for name, text in copy.items()}
    view = _view(digest, words, locale, language)
    chart = InlineImage(
        cid=CHART_CID, subtype="png", filename="trend.png",
        content=trend_png([row["label"] for row in view["trend"]], [row["cancellations"] for row in view["trend"]],
                          [row["winbacks"] for row in view["trend"]],
                          (words["legend_cancellations"], words["legend_winbacks"])))
    context = {**view, "words": words, "dashboard_url": dashboard_url, "chart_src": f"cid:{chart.cid}",
               "quiet": digest["quiet"], "holdout_line": _holdout_line(digest.get("holdout"), locale, language)}
    rendered = render(catalog.DIGEST, language, variables, context,
                      subject_block="subject_quiet" if digest["quiet"] else "subject")
    return RenderedDigest(subject=rendered.subject, text=rendered.text, html=rendered.html, images=(chart,))


def _holdout_line(said: dict | None, locale, language: str) -> str | None:
    """The holdout's sentence (sidecar.domain.holdout), when the digest carries it this week."""
    if not said:
        return None
    values = {name: format_decimal(value, format="#,##0.#", locale=locale) for name, value in said["values"].items()}
    return i18n.text(language, "holdout", "line", sentence=i18n.text(language, "holdout", said["key"], **values))


def _local_day(iso_start: str, digest: dict) -> str:
    from zoneinfo import ZoneInfo

    return datetime.fromisoformat(iso_start).astimezone(ZoneInfo(digest["timezone"])).date().isoformat()


def _week_label(monday: date, locale) -> str:
    sunday = monday + timedelta(days=6)
    return f"{format_date(monday, 'd MMM', locale=locale)} – {format_date(sunday, 'd MMM y', locale=locale)}"


def _view(digest: dict, words: dict, locale, language: str) -> dict:
    reason_labels = {r["code"]: r["label"][language] for r in DEFAULT_DEFINITION["reasons"]}

    def reason(code):
        return reason_labels.get(code, code) if code else words["no_reason"]

    def number(value) -> str:
        return format_decimal(value, format="#,##0.#", locale=locale)

    def rate(value) -> str:
        return "–" if value is None else format_percent(value, format="#,##0%", locale=locale)

    def money(amounts: dict) -> str:
        if not amounts:
            return "–"
        return " · ".join(format_currency(Decimal(a), c, locale=locale) for c, a in amounts.items())

    def duration(hours: float) -> str:
        return format_timedelta(timedelta(hours=hours), granularity="hour", threshold=1.5, locale=locale)

    h = digest["headline"]
    columns = (h["week"], h["previous"], h["average_4_weeks"])
    headline = [
        {"label": words["row_cancellations"], "cells": [number(c["cancellations"]) for c in columns], "sub": False},
        {"label": words["row_by_member"], "cells": [number(c["by_member"]) for c in columns], "sub": True},
        {"label": words["row_by_others"], "cells": [number(c["by_others"]) for c in columns], "sub": True},
        # Only when imported history without an initiator falls in these weeks, not on every digest
        # (.get: a digest stored before by_unknown existed still renders).
        *([{"label": words["row_by_unknown"], "cells": [number(c.get("by_unknown", 0)) for c in columns], "sub": True}]
          if any(c.get("by_unknown") for c in columns) else []),
        {"label": words["row_revenue_lost"], "cells": [money(c["revenue_lost"]) for c in columns], "sub": False},
        {"label": words["row_answer_rate"], "cells": [rate(c["answer_rate"]) for c in columns], "sub": False},
        {"label": words["row_winbacks"], "cells": [number(c["winbacks"]) for c in columns], "sub": False},
        {"label": words["row_revenue_won"], "cells": [money(c["revenue_won_back"]) for c in columns], "sub": False},
    ]
    top_reason = max([r["count"] for r in digest["reasons"]] or [0])
    reasons = [{"label": reason(r["reason"]), "count": r["count"], "width": _width(r["count"], top_reason),
                "average": number(r["average_4_weeks"]), "trend": r["trend"], "trend_label": words[f"trend_{r['trend']}"]}
               for r in digest["reasons"]]
    top_plan = max([p["count"] for p in digest["plans"]] or [0])
    # Names, plans and contact details are put on one line when they come in (events.one_line);
    # again here, for rows stored before that, since the text part shows each on one line.
    plans = [{"label": one_line(p["plan"] or "") or "–", "count": p["count"],
              "width": _width(p["count"], top_plan)} for p in digest["plans"]]
    comments = [{"reason": reason(c["reason"]), "text": c["text"],
                 "date": format_date(datetime.fromisoformat(c["answered_at"]).date(), "d MMM", locale=locale)}
                for c in digest["comments"]]
    def counted(key: str, count: int) -> str:
        return fill(words[plural_key(key, language, count, words)], {"count": count})

    themes = [{"label": words[f"theme_{t['theme']}"], "count": counted("theme_count", t["count"])}
              for t in digest["themes"]]
    requests = digest["contact_requests"]
    waiting = [{"name": one_line(r["first_name"] or "") or r["email"], "email": r["email"],
                "contact": one_line(r["contact"] or "") or None,
                "reason": reason(r["reason"]), "waited": fill(words["waited"], {"duration": duration(r["waited_hours"])})}
               for r in requests["open"]]
    more = requests["open_count"] - len(waiting)
    median = None
    if requests["median_response_hours"] is not None:
        median = fill(words["median_response"], {"count": requests["answered_count"],
                                                 "duration": duration(requests["median_response_hours"])})
    sequence = digest["sequence"]
    keys = [s.key for s in STEPS]
    steps = keys + sorted(set(sequence["sent_by_step"]) - set(keys))
    step_rows = [{"label": words.get(f"step_{s}", s), "sent": sequence["sent_by_step"].get(s, 0),
                  "winbacks": sequence["winbacks_by_step"].get(s, 0)} for s in steps]
    if sequence["winbacks_by_step"].get("none"):
        step_rows.append({"label": words["step_none"], "sent": None, "winbacks": sequence["winbacks_by_step"]["none"]})
    offers = [{"label": words.get(f"offer_{v}", v), "count": n} for v, n in sequence["winbacks_by_offer"].items()]
    trend = [{"label": t["week"].split("-")[1], "cancellations": t["cancellations"], "winbacks": t["winbacks"]}
             for t in digest["trend"]]
    lifetime = h["week"]["lifetime_excluded"]
    since = digest.get("reasons_known_since")  # absent from digests stored before it existed
    at_risk = _at_risk(digest, words, locale, number, money, counted)
    return {
        "headline": headline, "lifetime_note": fill(words["lifetime_note"], {"count": lifetime}) if lifetime else None,
        "reasons": reasons, "plans": plans, "comments": comments,
        "said_note": fill(words["said_note"], {"shown": len(comments), "total": digest["comments_total"]}),
        "themes": themes, "waiting": waiting,
        "waiting_more": counted("waiting_more", more) if more > 0 else None,
        "median_response": median, "offers": offers,
        # A quiet week stays short: the sequence table only when something happened in it.
        "steps": step_rows if any(r["sent"] or r["winbacks"] for r in step_rows) or sequence["unsubscribes"] else [],
        "unsubscribes": fill(words["unsubscribes"], {"count": sequence["unsubscribes"]}), "trend": trend,
        "reasons_since": fill(words["reasons_since"], {"date": format_date(date.fromisoformat(since), "d MMMM y",
                                                                           locale=locale)}) if since else None,
        **at_risk,
    }


def _at_risk(digest: dict, words: dict, locale, number, money, counted) -> dict:
    """The At risk section's rows (None when build_digest leaves it out) and the quiet week's line."""
    risk = digest.get("at_risk")  # absent from digests built before it existed
    if not risk or not risk["shown"]:
        return {"at_risk": None, "at_risk_quiet": None}
    columns = (risk["week"], risk["previous"], risk["average_4_weeks"])
    rows = [
        {"label": words["at_risk_row_entered"], "cells": [number(c["entered"]) for c in columns], "sub": False},
        {"label": words["at_risk_row_left"], "cells": [number(sum(c["left"].values())) for c in columns], "sub": False},
        *({"label": words[f"at_risk_row_{reason}"], "cells": [number(c["left"][reason]) for c in columns], "sub": True}
          for reason in ("recovered", "cancelled", "expired")),
        {"label": words["at_risk_row_at_end"], "cells": [number(c["at_end"]) for c in columns], "sub": False},
        {"label": words["at_risk_row_revenue"], "cells": [money(c["revenue_at_stake"]) for c in columns], "sub": False},
    ]
    zone = ZoneInfo(digest["timezone"])
    oldest = []
    for r in risk["oldest"]:
        since = datetime.fromisoformat(r["since"]).astimezone(zone).date()
        why = ([counted("at_risk_attempts", r["failed_attempts"])] if r["failed_attempts"] else []) + \
              ([words["at_risk_paused"]] if "paused" in r["reasons"] else [])
        # One line each, as the contact requests waiting (events.one_line).
        oldest.append({"name": one_line(r["first_name"] or "") or r["email"], "email": r["email"],
                       "plan": one_line(r["plan"] or "") or "–",
                       "since": fill(words["at_risk_since"], {"date": format_date(since, "d MMM y", locale=locale)}),
                       "why": " · ".join(why)})
    more = risk["on_list_count"] - len(oldest)
    excluded = risk["week"]["revenue_excluded"]
    return {"at_risk": {"rows": rows, "oldest": oldest, "more": counted("at_risk_more", more) if more > 0 else None,
                        "excluded": fill(words["at_risk_excluded"], {"count": excluded}) if excluded else None},
            "at_risk_quiet": counted("at_risk_quiet", risk["on_list_count"])
            if digest["quiet"] and risk["on_list_count"] else None}


def _width(count: int, top: int) -> int:
    """A bar's width in percent of the longest; at least 2 so a non-zero bar stays visible."""
    if not top or not count:
        return 0
    return max(2, round(100 * count / top))
