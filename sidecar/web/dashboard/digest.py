"""The weekly digest: when it goes out and to whom, its preview, and a copy sent now to the owner."""

from __future__ import annotations

from flask import abort, current_app, flash, g, render_template, request

from ...db import get_engine
from ...domain import digest as digest_domain
from ...domain.sequences import member_timezone
from ...mail.transports import transport_from_url
from . import bp, go, t
from .common import now, preview_response


def _last_week():
    return digest_domain.week_of(now(), member_timezone(g.site)).previous()


@bp.get("/digest")
def digest():
    with get_engine().begin() as conn:
        settings = digest_domain.digest_settings(conn, g.site["id"])
    return render_template("dashboard/digest.html", settings=settings, week=str(_last_week()),
                           recipients=", ".join(settings["recipients"]) if settings["recipients_customised"] else "",
                           defaults=", ".join(settings["default_recipients"]))


@bp.post("/digest")
def save_digest():
    try:
        digest_domain.update_digest_settings(get_engine(), g.site["id"], request.form.get("weekday"),
                                             request.form.get("hour"), request.form.get("recipients", ""))
    except digest_domain.DigestSettingsError as error:
        flash(str(error), "error")
        return go("dashboard.digest")
    flash(t("saved"))
    return go("dashboard.digest")


@bp.get("/digest/preview")
def digest_preview():
    week = _last_week()
    if request.args.get("week"):
        try:
            week = digest_domain.IsoWeek.parse(request.args["week"])
        except ValueError:
            abort(404)
    with get_engine().begin() as conn:
        rendered = digest_domain.browser_preview(conn, g.site, week, now(),
                                                 digest_domain.mail_config(current_app.config))
    return preview_response(rendered.html)


@bp.post("/digest/send")
def digest_send():
    config = current_app.config
    email = g.admin["email"]
    try:
        transport = transport_from_url(config["FAREWELL_MAIL_URL"], config["FAREWELL_BRIDGE_ALLOWED_NETWORKS"])
        result = digest_domain.send_digest(get_engine(), transport, g.site["id"],
                                           _last_week(), recipients=[email], mail=digest_domain.mail_config(config))
        if result.status != "sent":
            raise RuntimeError(result.detail or result.status)
    except Exception as error:  # noqa: BLE001 - shown to the owner
        flash(t("test_failed", error=type(error).__name__), "error")
    else:
        flash(t("digest_sent", email=email))
    return go("dashboard.digest")
