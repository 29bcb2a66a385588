"""The one place that reads the environment.

Everything else receives configuration as a plain mapping (Flask's ``app.config``), so tests pass
a dict and never touch ``os.environ``.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import sys
from pathlib import Path
from typing import Mapping

# Where `serve` (and so `make run`) listens unless told otherwise.
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
# The demo's own folder under the data dir: its SQLite database, mail folder and site (sidecar/demo.py).
DEMO_FOLDER = "demo"

# Events are small JSON documents; anything larger is a bug or an attack.
EVENT_MAX_BYTES = 64 * 1024
# A batch of events (POST …/events/batch: the bridge's import and backlog): at most this many
# events in at most this many bytes, each event itself within EVENT_MAX_BYTES.
BATCH_MAX_EVENTS = 500
BATCH_MAX_BYTES = 1024 * 1024
# Upper bound for any other request body (the dashboard's forms, the admin API's JSON).
REQUEST_MAX_BYTES = 1024 * 1024
# Standard Webhooks reference libraries use five minutes both ways.
SIGNATURE_TOLERANCE_SECONDS = 300
# After a rotation the previous secret keeps verifying this long, so the bridge can be updated.
SECRET_ROTATION_GRACE_SECONDS = 24 * 3600
# The shortest secret accepted anywhere: a site's signing secret decodes to at least this many bytes
# (sidecar/signing.py, and the bridge's signer), and FAREWELL_SECRET_KEY, FAREWELL_ADMIN_TOKEN and
# FAREWELL_METRICS_TOKEN are at least this many characters.
MIN_SECRET_BYTES = 24
# Log formats: one JSON object per line for log collectors, or plain lines for people.
LOG_FORMATS = ("json", "text")
# A request id taken from the client or a proxy must look like one (it is copied into every log line).
REQUEST_ID_PATTERN = r"[A-Za-z0-9._-]{1,64}"
# The demo clock (`serve --demo`): one real second is four hours, so a 60-day sequence plays in 6 minutes.
DEMO_CLOCK_SPEED = 4 * 3600


def load(environ: Mapping[str, str] | None = None, *, demo: bool = False,
         served_at: tuple[str, int] | None = None) -> dict:
    """Build the configuration mapping from the environment.

    ``demo``: `serve --demo` (FAREWELL_DEMO=1 does the same). ``served_at``: the (host, port) that
    `serve` listens on, which FAREWELL_PUBLIC_URL defaults to, so that links in emails point where
    the server is."""
    env = os.environ if environ is None else environ
    demo = demo or (env.get("FAREWELL_DEMO") or "").lower() in ("1", "true", "yes")
    data_dir = Path(env.get("FAREWELL_DATA_DIR") or "./var").resolve()
    if demo:
        # The demo's fake members live in a folder of their own, whatever FAREWELL_DATABASE_URL and
        # FAREWELL_MAIL_URL say: they never reach the real sites' database nor a real mail server.
        data_dir = data_dir / DEMO_FOLDER
        env = {k: v for k, v in env.items() if k not in ("FAREWELL_DATABASE_URL", "FAREWELL_MAIL_URL")}
    return {
        "FAREWELL_DATA_DIR": str(data_dir),
        "FAREWELL_DATABASE_URL": env.get("FAREWELL_DATABASE_URL")
        or f"sqlite:///{data_dir / 'farewell.db'}",
        "FAREWELL_ADMIN_TOKEN": _long_secret(env, "FAREWELL_ADMIN_TOKEN"),
        "FAREWELL_PUBLIC_URL": (env.get("FAREWELL_PUBLIC_URL")
                                or served_url(*(served_at or (DEFAULT_HOST, DEFAULT_PORT)))).rstrip("/"),
        "SECRET_KEY": _long_secret(env, "FAREWELL_SECRET_KEY") or _stored_secret_key(data_dir),
        # Where email goes: smtp://user:pass@host:port (smtps://, ?starttls=1), maildir:///path, wordpress://
        "FAREWELL_MAIL_URL": env.get("FAREWELL_MAIL_URL") or f"maildir://{data_dir / 'mail'}",
        "FAREWELL_MAIL_FROM": _mail_from(env),
        # How many times faster than real time the jobs' clock runs; 1 in production.
        "FAREWELL_CLOCK_SPEED": _positive_number(env.get("FAREWELL_CLOCK_SPEED"), "FAREWELL_CLOCK_SPEED", 1.0),
        # How often the jobs process looks for due emails (seconds; default 30, the demo's fast clock uses 2),
        # and how long a dispatcher's claim on a batch lasts before another one may take it over.
        "FAREWELL_DISPATCH_INTERVAL": _positive_number(env.get("FAREWELL_DISPATCH_INTERVAL"),
                                                       "FAREWELL_DISPATCH_INTERVAL", 0) or None,
        "FAREWELL_DISPATCH_LEASE": _positive_number(env.get("FAREWELL_DISPATCH_LEASE"), "FAREWELL_DISPATCH_LEASE", 600),
        # Demo mode: its own folder (above), an accelerated clock and a sample cancellation (sidecar/demo.py).
        "FAREWELL_DEMO": demo,
        # How many reverse proxies in front set X-Forwarded-For/-Proto/-Host (0 = none): the dashboard's
        # session cookie is marked Secure when the request, as the proxy saw it, was https.
        "FAREWELL_TRUSTED_PROXIES": _proxy_count(env.get("FAREWELL_TRUSTED_PROXIES")),
        # "json" (one object per line) or "text"; unset: text on a terminal, JSON otherwise (see log_format).
        "FAREWELL_LOG_FORMAT": log_format(env),
        # Bearer token for GET /metrics; unset: /metrics answers local (loopback) clients only.
        "FAREWELL_METRICS_TOKEN": _long_secret(env, "FAREWELL_METRICS_TOKEN"),
        # prometheus_client's own variable (it reads it too, at import): when set, each gunicorn worker
        # writes its counters to files here and /metrics adds up every worker's (deploy/gunicorn.conf.py).
        "PROMETHEUS_MULTIPROC_DIR": env.get("PROMETHEUS_MULTIPROC_DIR") or None,
        # Networks the sidecar may call a site in although they are not public (sidecar/safe_http.py):
        # a self-hosted WordPress on the same private network. Empty: public addresses only.
        "FAREWELL_BRIDGE_ALLOWED_NETWORKS": bridge_allowed_networks(env.get("FAREWELL_BRIDGE_ALLOWED_NETWORKS")),
        # The holdout share a site starts with when `sites add` creates it (0 to 50; unset: the
        # default of sidecar.domain.site_settings, 10). The owner changes it afterwards.
        "FAREWELL_HOLDOUT_PERCENT": _holdout_percent(env.get("FAREWELL_HOLDOUT_PERCENT")),
        "MAX_CONTENT_LENGTH": REQUEST_MAX_BYTES,
        "JSON_SORT_KEYS": False,
    }


def served_url(host: str, port: int) -> str:
    """The address `serve` answers on, as links write it. Listening on every interface (0.0.0.0,
    ::) names no one address: links then use the loopback one, which at least works on this machine;
    `serve` says so, and FAREWELL_PUBLIC_URL names the address members really reach."""
    host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"


def is_wildcard(host: str) -> bool:
    return host in ("", "0.0.0.0", "::")


def log_format(environ: Mapping[str, str] | None = None, stream=None) -> str:
    """FAREWELL_LOG_FORMAT, or when unset: "text" if the log stream is a terminal (someone running
    `make run` or a command reads it), "json" otherwise (gunicorn, the jobs process, containers and
    services write to a pipe or a file that a collector reads)."""
    env = os.environ if environ is None else environ
    value = (env.get("FAREWELL_LOG_FORMAT") or "").strip().lower()
    if not value:
        stream = sys.stderr if stream is None else stream
        return "text" if getattr(stream, "isatty", lambda: False)() else "json"
    if value not in LOG_FORMATS:
        raise ValueError(f"FAREWELL_LOG_FORMAT must be json or text, not {value!r}")
    return value


def bridge_allowed_networks(value: str | None) -> tuple:
    """``10.0.0.0/8,192.168.1.0/24,fd00::/8`` → ip_network objects; a bare address is a /32 (/128)."""
    networks = []
    for entry in (part.strip() for part in (value or "").split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"FAREWELL_BRIDGE_ALLOWED_NETWORKS: {entry!r} is not an IP network "
                             f"such as 10.0.0.0/8 or fd00::/8") from None
    return tuple(networks)


def _mail_from(env: Mapping[str, str]) -> str:
    """The sender address. The local default suits the mail folder and a local relay; WordPress's
    wp_mail refuses an address whose domain has no dot, so say so at start-up, not once per email."""
    sender = env.get("FAREWELL_MAIL_FROM") or "farewell@localhost"
    if (env.get("FAREWELL_MAIL_URL") or "").startswith("wordpress:") and "." not in sender.rpartition("@")[2]:
        raise ValueError(f"FAREWELL_MAIL_FROM must be a real address such as farewell@example.org "
                         f"when mail goes through wordpress:// (it is {sender!r})")
    return sender


def _long_secret(env: Mapping[str, str], name: str) -> str | None:
    """A secret from the environment, None when unset. One that is set but short (a placeholder, a
    test value copied to production) stops the start-up: a guessable token opens the admin API."""
    value = env.get(name) or None
    if value is not None and len(value) < MIN_SECRET_BYTES:
        raise ValueError(f"{name} is {len(value)} characters long; use at least {MIN_SECRET_BYTES} random ones, "
                         f"e.g. from `openssl rand -hex 32`")
    return value


def _positive_number(value: str | None, name: str, default: float) -> float:
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{name} must be a number, not {value!r}") from None
    if not 0 < number <= 10_000_000:
        raise ValueError(f"{name} must be greater than 0 and at most 10000000")
    return number


def _proxy_count(value: str | None) -> int:
    if not value:
        return 0
    if not value.isdigit() or int(value) > 5:
        raise ValueError(f"FAREWELL_TRUSTED_PROXIES must be a whole number from 0 to 5, not {value!r}")
    return int(value)


def _holdout_percent(value: str | None) -> int | None:
    if not value:
        return None
    if not value.isdigit() or int(value) > 50:
        raise ValueError(f"FAREWELL_HOLDOUT_PERCENT must be a whole number from 0 to 50, not {value!r}")
    return int(value)


def _stored_secret_key(data_dir: Path) -> str:
    """Generate the signing key once and keep it in the data dir, readable by its owner only."""
    path = data_dir / "secret_key"
    try:
        key = path.read_text().strip()
    except FileNotFoundError:
        pass
    else:
        if len(key) < MIN_SECRET_BYTES:  # emptied or edited by hand: never sign with it
            raise ValueError(f"{path} holds {len(key)} characters; it needs at least {MIN_SECRET_BYTES} "
                             f"(set FAREWELL_SECRET_KEY, or restore the file from a backup)")
        return key
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    # O_EXCL: when two processes start at once, one writes and the other reads the winner's key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return key
