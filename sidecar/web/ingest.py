"""Where events come in from the WordPress bridge: signed with Standard Webhooks, deduplicated.

A 202 means the event is verified, valid and durably stored (one insert); the applier applies it
moments later (sidecar.domain.applier). In ``serve`` this process's applier thread is woken at once.
"""

from __future__ import annotations

import json

from flask import Blueprint, current_app, request
from sqlalchemy.engine import Connection

from ..config import BATCH_MAX_BYTES, BATCH_MAX_EVENTS, EVENT_MAX_BYTES
from ..db import get_engine
from ..domain.events import Event, InvalidEvent, parse_event
from ..domain.ingest import BatchItem, Outcome, SiteChanged, accept_event_on, accept_events
from ..domain.tokens import TokenError, read_survey_token
from ..storage.sites import get_site
from . import metrics
from .errors import ApiError
from .signed import WEBHOOK_ID, json_body, read_body, signed_request, verified_body

bp = Blueprint("ingest", __name__)


@bp.post("/v1/sites/<site_id>/events")
def receive_event(site_id: str):
    try:
        response = _receive_event(site_id)
    except Exception as error:
        metrics.count_event_refusal(error)
        raise
    metrics.count_event(response[0]["status"])
    return response


def _receive_event(site_id: str):
    raw = read_body(EVENT_MAX_BYTES)
    kept = _kept_sites().get(site_id)
    # One connection for the request (one checkout and its ping, one transaction).
    with get_engine().connect() as conn:
        if kept is not None:
            # The site's row this process read before: verified against it, the event is stored by
            # an INSERT that checks the site still holds those secrets, so a 202 costs a plain
            # insert's 3 round trips, and a secret rotated (or revoked) a moment ago is refused at
            # once. Anything else (a refusal, the site changed) is decided again below, on the row
            # read now, so that every answer is the one it was without the kept row.
            try:
                outcome = _accept(conn, site_id, kept, raw, verified_against=kept)
            except (ApiError, InvalidEvent, SiteChanged):
                _kept_sites().pop(site_id, None)
            else:
                return _answer(outcome)
        site = get_site(conn, site_id)
        if site is None:
            raise ApiError(404, "unknown_site")
        _keep(site)
        try:
            outcome = _accept(conn, site_id, site, raw)
        except InvalidEvent as invalid:
            raise ApiError(400, "invalid_event", fields=invalid.fields) from None
    return _answer(outcome)


def _accept(conn: Connection, site_id: str, site: dict, raw: bytes, verified_against: dict | None = None) -> Outcome:
    body = verified_body(site, raw, standard_webhooks=True)
    event = parse_event(json_body(body))
    return accept_event_on(conn, site_id, request.headers["webhook-id"], body, event,
                           answered_cancellation_id=_survey_link_cancellation(site_id, event),
                           verified_against=verified_against)


def _answer(outcome: Outcome):
    if outcome is Outcome.DUPLICATE:
        return {"status": "duplicate"}, 200
    wake_applier = current_app.extensions.get("farewell.wake_applier")
    if wake_applier is not None:
        wake_applier()
    return {"status": "accepted"}, 202


# Sites' rows kept per process, for the events route. A hint, never trusted alone (see
# _receive_event): at most this many, forgotten all at once past it.
KEPT_SITES_MAX = 1000


def _kept_sites() -> dict[str, dict]:
    return current_app.extensions.setdefault("farewell.kept_sites", {})


def _keep(site: dict) -> None:
    kept = _kept_sites()
    if len(kept) >= KEPT_SITES_MAX:
        kept.clear()
    kept[site["id"]] = site


@bp.post("/v1/sites/<site_id>/events/batch")
def receive_batch(site_id: str):
    """Many events in one request (docs/PROTOCOL.md, "POST …/events/batch"): signed once with fw2,
    each item ``{"webhook_id": …, "event": {…}}``, all stored in one transaction, the applier woken
    once. The answer says, per item in order, what the single route would have said of it."""
    try:
        results = _receive_batch(site_id)
    except Exception as error:
        metrics.count_event_refusal(error)
        raise
    for result in results:
        metrics.count_event(result["status"] if result["status"] != "invalid" else "rejected",
                            "invalid" if result["status"] == "invalid" else "")
    return {"results": results}, 200


def _receive_batch(site_id: str) -> list[dict]:
    _, body = signed_request(site_id, max_bytes=BATCH_MAX_BYTES)
    entries = _batch_entries(json_body(body))
    results: list[dict] = []
    items: list[BatchItem] = []
    for entry in entries:
        webhook_id = entry.get("webhook_id") if isinstance(entry, dict) else None
        result = {"webhook_id": webhook_id if isinstance(webhook_id, str) else None}
        results.append(result)
        try:
            items.append(_batch_item(site_id, entry))
        except InvalidEvent as invalid:
            result.update(status="invalid", fields=invalid.fields)
            continue
        result["at"] = len(items) - 1
    outcomes = accept_events(get_engine(), site_id, items) if items else []
    for result in results:
        if "at" in result:
            outcome = outcomes[result.pop("at")]
            if isinstance(outcome, InvalidEvent):
                result.update(status="invalid", fields=outcome.fields)
            else:
                result["status"] = outcome.value
    wake_applier = current_app.extensions.get("farewell.wake_applier")
    if wake_applier is not None and any(r["status"] == "accepted" for r in results):
        wake_applier()
    return results


def _batch_entries(document) -> list:
    """The items of a batch body; the whole request is refused when it is not one."""
    if not isinstance(document, dict) or not isinstance(document.get("events"), list):
        raise ApiError(400, "invalid_batch", fields={"events": "must be a list of {webhook_id, event} items"})
    entries = document["events"]
    if len(entries) > BATCH_MAX_EVENTS:
        raise ApiError(413, "too_many_events", max_events=BATCH_MAX_EVENTS,
                       message=f"a batch holds at most {BATCH_MAX_EVENTS} events: split it")
    return entries


def _batch_item(site_id: str, entry) -> BatchItem:
    """One item of a batch, checked as the single route checks its request; raises InvalidEvent."""
    if not isinstance(entry, dict):
        raise InvalidEvent({"": "must be an object with webhook_id and event"})
    webhook_id = entry.get("webhook_id")
    if not isinstance(webhook_id, str) or not WEBHOOK_ID.match(webhook_id):
        raise InvalidEvent({"webhook_id": "must be 1-255 printable ASCII characters"})
    if "event" not in entry:
        raise InvalidEvent({"event": "is required"})
    event = parse_event(entry["event"])
    # Stored as the event's own document, the payload the applier parses again (the single route
    # stores its whole signed body, which is that document too).
    raw = json.dumps(entry["event"], ensure_ascii=False, separators=(",", ":"))
    if len(raw.encode("utf-8")) > EVENT_MAX_BYTES:
        raise InvalidEvent({"event": f"is over {EVENT_MAX_BYTES // 1024} KiB"})
    return BatchItem(webhook_id, raw, event, _survey_link_cancellation(site_id, event))


@bp.get("/v1/sites/<site_id>/ping")
def ping(site_id: str):
    site, _ = signed_request(site_id)
    return {"status": "ok", "site_id": site["id"], "site_name": site["name"]}


def _survey_link_cancellation(site_id: str, event: Event) -> int | None:
    token = (event.survey or {}).get("token") if event.type == "survey.submitted" else None
    if not token:
        return None
    try:
        return read_survey_token(current_app.config["SECRET_KEY"], site_id, token, event.occurred_at)
    except TokenError as error:
        message = "has expired" if error.reason == "expired" else "is not a valid survey link for this site"
        raise InvalidEvent({"survey.token": message}) from None
