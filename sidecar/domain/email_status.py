"""The life of a scheduled email: its statuses and every allowed transition, in one place.

    pending ──claim──▶ sending ──accepted──▶ sent
       │                 │  ├──conditions no longer hold──▶ skipped
       │                 │  ├──permanent refusal, or attempts used up──▶ failed
       │                 │  └──transient error, quiet hours, lease expired──▶ pending (later due_at)
       ├──conditions no longer hold──▶ skipped
       └──win-back, unsubscribe, erasure──▶ cancelled

An email being sent (``sending``) is never cancelled from outside: the dispatcher holding it
finishes, and a retry evaluates the conditions again, so a win-back still stops it.
"""

from __future__ import annotations

from ..storage.statuses import EmailStatus


TRANSITIONS: dict[EmailStatus, frozenset[EmailStatus]] = {
    EmailStatus.PENDING: frozenset({EmailStatus.SENDING, EmailStatus.SKIPPED, EmailStatus.CANCELLED}),
    EmailStatus.SENDING: frozenset({EmailStatus.SENT, EmailStatus.SKIPPED, EmailStatus.FAILED, EmailStatus.PENDING}),
    EmailStatus.SENT: frozenset(),
    EmailStatus.SKIPPED: frozenset(),
    EmailStatus.CANCELLED: frozenset(),
    EmailStatus.FAILED: frozenset(),
}

FINAL = frozenset(status for status, targets in TRANSITIONS.items() if not targets)


def sources_of(target: EmailStatus) -> tuple[str, ...]:
    """The statuses an email may be in to move to ``target``: storage updates only those rows."""
    return tuple(sorted(source.value for source, targets in TRANSITIONS.items() if target in targets))
