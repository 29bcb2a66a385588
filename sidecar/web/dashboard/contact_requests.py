"""Members who asked to be contacted: the open requests first, and the owner marks each answered."""

from __future__ import annotations

from flask import abort, flash, g, render_template

from ...db import get_engine
from ...domain import contact_requests as requests_domain
from ...storage.surveys import list_contact_requests
from . import bp, go, t
from .common import duration, now, reason_label, reason_labels, when


@bp.get("/contact-requests")
def contact_requests():
    at = now()
    with get_engine().begin() as conn:
        open_rows = list_contact_requests(conn, g.site["id"], "open")
        answered = list_contact_requests(conn, g.site["id"], "answered")
        answered_rows = answered[-50:][::-1]
        labels = reason_labels(conn)

    def view(row):
        return {**row, "requested": when(row["requested_at"]), "answered": when(row["answered_at"]),
                "waited": duration((row["answered_at"] or at) - row["requested_at"]),
                "reason_label": reason_label(labels, row["reason"])}

    return render_template("dashboard/contact_requests.html", open_rows=[view(r) for r in open_rows],
                           answered_rows=[view(r) for r in answered_rows], ever=bool(open_rows or answered))


@bp.post("/contact-requests/<int:request_id>/answered")
def mark_answered(request_id: int):
    if not requests_domain.mark_answered(get_engine(), g.site["id"], request_id, now()):
        abort(404)
    flash(t("marked_answered"))
    return go("dashboard.contact_requests")
