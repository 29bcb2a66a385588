"""Members at risk (issue 18): failed renewals and pauses, filtered, and exported as CSV. The
rules are in sidecar.domain.at_risk; Farewell writes to none of these members, the owner may."""

from __future__ import annotations

import csv
import io
from datetime import datetime, time, timedelta, timezone
from urllib.parse import urlencode

from flask import Response, g, render_template, request

from ...db import get_engine
from ...domain import at_risk as rules
from ...domain.events import one_line
from . import bp, t
from .common import money, now, number, when, zone
from .feedback import SEARCH_MAX, csv_cell

REASONS = ("failed", "paused")


def _filters() -> dict:
    """The filters as typed (query string), cleaned: reason, plan, search."""
    args = request.args
    typed = {key: (args.get(key) or "").strip() for key in ("reason", "plan", "q")}
    if typed["reason"] not in REASONS:
        typed["reason"] = ""
    typed["plan"] = typed["plan"][:200]
    typed["q"] = typed["q"][:SEARCH_MAX]
    return typed


def _matches(row: dict, typed: dict) -> bool:
    if typed["reason"] and typed["reason"] not in row["reasons"]:
        return False
    if typed["plan"] and row["plan_name"] != typed["plan"]:
        return False
    needle = typed["q"].casefold()
    return not needle or any(needle in (row[k] or "").casefold() for k in ("email", "first_name"))


def member_admin_url(site_url: str, row: dict) -> str:
    """The member in the WordPress admin: Paid Memberships Pro's member page, else the WordPress
    user (the other plugins' member pages want their own ids, which the bridge does not send)."""
    base = site_url.rstrip("/") + "/wp-admin/"
    if row["source"] == "paidmembershipspro":
        return base + "admin.php?" + urlencode({"page": "pmpro-member", "user_id": row["member_external_id"]})
    return base + "user-edit.php?" + urlencode({"user_id": row["member_external_id"]})


def _rows(conn, typed: dict) -> list[dict]:
    return [row for row in rules.members_at_risk(conn, g.site["id"]) if _matches(row, typed)]


def _week_start(at: datetime) -> datetime:
    local = at.astimezone(zone())
    monday = local.date() - timedelta(days=local.weekday())
    return datetime.combine(monday, time.min, zone()).astimezone(timezone.utc)


@bp.get("/at-risk")
def at_risk():
    typed = _filters()
    with get_engine().begin() as conn:
        everyone = rules.members_at_risk(conn, g.site["id"])
        figures = rules.week_figures(conn, g.site["id"], _week_start(now()))
    rows = [{**row, "since_when": when(row["since"]), "access_ends": when(row["access_ends_at"]),
             "amount_text": money({row["currency"]: row["amount"]}) if row["amount"] is not None and row["currency"]
             else t("none"),
             "reason_texts": [t(f"risk_{reason}") for reason in row["reasons"]],
             "admin_url": member_admin_url(g.site["url"], row)}
            for row in everyone if _matches(row, typed)]
    plans = sorted({row["plan_name"] for row in everyone if row["plan_name"]})
    query = {k: v for k, v in typed.items() if v}
    week = {"entered": number(figures["entered"]), "recovered": number(figures["left"]["recovered"]),
            "cancelled": number(figures["left"]["cancelled"]), "expired": number(figures["left"]["expired"]),
            "at_stake": money(figures["revenue_at_stake"])}
    return render_template("dashboard/at_risk.html", rows=rows, total=len(rows), ever=bool(everyone),
                           typed=typed, query=query, plans=plans, week=week,
                           reasons=[(r, t(f"risk_{r}")) for r in REASONS])


@bp.get("/at-risk.csv")
def at_risk_csv():
    typed = _filters()
    with get_engine().begin() as conn:
        rows = _rows(conn, typed)
    site_zone = zone()

    def local(at):
        return at.astimezone(site_zone).strftime("%Y-%m-%d %H:%M") if at else ""

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["email", t("col_member"), t("col_plan"), t("col_amount"), t("col_currency"), t("col_interval"),
                     t("col_since"), t("col_why"), t("col_attempts"), t("col_access_ends"), "source", "wordpress_user_id"])
    for row in rows:
        writer.writerow([csv_cell(v) for v in (
            row["email"], one_line(row["first_name"] or ""), one_line(row["plan_name"] or ""),
            "" if row["amount"] is None else f"{row['amount']:.2f}", row["currency"], row["interval"],
            local(row["since"]), ", ".join(t(f"risk_{r}") for r in row["reasons"]), row["failed_attempts"],
            local(row["access_ends_at"]), row["source"], row["member_external_id"])])
    name = f"farewell-at-risk-{now().astimezone(site_zone).date().isoformat()}.csv"
    # The BOM tells Excel the file is UTF-8 (as feedback.csv).
    return Response(("\ufeff" + out.getvalue()).encode("utf-8"), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
