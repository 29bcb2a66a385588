"""Every path that stops a member's emails goes through sidecar.domain.stops.stop_emails_for, which
takes the member's row the dispatcher holds while it sends: a path cancelling by hand could forget
that lock and bring back "sent after unsubscribe". What each path stops is proved in
test_unsubscribe.py, test_emails.py, test_privacy.py and reliability/test_stop_during_send.py."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STOPS = "sidecar/domain/stops.py"


def _sources():
    for file in sorted((ROOT / "sidecar").rglob("*.py")):
        name = file.relative_to(ROOT).as_posix()
        if not name.startswith("sidecar/migrations/"):
            yield name, ast.parse(file.read_text(), name)


def _called(node: ast.Call) -> str | None:
    function = node.func
    return function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", None)


def _is_cancelled(node: ast.AST) -> bool:
    """``"cancelled"``, ``X.CANCELLED`` or ``X.CANCELLED.value``."""
    if isinstance(node, ast.Attribute) and node.attr == "value":
        node = node.value
    return (isinstance(node, ast.Constant) and node.value == "cancelled") or (
        isinstance(node, ast.Attribute) and node.attr == "CANCELLED")


def test_only_the_stops_module_cancels_scheduled_emails():
    callers, namers = set(), set()
    for name, tree in _sources():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _called(node) == "cancel_pending":
                callers.add(name)
            if isinstance(node, ast.Attribute) and node.attr == "CANCELLED":
                namers.add(name)
    assert callers == {STOPS}
    # Moving an email to "cancelled" any other way (a transition, an UPDATE) names the status:
    # only its definition, the storage that writes it and the stops module may.
    assert namers <= {STOPS, "sidecar/domain/email_status.py", "sidecar/storage/emails.py",
                      "sidecar/storage/statuses.py"}


def test_storage_writes_the_cancelled_status_of_an_email_in_one_function():
    writers = set()
    for name, tree in _sources():
        if not name.startswith("sidecar/storage/"):
            continue
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef):
                continue
            for node in ast.walk(function):
                if isinstance(node, ast.keyword) and node.arg == "status" and _is_cancelled(node.value):
                    writers.add((name, function.name))
    assert writers == {("sidecar/storage/emails.py", "cancel_pending")}
