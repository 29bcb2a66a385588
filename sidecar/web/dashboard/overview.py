"""The overview: this week so far against last week and the 4-week average, with charts."""

from __future__ import annotations

from decimal import Decimal

from flask import g, render_template

from ...db import get_engine
from ...storage.dashboard import has_cancellations
from . import bp, t
from .common import money, now, number, rate, reason_label, reason_labels
from .holdout import overview_line
from .months import monthly_section
from .summary import week_summary


@bp.get("/")
def overview():
    engine = get_engine()
    with engine.begin() as conn:
        summary = week_summary(conn, g.site, now())
        labels = reason_labels(conn)
        empty = not has_cancellations(conn, g.site["id"])
        months = monthly_section(conn, summary["digest"]["reasons_known_since"])
        holdout_line = overview_line(conn)
    digest = summary["digest"]
    h = digest["headline"]
    columns = (h["week"], h["previous"], h["average_4_weeks"])
    headline = [
        (t("row_cancellations"), [number(c["cancellations"]) for c in columns]),
        (t("row_by_member"), [number(c["by_member"]) for c in columns]),
        (t("row_revenue_lost"), [money(c["revenue_lost"]) for c in columns]),
        (t("row_answer_rate"), [rate(c["answer_rate"]) for c in columns]),
        (t("row_winbacks"), [number(c["winbacks"]) for c in columns]),
        (t("row_revenue_won"), [money(c["revenue_won_back"]) for c in columns]),
    ]
    # Members at risk beside the cancellations they may become (rules: domain.at_risk, digest_figures);
    # left out, as in the digest, while there is nothing to say.
    risk = digest["at_risk"]
    risk_columns = (risk["week"], risk["previous"], risk["average_4_weeks"])
    at_risk_rows = [
        (t("row_at_risk"), [number(c["at_end"]) for c in risk_columns]),
        (t("row_revenue_at_stake"), [money(c["revenue_at_stake"]) for c in risk_columns]),
    ] if risk["shown"] else []
    return render_template("dashboard/overview.html", headline=headline, at_risk_rows=at_risk_rows,
                           trend=_trend_chart(digest["trend"]),
                           reasons=_reason_chart(digest["reasons"], labels),
                           revenue=_revenue_chart(h["week"]), open_requests=digest["contact_requests"]["open_count"],
                           empty=empty, months=months, holdout_line=holdout_line)


def _trend_chart(trend: list[dict]) -> dict:
    """Grouped bars (cancellations, win-backs) per week, as SVG coordinates."""
    width, height, top = 640, 200, 20
    top_value = max([max(w["cancellations"], w["winbacks"]) for w in trend] + [1])
    slot = width / len(trend)
    bars, labels = [], []
    for i, week in enumerate(trend):
        for j, key in enumerate(("cancellations", "winbacks")):
            value = week[key]
            bar_height = round((height - top) * value / top_value, 1)
            bars.append({"x": round(i * slot + 6 + j * (slot - 12) / 2, 1), "y": round(height - bar_height, 1),
                         "width": round((slot - 14) / 2, 1), "height": bar_height, "kind": key, "value": value,
                         "week": week["week"]})
        labels.append({"x": round(i * slot + slot / 2, 1), "text": week["week"].split("-")[1]})
    return {"width": width, "height": height, "bars": bars, "labels": labels, "top": top_value}


def _reason_chart(reasons: list[dict], labels: dict) -> list[dict]:
    top = max([max(r["count"], r["average_4_weeks"]) for r in reasons] + [1])
    return [{"label": reason_label(labels, r["reason"]), "count": r["count"], "average": number(r["average_4_weeks"]),
             "count_width": round(300 * r["count"] / top, 1),
             "average_width": round(300 * r["average_4_weeks"] / top, 1), "trend": r["trend"]} for r in reasons]


def _revenue_chart(week: dict) -> list[dict]:
    currencies = sorted(set(week["revenue_lost"]) | set(week["revenue_won_back"]))
    rows = []
    for currency in currencies:
        lost, won = Decimal(week["revenue_lost"].get(currency, 0)), Decimal(week["revenue_won_back"].get(currency, 0))
        top = max(lost, won, Decimal(1))
        rows.append({"currency": currency, "lost": money({currency: lost}), "won": money({currency: won}),
                     "lost_width": round(float(300 * lost / top), 1), "won_width": round(float(300 * won / top), 1)})
    return rows
