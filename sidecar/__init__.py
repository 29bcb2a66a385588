"""Farewell sidecar: stores members' exit feedback and serves the owner's API.

``create_app`` builds a fresh app; nothing is created at import time.
"""

from __future__ import annotations

from typing import Mapping

from flask import Flask


def create_app(environ: Mapping[str, str] | None = None) -> Flask:
    """Build the app from ``environ`` (default: the process environment), read by sidecar.config."""
    from . import config, db, logs
    from .web import (admin, admin_emails, errors, health, ingest, metrics, openapi, privacy, site_info, survey,
                      unsubscribe)

    app = Flask(__name__)
    app.config.from_mapping(config.load(environ))
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
