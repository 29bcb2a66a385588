"""The events route's common answer (a signed event from a site this process knows: 202, or 200 for
a duplicate) served by a small WSGI app in front of Flask.

Why: a 202 is the sidecar's most frequent request, and Flask's per-request machinery (request and
app contexts, URL matching, session, hooks, the response object) was about a sixth of its CPU
(BENCHMARKS.md, "Ingest", issue 15). This does only what that answer needs, with the same parts
the route uses (web/ingest.py): the body read with the size cap, the signature against the site's
row the process kept, the schema, the one INSERT that checks the secrets are still those; and
around it what the app adds to every answer: the request id (in and out), the access line, the
request and event metrics.

It answers only what it is sure of, and **nothing else is decided here**: any request it cannot
take whole — another path or method, no Content-Length or one past the cap, a site this process
has not read yet, any refusal (signature, media type, JSON, schema, webhook id), a survey answer
(its link check needs more), the site's secrets changed, an unexpected error — is handed to Flask
untouched (its body, when read, given back as it came), and Flask's route answers it exactly as
before. Stored or not is decided once: the fast path hands a request on only when nothing of it
was written (accept_event_on rolls back on any error). The one answer it makes besides 202/200 is
the database's 503, made as errors.py makes it (same body, log line and metrics), so that a
database outage costs one attempt per request, not two.
"""

from __future__ import annotations

import io
import json
import logging
import re
import time
from datetime import datetime, timezone

from ..config import EVENT_MAX_BYTES
from ..db import UNAVAILABLE_ERRORS, error_kind
from ..domain.events import InvalidEvent, parse_event
from ..domain.ingest import Outcome, RetryLater, SiteChanged, accept_event_on
from ..logs import access_log, request_id_from, request_id_var
from ..metrics import count_event, count_request
from ..signing import InvalidSignature, verification_secrets, verify
from .signed import WEBHOOK_ID

# The route as Flask's default converter matches it: one path segment for the site's id.
_EVENTS_PATH = re.compile(r"/v1/sites/([^/]+)/events\Z")
ROUTE = "/v1/sites/<site_id>/events"  # the rule, as the access line and the metrics name it

_errors_log = logging.getLogger("sidecar.web.errors")  # where errors.py logs the database's 503

# The status lines Werkzeug sends for these answers.
_STATUS_LINES = {200: "200 OK", 202: "202 ACCEPTED", 503: "503 SERVICE UNAVAILABLE"}


class _HandOn(Exception):
    """This request is Flask's to answer; nothing of it was written."""


class EventsFastPath:
    """WSGI middleware: ``app.wsgi_app = EventsFastPath(app, app.wsgi_app)`` (see create_app)."""

    def __init__(self, app, wsgi_app):
        self.app = app
        self.wsgi_app = wsgi_app
        self._bodies: dict[tuple, bytes] = {}

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") != "POST":
            return self.wsgi_app(environ, start_response)
        match = _EVENTS_PATH.match(environ.get("PATH_INFO", ""))
        if match is None:
            return self.wsgi_app(environ, start_response)
        site_id = match.group(1)
        kept = self.app.extensions.get("farewell.kept_sites", {}).get(site_id)
        length = _content_length(environ)
        if kept is None or length is None or length > EVENT_MAX_BYTES or environ.get("HTTP_TRANSFER_ENCODING"):
            return self.wsgi_app(environ, start_response)

        started = time.perf_counter()
        request_id = request_id_from(environ.get("HTTP_X_REQUEST_ID"))
        request_id_var.set(request_id)
        try:
            raw = environ["wsgi.input"].read(length) if length else b""
            try:
                status, body = self._answer(environ, site_id, kept, raw, length)
            except _HandOn:
                environ["wsgi.input"] = io.BytesIO(raw)  # the body as it came, for Flask to read
                request_id_var.set(None)
                return self.wsgi_app(environ, start_response)
            headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                       ("X-Request-Id", request_id)]
            duration = time.perf_counter() - started
            duration_ms = round(duration * 1000, 1)
            # The line and the figures Flask's after_request hooks (logs.init_app, web/metrics) give.
            access_log.info("%s %s %s %.1f ms", "POST", ROUTE, status, duration_ms,
                            extra={"method": "POST", "route": ROUTE, "status": status, "duration_ms": duration_ms})
            count_request(ROUTE, "POST", status, duration)
            start_response(_STATUS_LINES[status], headers)
            return [body]
        finally:
            request_id_var.set(None)

    def _answer(self, environ, site_id: str, kept: dict, raw: bytes, length: int) -> tuple[int, bytes]:
        if len(raw) != length:  # the client went away mid-body: Flask's answer (400)
            raise _HandOn()
        if environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower() != "application/json":
            raise _HandOn()
        headers = {"webhook-id": environ.get("HTTP_WEBHOOK_ID", ""),
                   "webhook-timestamp": environ.get("HTTP_WEBHOOK_TIMESTAMP", ""),
                   "webhook-signature": environ.get("HTTP_WEBHOOK_SIGNATURE", "")}
        try:
            body = raw.decode("utf-8")
            verify(verification_secrets(kept, datetime.now(timezone.utc)), body, headers)
            if not WEBHOOK_ID.match(headers["webhook-id"]):
                raise _HandOn()
            event = parse_event(json.loads(body))
        except (UnicodeDecodeError, InvalidSignature, ValueError, RecursionError, InvalidEvent):
            raise _HandOn() from None
        if event.type == "survey.submitted":
            raise _HandOn()  # its link and answer checks are the route's (web/ingest.py)
        engine = self.app.extensions["farewell.engine"]
        try:
            with engine.connect() as conn:  # given back to the pool on every path
                outcome = accept_event_on(conn, site_id, headers["webhook-id"], body, event, verified_against=kept)
        except SiteChanged:
            # Rotated or gone since this process read it: the route reads the site again.
            self.app.extensions.get("farewell.kept_sites", {}).pop(site_id, None)
            raise _HandOn() from None
        except (*UNAVAILABLE_ERRORS, RetryLater) as error:
            _errors_log.error("database unavailable: %s", error_kind(error))
            count_event("unavailable")  # as web/metrics.count_event_refusal counts it
            return 503, self._body("error", "unavailable")
        except Exception:  # noqa: BLE001 - nothing was written: the route answers it, and logs it if it fails
            raise _HandOn() from None
        if outcome is Outcome.DUPLICATE:
            count_event("duplicate")
            return 200, self._body("status", "duplicate")
        count_event("accepted")
        wake_applier = self.app.extensions.get("farewell.wake_applier")
        if wake_applier is not None:
            wake_applier()
        return 202, self._body("status", "accepted")

    def _body(self, name: str, value: str) -> bytes:
        """The bytes Flask answers ``{name: value}`` with (its JSON provider, as for a view's dict or
        errors.py's jsonify), made once per process (and debug mode, which changes the layout)."""
        key = (name, value, self.app.debug)
        body = self._bodies.get(key)
        if body is None:
            with self.app.app_context():
                body = self._bodies[key] = self.app.json.response({name: value}).get_data()
        return body


def _content_length(environ) -> int | None:
    value = environ.get("CONTENT_LENGTH", "")
    if not value.isdigit():  # absent, empty or odd: Flask's reading decides
        return None
    return int(value)
