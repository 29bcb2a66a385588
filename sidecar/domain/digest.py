"""The owners' weekly digest: its settings (when, to whom), and sending it once per site and week.

What it says about a week is built by sidecar.domain.digest_figures (``build_digest``, whose rules
it documents), turned into an email by sidecar.domain.digest_render; this module is also the one
the rest of the sidecar imports the digest from.
"""

from __future__ import annotations

import base64
import dataclasses
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from functools import partial
from typing import Callable

from sqlalchemy.engine import Connection, Engine

from ..mail import message as mime
from ..mail.render import language_of
from ..mail.transports import Transport, TransportUnavailable
from ..storage import digests as digests_store
from ..storage import sites as sites_store
from ..storage.leases import Term
from ..storage.statuses import DigestStatus
from . import dashboard_sessions, holdout
from .compose import MailConfig
from .digest_figures import build_digest
from .digest_render import RenderedDigest, render_digest
from .digest_weeks import IsoWeek, week_of
from .events import is_email
from .sequences import member_timezone
from .site_settings import effective_settings, owner_addresses
from .unsubscribe import email_hash

__all__ = [
    "IsoWeek", "week_of", "build_digest", "render_digest", "browser_preview", "send_digest", "digest_settings",
    "save_digest_settings", "update_digest_settings", "save_wordpress_admin_email",
    "update_wordpress_admin_email", "DigestSettingsError",
    "DigestResult", "RenderedDigest", "digest_tick", "send_time", "recipients_for", "mail_config", "dashboard_url",
]

log = logging.getLogger(__name__)

# A digest whose sending failed is tried again on later ticks, this many times in all.
MAX_ATTEMPTS = 5
LEASE = timedelta(minutes=10)
# On both clocks: the jobs' clock may run thousands of times faster than a send (the demo), see
# sidecar.storage.leases.Term.
LEASE_TERM = Term(LEASE, both_clocks=True)

# --- settings -----------------------------------------------------------------------------------

DEFAULT_WEEKDAY = 1  # Monday
DEFAULT_HOUR = 8


class DigestSettingsError(ValueError):
    pass


def digest_settings(conn: Connection, site_id: str) -> dict:
    """``{"weekday": 1-7, "hour": 0-23, "recipients": [...], "default_recipients": [...],
    "wordpress_admin_email": str|None}``; ``recipients`` is what the digest will use (the stored
    list, else the defaults), ``recipients_customised`` whether the owner chose them."""
    stored = digests_store.get_settings(conn, site_id) or {}
    chosen = _split(stored.get("recipients"))
    defaults = _default_recipients(conn, site_id, stored.get("wordpress_admin_email"))
    return {
        "weekday": stored.get("weekday") or DEFAULT_WEEKDAY,
        "hour": stored["hour"] if stored.get("hour") is not None else DEFAULT_HOUR,
        "recipients": chosen or defaults,
        "recipients_customised": bool(chosen),
        "default_recipients": defaults,
        "wordpress_admin_email": stored.get("wordpress_admin_email"),
    }


def save_digest_settings(conn: Connection, site_id: str, weekday: int, hour: int,
                         recipients: list[str] | str | None, now: datetime | None = None) -> dict:
    """Check and store; ``recipients`` empty or None = back to the default. Raises DigestSettingsError."""
    try:
        weekday, hour = int(weekday), int(hour)
    except (TypeError, ValueError):
        raise DigestSettingsError("weekday and hour must be whole numbers") from None
    if not 1 <= weekday <= 7:
        raise DigestSettingsError("weekday must be from 1 (Monday) to 7 (Sunday)")
    if not 0 <= hour <= 23:
        raise DigestSettingsError("hour must be from 0 to 23")
    addresses = _split(recipients) if isinstance(recipients, str) else [a.strip() for a in recipients or [] if a.strip()]
    bad = [a for a in addresses if not is_email(a)]
    if bad:
        raise DigestSettingsError(f"not an email address: {bad[0]}")
    joined = ", ".join(dict.fromkeys(addresses)) or None
    if joined and len(joined) > 1000:
        raise DigestSettingsError("too many recipients (1000 characters at most)")
    if sites_store.get_site(conn, site_id) is None:
        raise DigestSettingsError(f"no site with id {site_id!r}")
    digests_store.save_settings(conn, site_id, {"weekday": weekday, "hour": hour, "recipients": joined},
                                now or datetime.now(timezone.utc))
    return digest_settings(conn, site_id)


def update_digest_settings(engine: Engine, site_id: str, weekday, hour, recipients: list[str] | str | None,
                           now: datetime | None = None) -> dict:
    """The dashboard's digest settings: save_digest_settings in a transaction of its own."""
    with engine.begin() as conn:
        return save_digest_settings(conn, site_id, weekday, hour, recipients, now)


def update_wordpress_admin_email(engine: Engine, site_id: str, email: str | None, now: datetime | None = None) -> None:
    """What the bridge reports (``/site-info``): save_wordpress_admin_email in a transaction of its own."""
    with engine.begin() as conn:
        save_wordpress_admin_email(conn, site_id, email, now)


def save_wordpress_admin_email(conn: Connection, site_id: str, email: str | None, now: datetime | None = None) -> None:
    """The site's WordPress admin email, as the bridge reports it: the digest's default recipient.

    A different address than the one reported before is a new administrator (WordPress makes the
    new address confirm the change): the site may have changed hands, so every dashboard session
    opened until now ends (``dashboard_sessions``). The first report ends nothing."""
    if email is not None and not is_email(email.strip()):
        raise DigestSettingsError("not an email address")
    now = now or datetime.now(timezone.utc)
    previous = (digests_store.get_settings(conn, site_id) or {}).get("wordpress_admin_email")
    digests_store.save_settings(conn, site_id, {"wordpress_admin_email": email.strip() if email else None}, now)
    if previous and email and previous.lower() != email.strip().lower():
        dashboard_sessions.end_all(conn, site_id, now)


def recipients_for(conn: Connection, site_id: str) -> list[str]:
    return digest_settings(conn, site_id)["recipients"]


def _default_recipients(conn: Connection, site_id: str, wordpress_admin_email: str | None) -> list[str]:
    if wordpress_admin_email:
        return [wordpress_admin_email]
    return owner_addresses(effective_settings(conn, site_id))


def _split(listed: str | None) -> list[str]:
    return [a.strip() for a in (listed or "").split(",") if a.strip()]


def send_time(site: dict, settings: dict, week: IsoWeek) -> datetime:
    """When the digest is due during ``week`` (it then reports on the week before), in UTC."""
    zone = member_timezone(site)
    day = week.monday() + timedelta(days=settings["weekday"] - 1)
    return datetime.combine(day, time(settings["hour"]), tzinfo=zone).astimezone(timezone.utc)


# --- sending --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DigestResult:
    site_id: str
    week: str
    # "sent", "skipped" (no recipients), "taken" (another sender has or had it), "retry", "failed"
    status: str
    recipients: tuple[str, ...] = ()
    detail: str | None = None


def mail_config(app_config) -> MailConfig:
    return MailConfig(secret_key=app_config["SECRET_KEY"], public_url=app_config["FAREWELL_PUBLIC_URL"],
                      mail_from=app_config["FAREWELL_MAIL_FROM"])


def dashboard_url(mail: MailConfig) -> str:
    return f"{mail.public_url.rstrip('/')}/admin"


def browser_preview(conn: Connection, site: dict, week: IsoWeek, now: datetime, mail: MailConfig) -> RenderedDigest:
    """The digest as a browser shows it (the dashboard's preview, ``digest preview``): the chart
    as a data: URI in the HTML instead of the cid: an email client resolves from the message."""
    digest = with_holdout(conn, site, week, now, mail, build_digest(conn, site, week, now))
    rendered = render_digest(digest, site, _language(site), dashboard_url(mail))
    html = rendered.html
    for image in rendered.images:
        html = html.replace(f"cid:{image.cid}",
                            f"data:image/{image.subtype};base64,{base64.b64encode(image.content).decode()}")
    return dataclasses.replace(rendered, html=html)


def send_digest(engine: Engine, transport: Transport, site_id: str, week: IsoWeek,
                recipients: list[str] | None = None, now: datetime | None = None, *, mail: MailConfig,
                clock: Callable[[], datetime] | None = None, language: str | None = None) -> DigestResult:
    """Send ``week``'s digest of a site.

    Without ``recipients``: the scheduled digest to the configured recipients, claimed by (site,
    week) so it goes out once whatever the number of senders. With ``recipients`` ("send now", the
    CLI's --to): a copy to those addresses only, which neither needs nor takes the claim, written
    in ``language`` when given (the reader's, e.g. a WordPress admin's), else in the site's.
    """
    clock = clock or (lambda: datetime.now(timezone.utc))
    now = now or clock()
    with engine.connect() as conn:
        site = sites_store.get_site(conn, site_id)
        if site is None:
            raise ValueError(f"no site with id {site_id!r}")
        configured = recipients_for(conn, site_id)
    if recipients is not None:
        return _send_copy(engine, transport, site, week, [r.strip() for r in recipients if r.strip()], now, mail,
                          language)
    token = secrets.token_hex(16)
    with engine.begin() as conn:
        if not digests_store.claim(conn, site_id, str(week), token, now, LEASE_TERM.end(now), MAX_ATTEMPTS,
                                   LEASE_TERM.ended_before(now)):
            return DigestResult(site_id, str(week), "taken")
    if not configured:
        log.warning("digest %s for site %s skipped: no recipients (set them, or the owner emails)", week, site_id)
        _finish(engine, site_id, week, token, DigestStatus.SKIPPED, now, last_error="no recipients")
        return DigestResult(site_id, str(week), "skipped", detail="no recipients")
    message_id = f"<farewell.digest.{site_id}.{week}@{mail.mail_from.rsplit('@', 1)[-1]}>"
    try:
        outgoing = _outgoing(engine, site, week, configured, now, mail, message_id)
        with transport.session() as session:
            session.send(outgoing)
    except Exception as error:  # noqa: BLE001 - recorded on the claim, retried on a later tick
        return _failed(engine, site_id, week, token, clock(), error)
    # Marked right after the transport accepted it: a crash in between is the only duplicate window.
    sent_at = clock()
    _finish(engine, site_id, week, token, DigestStatus.SENT, sent_at, sent_at=sent_at, last_error=None,
            recipients=", ".join(configured)[:1000])
    return DigestResult(site_id, str(week), "sent", tuple(configured))


def _send_copy(engine, transport, site, week, recipients, now, mail, language=None) -> DigestResult:
    if not recipients:
        return DigestResult(site["id"], str(week), "skipped", detail="no recipients")
    message_id = f"<farewell.digest.{site['id']}.{week}.{secrets.token_hex(6)}@{mail.mail_from.rsplit('@', 1)[-1]}>"
    outgoing = _outgoing(engine, site, week, recipients, now, mail, message_id, language)
    with transport.session() as session:
        session.send(outgoing)
    return DigestResult(site["id"], str(week), "sent", tuple(recipients))


def _outgoing(engine, site, week, recipients, now, mail: MailConfig, message_id: str,
              language: str | None = None) -> mime.Outgoing:
    with engine.connect() as conn:
        digest = with_holdout(conn, site, week, now, mail, build_digest(conn, site, week, now))
        settings = effective_settings(conn, site["id"])
    language = language_of(language, site["locale"]) if language else _language(site)
    rendered = render_digest(digest, site, language, dashboard_url(mail))
    sender = mime.address(mail.mail_from, f"Farewell · {settings['sender_name'] or site['name']}")
    message = mime.build(rendered, sender=sender, to=[mime.address(r) for r in recipients], message_id=message_id,
                         date=now)
    html_part = message.get_body(("html",))
    for image in rendered.images:
        # multipart/related around the HTML: Gmail and Outlook show cid: images from there.
        html_part.add_related(image.content, "image", image.subtype, cid=f"<{image.cid}>",
                              filename=image.filename, disposition="inline")
    return mime.Outgoing(message=message, sender=mail.mail_from, recipients=tuple(recipients), site=site,
                         message_id=message_id)


# The verdicts worth a line in the digest: "too early" and "off" would repeat every month.
_HOLDOUT_SAID = ("no_effect", "more", "fewer")


def with_holdout(conn: Connection, site: dict, week: IsoWeek, now: datetime, mail: MailConfig, digest: dict) -> dict:
    """The digest with the holdout's sentence (sidecar.domain.holdout) in the first digest of each
    month (the week whose Monday is among the month's first seven days: one week a month), and only
    once there is something to say. A sentence that changes slowly, read weekly, would be noise."""
    said = None
    if week.monday().day <= 7:
        result = holdout.effect(conn, site["id"], partial(email_hash, mail.secret_key), now)
        if result["verdict"] in _HOLDOUT_SAID:
            key, values = holdout.sentence(result)
            said = {"key": key, "values": values}
    return {**digest, "holdout": said}


def _language(site: dict) -> str:
    return language_of(site["locale"])


def _finish(engine, site_id, week, token, status: DigestStatus, now, **values) -> bool:
    with engine.begin() as conn:
        moved = digests_store.finish(conn, site_id, str(week), token, status.value, now, **values)
    if not moved:
        log.warning("digest %s for site %s: lease lost before it could be marked %s", week, site_id, status.value)
    return moved


def _failed(engine, site_id, week, token, now, error: Exception) -> DigestResult:
    reason = f"{type(error).__name__}: {error}"[:500]
    with engine.connect() as conn:
        attempts = (digests_store.get_digest(conn, site_id, str(week)) or {}).get("attempts", MAX_ATTEMPTS)
    if isinstance(error, TransportUnavailable):
        # An outage is nobody's attempt: try again on the next tick, however long it lasts.
        _finish(engine, site_id, week, token, DigestStatus.PENDING, now, last_error=reason, attempts=attempts - 1)
        log.warning("digest %s for site %s waits, mail transport unavailable: %s", week, site_id, reason)
        return DigestResult(site_id, str(week), "retry", detail=reason)
    if attempts >= MAX_ATTEMPTS:
        _finish(engine, site_id, week, token, DigestStatus.FAILED, now, last_error=reason)
        log.error("digest %s for site %s failed after %d attempts: %s", week, site_id, attempts, reason)
        return DigestResult(site_id, str(week), "failed", detail=reason)
    _finish(engine, site_id, week, token, DigestStatus.PENDING, now, last_error=reason)
    log.warning("digest %s for site %s will be retried: %s", week, site_id, reason)
    return DigestResult(site_id, str(week), "retry", detail=reason)


def due_digests(conn: Connection, now: datetime) -> list[tuple[dict, IsoWeek]]:
    """Sites whose digest send time has passed this week (in their own time zone) and whose
    report on last week is not done yet, with that week."""
    due = []
    for site in sites_store.list_sites(conn):
        zone = member_timezone(site)
        this_week = week_of(now, zone)
        report_week = this_week.previous()
        if site["created_at"] >= report_week.bounds(zone)[1]:
            continue  # the site did not exist during that week: nothing to report
        if now < send_time(site, digest_settings(conn, site["id"]), this_week):
            continue
        claim = digests_store.get_digest(conn, site["id"], str(report_week))
        if claim is None or claim["status"] == DigestStatus.PENDING.value or (
                claim["status"] == DigestStatus.SENDING.value and claim["lease_until"] < LEASE_TERM.ended_before(now)):
            due.append((site, report_week))
    return due


def digest_tick(engine: Engine, transport: Transport, mail: MailConfig,
                clock: Callable[[], datetime]) -> list[DigestResult]:
    """Send every digest that is due (the jobs call this every few minutes)."""
    with engine.connect() as conn:
        due = due_digests(conn, clock())
    results = []
    for site, week in due:
        try:
            results.append(send_digest(engine, transport, site["id"], week, mail=mail, clock=clock))
        except Exception:  # noqa: BLE001 - one site's bug must not stop the others
            log.exception("digest %s for site %s could not be sent", week, site["id"])
    return results
