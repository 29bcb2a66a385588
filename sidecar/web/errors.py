"""JSON errors for the API, including the ones Flask raises before a view runs."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from flask import Flask, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from ..db import UNAVAILABLE_ERRORS, error_kind, get_engine
from ..domain import rate_limits
from ..domain.ingest import RetryLater

log = logging.getLogger(__name__)

_HTTP_ERROR_NAMES = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


class ApiError(Exception):
    """Raised by views to answer with ``{"error": code, **extra}`` and ``status``."""

    def __init__(self, status: int, code: str, headers: dict | None = None, **extra):
        super().__init__(code)
        self.status = status
        self.code = code
        self.headers = headers or {}
        self.extra = extra


def over_limit(limit: rate_limits.Limit) -> int | None:
    """Count this request against ``limit`` for its client; the Retry-After seconds when over it.

    The client is ``request.remote_addr``: the peer, or behind FAREWELL_TRUSTED_PROXIES reverse
    proxies the address they forwarded (ProxyFix wraps the whole app, see web/dashboard).
    """
    verdict = rate_limits.hit(get_engine(), current_app.config["SECRET_KEY"], limit,
                              request.remote_addr or "unknown", datetime.now(timezone.utc))
    return None if verdict.allowed else verdict.retry_after


def init_app(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(error: ApiError):
        return jsonify(error=error.code, **error.extra), error.status, error.headers

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        return jsonify(error=_HTTP_ERROR_NAMES.get(error.code, "http_error")), error.code

    for error_class in (*UNAVAILABLE_ERRORS, RetryLater):

        @app.errorhandler(error_class)
        def _database_unavailable(error):
            # Logged without the statement's parameters: they may hold members' personal data.
            log.error("database unavailable: %s", error_kind(error))
            return jsonify(error="unavailable"), 503
