"""The survey answers: filtered, paginated, and exported as CSV for a spreadsheet."""

from __future__ import annotations

import csv
import io
import math
from datetime import date, datetime, timedelta, timezone

from flask import Response, g, render_template, request

from ...db import get_engine
from ...domain.events import one_line
from ...domain.survey import REASON_CODES
from ...storage import dashboard as store
from . import bp, t
from .common import now, reason_label, reason_labels, when, zone
from .holdout import text as holdout_text

PAGE_SIZE = 25
SEARCH_MAX = 200
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _filters() -> tuple[dict, dict]:
    """The feedback filters from the query string: (for storage, as typed for the form)."""
    args = request.args
    typed = {key: (args.get(key) or "").strip() for key in ("reason", "plan", "from", "to", "q")}
    filters: dict = {}
    if typed["reason"] in REASON_CODES or typed["reason"] == "none":
        filters["reason"] = typed["reason"]
    if typed["plan"]:
        filters["plan"] = typed["plan"][:200]
    site_zone = zone()
    for key, name, shift in (("from", "since", 0), ("to", "until", 1)):
        try:
            day_ = date.fromisoformat(typed[key]) if typed[key] else None
        except ValueError:
            day_ = None
            typed[key] = ""
        if day_:
            filters[name] = datetime.combine(day_ + timedelta(days=shift), datetime.min.time(), site_zone) \
                .astimezone(timezone.utc)
    if typed["q"]:
        filters["q"] = typed["q"][:SEARCH_MAX]
    return filters, typed


@bp.get("/feedback")
def feedback():
    filters, typed = _filters()
    try:
        page = max(1, int(request.args.get("page", "1")))
    except ValueError:
        page = 1
    with get_engine().begin() as conn:
        total = store.count_answers(conn, g.site["id"], filters)
        pages = max(1, math.ceil(total / PAGE_SIZE))
        page = min(page, pages)
        rows = store.list_answers(conn, g.site["id"], filters, PAGE_SIZE, (page - 1) * PAGE_SIZE)
        plans = store.plan_names(conn, g.site["id"])
        labels = reason_labels(conn)
        # Nothing at all yet (not nothing matching the filters): the page says how answers come.
        ever = total > 0 or store.has_answers(conn, g.site["id"])
    answers = [{**row, "when": when(row["answered_at"]), "reason_label": reason_label(labels, row["reason"])}
               for row in rows]
    query = {k: v for k, v in typed.items() if v}
    return render_template("dashboard/feedback.html", answers=answers, total=total, page=page, pages=pages,
                           typed=typed, query=query, plans=plans, ever=ever,
                           reasons=[(code, labels.get(code, code)) for code in REASON_CODES])


def csv_cell(value) -> str:
    """A cell a spreadsheet shows as text: one starting like a formula gets a leading apostrophe."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _line(value: str | None) -> str | None:
    """A one-line field on one line: done when it comes in (events.one_line), again here for rows
    stored before that, so each export row stays one line in a text editor (comments excepted)."""
    return one_line(value) if value else value


@bp.get("/feedback.csv")
def feedback_csv():
    filters, _typed = _filters()
    with get_engine().begin() as conn:
        rows = store.list_answers(conn, g.site["id"], filters)
        labels = reason_labels(conn)
    site_zone = zone()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([t("col_date"), "email", t("col_member"), t("col_plan"), "reason", t("col_reason"),
                     t("col_follow_up"), t("col_comment"), t("col_contact"), "contact", t("col_language"),
                     t("col_version"), "group", holdout_text("col_group")])
    for row in rows:
        writer.writerow([csv_cell(v) for v in (
            row["answered_at"].astimezone(site_zone).strftime("%Y-%m-%d %H:%M"), row["email"],
            _line(row["first_name"]), _line(row["plan_name"]), row["reason"],
            reason_label(labels, row["reason"]) if row["reason"] else "", row["follow_up"], row["comment"],
            t("yes") if row["contact_requested"] else t("no"), _line(row["contact"]), row["locale"],
            row["definition_version"], row["followup_group"] or "",
            # The holdout's group (sidecar.domain.holdout); empty: outside the comparison.
            holdout_text(f"group_{row['followup_group']}") if row["followup_group"] else "")])
    name = f"farewell-feedback-{now().astimezone(site_zone).date().isoformat()}.csv"
    # The BOM tells Excel the file is UTF-8 (without it, French accents come out garbled).
    return Response(("\ufeff" + out.getvalue()).encode("utf-8"), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
