"""The last 24 months (imported history included): the overview's section and its CSV."""

from __future__ import annotations

import csv
import io
from datetime import date

from babel.dates import format_date
from flask import Response, g

from ...db import get_engine
from ...domain.events import one_line
from ...domain.monthly_history import build_months
from . import bp, t
from .common import locale, money, now, number, zone
from .feedback import csv_cell

TOP_PLANS = 3  # on the page; the CSV names them all


def _plans(plans: list[dict], limit: int | None = None) -> str:
    shown = plans if limit is None else plans[:limit]
    text = ", ".join(f"{one_line(p['plan']) or t('none')} ({p['count']})" for p in shown)
    return text + (", …" if len(shown) < len(plans) else "")


def monthly_section(conn, reasons_known_since: str | None) -> dict:
    """The overview's months, newest first, in the admin's language; the one line about reasons
    when some history was imported (digest_figures.reasons_known_since)."""
    rows = []
    months = build_months(conn, g.site, now())
    for m in reversed(months):
        year, month = (int(part) for part in m["month"].split("-"))
        # A non-breaking space: "déc. 2026" on one line in a narrow column.
        label = format_date(date(year, month, 1), "MMM y", locale=locale()).replace(" ", "\u00a0")
        rows.append({"month": m["month"], "label": label,
                     "cancellations": number(m["cancellations"]), "voluntary": number(m["voluntary"]),
                     "not_voluntary": number(m["not_voluntary"]), "unknown": number(m["unknown"]),
                     "plans": _plans(m["plans"], TOP_PLANS),
                     "revenue_lost": money(m["revenue_lost"]), "comebacks": number(m["comebacks"]),
                     "empty": not m["cancellations"] and not m["comebacks"]})
    since = None
    if reasons_known_since:
        since = t("reasons_since", date=format_date(date.fromisoformat(reasons_known_since), "d MMMM y",
                                                    locale=locale()))
    # "Not recorded" only on a site with such history (imported from a plugin that keeps no
    # initiator): elsewhere a column of zeros would only narrow the table.
    return {"rows": rows, "reasons_since": since, "unknown": any(m["unknown"] for m in months)}


@bp.get("/months.csv")
def months_csv():
    with get_engine().begin() as conn:
        months = build_months(conn, g.site, now())
    currencies = sorted({c for m in months for key in ("revenue_lost", "revenue_won_back") for c in m[key]})
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([t("col_month"), t("col_cancellations"), t("col_voluntary"), t("col_not_voluntary"),
                     t("col_unknown_initiator"), t("col_plans"), *(f"{t('col_revenue_lost')} ({c})" for c in currencies), t("col_lifetime"),
                     t("col_comebacks"), t("col_after_email"),
                     *(f"{t('row_revenue_won')} ({c})" for c in currencies)])
    for m in months:
        # Amounts as plain numbers (a dot, no currency sign) so a spreadsheet can add them up.
        writer.writerow([csv_cell(v) for v in (
            m["month"], m["cancellations"], m["voluntary"], m["not_voluntary"], m["unknown"], _plans(m["plans"]),
            *(m["revenue_lost"].get(c, "") for c in currencies), m["lifetime_excluded"], m["comebacks"],
            m["after_email"], *(m["revenue_won_back"].get(c, "") for c in currencies))])
    name = f"farewell-months-{now().astimezone(zone()).date().isoformat()}.csv"
    # The BOM tells Excel the file is UTF-8, as feedback.csv.
    return Response(("\ufeff" + out.getvalue()).encode("utf-8"), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
