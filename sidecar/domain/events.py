"""The event contract: its JSON Schema (also served in /openapi.json) and parsing into plain data.

One schema serves both validation and documentation, so the two cannot drift apart.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from importlib import metadata

import jsonschema_rs
from jsonschema import Draft202012Validator, FormatChecker

EVENT_TYPES = (
    "subscription.created",
    "subscription.cancelled",
    "subscription.paused",
    "subscription.resumed",
    "subscription.expired",
    "payment.failed",
    # A renewal payment went through: it ends a run of failed renewals (domain.at_risk).
    "payment.succeeded",
    "member.updated",
    "survey.submitted",
)
# The events whose subscription may name the subscription it replaces (subscription.replaces).
REPLACING_TYPES = ("subscription.created", "subscription.resumed")
SOURCES = ("memberpress", "paidmembershipspro", "woocommerce-subscriptions", "restrict-content", "test")
# "unknown": the membership plugin did not record who ended it (the bridge's imported history of
# MemberPress, Restrict Content, WooCommerce Subscriptions). Counted apart from "system" so that the
# owner's 24-month view does not call the members' own cancellations "by others".
INITIATORS = ("member", "admin", "gateway", "system", "unknown")
INTERVALS = ("day", "week", "month", "year", "lifetime")
SUBSCRIPTION_STATUSES = ("pending", "active", "paused", "cancelled", "expired")

# Caps on what a member may type in the survey (the bridge's form enforces the same).
COMMENT_MAX = 5000
FOLLOW_UP_MAX = 1000
CONTACT_MAX = 200
# The survey definition versions a site can have: the table's key column is a signed 32-bit INT.
SURVEY_VERSION_MAX = 2 ** 31 - 1

_NO_CONTROL = r"^[^\x00-\x1f\x7f]{1,%d}$"

_DATE_TIME = {"type": "string", "format": "date-time", "maxLength": 40}

EVENT_SCHEMA: dict = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Event",
    "type": "object",
    "required": ["type", "occurred_at", "source"],
    "properties": {
        "type": {"enum": list(EVENT_TYPES)},
        "occurred_at": _DATE_TIME,
        "source": {"enum": list(SOURCES)},
        "initiated_by": {"enum": list(INITIATORS), "default": "system"},
        # History the bridge read back from the membership plugin (Farewell → Import history).
        "imported": {"type": "boolean", "default": False},
        "member": {
            "type": "object",
            "required": ["id", "email"],
            "properties": {
                "id": {"type": "string", "pattern": _NO_CONTROL % 64},
                "email": {"type": "string", "format": "email", "maxLength": 254},
                "first_name": {"type": ["string", "null"], "maxLength": 200},
                # At most the column's 16: the pattern alone lets 21 through, which MariaDB refuses to store.
                "locale": {"type": ["string", "null"], "maxLength": 16,
                           "pattern": r"^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8}){0,2}$"},
            },
        },
        "subscription": {
            "type": "object",
            "required": ["id"],
            "properties": {
                "id": {"type": "string", "pattern": _NO_CONTROL % 191},
                "plan_id": {"type": ["string", "null"], "pattern": _NO_CONTROL % 64},
                "plan_name": {"type": ["string", "null"], "maxLength": 200},
                "amount": {"type": ["string", "null"], "pattern": r"^[0-9]{1,10}(\.[0-9]{1,4})?$"},
                "currency": {"type": ["string", "null"], "pattern": "^[A-Z]{3}$"},
                "interval": {"enum": [*INTERVALS, None]},
                "status": {"enum": [*SUBSCRIPTION_STATUSES, None]},
                "started_at": {**_DATE_TIME, "type": ["string", "null"]},
                "access_ends_at": {**_DATE_TIME, "type": ["string", "null"]},
                # A plan change (upgrade, downgrade): the id, at the same source, of the member's
                # subscription this one replaces, which ends without being a cancellation
                # (domain.ingest). Only on subscription.created and .resumed (allOf below).
                "replaces": {"type": "string", "pattern": _NO_CONTROL % 191},
            },
        },
        "survey": {
            "type": "object",
            "required": ["version"],
            "properties": {
                # One past what the key column holds is no version: a 400, not a database error.
                "version": {"type": "integer", "minimum": 1, "maximum": SURVEY_VERSION_MAX},
                "locale": {"type": ["string", "null"], "maxLength": 16},
                "token": {"type": "string", "minLength": 1, "maxLength": 500},
                "subscription_id": {"type": ["string", "null"], "pattern": _NO_CONTROL % 191},
                "reason": {"type": ["string", "null"], "pattern": "^[a-z][a-z0-9_]{0,39}$"},
                "follow_up": {"type": ["string", "null"], "maxLength": FOLLOW_UP_MAX},
                "comment": {"type": ["string", "null"], "maxLength": COMMENT_MAX},
                "contact_requested": {"type": "boolean"},
                "contact": {"type": ["string", "null"], "maxLength": CONTACT_MAX},
            },
        },
    },
    "allOf": [
        {
            "if": {
                "properties": {"type": {"enum": [t for t in EVENT_TYPES if t.startswith(("subscription.", "payment."))]}},
                "required": ["type"],
            },
            "then": {"required": ["subscription"]},
        },
        {
            # Only a subscription that begins can replace another: on a cancellation or an expiry
            # "replaces" would mean nothing we could apply, so it is refused rather than ignored.
            "if": {"properties": {"type": {"not": {"enum": list(REPLACING_TYPES)}}}, "required": ["type"]},
            "then": {"properties": {"subscription": {"not": {"required": ["replaces"]}}}},
        },
        {
            # An answer from an email link may come from a signed-out visitor: the link's token
            # names the cancellation, and so the member.
            "if": {"properties": {"type": {"const": "survey.submitted"}}, "required": ["type"]},
            "then": {"required": ["survey"], "anyOf": [{"required": ["member"]},
                                                       {"properties": {"survey": {"required": ["token"]}}}]},
            "else": {"required": ["member"]},
        },
    ],
}

_EMAIL = re.compile(r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+$")
# What may break a line somewhere (a text email, a CSV opened in an editor, a log): every
# whitespace character, Unicode's too (\x1c-\x1e, \x85, \u2028, \u2029 end lines for Python's
# splitlines and for many editors). Each run of them becomes one space.
_LINE_BREAKERS = re.compile(r"[\s\u2028\u2029]+")
# The other C0 and C1 controls (NUL, ESC, DEL…) show as nothing or as garbage: they are removed,
# so "A\x00na" stays "Ana" rather than becoming two words.
_HIDDEN_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f]")

_formats = FormatChecker(formats=())


@_formats.checks("date-time", raises=ValueError)
def _is_rfc3339(value: object) -> bool:
    return not isinstance(value, str) or parse_timestamp(value) is not None


def is_email(value: str) -> bool:
    return len(value) <= 254 and bool(_EMAIL.match(value))


@_formats.checks("email")
def _is_email(value: object) -> bool:
    return not isinstance(value, str) or is_email(value)


_validator = Draft202012Validator(EVENT_SCHEMA, format_checker=_formats)


def _is_rfc3339_text(value: str) -> bool:
    try:
        return parse_timestamp(value) is not None
    except ValueError:
        return False


# The same schema and formats compiled by jsonschema-rs: its "valid" takes about 4 µs where
# jsonschema's takes 160-190 (a tenth of a 202's CPU, BENCHMARKS.md). Only its "valid" is used, as
# a shortcut; anything else, and every message, is jsonschema's (see parse_event).
_shortcut = jsonschema_rs.Draft202012Validator(EVENT_SCHEMA, formats={"date-time": _is_rfc3339_text,
                                                                      "email": is_email}, validate_formats=True)


def _surely_valid(document: object) -> bool:
    """jsonschema-rs's verdict that ``document`` is valid, False whenever it says otherwise or cannot
    tell. Where the two libraries differ it is the stricter one (a Rust ``$`` matches only at the
    very end; Python's also before a final newline): tests/test_event_validation.py checks that
    what it calls valid jsonschema calls valid too."""
    try:
        return _shortcut.is_valid(document)
    except Exception:  # noqa: BLE001 — e.g. a value it cannot convert: jsonschema decides
        return False



class InvalidEvent(ValueError):
    def __init__(self, fields: dict[str, str]):
        super().__init__(", ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = fields


@dataclass(frozen=True)
class Member:
    id: str
    email: str
    first_name: str | None
    locale: str | None


@dataclass(frozen=True)
class Subscription:
    id: str
    plan_id: str | None
    plan_name: str | None
    amount: Decimal | None
    currency: str | None
    interval: str | None
    status: str | None
    started_at: datetime | None
    access_ends_at: datetime | None
    # The source's id of the member's subscription this one replaces (a plan change), or None.
    replaces: str | None = None


@dataclass(frozen=True)
class Event:
    type: str
    occurred_at: datetime
    source: str
    initiated_by: str
    member: Member | None
    subscription: Subscription | None
    survey: dict | None
    # History recorded after the fact (the demo's twelve weeks; imported history later): it is
    # kept and counted like any event, but it plans no email, opens no contact request (so alerts
    # no one) and is credited to no email as a win-back. The rule lives in domain.ingest, survey
    # and winbacks. The bridge marks the history it imports with "imported": true.
    imported: bool = False


def parse_timestamp(value: str) -> datetime:
    """An RFC 3339 date-time; the offset is required so that no local time is ever guessed."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("must be an RFC 3339 date-time such as 2026-11-29T10:00:00Z") from None
    if parsed.tzinfo is None or "T" not in value.upper() and " " not in value:
        raise ValueError("must be an RFC 3339 date-time with a time zone offset, such as 2026-11-29T10:00:00Z")
    return parsed


def parse_event(document: object) -> Event:
    """Validate a decoded JSON document and return it as an Event, or raise InvalidEvent naming
    every bad field."""
    fields: dict[str, str] = dict.fromkeys(_lone_surrogates(document), _NOT_UNICODE)
    if not fields and _surely_valid(document):
        return _build(document)
    for error in sorted(_validator.iter_errors(document), key=lambda e: list(e.absolute_path)):
        name, message = _describe(error)
        fields.setdefault(name, message)
    if fields:
        raise InvalidEvent(fields)
    return _build(document)


def parse_stored_event(document: object, validated_with: str | None) -> Event:
    """A stored event's document as an Event, for the applier. ``validated_with`` is the
    SCHEMA_DIGEST the request validated it with before its 202 (None: stored by a sidecar that did
    not record it, or by ``record_event``). Validated with today's rules, it is not validated again:
    that was about an eighth of the applier's CPU (BENCHMARKS.md). Otherwise (an older sidecar's
    event, ``events reapply`` after an upgrade that changed a rule) it is validated as a request
    is, and an invalid one raises InvalidEvent, which parks it."""
    if validated_with == SCHEMA_DIGEST:
        try:
            return _build(document)
        except Exception:  # noqa: BLE001 — not what was validated (edited since?): validate it, naming what is wrong
            pass
    return parse_event(document)


def _build(document: object) -> Event:
    """The Event of a document that passed validation."""
    assert isinstance(document, dict)
    member = document.get("member")
    sub = document.get("subscription")
    return Event(
        type=document["type"],
        occurred_at=parse_timestamp(document["occurred_at"]),
        source=document["source"],
        initiated_by=document.get("initiated_by") or "system",
        imported=document.get("imported") is True,
        member=None
        if member is None
        else Member(
            id=member["id"],
            email=member["email"],
            first_name=_clean_text(member.get("first_name")),
            locale=member.get("locale") or None,
        ),
        subscription=None
        if sub is None
        else Subscription(
            id=sub["id"],
            plan_id=sub.get("plan_id") or None,
            plan_name=_clean_text(sub.get("plan_name")),
            amount=Decimal(sub["amount"]) if sub.get("amount") else None,
            currency=sub.get("currency") or None,
            interval=sub.get("interval"),
            status=sub.get("status"),
            started_at=parse_timestamp(sub["started_at"]) if sub.get("started_at") else None,
            access_ends_at=parse_timestamp(sub["access_ends_at"]) if sub.get("access_ends_at") else None,
            replaces=sub.get("replaces"),
        ),
        survey=document.get("survey"),
    )


_NOT_UNICODE = "must be valid Unicode text (a lone surrogate such as \\ud800 is not)"
_SURROGATE = re.compile("[\ud800-\udfff]")


def _lone_surrogates(document: object, _root: str = "") -> list[str]:
    """Where the document holds a lone UTF-16 surrogate (JSON allows the escape "\\ud800", UTF-8
    cannot encode it, so no database can store it): the dotted paths, for the error's fields.
    Iterative: a document may nest as deep as the JSON parser allowed."""
    found: list[str] = []
    stack: list[tuple[object, str]] = [(document, _root)]
    while stack:
        value, path = stack.pop()
        if isinstance(value, str):
            if _SURROGATE.search(value):
                found.append(path[:100] or "body")
        elif isinstance(value, dict):
            for key, item in value.items():
                if _SURROGATE.search(key):
                    found.append(path[:100] or "body")
                else:
                    stack.append((item, f"{path}.{key}" if path else key))
        elif isinstance(value, list):
            stack.extend((item, f"{path}.{index}" if path else str(index)) for index, item in enumerate(value))
    return sorted(set(found))


def one_line(value: str) -> str:
    """A single-line field (a first name, a plan name, a contact detail) as one line: each run of
    whitespace or control characters becomes one space, and the ends are trimmed. Such fields are
    shown on one line (a digest's text part, a CSV cell, an email's subject), where a line break
    typed into them would forge a line of its own."""
    return _LINE_BREAKERS.sub(" ", _HIDDEN_CONTROLS.sub("", value)).strip()


def _clean_text(value: str | None) -> str | None:
    """Names are shown on one line in emails, pages and exports: see one_line."""
    if value is None:
        return None
    return one_line(value) or None


def _describe(error) -> tuple[str, str]:
    path = ".".join(str(p) for p in error.absolute_path)
    if error.validator == "required":
        missing = error.message.split("'")[1]
        return (f"{path}.{missing}" if path else missing), "is required"
    if error.validator == "not" and path == "subscription":
        return "subscription.replaces", "is only allowed on subscription.created and subscription.resumed"
    if error.validator == "anyOf" and path == "":
        return "member", "is required (or survey.token from an email link)"
    if error.validator == "enum":
        allowed = ", ".join(str(v) for v in error.validator_value if v is not None)
        return path, f"must be one of: {allowed}"
    if error.validator == "format":
        if error.validator_value == "email":
            return path, "must be an email address"
        cause = error.cause
        return path, str(cause) if cause else "must be an RFC 3339 date-time with a time zone offset"
    if error.validator == "type":
        wanted = error.validator_value
        wanted = wanted[0] if isinstance(wanted, list) else wanted
        return path or "(body)", f"must be {'an' if wanted[0] in 'aeio' else 'a'} {wanted}"
    if error.validator == "maxLength":
        return path, f"must be at most {error.validator_value} characters"
    if error.validator == "pattern":
        return path, _PATTERN_MESSAGES.get(path.rsplit(".", 1)[-1], "has an invalid format")
    return path or "(body)", error.message


_PATTERN_MESSAGES = {
    "reason": "must be a reason code such as too_expensive",
    "subscription_id": "must be 1 to 191 characters without control characters",
    "replaces": "must be 1 to 191 characters without control characters",
    "id": "must be 1 to 64 (member) or 191 (subscription) characters without control characters",
    "plan_id": "must be at most 64 characters without control characters",
    "amount": 'must be a decimal string such as "29.00" (up to 10 digits and 4 decimals)',
    "currency": "must be an ISO 4217 code such as EUR",
    "locale": "must be a locale such as fr_FR",
}


def _code(function) -> list:
    code = function.__code__
    return [code.co_code.hex(), code.co_names, [repr(c) for c in code.co_consts if not hasattr(c, "co_code")]]


# What validating an event means here, as a fingerprint stored with each event accepted (column
# events.validated_with): the schema, the format checks' code and patterns, the library that runs
# them and the Python whose datetime parses the timestamps. Any change, and the events stored
# before it are validated again when applied (parse_stored_event), never trusted on old rules.
SCHEMA_DIGEST = hashlib.sha256(json.dumps(
    [EVENT_SCHEMA, _EMAIL.pattern, metadata.version("jsonschema"),
     list(sys.version_info[:2]), _code(parse_timestamp), _code(is_email), _code(_is_rfc3339), _code(_is_email),
     _SURROGATE.pattern, _code(_lone_surrogates)],
    sort_keys=True, default=str).encode()).hexdigest()[:16]
