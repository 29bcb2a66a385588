"""Logging for the entry points (web server, jobs, command line), and request ids.

Two formats (FAREWELL_LOG_FORMAT): ``json``, one object per line for a log collector —
``{"time", "level", "logger", "message", "request_id", "pid", ...extras}`` — or ``text`` for
people. Every record written while a request is handled carries that request's id: it is kept in
a context variable that a log-record factory copies onto each record, so the id reaches every
handler (pytest's caplog included), not only ours.

Secrets never belong in a log line; the formatters also blank the password of any URL and any
Standard Webhooks secret that a message might carry by mistake (defence in depth, not a licence).
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import secrets
from datetime import datetime, timezone

from .config import REQUEST_ID_PATTERN, log_format

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("farewell_request_id", default=None)

_SANE_REQUEST_ID = re.compile(rf"^{REQUEST_ID_PATTERN}$")
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s:/@]*:)[^\s@/]+@", re.IGNORECASE)
_WEBHOOK_SECRET = re.compile(r"\bwhsec_[A-Za-z0-9+/=]+")
# What a LogRecord carries by itself; anything else was passed with ``extra=`` and is logged as a field.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "request_id",
                                                                          "taskName"}
_MARK = "_farewell_handler"


def request_id_from(header: str | None) -> str:
    """The client's or proxy's X-Request-Id when it looks like one, else a new id."""
    if header and _SANE_REQUEST_ID.match(header):
        return header
    return secrets.token_hex(16)


def scrub(text: str) -> str:
    return _WEBHOOK_SECRET.sub("whsec_***", _URL_PASSWORD.sub(r"\1***@", text))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": scrub(record.getMessage()),
            "request_id": getattr(record, "request_id", None),
            "pid": record.process,
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_") and key not in line:
                line[key] = value
        if record.exc_info:
            line["exc"] = scrub(self.formatException(record.exc_info))
        return json.dumps(line, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = scrub(super().format(record))
        request_id = getattr(record, "request_id", None)
        return f"{text} [request {request_id}]" if request_id else text


def formatter(fmt: str) -> logging.Formatter:
    return JsonFormatter() if fmt == "json" else TextFormatter()


def configure(fmt: str | None = None, level: int = logging.INFO) -> None:
    """Send log records to stderr in ``fmt`` (default: FAREWELL_LOG_FORMAT, see config.log_format).

    Like logging.basicConfig, it adds its handler only when nobody else configured the root
    logger (gunicorn's logconfig_dict, pytest); called again, it only changes the format."""
    if fmt is None:
        try:
            fmt = log_format()
        except ValueError:
            fmt = "text"  # config.load() reports the bad value in one line right after
    _install_record_factory()
    root = logging.getLogger()
    ours = [handler for handler in root.handlers if getattr(handler, _MARK, False)]
    for handler in ours:
        handler.setFormatter(formatter(fmt))
    if not root.handlers:
        handler = logging.StreamHandler()
        setattr(handler, _MARK, True)
        handler.setFormatter(formatter(fmt))
        root.addHandler(handler)
        root.setLevel(level)
    # Alembic announces its plugins and context on every start; only problems matter here.
    logging.getLogger("alembic").setLevel(logging.WARNING)


def _install_record_factory() -> None:
    previous = logging.getLogRecordFactory()
    if getattr(previous, _MARK, False):
        return

    def factory(*args, **kwargs):
        record = previous(*args, **kwargs)
        record.request_id = request_id_var.get()
        return record

    setattr(factory, _MARK, True)
    logging.setLogRecordFactory(factory)


# --- requests -------------------------------------------------------------------------------

access_log = logging.getLogger("sidecar.access")
UNMATCHED_ROUTE = "<unmatched>"


def route_of(request) -> str:
    """The route rule (``/u/<token>``), never the path: paths and query strings carry capabilities
    (unsubscribe tokens, sign-in tokens) that must not reach a log or a metric label."""
    return request.url_rule.rule if request.url_rule is not None else UNMATCHED_ROUTE


def init_app(app) -> None:
    """A request id for every request (X-Request-Id in and out) and one access line per request."""
    import time

    from flask import g, request

    @app.before_request
    def _start():
        g.request_started = time.perf_counter()
        g.request_id = request_id_from(request.headers.get("X-Request-Id"))
        request_id_var.set(g.request_id)

    @app.after_request
    def _finish(response):
        request_id = g.get("request_id")
        if request_id is None:  # a before_request of ours never ran (cannot happen in Flask 3, but be safe)
            return response
        response.headers["X-Request-Id"] = request_id
        duration_ms = round((time.perf_counter() - g.request_started) * 1000, 1)
        route = route_of(request)
        access_log.info("%s %s %s %.1f ms", request.method, route, response.status_code, duration_ms,
                        extra={"method": request.method, "route": route, "status": response.status_code,
                               "duration_ms": duration_ms})
        return response

    @app.teardown_request
    def _forget(_error):
        request_id_var.set(None)
