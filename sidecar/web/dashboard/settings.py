"""The site's settings: its name, address, time zone and language, the emails' sender and
footer, and its signing secret."""

from __future__ import annotations

from flask import current_app, flash, g, render_template, request, session

from ...db import get_engine
from ...domain import dashboard_sessions
from ...domain.site_settings import SettingsError, SiteFieldError, effective_settings, save_site_settings
from ...domain.sites import SUPPORTED_LOCALES, rotate_secret
from . import bp, go, t
from .common import now

SETTING_FIELDS = ("sender_name", "support_email", "owner_emails", "postal_address", "default_offer_text",
                  "default_offer_code")


@bp.get("/settings")
def settings():
    return _settings_page()


def _settings_page(new_secret: str | None = None):
    with get_engine().begin() as conn:
        values = effective_settings(conn, g.site["id"])
    return render_template("dashboard/settings.html", values=values, fields=SETTING_FIELDS, new_secret=new_secret,
                           locales=SUPPORTED_LOCALES)


def _site_field_message(error: SiteFieldError) -> str:
    if error.field == "url":
        return t(f"url_{error.code}")
    return {"name": "name: 1 to 200 characters",
            "locale": f"locale: one of {', '.join(SUPPORTED_LOCALES)}",
            "timezone": "timezone: an IANA time zone such as Europe/Paris"}[error.field]


@bp.post("/settings")
def save_settings():
    form = request.form
    site = {"name": form.get("name", "").strip(), "url": form.get("url", "").strip(),
            "timezone": form.get("timezone", "").strip(), "locale": form.get("locale", "")}
    try:
        # "" resets a setting to its default.
        save_site_settings(get_engine(), g.site["id"], site, {key: form.get(key, "") for key in SETTING_FIELDS},
                           current_app.config["FAREWELL_BRIDGE_ALLOWED_NETWORKS"], now())
    except SiteFieldError as error:
        flash(_site_field_message(error), "error")
        return go("dashboard.settings")
    except SettingsError as error:
        flash(str(error), "error")
        return go("dashboard.settings")
    flash(t("saved"))
    return go("dashboard.settings")


@bp.post("/settings/secret")
def rotate():
    if request.form.get("confirm") != "1":
        flash(t("secret_confirm"), "error")
        return go("dashboard.settings")
    at = now()
    secret = rotate_secret(get_engine(), g.site["id"], now=at, immediately=request.form.get("immediately") == "1")
    # Every session ended with the old secret; whoever asked for the new one keeps working.
    session.update(dashboard_sessions.reissued(at))
    # Shown once, in this response only: never stored in the session or a flash message.
    return _settings_page(new_secret=secret)
