"""The weekly digest as the WordPress bridge sees it (its set-up checklist): who receives it, how
the sidecar's mail leaves, and a sample sent now to the admin who asks.

A sample goes only to an address the site already knows as a reader of its digest (its
recipients, the default ones, the WordPress admin email the bridge reported, the owner emails
of the settings), and at most ``rate_limits.DIGEST_SAMPLE`` times per site in a window: a signed
route that mails any address given would make the sidecar an open relay for whoever holds, or
steals, a site's secret.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.engine import Connection, Engine

from ..mail.transports import MaildirTransport, SmtpTransport, Transport, WordPressTransport
from ..storage import sites as sites_store
from . import rate_limits
from .compose import MailConfig
from .digest import DigestResult, digest_settings, send_digest, week_of
from .events import is_email
from .sequences import member_timezone
from .site_settings import effective_settings, owner_addresses


class SampleRefused(ValueError):
    """``reason``: "invalid_address" (not an email address) or "not_allowed" (not one the site knows)."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


class SampleRateLimited(Exception):
    def __init__(self, retry_after: int):
        super().__init__(f"too many samples: retry in {retry_after} s")
        self.retry_after = retry_after


def describe_transport(transport: Transport | None) -> dict:
    """How mail leaves, for an owner: the kind and, for SMTP, where to; never a user name or password."""
    if isinstance(transport, SmtpTransport):
        security = "tls" if transport.implicit_tls else ("starttls" if transport.starttls else "none")
        return {"kind": "smtp", "host": transport.host, "port": transport.port, "security": security}
    if isinstance(transport, MaildirTransport):
        # A folder on the sidecar's disk: nothing leaves. Its path is the server's business.
        return {"kind": "folder"}
    if isinstance(transport, WordPressTransport):
        return {"kind": "wordpress"}
    return {"kind": "unknown"}


def known_addresses(conn: Connection, site_id: str) -> list[str]:
    """Every address the site already names as a reader of its digest, lower-cased, in order."""
    settings = digest_settings(conn, site_id)
    listed = [*settings["recipients"], *settings["default_recipients"], settings["wordpress_admin_email"] or "",
              *owner_addresses(effective_settings(conn, site_id))]
    return list(dict.fromkeys(a.strip().lower() for a in listed if a and a.strip()))


def bridge_digest_settings(conn: Connection, site_id: str, transport: Transport | None) -> dict:
    """What the checklist shows: the digest's recipients (and whether the owner chose them), when it
    goes out, the WordPress admin email the sidecar was told, and how mail leaves."""
    settings = digest_settings(conn, site_id)
    return {
        "recipients": settings["recipients"],
        "recipients_customised": settings["recipients_customised"],
        "wordpress_admin_email": settings["wordpress_admin_email"],
        "weekday": settings["weekday"],
        "hour": settings["hour"],
        "transport": describe_transport(transport),
    }


def send_sample(engine: Engine, transport: Transport, site_id: str, to, language: str | None, now: datetime, *,
                mail: MailConfig, secret_key: str) -> DigestResult:
    """Last week's digest, sent now to ``to`` alone, in ``language`` (else the site's).

    Every request counts against the site's limit, refused ones too (probing which addresses pass
    is what the limit is for). Raises SampleRateLimited, SampleRefused, or what the transport
    raises (nothing is recorded: a sample is a copy, as the dashboard's "send me a sample")."""
    verdict = rate_limits.hit(engine, secret_key, rate_limits.DIGEST_SAMPLE, f"site:{site_id}", now)
    if not verdict.allowed:
        raise SampleRateLimited(verdict.retry_after)
    address = to.strip() if isinstance(to, str) else ""
    if not is_email(address):
        raise SampleRefused("invalid_address", "must be an email address")
    with engine.connect() as conn:
        site = sites_store.get_site(conn, site_id)
        if site is None:
            raise ValueError(f"no site with id {site_id!r}")
        allowed = known_addresses(conn, site_id)
    if address.lower() not in allowed:
        raise SampleRefused("not_allowed", "a sample goes only to the digest's recipients, the WordPress admin "
                                           "email or the owner emails the sidecar knows for this site")
    week = week_of(now, member_timezone(site)).previous()
    return send_digest(engine, transport, site_id, week, recipients=[address], now=now, mail=mail,
                       language=language if isinstance(language, str) and language else None)
