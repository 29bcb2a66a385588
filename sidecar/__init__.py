"""Farewell sidecar: stores members' exit feedback and serves the owner's API.

``create_app`` builds a fresh app; nothing is created at import time.
"""

from __future__ import annotations

from typing import Mapping

from flask import Flask


def create_app(environ: Mapping[str, str] | None = None) -> Flask:
    """Build the app from ``environ`` (default: the process environment), read by sidecar.config."""
    from werkzeug.middleware.proxy_fix import ProxyFix

    from . import config, db, logs
    from .web import (admin, admin_emails, errors, health, ingest, metrics, openapi, privacy, site_info, survey,
                      unsubscribe)

    app = Flask(__name__)
    app.config.from_mapping(config.load(environ))
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
    for blueprint in (ingest.bp, survey.bp, privacy.bp, site_info.bp, admin.bp, admin_emails.bp, unsubscribe.bp,
                      health.bp, openapi.bp):
        app.register_blueprint(blueprint)
    from .web import dashboard  # the owner's dashboard under /admin, and its /v1 summary route

    dashboard.init_app(app)
    return app
