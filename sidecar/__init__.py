"""Farewell sidecar: stores members' exit feedback and serves the owner's API.

``create_app`` builds a fresh app; nothing is created at import time.
"""

from __future__ import annotations

from typing import Mapping

from flask import Flask, request


class _Sidecar(Flask):
    def log_exception(self, exc_info) -> None:
        """Flask names the failing request by its path; ours carry capabilities (``/u/<token>``,
        ``?token=``), so name it by its route rule, as the access log does. A database error's text
        may quote members' data (MariaDB's "Duplicate entry 'ana@…'"), so for those the log keeps
        the kind of error, its code and where it happened, not its message."""
        import traceback

        from sqlalchemy.exc import DBAPIError

        from .logs import route_of

        error = exc_info[1]
        if isinstance(error, DBAPIError):
            original = error.orig
            self.logger.error("Exception on %s [%s]: %s %s (message withheld: it may quote members' data)\n%s",
                              route_of(request), request.method, type(original).__name__,
                              getattr(original, "errno", "") or "", "".join(traceback.format_tb(exc_info[2])))
            return
        self.logger.error("Exception on %s [%s]", route_of(request), request.method, exc_info=exc_info)


def create_app(environ: Mapping[str, str] | None = None, **options) -> Flask:
    """Build the app from ``environ`` (default: the process environment), read by sidecar.config;
    ``options`` are config.load's (`serve` passes ``demo`` and ``served_at``)."""
    from werkzeug.middleware.proxy_fix import ProxyFix

    from . import config, db, logs
    from .web import (admin, admin_emails, errors, health, home, ingest, metrics, openapi, privacy, site_digest,
                      site_info, survey, unsubscribe)

    app = _Sidecar(__name__)
    app.config.from_mapping(config.load(environ, **options))
    proxies = app.config["FAREWELL_TRUSTED_PROXIES"]
    if proxies:
        # The client address (rate limits, metrics' loopback check) and https (the dashboard's Secure cookie)
        # as the trusted proxies saw them, on every route.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies, x_port=proxies)
    logs.configure(app.config["FAREWELL_LOG_FORMAT"])
    logs.init_app(app)  # first: every later hook and view logs under the request's id
    db.init_app(app)
    metrics.init_app(app)
    errors.init_app(app)
    for blueprint in (ingest.bp, survey.bp, privacy.bp, site_info.bp, site_digest.bp, admin.bp, admin_emails.bp,
                      unsubscribe.bp, health.bp, openapi.bp, home.bp):
        app.register_blueprint(blueprint)
    from .web import dashboard  # the owner's dashboard under /admin, and its /v1 summary route

    dashboard.init_app(app)
    # The events route's 202 without Flask's per-request machinery; anything else it hands to Flask.
    from .web.events_fast_path import EventsFastPath

    app.wsgi_app = EventsFastPath(app, app.wsgi_app)
    return app
