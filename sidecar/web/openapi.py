"""The protocol as OpenAPI 3.1, built from the same schema that validates events.

One file although it is long: it is one document, served byte for byte as /openapi.json, and its
paths share the schemas written above them; split, a reader would lose the order the document has.
"""

from __future__ import annotations

import copy

from flask import Blueprint, jsonify

from ..domain.events import EVENT_SCHEMA, INITIATORS
from ..domain.sequences import EMAIL_KEYS

bp = Blueprint("openapi", __name__)


def _error(*codes: str, fields: bool = False) -> dict:
    schema: dict = {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"enum": list(codes)}, "message": {"type": "string"}},
    }
    if fields:
        schema["properties"]["fields"] = {"type": "object", "additionalProperties": {"type": "string"}}
    return {"content": {"application/json": {"schema": schema}}}


def _clock_skew(error: dict) -> dict:
    error["content"]["application/json"]["schema"]["properties"].update({
        "signature_scheme": {"enum": ["fw2"], "description": "The scheme this route takes (every signed route "
                                                             "but the events route)."},
        "reason": {"enum": ["clock_skew"]},
        "clock_skew_seconds": {"type": "integer", "description": "The sender's clock minus the sidecar's."},
        "tolerance_seconds": {"type": "integer"},
    })
    return error


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_SIGNATURE_HEADERS = [
    {"name": "webhook-id", "in": "header", "required": True, "schema": {"type": "string", "maxLength": 255},
     "description": "Unique message id; the idempotency key."},
    {"name": "webhook-timestamp", "in": "header", "required": True, "schema": {"type": "string"},
     "description": "Unix seconds; within 300 s of the sidecar's clock."},
    {"name": "webhook-signature", "in": "header", "required": True, "schema": {"type": "string"},
     "description": "Space-separated `fw2,<base64 HMAC-SHA256>` signatures of "
                    "`{webhook-id}.{webhook-timestamp}.{METHOD} {path}\\n{body}`: bound to this route "
                    "(docs/PROTOCOL.md, \"Signing a request\")."},
]
# The events route stays plain Standard Webhooks.
_STANDARD_WEBHOOKS_HEADERS = [*_SIGNATURE_HEADERS[:2], {
    **_SIGNATURE_HEADERS[2],
    "description": "Space-separated Standard Webhooks `v1,<base64 HMAC-SHA256>` signatures of "
                   "`{webhook-id}.{webhook-timestamp}.{body}`."}]
_ADMIN_ERRORS = {
    "401": {"description": "Missing or wrong admin token.", **_error("unauthorized")},
    "404": {"description": "Unknown site or cancellation.", **_error("unknown_site", "unknown_cancellation")},
}
_SITE_ID = {"name": "site_id", "in": "path", "required": True, "schema": {"type": "string", "maxLength": 64}}
_NULLABLE_STRING = {"type": ["string", "null"]}

# The holdout group (sidecar.domain.holdout), as the dashboard's answers CSV has it.
_GROUP = {"type": ["string", "null"], "enum": ["followups", "holdout", None],
          "description": "The cancellation's group in the holdout comparison, drawn once when it opened: "
                         "`followups` (the follow-up emails) or `holdout` (the farewell only); null: outside "
                         "the comparison (not cancelled by the member, imported history, or opened before "
                         "the holdout existed)."}

_CANCELLATION = {
    "type": "object",
    "required": ["id", "member", "subscription", "source", "initiated_by", "cancelled_at", "access_ends_at",
                 "group"],
    "properties": {
        "id": {"type": "integer"},
        "member": {
            "type": "object",
            "required": ["id", "email", "first_name"],
            "properties": {"id": {"type": "string"}, "email": {"type": "string"},
                           "first_name": _NULLABLE_STRING, "locale": _NULLABLE_STRING},
        },
        "subscription": {
            "type": "object",
            "required": ["id", "plan_name", "amount", "currency", "interval"],
            "properties": {k: ({"type": "string"} if k == "id" else _NULLABLE_STRING)
                           for k in ("id", "plan_id", "plan_name", "amount", "currency", "interval", "status")},
        },
        "source": {"type": "string"},
        "initiated_by": {"enum": list(INITIATORS)},
        "kind": {"enum": ["cancelled", "expired"]},
        "cancelled_at": {"type": "string", "format": "date-time"},
        "access_ends_at": {**_NULLABLE_STRING, "format": "date-time"},
        "resumed_at": {**_NULLABLE_STRING, "format": "date-time"},
        "ended_at": {**_NULLABLE_STRING, "format": "date-time"},
        "reason": _NULLABLE_STRING,
        "follow_up": _NULLABLE_STRING,
        "comment": _NULLABLE_STRING,
        "contact_requested": {"type": "boolean"},
        "answered_at": {**_NULLABLE_STRING, "format": "date-time"},
        "group": _GROUP,
    },
}

_CONTACT_REQUEST = {
    "type": "object",
    "required": ["id", "member", "contact", "requested_at", "answered_at", "waited_seconds"],
    "properties": {
        "id": {"type": "integer"},
        "member": {"type": "object", "properties": {"id": {"type": "string"}, "email": {"type": "string"},
                                                    "first_name": _NULLABLE_STRING}},
        "contact": _NULLABLE_STRING, "reason": _NULLABLE_STRING, "comment": _NULLABLE_STRING,
        "cancellation_id": {"type": ["integer", "null"]},
        "requested_at": {"type": "string", "format": "date-time"},
        "answered_at": {**_NULLABLE_STRING, "format": "date-time"},
        "waited_seconds": {"type": "integer"},
    },
}

_SURVEY = {
    "type": "object",
    "required": ["version", "language", "definition"],
    "properties": {
        "version": {"type": "integer"},
        "language": {"enum": ["en", "fr"]},
        "definition": {"type": "object"},
        "token": {"type": "object", "properties": {"status": {"enum": ["valid", "expired", "invalid"]}}},
        "answering_for": {"type": "object"},
    },
}


_PRIVACY_EXPORT = {
    "type": "object",
    "required": ["data"],
    "properties": {"data": {"type": "array", "items": {
        "type": "object", "required": ["group", "label", "id", "items"],
        "properties": {"group": {"type": "string"}, "label": {"type": "string"}, "id": {"type": "string"},
                       "items": {"type": "array", "items": {
                           "type": "object", "required": ["name", "value"],
                           "properties": {"name": {"type": "string"}, "value": {"type": "string"}}}}}}}},
}
_PRIVACY_ERASE = {"type": "object", "required": ["items_removed"],
                  "properties": {"items_removed": {"type": "integer", "minimum": 0}}}


_SCHEDULED_EMAIL = {
    "type": "object",
    "required": ["id", "member", "step", "status", "due_at", "sent_at", "skip_reason"],
    "properties": {
        "id": {"type": "integer"},
        "member": {"type": "object", "properties": {"id": {"type": "string"}, "email": {"type": "string"}}},
        "cancellation_id": {"type": ["integer", "null"]},
        "contact_request_id": {"type": ["integer", "null"]},
        "step": {"enum": list(EMAIL_KEYS)},
        "status": {"enum": ["pending", "sending", "sent", "skipped", "cancelled", "failed"]},
        "due_at": {"type": "string", "format": "date-time"},
        "sent_at": {**_NULLABLE_STRING, "format": "date-time"},
        "skip_reason": _NULLABLE_STRING,
        "attempts": {"type": "integer"},
        "interrupted_sends": {"type": "integer", "description": "How many times a jobs process stopped while "
                              "sending it; above zero, the member may have received it twice."},
        "last_error": _NULLABLE_STRING,
        "coupon_code": _NULLABLE_STRING,
    },
}

_WINBACK = {
    "type": "object",
    "required": ["id", "member", "cancellation_id", "group", "won_back_at", "amount", "currency", "last_email",
                 "coupon_code"],
    "properties": {
        "id": {"type": "integer"},
        "member": {"type": "object", "properties": {"id": {"type": "string"}, "email": {"type": "string"},
                                                    "first_name": _NULLABLE_STRING}},
        "cancellation_id": {"type": "integer"},
        "cancelled_at": {"type": "string", "format": "date-time"},
        "group": _GROUP,
        "won_back_at": {"type": "string", "format": "date-time"},
        "event_type": {"enum": ["subscription.created", "subscription.resumed"]},
        "amount": _NULLABLE_STRING,
        "currency": _NULLABLE_STRING,
        "last_email": {"type": ["object", "null"], "properties": {"id": {"type": "integer"},
                                                                  "step": {"type": "string"}}},
        "coupon_code": _NULLABLE_STRING,
    },
}

_HTML_PAGE = {"content": {"text/html": {"schema": {"type": "string"}}}}
_SLOW_DOWN = {"description": "Too many requests from this address (20 a minute); a page asking to try again.",
              "headers": {"Retry-After": {"required": True, "description": "Seconds until the limit resets.",
                                          "schema": {"type": "string", "pattern": "^[0-9]+$"}}},
              **_HTML_PAGE}


_HEALTH_JOBS = {"type": "object", "additionalProperties": {"type": "object", "properties": {
    "status": {"enum": ["ok", "late", "never"]},
    "last_tick_at": {"type": ["string", "null"], "format": "date-time"},
    "age_seconds": {"type": ["number", "null"]},
    "workers": {"type": "integer", "minimum": 0},
    "interval_seconds": {"type": "number"}}}}
_UNAPPLIED_EVENT = {"type": "object", "required": ["webhook_id", "type", "status", "attempts"], "properties": {
    "webhook_id": {"type": "string"}, "type": {"type": "string"},
    "occurred_at": {"type": "string", "format": "date-time"}, "received_at": {"type": "string", "format": "date-time"},
    "status": {"enum": ["pending", "parked"]}, "attempts": {"type": "integer", "minimum": 0},
    "next_attempt_at": {"type": ["string", "null"], "format": "date-time"},
    "error": {"type": ["string", "null"]}}}
_HEALTH_EVENTS = {"type": "object", "description": "Accepted events the applier has not applied yet (unapplied), "
                  "how long the oldest of them has waited, and those parked after failing every attempt.",
                  "properties": {"unapplied": {"type": "integer", "minimum": 0},
                                 "oldest_unapplied_age_seconds": {"type": "number", "minimum": 0},
                                 "parked": {"type": "integer", "minimum": 0}}}


def build_spec(public_url: str) -> dict:
    event_schema = copy.deepcopy(EVENT_SCHEMA)
    event_schema.pop("$schema", None)
    unavailable = {"description": "Database unavailable; retry later.", **_error("unavailable")}
    signed_errors = {
        "400": {"description": "Bad request.", **_error("invalid_encoding", "invalid_webhook_id", "invalid_json",
                                                        "invalid_event", fields=True)},
        "401": {"description": "Missing or bad signature. A genuine signature whose timestamp is outside "
                               "±300 s also says how far apart the clocks are (reason clock_skew).",
                **_clock_skew(_error("invalid_signature"))},
        "404": {"description": "Unknown site.", **_error("unknown_site")},
        "413": {"description": "Body over 64 KiB.", **_error("too_large")},
        "503": unavailable,
    }
    outdated = _error("signature_scheme_outdated")
    outdated["content"]["application/json"]["schema"]["properties"]["signature_scheme"] = {"enum": ["fw2"]}
    bound_errors = {**signed_errors, "426": {
        "description": "Signed with Standard Webhooks v1, which only the events route takes: the sender is "
                       "older than route-bound signatures (fw2); update the Farewell bridge plugin.", **outdated}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Farewell sidecar",
            "version": "1",
            "description": "Events from the WordPress bridge, signed with Standard Webhooks v1, and the bridge's "
                           "other requests, signed for their own route (fw2); see docs/PROTOCOL.md.",
        },
        "servers": [{"url": public_url}],
        "components": {
            "schemas": {"Event": event_schema, "Cancellation": _CANCELLATION},
            "securitySchemes": {"adminToken": {"type": "http", "scheme": "bearer"}},
        },
        "paths": {
            "/v1/sites/{site_id}/events": {
                "post": {
                    "summary": "Receive one event",
                    "parameters": [_SITE_ID, *_STANDARD_WEBHOOKS_HEADERS],
                    "requestBody": {"required": True, "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Event"}}}},
                    "responses": {
                        "202": _json({"type": "object", "properties": {"status": {"const": "accepted"}}},
                                     "Verified and durably stored; applied moments later by the applier "
                                     "(GET /v1/sites/{site_id}/unapplied-events lists it until then)."),
                        "200": _json({"type": "object", "properties": {"status": {"const": "duplicate"}}},
                                     "This webhook-id was received before; nothing changed."),
                        "415": {"description": "Not JSON.", **_error("unsupported_media_type")},
                        **signed_errors,
                    },
                }
            },
            "/v1/sites/{site_id}/events/batch": {
                "post": {
                    "summary": "Receive up to 500 events in one request (the bridge's import and backlog)",
                    "description": "Signed once with fw2 for this route; each item carries its own webhook-id, the "
                                   "idempotency key of its event, as the single route's header does. Stored in one "
                                   "transaction; one invalid item refuses no other.",
                    "parameters": [_SITE_ID, *_SIGNATURE_HEADERS],
                    "requestBody": {"required": True, "content": {"application/json": {"schema": {
                        "type": "object", "required": ["events"],
                        "properties": {"events": {"type": "array", "maxItems": 500, "items": {
                            "type": "object", "required": ["webhook_id", "event"],
                            "properties": {"webhook_id": {"type": "string", "minLength": 1, "maxLength": 255,
                                                          "pattern": "^[\\x21-\\x7e]+$"},
                                           "event": {"$ref": "#/components/schemas/Event"}}}}}}}}},
                    "responses": {
                        "200": _json({"type": "object", "required": ["results"], "properties": {"results": {
                            "type": "array", "description": "One per item, in order.", "items": {
                                "type": "object", "required": ["webhook_id", "status"], "properties": {
                                    "webhook_id": {"type": ["string", "null"],
                                                   "description": "The item's, or null when it gave none."},
                                    "status": {"enum": ["accepted", "duplicate", "invalid"]},
                                    "fields": {"type": "object", "additionalProperties": {"type": "string"},
                                               "description": "Only when invalid: every bad field, as the "
                                                              "single route names them."}}}}}},
                                     "Per event: accepted (verified and durably stored, applied moments later), "
                                     "duplicate (this webhook-id was received before, or earlier in this batch) "
                                     "or invalid (with its fields; not stored)."),
                        "415": {"description": "Not JSON.", **_error("unsupported_media_type")},
                        **bound_errors,
                        "400": {"description": "Bad request: the body is not a batch.", **_error(
                            "invalid_encoding", "invalid_webhook_id", "invalid_json", "invalid_batch", fields=True)},
                        "413": {"description": "Body over 1 MiB, or more than 500 events.", **_error(
                            "too_large", "too_many_events")},
                    },
                }
            },
            "/v1/sites/{site_id}/ping": {
                "get": {
                    "summary": "Check the connection and the secret (signed, empty body)",
                    "parameters": [_SITE_ID, *_SIGNATURE_HEADERS],
                    "responses": {
                        "200": _json({"type": "object", "required": ["status", "site_id"], "properties": {
                            "status": {"const": "ok"}, "site_id": {"type": "string"},
                            "site_name": {"type": "string"}}}, "The signature is valid."),
                        **bound_errors,
                    },
                }
            },
            "/v1/sites/{site_id}/site-info": {
                "post": {
                    "summary": "What the bridge reports about its WordPress site: the admin email (the digest's "
                               "default recipient)",
                    "parameters": [_SITE_ID, *_SIGNATURE_HEADERS],
                    "requestBody": {"required": True, "content": {"application/json": {"schema": {
                        "type": "object", "required": ["admin_email"],
                        "properties": {"admin_email": {"type": "string", "format": "email", "maxLength": 254}}}}}},
                    "responses": {
                        "200": _json({"type": "object", "properties": {"status": {"const": "ok"}}}, "Stored."),
                        "415": {"description": "Not JSON.", **_error("unsupported_media_type")},
                        **bound_errors,
                        "400": {"description": "Bad request.", **_error(
                            "invalid_encoding", "invalid_webhook_id", "invalid_json", "invalid_request", fields=True)},
                    },
                }
            },
            "/v1/sites/{site_id}/digest/settings": {
                "get": {
                    "summary": "Who receives the weekly digest and how the sidecar's mail leaves, for the bridge's "
                               "set-up checklist (signed, empty body; never a user name or password)",
                    "parameters": [_SITE_ID, *_SIGNATURE_HEADERS],
                    "responses": {
                        "200": _json({"type": "object", "required": ["recipients", "transport"], "properties": {
                            "recipients": {"type": "array", "items": {"type": "string", "format": "email"},
                                           "description": "Who the digest goes to now (chosen, else the defaults)"},
                            "recipients_customised": {"type": "boolean"},
                            "wordpress_admin_email": {"type": ["string", "null"]},
                            "weekday": {"type": "integer", "minimum": 1, "maximum": 7},
                            "hour": {"type": "integer", "minimum": 0, "maximum": 23},
                            "transport": {"type": "object", "required": ["kind"], "properties": {
                                "kind": {"enum": ["smtp", "folder", "wordpress", "unknown"]},
                                "host": {"type": "string"}, "port": {"type": "integer"},
                                "security": {"enum": ["tls", "starttls", "none"]}}}}}, "The digest's settings."),
                        **bound_errors,
                    },
                }
            },
            "/v1/sites/{site_id}/digest/sample": {
                "post": {
                    "summary": "Send last week's digest now to one address the site already knows (its recipients, "
                               "the WordPress admin email, the owner emails): the checklist's \"send me a sample\"",
                    "parameters": [_SITE_ID, *_SIGNATURE_HEADERS],
                    "requestBody": {"required": True, "content": {"application/json": {"schema": {
                        "type": "object", "required": ["to"], "properties": {
                            "to": {"type": "string", "format": "email", "maxLength": 254},
                            "locale": {"type": "string", "description": "The reader's WordPress locale, e.g. "
                                                                        "fr_FR; the site's when absent"}}}}}},
                    "responses": {
                        "200": _json({"type": "object", "properties": {
                            "status": {"const": "sent"}, "week": {"type": "string"},
                            "to": {"type": "array", "items": {"type": "string"}}}}, "Accepted by the mail transport."),
                        "415": {"description": "Not JSON.", **_error("unsupported_media_type")},
                        **bound_errors,
                        "400": {"description": "Bad request.", **_error(
                            "invalid_encoding", "invalid_webhook_id", "invalid_json", "invalid_request", fields=True)},
                        "403": {"description": "Not an address the site knows: the sidecar is no open relay.",
                                **_error("recipient_not_allowed")},
                        "413": {"description": "Body over 64 KiB.", **_error("too_large")},
                        "429": {"description": "More than 5 samples for this site in 10 minutes (refused ones "
                                               "count); see Retry-After.", **_error("rate_limited")},
                        "502": {"description": "The mail server refused the sample.", **_error("mail_refused")},
                        "503": {"description": "The mail server cannot be reached.", **_error("mail_unavailable")},
                    },
                }
            },
            "/v1/sites/{site_id}/summary": {
                "get": {
                    "summary": "This week's headline figures so far, for the Farewell page in wp-admin (signed, empty body)",
                    "parameters": [_SITE_ID, *_SIGNATURE_HEADERS],
                    "responses": {
                        "200": _json({"type": "object", "required": ["week", "cancellations", "winbacks"],
                                      "properties": {
                                          "week": {"type": "string", "description": "ISO week, e.g. 2026-W48"},
                                          "start": {"type": "string", "format": "date-time"},
                                          "cancellations": {"type": "integer"},
                                          "cancellations_by_member": {"type": "integer"},
                                          "revenue_lost": {"type": "object", "additionalProperties": {"type": "string"},
                                                           "description": "Per currency, normalised to a month"},
                                          "answer_rate": {"type": ["number", "null"]},
                                          "winbacks": {"type": "integer"},
                                          "revenue_won_back": {"type": "object",
                                                               "additionalProperties": {"type": "string"}},
                                          "open_contact_requests": {"type": "integer"}}},
                                     "Monday 00:00 (site time) until now."),
                        **bound_errors,
                    },
                }
            },
            "/v1/sites/{site_id}/cancellations": {
                "get": {
                    "summary": "List cancellations, newest first",
                    "security": [{"adminToken": []}],
                    "parameters": [
                        _SITE_ID,
                        {"name": "since", "in": "query", "schema": {"type": "string", "format": "date-time"}},
                        {"name": "until", "in": "query", "schema": {"type": "string", "format": "date-time"}},
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500}},
                        {"name": "cursor", "in": "query", "schema": {"type": "string"}},
                    ],
                    "responses": {
                        "200": _json({"type": "object", "required": ["items", "next_cursor"], "properties": {
                            "items": {"type": "array", "items": {"$ref": "#/components/schemas/Cancellation"}},
                            "next_cursor": _NULLABLE_STRING}}, "One page."),
                        "400": {"description": "Bad query.", **_error("invalid_query", fields=True)},
                        "401": {"description": "Missing or wrong admin token.", **_error("unauthorized")},
                        "404": {"description": "Unknown site.", **_error("unknown_site")},
                        "503": unavailable,
                    },
                }
            },
            **{
                f"/v1/sites/{{site_id}}/privacy/{action}": {
                    "post": {
                        "summary": summary,
                        "parameters": [_SITE_ID, *_SIGNATURE_HEADERS],
                        "requestBody": {"required": True, "content": {"application/json": {"schema": {
                            "type": "object", "required": ["email"], "properties": {
                                "email": {"type": "string", "format": "email", "maxLength": 254},
                                "locale": {"type": "string"}}}}}},
                        "responses": {
                            "200": _json(answer, "Done."),
                            "415": {"description": "Not JSON.", **_error("unsupported_media_type")},
                            **bound_errors,
                            "400": {"description": "Bad request.", **_error(
                                "invalid_encoding", "invalid_webhook_id", "invalid_json", "invalid_request",
                                fields=True)},
                        },
                    }
                }
                for action, summary, answer in (
                    ("export", "Export a member's personal data", _PRIVACY_EXPORT),
                    ("erase", "Erase a member's personal data", _PRIVACY_ERASE),
                )
            },
            "/v1/sites/{site_id}/survey": {
                "get": {
                    "summary": "The exit survey to show, in the member's language (signed, empty body)",
                    "parameters": [
                        _SITE_ID, *_SIGNATURE_HEADERS,
                        {"name": "locale", "in": "query", "schema": {"type": "string", "maxLength": 16}},
                        {"name": "token", "in": "query", "schema": {"type": "string"}},
                    ],
                    "responses": {"200": _json(_SURVEY, "The current definition."), **bound_errors},
                }
            },
            "/v1/sites/{site_id}/contact-requests": {
                "get": {
                    "summary": "Members waiting to be contacted",
                    "security": [{"adminToken": []}],
                    "parameters": [_SITE_ID, {"name": "status", "in": "query",
                                              "schema": {"enum": ["open", "answered", "all"]}}],
                    "responses": {
                        "200": _json({"type": "object", "required": ["items"], "properties": {
                            "items": {"type": "array", "items": _CONTACT_REQUEST}}}, "The requests."),
                        "400": {"description": "Bad query.", **_error("invalid_query", fields=True)},
                        **_ADMIN_ERRORS, "503": unavailable,
                    },
                }
            },
            "/v1/sites/{site_id}/unapplied-events": {
                "get": {
                    "summary": "Events accepted (202) and not applied yet: pending, or parked with their error",
                    "description": "At most 500 items, oldest first. A parked event failed every attempt; "
                                   "`python -m sidecar events reapply` tries it again.",
                    "security": [{"adminToken": []}],
                    "parameters": [_SITE_ID],
                    "responses": {
                        "200": _json({"type": "object", "required": ["pending", "parked", "items"], "properties": {
                            "pending": {"type": "integer", "minimum": 0},
                            "parked": {"type": "integer", "minimum": 0},
                            "oldest_unapplied_age_seconds": {"type": "number", "minimum": 0},
                            "items": {"type": "array", "items": _UNAPPLIED_EVENT}}}, "The events."),
                        **_ADMIN_ERRORS, "503": unavailable,
                    },
                }
            },
            "/v1/sites/{site_id}/cancellations/{cancellation_id}/survey-link": {
                "get": {
                    "summary": "A 60-day link to answer the survey about one cancellation",
                    "security": [{"adminToken": []}],
                    "parameters": [_SITE_ID, {"name": "cancellation_id", "in": "path", "required": True,
                                              "schema": {"type": "integer", "minimum": 1}}],
                    "responses": {
                        "200": _json({"type": "object", "required": ["token", "url"], "properties": {
                            "token": {"type": "string"}, "url": {"type": "string"}}}, "The link."),
                        **_ADMIN_ERRORS,
                        # A cancellation id that is not a whole number matches no route at all.
                        "404": {"description": "Unknown site or cancellation, or an id that is not a number.",
                                **_error("unknown_site", "unknown_cancellation", "not_found")},
                        "503": unavailable,
                    },
                }
            },
            "/v1/sites/{site_id}/emails": {
                "get": {
                    "summary": "Scheduled and sent follow-up emails, the latest due first",
                    "security": [{"adminToken": []}],
                    "parameters": [
                        _SITE_ID,
                        {"name": "member_id", "in": "query", "schema": {"type": "string", "maxLength": 64},
                         "description": "The member's WordPress user id."},
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500}},
                    ],
                    "responses": {
                        "200": _json({"type": "object", "required": ["items"], "properties": {
                            "items": {"type": "array", "items": _SCHEDULED_EMAIL}}}, "The emails."),
                        "400": {"description": "Bad query.", **_error("invalid_query", fields=True)},
                        **_ADMIN_ERRORS, "503": unavailable,
                    },
                }
            },
            "/v1/sites/{site_id}/winbacks": {
                "get": {
                    "summary": "Members who came back after cancelling, newest first",
                    "security": [{"adminToken": []}],
                    "parameters": [_SITE_ID, {"name": "limit", "in": "query",
                                              "schema": {"type": "integer", "minimum": 1, "maximum": 500}}],
                    "responses": {
                        "200": _json({"type": "object", "required": ["items"], "properties": {
                            "items": {"type": "array", "items": _WINBACK}}}, "The win-backs."),
                        "400": {"description": "Bad query.", **_error("invalid_query", fields=True)},
                        **_ADMIN_ERRORS, "503": unavailable,
                    },
                }
            },
            "/v1/sites/{site_id}/digest": {
                "get": {
                    "summary": "The weekly digest's figures for one ISO week (sidecar.domain.digest.build_digest)",
                    "security": [{"adminToken": []}],
                    "parameters": [_SITE_ID, {"name": "week", "in": "query", "description":
                                              "ISO week such as 2026-W48; default: the last full week in the "
                                              "site's time zone.", "schema": {"type": "string",
                                                                             "pattern": "^\\d{4}-W\\d{2}$"}}],
                    "responses": {
                        "200": _json({"type": "object", "required": ["week", "quiet", "headline", "trend"],
                                      "description": "Money amounts are decimal strings per currency, "
                                                     "normalised to a month."}, "The digest's data."),
                        "400": {"description": "Bad week.", **_error("invalid_query", fields=True)},
                        **_ADMIN_ERRORS, "503": unavailable,
                    },
                }
            },
            "/u/{token}": {
                "parameters": [{"name": "token", "in": "path", "required": True, "schema": {"type": "string"}}],
                "get": {
                    "summary": "Unsubscribe confirmation page (a GET never unsubscribes)",
                    "responses": {"200": {"description": "A page with one button.", **_HTML_PAGE},
                                  "404": {"description": "Not a valid link.", **_HTML_PAGE},
                                  "429": _SLOW_DOWN, "503": unavailable},
                },
                "post": {
                    "summary": "Unsubscribe: the page's button, and RFC 8058 one-click (List-Unsubscribe=One-Click)",
                    "description": "A genuine link is honoured even over the rate limit; only other tokens get 429.",
                    "requestBody": {"content": {"application/x-www-form-urlencoded": {"schema": {
                        "type": "object", "properties": {"List-Unsubscribe": {"const": "One-Click"}}}}}},
                    "responses": {"200": {"description": "Unsubscribed; never a redirect.", **_HTML_PAGE},
                                  "404": {"description": "Not a valid link.", **_HTML_PAGE},
                                  "429": _SLOW_DOWN, "503": unavailable},
                },
            },
            "/": {
                "get": {
                    "summary": "What this server is",
                    "description": "A short page (English or French, after Accept-Language) for a browser that "
                                   "asks for text/html; this JSON object for any other client.",
                    "responses": {
                        "200": {
                            "description": "What this server is, where the dashboard opens and where the docs are.",
                            "content": {
                                "application/json": {"schema": {
                                    "type": "object", "required": ["service", "openapi", "docs"],
                                    "properties": {"service": {"const": "farewell"},
                                                   "description": {"type": "string"},
                                                   "dashboard": {"type": "string"},
                                                   "openapi": {"type": "string"}, "health": {"type": "string"},
                                                   "docs": {"type": "string"}}}},
                                **_HTML_PAGE["content"],
                            },
                        },
                    },
                }
            },
            "/healthz": {
                "get": {
                    "summary": "Health of the database (the HTTP status) and of the background jobs",
                    "description": "The status follows the database only, for load balancers. With jobs=required "
                                   "it is also 503 when a job is late (no tick for 3 intervals) or never ticked.",
                    "parameters": [{"name": "jobs", "in": "query", "required": False,
                                    "schema": {"type": "string", "enum": ["required"]}}],
                    "responses": {
                        "200": _json({"type": "object", "required": ["status", "database", "jobs", "events"],
                                      "properties": {"status": {"const": "ok"}, "database": {"const": "ok"},
                                                     "jobs": _HEALTH_JOBS, "events": _HEALTH_EVENTS}}, "Healthy."),
                        "503": _json({"type": "object", "required": ["status", "database"],
                                      "properties": {"status": {"enum": ["unavailable", "jobs_late"]},
                                                     "database": {"enum": ["ok", "unavailable"]},
                                                     "jobs": _HEALTH_JOBS, "events": _HEALTH_EVENTS}},
                                     "The database cannot be reached, or (jobs=required) a job is late."),
                    },
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics (text exposition format 0.0.4)",
                    "description": "With FAREWELL_METRICS_TOKEN set, send it as a bearer token; without it, "
                                   "only local clients may read. Database gauges are left out, with "
                                   "farewell_database_up 0, when the database cannot be reached.",
                    "responses": {
                        "200": {"description": "The metrics.",
                                "content": {"text/plain": {"schema": {"type": "string"}}}},
                        "401": {"description": "Missing or wrong bearer token.", **_error("unauthorized")},
                        "403": {"description": "Not a local client and no token configured.",
                                **_error("forbidden")},
                    },
                }
            },
        },
    }


@bp.get("/openapi.json")
def openapi():
    from flask import current_app

    return jsonify(build_spec(current_app.config["FAREWELL_PUBLIC_URL"]))
