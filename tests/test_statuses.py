"""The statuses of scheduled emails and digests are named once, in sidecar.storage.statuses, and the
storage layer writes and compares those names, never a string typed again; the values stored (and
shown by the API) are the strings they always were."""

from __future__ import annotations

import ast
from pathlib import Path

from sidecar.domain import digest, email_status
from sidecar.storage.statuses import DigestStatus, EmailStatus
from sidecar.web.openapi import build_spec

ROOT = Path(__file__).resolve().parents[1]


def test_the_stored_values_are_the_strings_they_always_were():
    assert [s.value for s in EmailStatus] == ["pending", "sending", "sent", "skipped", "cancelled", "failed"]
    assert [s.value for s in DigestStatus] == ["pending", "sending", "sent", "skipped", "failed"]
    # The domain's rules use the same names, not a copy of them.
    assert email_status.EmailStatus is EmailStatus and digest.DigestStatus is DigestStatus


def test_the_api_describes_the_stored_email_statuses():
    listing = build_spec("http://sidecar.test")["paths"]["/v1/sites/{site_id}/emails"]["get"]
    item = listing["responses"]["200"]["content"]["application/json"]["schema"]["properties"]["items"]["items"]
    assert item["properties"]["status"]["enum"] == [s.value for s in EmailStatus]


def _status_literals(tree: ast.AST) -> list[int]:
    """Lines where a ``status`` is compared with, or set to, a string literal."""
    def is_status(node):
        return (isinstance(node, ast.Attribute) and node.attr == "status") or (
            isinstance(node, ast.Constant) and node.value == "status")

    def is_text(node):
        return isinstance(node, ast.Constant) and isinstance(node.value, str)

    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(is_status(s) for s in sides) and any(is_text(s) and s.value != "status" for s in sides):
                lines.append(node.lineno)
        elif isinstance(node, ast.keyword) and node.arg == "status" and is_text(node.value):
            lines.append(node.lineno)
        elif isinstance(node, ast.Dict):
            lines += [v.lineno for k, v in zip(node.keys, node.values) if k is not None and is_status(k) and is_text(v)]
    return lines


def test_storage_names_statuses_instead_of_typing_them():
    found = {}
    for file in sorted((ROOT / "sidecar" / "storage").glob("*.py")):
        lines = _status_literals(ast.parse(file.read_text(), file.name))
        if lines:
            found[file.name] = lines
    assert found == {}
