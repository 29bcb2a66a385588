"""parse_event takes jsonschema-rs's "valid" as a shortcut (about 4 µs instead of jsonschema's 160-190,
issue 15) and asks jsonschema for everything else: its verdicts and messages stay jsonschema's only if
whatever jsonschema-rs calls valid jsonschema calls valid too. Checked here on a grid: every field of
the schema, at every level, set to each of many values near the rules' edges (lengths, patterns,
date-times, emails, types, numbers a Rust integer cannot hold, a final newline), or left out, in
each kind of event."""

from __future__ import annotations

import copy

import pytest

from sidecar.domain import events as event_module
from sidecar.domain.events import EVENT_SCHEMA, InvalidEvent, parse_event
from tests.conftest import make_event

STRINGS = [
    "", "a", "abc\n", "\n", "a\x00b", "a\x7f", "tab\tbed", "\u2028", "é" * 16, "é" * 17, "🙂" * 16, "🙂" * 17,
    "x" * 64, "x" * 65, "x" * 191, "x" * 192, "x" * 200, "x" * 201, "x" * 254, "x" * 255, "x" * 500, "x" * 501,
    "2026-11-29T10:00:00Z", "2026-11-29T10:00:00+02:00", "2026-11-29t10:00:00z", "2026-11-29T10:00:00",
    "2026-11-29 10:00:00+00:00", "2026-11-29", "yesterday", "2026-13-01T00:00:00Z", "2026-11-29T10:00:00.123456Z",
    "2026-11-29T10:00:00Z\n", "ana@example.org", "ana@example", "a b@c.de", "ana@ex@ample.org", "ana@example.org\n",
    "a@" + "b" * 250 + ".org", "fr_FR", "fr-FR-x", "fr_FR_123456789", "FR", "f", "fr_FR\n", "29.00", "29.123456",
    "1.", "12345678901", "EUR", "eur", "EURO", "month", "lifetime", "cancelled", "memberpress", "test",
    "subscription.cancelled", "survey.submitted", "member.updated", "too_expensive", "Too", "0a", "a" * 40, "a" * 41,
]
OTHERS = [0, 1, -1, 1.0, 1.5, 2 ** 63, 10 ** 40, float("inf"), True, False, None, [], {}, ["a"], {"a": 1}]
VALUES = STRINGS + OTHERS
LEFT_OUT = object()


def base_documents() -> list[dict]:
    survey = {"version": 1, "locale": "fr_FR", "reason": "too_expensive", "comment": "Trop cher",
              "contact_requested": False, "contact": None, "subscription_id": "sub_1", "follow_up": None}
    full_subscription = {**make_event()["subscription"], "plan_id": "p1", "status": "cancelled",
                         "started_at": "2026-01-01T00:00:00Z", "access_ends_at": "2026-12-01T00:00:00Z"}
    return [
        make_event(subscription=full_subscription, imported=False),
        make_event("survey.submitted", survey=survey),
        {**{k: v for k, v in make_event("survey.submitted").items() if k != "member"},
         "survey": {"version": 1, "token": "t" * 40, "reason": "too_expensive"}},
        {k: v for k, v in make_event("member.updated").items() if k != "subscription"},
    ]


def paths() -> list[tuple[str, ...]]:
    found = [()]  # the document itself
    for name, rule in EVENT_SCHEMA["properties"].items():
        found.append((name,))
        found.extend((name, inner) for inner in rule.get("properties", {}))
    return found + [("unknown",), ("member", "unknown")]


def variant(document: dict, path: tuple[str, ...], value) -> dict:
    changed = copy.deepcopy(document)
    if not path:
        return value
    parent = changed
    for name in path[:-1]:
        if not isinstance(parent.get(name), dict):
            parent[name] = {}
        parent = parent[name]
    if value is LEFT_OUT:
        parent.pop(path[-1], None)
    else:
        parent[path[-1]] = value
    return changed


def jsonschema_verdict(document) -> dict | None:
    """What parse_event said before the shortcut: None (valid) or the fields it named."""
    fields = dict.fromkeys(event_module._lone_surrogates(document), event_module._NOT_UNICODE)
    for error in sorted(event_module._validator.iter_errors(document), key=lambda e: list(e.absolute_path)):
        name, message = event_module._describe(error)
        fields.setdefault(name, message)
    return fields or None


def test_what_jsonschema_rs_calls_valid_jsonschema_calls_valid_and_parse_event_answers_as_before():
    checked = shortcut_taken = stricter = 0
    for document in base_documents():
        assert event_module._surely_valid(document), document  # the shortcut is taken for valid events
        for path in paths():
            for value in [*VALUES, LEFT_OUT] if path else VALUES:
                candidate = variant(document, path, value)
                before = jsonschema_verdict(candidate)
                surely = event_module._surely_valid(candidate)
                assert not (surely and before), (path, value, before)
                if surely:
                    shortcut_taken += 1
                elif before is None:
                    stricter += 1  # jsonschema decides: valid
                try:
                    parsed = parse_event(candidate)
                except InvalidEvent as invalid:
                    assert invalid.fields == before, (path, value)
                else:
                    assert before is None, (path, value)
                    assert parsed == event_module._build(candidate)
                checked += 1
    assert checked > 10_000 and shortcut_taken > 1_000, (checked, shortcut_taken, stricter)


@pytest.mark.parametrize("text", ["abc\n", "sub_1\n"])
def test_a_final_newline_where_jsonschema_allows_it_is_still_decided_by_jsonschema(text):
    # Python's "$" matches before a final newline, Rust's does not: the shortcut says "not valid",
    # jsonschema says valid, and parse_event answers as it always has.
    document = make_event(subscription={**make_event()["subscription"], "id": text})
    assert not event_module._surely_valid(document)
    assert parse_event(document).subscription.id == text
