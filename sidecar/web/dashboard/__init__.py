"""The owner's dashboard, served under ``/admin``: server-rendered pages behind a session that only
a sign-in token from WordPress opens (``login.py``).

Security, in one place (``init_app`` and the blueprint hooks below):
- CSRF: Flask-WTF's CSRFProtect checks every POST under /admin (nothing exempt). It is not the
  app-wide default, so the signed webhook routes and the RFC 8058 one-click POST stay as they are.
- Session: Flask's signed cookie (SECRET_KEY), HttpOnly, SameSite=Lax, path /admin, 8 hours,
  ``Secure`` whenever the request came over https (behind a proxy: FAREWELL_TRUSTED_PROXIES).
  Ending one before then (signing out, "Sign out everywhere", a new secret) is recorded in the
  database, so that a copy of the cookie is refused too: ``domain/dashboard_sessions.py``.
- Headers: a strict Content-Security-Policy (no inline script), no framing, no referrer (the
  sign-in URL carries a token), no caching. Email previews are the one framed document: they are
  served sandboxed (no script at all) and may be framed by the dashboard only.
"""

from __future__ import annotations

from datetime import datetime, timezone
from importlib import import_module
from pathlib import Path

from flask import Blueprint, Flask, g, redirect, render_template, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFError, CSRFProtect

from ... import i18n
from ...db import get_engine
from ...domain import dashboard_sessions
from ...mail.render import language_of
from ...storage.sites import get_site

SESSION_LIFETIME = dashboard_sessions.LIFETIME
STATIC_DIR = Path(__file__).resolve().parents[2] / "static"

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-src 'self'; frame-ancestors 'none'")
# An email preview: the email's own inline styles, images as data: URIs, no script, framed by us only.
PREVIEW_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; "
               "frame-ancestors 'self'; sandbox")

bp = Blueprint("dashboard", __name__, url_prefix="/admin", static_folder=str(STATIC_DIR),
               static_url_path="/static")
csrf = CSRFProtect()

# One module per page, each adding its routes to ``bp`` (``login``: signing in and out).
PAGES = ("login", "overview", "feedback", "contact_requests", "sequence", "survey", "digest", "settings", "months",
         "at_risk")

# Endpoints open without a session.
PUBLIC_ENDPOINTS = {"dashboard.login", "dashboard.static", "dashboard.signed_out"}


class _SessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie session, marked Secure when the request itself is https."""

    def get_cookie_secure(self, app) -> bool:
        return bool(app.config.get("SESSION_COOKIE_SECURE")) or request.is_secure

    def open_session(self, app, request):
        # Flask builds the cookie's signing serializer on every request, before it looks for the
        # cookie: a few percent of every bridge event's time (issue 15). Without the cookie the
        # session is the same new, empty one, built without it.
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)


def init_app(app: Flask) -> None:
    from . import summary

    for page in PAGES:  # imported for their routes, which they add to ``bp``
        import_module(f"{__name__}.{page}")

    app.config.update(
        SESSION_COOKIE_NAME="farewell_admin",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_PATH="/admin",
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
        WTF_CSRF_CHECK_DEFAULT=False,  # checked by the dashboard blueprint, on every POST
        WTF_CSRF_TIME_LIMIT=int(SESSION_LIFETIME.total_seconds()),
    )
    app.session_interface = _SessionInterface()
    csrf.init_app(app)
    app.register_blueprint(bp)
    app.register_blueprint(summary.bp)


def t(key: str, **values) -> str:
    return i18n.text(g.get("language", "en"), "dashboard", key, **values)


@bp.app_template_global("t")
def _t(key: str, **values) -> str:
    return t(key, **values)


@bp.before_request
def _guard():
    g.language = language_of(session.get("locale"), None) if session.get("locale") else None
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        csrf.protect()  # raises CSRFError (400)
    if request.endpoint in PUBLIC_ENDPOINTS:
        g.language = g.language or _browser_language()
        return None
    admin = _signed_in_admin()
    if admin is None:
        g.language = g.language or _browser_language()
        return render_template("dashboard/message.html", title=t("login_needed_title"), text=t("login_needed"),
                               back_url=None), 401
    g.admin, g.site = admin
    g.language = language_of(session.get("locale"), g.site["locale"])
    return None


def _signed_in_admin():
    site_id = session.get("site_id")
    if not isinstance(site_id, str):
        return None
    with get_engine().connect() as conn:
        site = get_site(conn, site_id)
        if site is None or not dashboard_sessions.is_open(conn, site, session, datetime.now(timezone.utc)):
            session.clear()
            return None
    return {"user_id": session.get("user_id"), "email": session.get("email"),
            "name": session.get("name")}, site


def _browser_language() -> str:
    return request.accept_languages.best_match(["en", "fr"]) or "en"


@bp.after_request
def _security_headers(response):
    preview = g.get("email_preview", False)
    response.headers["Content-Security-Policy"] = PREVIEW_CSP if preview else CSP
    response.headers["X-Frame-Options"] = "SAMEORIGIN" if preview else "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers.setdefault("Cache-Control", "no-store")
    return response


@bp.errorhandler(CSRFError)
def _csrf_refused(error):
    return render_template("dashboard/message.html", title=t("csrf_title"), text=t("csrf_text"),
                           back_url=None), 400


def wordpress_url(site: dict | None) -> str | None:
    """Where "back to WordPress" leads: the Farewell page of wp-admin."""
    if not site:
        return None
    return f"{site['url'].rstrip('/')}/wp-admin/admin.php?page=farewell"


def go(endpoint: str, **values):
    return redirect(url_for(endpoint, **values), code=303)
