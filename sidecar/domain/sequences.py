"""The follow-up sequence after a member cancels: its steps, when each is due, and whether it
may still go out when its time comes.

Planning happens in the transaction that opens the cancellation (``plan_sequence``); the rules are
evaluated again by the dispatcher right before sending (``decide``), because a lot can happen in
sixty days: an answer, a comeback, an unsubscribe.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.engine import Connection

from ..mail import catalog
from ..mail.catalog import EmailKind
from ..storage import emails as emails_store
from ..storage import site_settings as settings_store
from ..storage import winbacks as winbacks_store
from .email_status import EmailStatus
from .holdout import HOLDOUT

# Marketing emails only go out in the daytime of the member's time zone.
OPENING = time(9, 0)
CLOSING = time(19, 0)


@dataclass(frozen=True)
class Step:
    """One email of the sequence, written once: everything else (the dispatcher's rules, the
    one-click unsubscribe headers, the digest's rows, the dashboard, the OpenAPI enum) reads it."""

    # What it says and its key (stored in ``scheduled_emails.step``): sidecar.mail.catalog.
    kind: EmailKind
    delay: timedelta
    # Everything but the farewell is marketing: one-click unsubscribe, quiet hours, the caps.
    marketing: bool
    # The offer waits until the member's paid access has ended: an offer to someone who still
    # has access reads as a pressure tactic.
    after_access_ends: bool = False

    @property
    def key(self) -> str:
        return self.kind.key


FAREWELL = Step(catalog.FAREWELL, timedelta(hours=1), marketing=False)
FEEDBACK = Step(catalog.FEEDBACK, timedelta(days=3), marketing=True)
OFFER = Step(catalog.OFFER, timedelta(days=30), marketing=True, after_access_ends=True)
DOOR_OPEN = Step(catalog.DOOR_OPEN, timedelta(days=60), marketing=True)
STEPS: tuple[Step, ...] = (FAREWELL, FEEDBACK, OFFER, DOOR_OPEN)
STEPS_BY_KEY = {step.key: step for step in STEPS}
# Not part of a sequence: the owner's alert about a member asking to be contacted (transactional).
OWNER_ALERT = catalog.OWNER_ALERT.key
# Every value ``scheduled_emails.step`` may hold, in this order (the admin API's enum).
EMAIL_KEYS: tuple[str, ...] = (*STEPS_BY_KEY, OWNER_ALERT)
MAX_STEP_DELAY = timedelta(days=365)


class SkipReason:
    """Why an email did not go out, as recorded in ``scheduled_emails.skip_reason``."""

    STEP_DISABLED = "step_disabled"
    NOT_MEMBER_INITIATED = "not_member_initiated"
    SURVEY_ANSWERED = "survey_answered"
    WON_BACK = "won_back"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "address_bounced"
    ACCOUNT_TOO_YOUNG = "account_too_young"
    EMAIL_CAP_REACHED = "email_cap_reached"
    ERASED = "member_erased"
    INVALID_ADDRESS = "invalid_address"
    NO_OWNER_ADDRESS = "no_owner_address"
    REQUEST_WITHDRAWN = "contact_request_withdrawn"
    REQUEST_ANSWERED = "contact_request_answered"
    ALERTED_WITHIN_A_DAY = "member_alerted_within_a_day"


@dataclass(frozen=True)
class ConfiguredStep:
    step: Step
    enabled: bool
    delay: timedelta
    copy_overrides: dict


def configured_steps(conn: Connection, site_id: str) -> dict[str, ConfiguredStep]:
    """The site's steps: the defaults above, changed by the site's ``sequence_steps`` rows."""
    stored = settings_store.get_steps(conn, site_id)
    configured = {}
    for step in STEPS:
        row = stored.get(step.key, {})
        enabled = row.get("enabled")
        delay = row.get("delay_seconds")
        try:
            overrides = json.loads(row["copy_overrides"]) if row.get("copy_overrides") else {}
        except ValueError:
            overrides = {}  # a broken override never blocks an email: the default copy is used
        configured[step.key] = ConfiguredStep(
            step=step,
            enabled=True if enabled is None else bool(enabled),
            delay=step.delay if delay is None else min(timedelta(seconds=max(delay, 0)), MAX_STEP_DELAY),
            copy_overrides=overrides if isinstance(overrides, dict) else {},
        )
    return configured


def member_timezone(site: dict) -> ZoneInfo:
    """The member's time zone. Events do not carry one yet, so it is the site's (UTC if broken)."""
    try:
        return ZoneInfo(site["timezone"])
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def is_daytime(at: datetime, zone: ZoneInfo) -> bool:
    local = at.astimezone(zone).time()
    return OPENING <= local < CLOSING


def next_opening(at: datetime, zone: ZoneInfo) -> datetime:
    """``at`` if it falls in the sending hours of ``zone``, else the next 09:00 there (DST-aware)."""
    local = at.astimezone(zone)
    if OPENING <= local.time() < CLOSING:
        return at
    day = local.date() if local.time() < OPENING else local.date() + timedelta(days=1)
    # 09:00 exists on every day in every zone (DST changes happen at night), so no fold to choose.
    return datetime.combine(day, OPENING, tzinfo=zone).astimezone(timezone.utc)


def due_at(configured: ConfiguredStep, cancelled_at: datetime, access_ends_at: datetime | None,
           zone: ZoneInfo) -> datetime:
    at = cancelled_at + configured.delay
    if configured.step.after_access_ends and access_ends_at and access_ends_at > at:
        at = access_ends_at
    return next_opening(at, zone) if configured.step.marketing else at


def plan_sequence(conn: Connection, site: dict, cancellation: dict, now: datetime,
                  planned: list[dict] | None = None) -> int:
    """One pending email per enabled step of a member-initiated cancellation; returns how many.

    Idempotent: the unique (cancellation, step) key makes planning twice harmless. Cancellations
    by an admin, the payment gateway or the system get no sequence. ``planned``: the applier's
    batch, which inserts its events' emails together before it commits (ingest.finish_batch).
    """
    if cancellation["initiated_by"] != "member" or cancellation["kind"] != "cancelled":
        return 0
    if cancellation["resumed_at"] is not None:
        return 0  # the cancellation arrived after the resume that undid it
    zone = member_timezone(site)
    # The holdout gets the farewell (service: it confirms the cancel) and no marketing step, so
    # that sidecar.domain.holdout can tell what the follow-ups themselves bring back.
    held_out = cancellation.get("followup_group") == HOLDOUT
    emails = [
        dict(
            site_id=site["id"], member_id=cancellation["member_id"], cancellation_id=cancellation["id"],
            step=configured.step.key, status=EmailStatus.PENDING.value,
            due_at=due_at(configured, cancellation["cancelled_at"], cancellation["access_ends_at"], zone),
            updated_at=now,
        )
        for configured in configured_steps(conn, site["id"]).values()
        if configured.enabled and not (held_out and configured.step.marketing)
    ]
    if planned is not None:
        planned.extend(emails)
    else:
        emails_store.plan_all(conn, emails)
    return len(emails)


def plan_emails(conn: Connection, emails: list[dict]) -> None:
    """Insert what ``plan_sequence`` left in its ``planned`` (every row of one shape)."""
    emails_store.plan_all(conn, emails)


@dataclass(frozen=True)
class Send:
    pass


@dataclass(frozen=True)
class Skip:
    reason: str


@dataclass(frozen=True)
class Defer:
    until: datetime
    why: str


def decide(email: dict, *, configured: ConfiguredStep, settings: dict, zone: ZoneInfo, suppression: dict | None,
           won_back: bool, sent_so_far: int, now: datetime) -> Send | Skip | Defer:
    """Whether a claimed sequence email goes out now, is skipped for good, or waits.

    ``email`` is ``storage.emails.sequence_context``; everything else is read by the caller, so
    this function is the whole rulebook and needs no database.
    """
    step = configured.step
    if email["email"].endswith("@erased.invalid"):
        return Skip(SkipReason.ERASED)
    if not configured.enabled:
        return Skip(SkipReason.STEP_DISABLED)
    if email["initiated_by"] != "member":
        return Skip(SkipReason.NOT_MEMBER_INITIATED)
    if suppression is not None:
        return Skip(SkipReason.BOUNCED if suppression["reason"] == "bounced" else SkipReason.UNSUBSCRIBED)
    # A comeback stops everything, the farewell included: its "your cancellation is confirmed"
    # would be wrong by then.
    if won_back or email["resumed_at"] is not None:
        return Skip(SkipReason.WON_BACK)
    if step.key == FEEDBACK.key and email["answer_id"] is not None:
        return Skip(SkipReason.SURVEY_ANSWERED)
    if step.marketing:
        started = email["started_at"]
        if started and email["cancelled_at"] - started < timedelta(days=settings["min_account_age_days"]):
            return Skip(SkipReason.ACCOUNT_TOO_YOUNG)
        if sent_so_far >= settings["max_emails_per_cancellation"]:
            return Skip(SkipReason.EMAIL_CAP_REACHED)
        if step.after_access_ends and email["access_ends_at"] and email["access_ends_at"] > now:
            return Defer(next_opening(email["access_ends_at"], zone), "access has not ended")
        if not is_daytime(now, zone):
            return Defer(next_opening(now, zone), "quiet hours")
    elif sent_so_far >= settings["max_emails_per_cancellation"]:
        return Skip(SkipReason.EMAIL_CAP_REACHED)
    return Send()


def is_won_back(conn: Connection, cancellation_id: int) -> bool:
    return winbacks_store.is_won_back(conn, cancellation_id)
