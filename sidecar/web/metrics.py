"""GET /metrics (Prometheus text format), and the count of every request answered.

Who may read it: with FAREWELL_METRICS_TOKEN set, a client sending ``Authorization: Bearer
<token>``; without it, local clients only (loopback, as the request is seen after ProxyFix, so a
client relayed by a trusted proxy is not local). The figures name no member, but the traffic
and backlog of a business are nobody else's.
"""

from __future__ import annotations

import hmac
import ipaddress
import time

from flask import Blueprint, Response, current_app, g, request

from .. import metrics
from ..db import get_engine
from ..logs import route_of
from .errors import ApiError

bp = Blueprint("metrics", __name__)


def init_app(app) -> None:
    app.register_blueprint(bp)

    @app.before_request
    def _start_clock():
        g.metrics_started = time.perf_counter()

    @app.after_request
    def _count(response):
        started = g.get("metrics_started")
        if started is not None:
            metrics.count_request(route_of(request), request.method, response.status_code,
                                  time.perf_counter() - started)
        return response


@bp.get("/metrics")
def scrape():
    _authorize()
    body = metrics.exposition(get_engine(), current_app.config.get("PROMETHEUS_MULTIPROC_DIR"))
    return Response(body, mimetype="text/plain", content_type="text/plain; version=0.0.4; charset=utf-8",
                    headers={"Cache-Control": "no-store"})


def _authorize() -> None:
    token = current_app.config.get("FAREWELL_METRICS_TOKEN")
    if token:
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            raise ApiError(401, "unauthorized")
        return
    try:
        local = ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        local = False
    if not local:
        raise ApiError(403, "forbidden", message="set FAREWELL_METRICS_TOKEN to read /metrics from elsewhere")


# An event taken: "accepted" or "duplicate".
count_event = metrics.count_event


def count_event_refusal(error: BaseException) -> None:
    """Count an event the events endpoint did not take, by a bounded reason (never the message)."""
    from werkzeug.exceptions import HTTPException

    from ..db import UNAVAILABLE_ERRORS
    from ..domain.ingest import RetryLater

    if isinstance(error, (*UNAVAILABLE_ERRORS, RetryLater)):
        metrics.count_event("unavailable")  # the bridge retries it: not a rejection
        return
    status = getattr(error, "status", None) or getattr(error, "code", None)
    if isinstance(error, ApiError):
        reason = _API_ERROR_REASONS.get(error.code) or ("rate_limited" if error.status == 429 else "invalid")
        if reason == "bad_signature" and error.extra.get("reason") == "clock_skew":
            # A genuine signature outside the time window (signing.clock_skew): a drifted clock or a
            # replay. A forged one stays bad_signature whatever its timestamp: the secret is wrong.
            reason = "stale_timestamp"
    elif isinstance(error, HTTPException) and isinstance(status, int) and status < 500:
        reason = {413: "too_large", 429: "rate_limited"}.get(status, "invalid")
    else:
        metrics.count_event("error")  # a bug: answered 500
        return
    metrics.count_event("rejected", reason)


_API_ERROR_REASONS = {"invalid_signature": "bad_signature", "unknown_site": "unknown_site",
                      "unsupported_media_type": "unsupported_media_type"}
