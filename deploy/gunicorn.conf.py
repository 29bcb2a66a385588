"""gunicorn settings for the sidecar: `gunicorn -c deploy/gunicorn.conf.py` (the image's command).

Metrics: each worker is a process with its own counters. prometheus_client's multiprocess mode
makes every worker write them to files in PROMETHEUS_MULTIPROC_DIR, and /metrics adds them up;
the folder must be set before any worker imports prometheus_client (here, in the master), emptied
when the master starts (old files would add a previous run's counts), and told when a worker
exits (child_exit), as prometheus_client's documentation requires.

Logs: gunicorn's own lines use the sidecar's formatter (FAREWELL_LOG_FORMAT, JSON by default here);
its access log stays off, because it would write raw paths and query strings, which carry
unsubscribe and sign-in tokens. The app writes one access line per request itself, with the
route rule instead of the path (sidecar/logs.py).
"""

import os
import shutil
import tempfile

os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", os.path.join(tempfile.gettempdir(), "farewell-metrics"))
# A server process writes for a collector, even when started from a terminal.
os.environ.setdefault("FAREWELL_LOG_FORMAT", "json")

from prometheus_client import multiprocess  # noqa: E402 - after PROMETHEUS_MULTIPROC_DIR is set

from sidecar.config import log_format  # noqa: E402

wsgi_app = "sidecar:create_app()"
bind = os.environ.get("FAREWELL_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_WORKERS", "2"))
# Requests are short; a worker stuck for this long is killed and replaced.
timeout = 30
graceful_timeout = 20
# Behind the reverse proxy; keep-alive between the two saves a connection per request.
keepalive = 5
# The app never runs scheduled jobs in workers (see sidecar/jobs/runner.py); preloading gains nothing.
preload_app = False

accesslog = None
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "root": {"level": "INFO", "handlers": ["console"]},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": [], "propagate": True},
        # Enabled by gunicorn whenever logconfig_dict is set: silenced (raw paths carry tokens).
        "gunicorn.access": {"level": "CRITICAL", "handlers": [], "propagate": False},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "farewell",
                             "stream": "ext://sys.stderr"}},
    "formatters": {"farewell": {"()": "sidecar.logs.formatter", "fmt": log_format()}},
}


def on_starting(server):
    folder = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder, exist_ok=True)


def child_exit(server, worker):
    multiprocess.mark_process_dead(worker.pid)
