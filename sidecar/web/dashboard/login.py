"""Signing in with a token minted by the WordPress bridge, and signing out."""

from __future__ import annotations

from datetime import datetime, timezone

from flask import g, render_template, request, session

from ...db import get_engine
from ...domain import dashboard_sessions
from ...domain.login_tokens import LoginRefused, accept, unverified_payload
from ...domain.rate_limits import LOGIN
from ...mail.render import language_of
from ...storage.sites import get_site
from ..errors import over_limit
from . import bp, go, t, wordpress_url


@bp.get("/login")
def login():
    token = request.args.get("token", "")
    engine = get_engine()
    retry_after = over_limit(LOGIN)  # per client address, in every process: no trying tokens by the thousand
    if retry_after is not None:
        locale = unverified_payload(token[:4000]).get("locale")
        if isinstance(locale, str):
            g.language = language_of(locale, None)
        page = render_template("dashboard/message.html", title=t("login_slow_title"), text=t("login_slow"),
                               back_url=None)
        return page, 429, {"Retry-After": str(retry_after)}
    try:
        admin = accept(engine, token)
    except LoginRefused as refused:
        claimed = refused.payload or unverified_payload(token)
        site = refused.site  # only when the signature checked: a forged token learns nothing about a site
        locale = claimed.get("locale") if isinstance(claimed.get("locale"), str) else None
        if locale or site:
            g.language = language_of(locale, site["locale"] if site else None)
        return render_template("dashboard/message.html", title=t("login_title"), text=t(f"login_{refused.reason}"),
                               back_url=wordpress_url(site)), 403
    # A fresh session: nothing from before the sign-in survives (no session fixation).
    session.clear()
    session.permanent = True
    session.update(site_id=admin.site_id, user_id=admin.user_id, email=admin.email, name=admin.display_name,
                   locale=admin.locale, **dashboard_sessions.opened(datetime.now(timezone.utc)))
    return go("dashboard.overview")


@bp.post("/logout")
def logout():
    """Ends this session: the cookie is cleared here, and a copy of it is refused from now on."""
    site = g.site
    dashboard_sessions.sign_out(get_engine(), site["id"], session, datetime.now(timezone.utc))
    return _signed_out(site)


@bp.post("/sign-out-everywhere")
def sign_out_everywhere():
    """Ends every session of the site, this one included (settings page)."""
    site = g.site
    dashboard_sessions.sign_out_everywhere(get_engine(), site["id"], datetime.now(timezone.utc))
    return _signed_out(site)


def _signed_out(site: dict):
    locale = session.get("locale")
    session.clear()
    # Only what the "signed out" page needs: where to go back to, and in which language.
    session.update(signed_out_site=site["id"], locale=locale)
    return go("dashboard.signed_out")


@bp.get("/signed-out")
def signed_out():
    site_id = session.pop("signed_out_site", None)
    session.pop("locale", None)
    site = None
    if site_id:
        with get_engine().connect() as conn:
            site = get_site(conn, site_id)
    return render_template("dashboard/message.html", title=t("signed_out"), text="", back_url=wordpress_url(site))
