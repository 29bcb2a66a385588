"""Do the emails work? The holdout's section on the sequence page, its line on the overview, and
the form that sets the share (rules and figures: sidecar.domain.holdout)."""

from __future__ import annotations

from functools import partial

from flask import current_app, flash, g, request

from ... import i18n
from ...db import get_engine
from ...domain import holdout
from ...domain.site_settings import SettingsError, update_settings
from ...domain.unsubscribe import email_hash
from . import bp, go, t
from .common import money, now, number, rate, reason_label, reason_labels


def text(key: str, **values) -> str:
    """A text of the i18n section "holdout" (the dashboard and the digest share it)."""
    return i18n.text(g.language, "holdout", key, **values)


def figures(conn) -> dict:
    """The domain's figures for the signed-in site."""
    return holdout.effect(conn, g.site["id"], partial(email_hash, current_app.config["SECRET_KEY"]), now())


def sentence(result: dict) -> str:
    key, values = holdout.sentence(result)
    return text(key, **{name: number(value) for name, value in values.items()})


def overview_line(conn) -> str:
    """The overview's line: the sentence of the sequence page's section."""
    return text("line", sentence=sentence(figures(conn)))


def section(conn) -> dict:
    """Everything the sequence page shows, as text in the admin's language."""
    result = figures(conn)
    labels = reason_labels(conn)
    groups = [{"label": text(f"group_{group}"), "n": number(figures_["n"]), "winbacks": number(figures_["winbacks"]),
               "rate": rate(figures_["rate"]), "revenue": money(figures_["revenue_per_100"])}
              for group, figures_ in result["groups"].items()]
    difference = None
    if result["difference"] is not None:
        difference = text("difference", points=_points(result["difference"]), low=_points(result["lower"]),
                        high=_points(result["upper"]))
    return {
        "percent": result["holdout_percent"], "judged": result["n"] > 0,
        "intro": text("intro", percent=result["holdout_percent"], days=result["judged_after_days"]),
        "sentence": sentence(result), "verdict": result["verdict"], "groups": groups, "difference": difference,
        "waiting": text("waiting", count=result["waiting"]) if result["waiting"] else None,
        "left_out": (text("left_out", count=result["left_out_unsubscribed"])
                     if result["left_out_unsubscribed"] else None),
        "by_reason": text("by_reason", min=holdout.MIN_PER_GROUP),
        "reasons": [{"label": reason_label(labels, row["reason"]),
                     "n": " / ".join(number(row["groups"][group]["n"]) for group in holdout.GROUPS),
                     "rates": " / ".join(rate(row["groups"][group]["rate"]) for group in holdout.GROUPS),
                     "sentence": sentence(row)} for row in result["reasons"]],
    }


def _points(difference: float) -> str:
    """A difference of proportions in percentage points, one decimal, signed."""
    return ("+" if difference > 0 else "") + number(round(difference * 100, 1))


@bp.post("/sequence/holdout")
def save_holdout_share():
    try:
        update_settings(get_engine(), g.site["id"], {"holdout_percent": request.form.get("holdout_percent", "")
                                                     or None}, now())
    except SettingsError:
        flash(text("share_invalid"), "error")
    else:
        flash(t("saved"))
    return go("dashboard.sequence")
