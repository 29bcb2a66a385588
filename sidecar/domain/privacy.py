"""Members' rights over their data (GDPR arts. 15 and 17), asked for through WordPress's own
personal-data export and erasure tools via the bridge."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from sqlalchemy.engine import Connection, Engine

from .. import i18n
from ..db import in_transaction
from ..storage import cancellations as cancellations_store
from ..storage import events as events_store
from ..storage import members as members_store
from ..storage import subscriptions as subscriptions_store
from . import holdout
from .applier import apply_all_pending
from .sequences import SkipReason
from .stops import stop_emails_for

# What an erased event keeps: that something happened, not who or what they said.
ERASED_PAYLOAD = json.dumps({"erased": True})


def _text(value) -> str:
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat().replace("+00:00", "Z")
    return str(value)


def export_member_data(engine: Engine, site_id: str, email: str, locale: str | None = None) -> list[dict]:
    """Everything stored about the members with this address, as labelled groups of name/value pairs."""
    labels = i18n.section("fr" if (locale or "").lower().startswith("fr") else "en", "privacy")
    apply_all_pending(engine)  # what was accepted is stored about them too, applied or not yet

    def group(kind: str, item_id: str, record: dict, fields: tuple[str, ...]) -> dict:
        return {"group": f"farewell-{kind}", "label": labels[kind], "id": item_id,
                "items": [{"name": labels[f], "value": _text(record.get(f))} for f in fields]}

    data: list[dict] = []
    with engine.connect() as conn:
        for member in members_store.members_by_email(conn, site_id, email):
            data.append(group("member", f"member-{member['id']}", {**member, "member_id": member["external_id"]},
                              ("member_id", "email", "first_name", "locale")))
            for sub in subscriptions_store.subscriptions_of_member(conn, member["id"]):
                data.append(group("subscriptions", f"subscription-{sub['id']}", sub,
                                  ("plan_name", "amount", "currency", "interval", "status", "started_at",
                                   "access_ends_at")))
            for c in cancellations_store.cancellations_of_member(conn, member["id"]):
                data.append(group("cancellations", f"cancellation-{c['id']}", c,
                                  ("cancelled_at", "initiated_by", "resumed_at", "ended_at")))
            for event in events_store.events_of_member(conn, member["id"]):
                if event["type"] != "survey.submitted":
                    continue
                survey = json.loads(event["payload"]).get("survey") or {}
                data.append({
                    "group": "farewell-answers", "label": labels["answers"], "id": f"answer-{event['id']}",
                    "items": [{"name": labels["answered_at"], "value": _text(event["occurred_at"])}]
                    + [{"name": str(k), "value": v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)}
                       for k, v in survey.items()],
                })
    return data


def erase_member_data(engine: Engine, site_id: str, email: str) -> int:
    """Remove the personal data of the members with this address; returns how many were erased.

    Cancellations stay as anonymous counts (plan, dates, amount) so that the owner's reports do not
    change retroactively; who it was, what they wrote and the raw events are gone. Waiting emails
    are cancelled. Suppressions stay: they hold only a keyed hash of the address, and forgetting
    them would email someone who asked us to stop.
    """
    def erase(conn: Connection) -> int:
        found = members_store.members_by_email(conn, site_id, email)
        # Like an unsubscribe: wait for an email being handed to the mail server right now, so none
        # goes out after the erasure is recorded (sidecar.domain.stops).
        stop_emails_for(conn, [m["id"] for m in found], SkipReason.ERASED, datetime.now(timezone.utc))
        for member in found:
            events_store.replace_payloads_of_member(conn, member["id"], ERASED_PAYLOAD)
            members_store.anonymize_member(conn, member["id"])
        holdout.touched_members(conn, site_id, [m["id"] for m in found])  # their address keys changed
        return len(found)

    # The events accepted before the erasure are applied first (the applier runs in the background),
    # so what they carry is found and erased here rather than applied after it.
    apply_all_pending(engine)
    return in_transaction(engine, erase)
