"""Where work is claimed and emails are sent: the dispatcher the jobs process ticks.

Each batch: claim due emails with a lease (one short transaction), then for each one evaluate the
rules again, render, hand it to the transport, and record the outcome right after the server
accepted it. Any number of dispatchers may run side by side: a row is claimed by one of them only
(SKIP LOCKED on MariaDB, one writer at a time on SQLite), and a dispatcher that dies leaves leases
that expire and are claimed again. A crash between "accepted" and "marked sent" re-sends that one
message: at-least-once at the SMTP boundary, with the same Message-ID. Sends are one at a time and
each is recorded right after its acceptance, so a dispatcher that dies duplicates at most one
message; the emails it had claimed are counted in ``interrupted_sends`` when taken over.

The rules are read twice: once to decide and render, and once more right before the SMTP exchange
(``_last_check``), holding the member's row on MariaDB until the server accepted the message, so
an unsubscribe or a comeback is either seen or recorded after the message went out.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, Mapping

from sqlalchemy.engine import Engine

from ..db import UNAVAILABLE_ERRORS, is_mysql
from ..mail.message import BadAddress, Outgoing
from ..mail.transports import (
    PermanentFailure,
    RecipientRefused,
    TransientFailure,
    Transport,
    TransportUnavailable,
)
from ..storage import emails as emails_store
from ..storage import sites as sites_store
from ..storage import subscriptions as subscriptions_store
from ..storage.leases import Term
from . import compose, offers, sequences, unsubscribe
from .email_status import EmailStatus, sources_of
from .sequences import OWNER_ALERT, Defer, Skip, SkipReason
from .site_settings import effective_settings

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class DispatchConfig:
    mail: compose.MailConfig
    # Small batches bound what a crash can duplicate and how long a lease must last.
    batch_size: int = 20
    # Longer than a batch can take (batch_size × the transport's timeout), so a live dispatcher
    # never loses its lease.
    lease: timedelta = timedelta(minutes=10)
    max_attempts: int = 8
    first_retry: timedelta = timedelta(minutes=1)
    longest_retry: timedelta = timedelta(hours=6)
    # When the server is down, the batch waits this long; the attempt is not counted.
    outage_pause: timedelta = timedelta(seconds=60)
    # A message the server accepted while the database was unreachable: how long (real seconds)
    # to keep trying to record it before leaving it to be taken over (and possibly sent again).
    record_patience: float = 60.0
    # FAREWELL_BRIDGE_ALLOWED_NETWORKS: the private networks a site's bridge may be in (coupons).
    bridge_networks: tuple = ()

    @classmethod
    def from_app_config(cls, config: Mapping, **overrides) -> "DispatchConfig":
        mail = compose.MailConfig(secret_key=config["SECRET_KEY"], public_url=config["FAREWELL_PUBLIC_URL"],
                                  mail_from=config["FAREWELL_MAIL_FROM"])
        if "FAREWELL_DISPATCH_LEASE" in config:
            # The lease is compared with the jobs' clock, which may run faster than real time (the
            # demo); a batch takes real seconds, so the lease is that many real seconds.
            speed = config.get("FAREWELL_CLOCK_SPEED") or 1
            overrides.setdefault("lease", timedelta(seconds=config["FAREWELL_DISPATCH_LEASE"] * speed))
        overrides.setdefault("bridge_networks", tuple(config.get("FAREWELL_BRIDGE_ALLOWED_NETWORKS") or ()))
        return cls(mail=mail, **overrides)

    def retry_delay(self, attempts: int) -> timedelta:
        """Exponential backoff: 1, 2, 4 … minutes, at most ``longest_retry``."""
        return min(self.first_retry * (2 ** max(attempts - 1, 0)), self.longest_retry)


@dataclass
class BatchReport:
    claimed: int = 0
    sent: int = 0
    skipped: int = 0
    deferred: int = 0
    retrying: int = 0
    failed: int = 0
    released: int = 0
    lost: int = 0

    def add(self, other: "BatchReport") -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class _Cache:
    """Per-batch reads that every email of a site shares."""

    sites: dict = field(default_factory=dict)

    def site(self, conn, site_id: str) -> tuple[dict, dict, dict]:
        if site_id not in self.sites:
            self.sites[site_id] = (sites_store.get_site(conn, site_id), effective_settings(conn, site_id),
                                   sequences.configured_steps(conn, site_id))
        return self.sites[site_id]


def claim(engine: Engine, now: datetime, config: DispatchConfig) -> tuple[str, list[int]]:
    token = secrets.token_hex(16)
    # The jobs' clock alone: config.lease is already that many real seconds on it (from_app_config).
    term = Term(config.lease)
    with engine.begin() as conn:
        ids, interrupted = emails_store.claim_due(conn, now, config.batch_size, token, term.end(now),
                                                  term.ended_before(now))
    for email_id in interrupted:
        log.warning("scheduled email %s: its sender stopped mid-batch; taken over, it may reach the member twice",
                    email_id)
    return token, ids


def dispatch_batch(engine: Engine, transport: Transport, config: DispatchConfig, clock: Clock) -> BatchReport:
    """Claim one batch and send it; returns what happened."""
    token, claimed = claim(engine, clock(), config)
    report = BatchReport(claimed=len(claimed))
    if not claimed:
        return report
    cache = _Cache()
    with transport.session() as session:
        for position, email_id in enumerate(claimed):
            try:
                _dispatch_one(engine, session, email_id, token, config, clock, cache, report)
            except TransportUnavailable as outage:
                log.warning("mail transport unavailable, %d email(s) wait: %s", len(claimed) - position, outage)
                report.released += _release(engine, claimed[position:], token, clock(), config, str(outage))
                break
    return report


def dispatch_due(engine: Engine, transport: Transport, config: DispatchConfig, clock: Clock,
                 time_budget: float = 25.0) -> BatchReport:
    """Send batches until nothing is due or the budget (seconds, real time) is spent, so one tick
    never runs into the next."""
    total = BatchReport()
    deadline = time.monotonic() + time_budget
    while True:
        report = dispatch_batch(engine, transport, config, clock)
        total.add(report)
        if report.claimed < config.batch_size or report.released or time.monotonic() > deadline:
            return total


def _dispatch_one(engine, session, email_id, token, config, clock, cache, report) -> None:
    now = clock()
    try:
        outgoing = _prepare(engine, email_id, token, config, now, cache, report)
    except BadAddress:
        outgoing = Skip(SkipReason.INVALID_ADDRESS)
    except Exception as error:  # noqa: BLE001 - a bug in one email must not stop the others
        log.exception("could not prepare scheduled email %s", email_id)
        _retry_or_fail(engine, email_id, token, config, now, f"internal error: {type(error).__name__}", report)
        return
    if outgoing is None:
        return  # lease lost, or already recorded
    if isinstance(outgoing, Skip):
        _finish(engine, email_id, token, EmailStatus.SKIPPED, now, report, skip_reason=outgoing.reason)
        return
    if isinstance(outgoing, Defer):
        _finish(engine, email_id, token, EmailStatus.PENDING, now, report, due_at=outgoing.until,
                attempts_back=True)
        return
    try:
        stop = _send_unless_stopped(engine, session, email_id, token, outgoing, config)
    except TransportUnavailable:
        raise
    except RecipientRefused as refusal:
        with engine.begin() as conn:
            email = emails_store.get_email(conn, email_id)
            if email["step"] != OWNER_ALERT:
                for address in outgoing.recipients:
                    unsubscribe.suppress_address(conn, config.mail.secret_key, email["site_id"], address,
                                                 "bounced", now)
            _transition(conn, email_id, token, EmailStatus.FAILED, now, report, last_error=str(refusal)[:500])
        return
    except PermanentFailure as failure:
        _finish(engine, email_id, token, EmailStatus.FAILED, now, report, last_error=str(failure)[:500])
        return
    except TransientFailure as failure:
        _retry_or_fail(engine, email_id, token, config, now, str(failure), report)
        return
    if stop is _LEASE_LOST:
        report.lost += 1
        return
    if stop is not None:
        _finish(engine, email_id, token, EmailStatus.SKIPPED, clock(), report, skip_reason=stop.reason)
        return
    _record_sent(engine, email_id, token, config, clock, report)


_LEASE_LOST = object()


def _send_unless_stopped(engine, session, email_id, token, outgoing, config) -> Skip | object | None:
    """Check the rules once more, then hand the message to the server; returns why it was not
    sent (a Skip, or _LEASE_LOST), or None once the server accepted it.

    MariaDB: the member's row stays locked from the check until the server's answer; unsubscribe
    and comebacks lock it before recording, so they are either seen here or recorded after the
    message was accepted. SQLite has one lock for the whole database: holding it during a network
    exchange would stop every request, so there the check comes right before the exchange, and
    an unsubscribe recorded during that one exchange (milliseconds; at most the transport's
    timeout) does not stop it.
    """
    hold, sent = is_mysql(engine), False
    try:
        with engine.connect() as conn:
            with conn.begin():
                stop = _last_check(conn, email_id, token, config)
                if stop is None and hold:
                    session.send(outgoing)
                    sent = True
    except UNAVAILABLE_ERRORS:
        if not sent:
            raise
        return None  # accepted; only ending the read-only transaction failed (the database went away)
    if stop is None and not hold:
        session.send(outgoing)
    return stop


def _last_check(conn, email_id, token, config) -> Skip | object | None:
    email = emails_store.get_email(conn, email_id)
    if email is None or email["lease_token"] != token:
        return _LEASE_LOST
    if email["step"] == OWNER_ALERT:
        return None
    emails_store.hold_recipients(conn, [email["member_id"]])
    context = emails_store.sequence_context(conn, email_id)
    suppression = unsubscribe.suppression_of(conn, config.mail.secret_key, email["site_id"], context["email"])
    if suppression is not None:
        return Skip(SkipReason.BOUNCED if suppression["reason"] == "bounced" else SkipReason.UNSUBSCRIBED)
    if context["resumed_at"] is not None or sequences.is_won_back(conn, email["cancellation_id"]):
        return Skip(SkipReason.WON_BACK)
    return None


def _record_sent(engine, email_id, token, config: DispatchConfig, clock, report) -> None:
    """Mark an accepted message sent. If the database is unreachable right then, keep trying for
    a while: giving up would leave the email to be taken over and sent a second time."""
    deadline, pause = time.monotonic() + config.record_patience, 0.2
    while True:
        sent_at = clock()
        try:
            with engine.begin() as conn:
                email = emails_store.get_email(conn, email_id)
                if _transition(conn, email_id, token, EmailStatus.SENT, sent_at, report, sent_at=sent_at,
                               last_error=None):
                    if email["contact_request_id"] is not None:
                        emails_store.mark_contact_request_alerted(conn, email["contact_request_id"], sent_at)
            return
        except UNAVAILABLE_ERRORS:
            if time.monotonic() + pause > deadline:
                log.error("scheduled email %s was accepted by the mail server but could not be recorded as sent; "
                          "it will be taken over when its lease ends and may reach the member twice", email_id)
                raise
            log.warning("scheduled email %s was accepted; database unavailable, recording it again in %.1f s",
                        email_id, pause)
            time.sleep(pause)
            pause = min(pause * 2, 5.0)


def _prepare(engine, email_id, token, config, now, cache, report) -> Outgoing | Skip | Defer | None:
    """Read what the email needs, apply the rules, and build the message (or say why not)."""
    with engine.connect() as conn:
        email = emails_store.get_email(conn, email_id)
        if email is None or email["lease_token"] != token:
            report.lost += 1
            return None
        site, settings, steps = cache.site(conn, email["site_id"])
        if email["step"] == OWNER_ALERT:
            request = emails_store.contact_request_context(conn, email["contact_request_id"])
            if request is None:
                return Skip(SkipReason.REQUEST_WITHDRAWN)
            if request["answered_at"] is not None:
                return Skip(SkipReason.REQUEST_ANSWERED)
            outgoing = compose.owner_alert(email, request, site, settings, config.mail, now)
            return outgoing if outgoing is not None else Skip(SkipReason.NO_OWNER_ADDRESS)
        context = emails_store.sequence_context(conn, email_id)
        configured = steps[email["step"]]
        decision = sequences.decide(
            context, configured=configured, settings=settings, zone=sequences.member_timezone(site),
            suppression=unsubscribe.suppression_of(conn, config.mail.secret_key, site["id"], context["email"]),
            won_back=sequences.is_won_back(conn, email["cancellation_id"]),
            sent_so_far=emails_store.sent_count(conn, email["cancellation_id"]), now=now,
        )
        if not isinstance(decision, sequences.Send):
            return decision
        subscription = subscriptions_store.find_subscription(
            conn, site["id"], context["source"], context["subscription_external_id"])
    # The coupon is asked for outside any transaction: a slow WordPress must not hold the database.
    offer = (_offer(engine, context, subscription, site, settings, token, now, config.bridge_networks)
             if email["step"] == sequences.OFFER.key else None)
    return compose.sequence_email(context, site, settings, configured.copy_overrides, offer, config.mail, now)


def _offer(engine, context, subscription, site, settings, token, now, bridge_networks) -> offers.Offer:
    """The offer for the member's reason; a discount's coupon is created once and kept on the
    email, so a retry sends the same code."""
    coupon = None
    if offers.variant_for(context["reason"]) == "discount":
        if context["coupon_code"]:
            coupon = offers.Coupon(context["coupon_code"], context["coupon_expires_at"], settings["discount_percent"])
        else:
            member = {"external_id": context["member_external_id"], "email": context["email"]}
            body = offers.coupon_request(member, subscription, settings["discount_percent"],
                                         settings["coupon_days"], now)
            coupon = offers.create_coupon(site, body, f"coupon_{site['id']}_{context['id']}", bridge_networks)
            code = coupon.code if coupon else settings["default_offer_code"]
            with engine.begin() as write:
                emails_store.store_coupon(write, context["id"], token, code, coupon.expires_at if coupon else None, now)
    return offers.offer_for(context["reason"], settings, coupon)


def _transition(conn, email_id, token, target: EmailStatus, now, report, attempts_back=False, **values) -> bool:
    # Waiting for the daytime or for access to end is not a failed attempt.
    moved = emails_store.transition(conn, email_id, sources_of(target), target.value, now, lease_token=token,
                                    give_back_attempt=attempts_back, **values)
    if not moved:
        report.lost += 1
        log.warning("scheduled email %s: lease lost before it could be marked %s", email_id, target.value)
        return False
    counter = {EmailStatus.SENT: "sent", EmailStatus.SKIPPED: "skipped", EmailStatus.FAILED: "failed"}.get(target)
    if counter:
        setattr(report, counter, getattr(report, counter) + 1)
    elif values.get("last_error"):
        report.retrying += 1
    else:
        report.deferred += 1
    return True


def _finish(engine, email_id, token, target, now, report, **values) -> None:
    with engine.begin() as conn:
        _transition(conn, email_id, token, target, now, report, **values)


def _retry_or_fail(engine, email_id, token, config: DispatchConfig, now, reason: str, report) -> None:
    with engine.begin() as conn:
        email = emails_store.get_email(conn, email_id)
        if email["attempts"] >= config.max_attempts:
            _transition(conn, email_id, token, EmailStatus.FAILED, now, report,
                        last_error=f"gave up after {email['attempts']} attempts: {reason}"[:500])
        else:
            _transition(conn, email_id, token, EmailStatus.PENDING, now, report, last_error=reason[:500],
                        due_at=now + config.retry_delay(email["attempts"]))


def _release(engine, email_ids: list[int], token: str, now: datetime, config: DispatchConfig, reason: str) -> int:
    """Give claimed emails back untouched after an outage: the attempt is not counted."""
    released = 0
    with engine.begin() as conn:
        for email_id in email_ids:
            released += emails_store.transition(
                conn, email_id, sources_of(EmailStatus.PENDING), EmailStatus.PENDING.value, now, lease_token=token,
                due_at=now + config.outage_pause, last_error=reason[:500], give_back_attempt=True)
    return released
