"""The statuses stored in ``scheduled_emails.status`` and ``digests.status``, named once, below
storage: the storage layer's queries and the domain's rules (sidecar.domain.email_status for an
email's transitions, sidecar.domain.digest for a digest's) use these names; the database holds
their values, the same strings as ever.
"""

from __future__ import annotations

import enum


class EmailStatus(str, enum.Enum):
    """A scheduled email; its life is drawn in sidecar.domain.email_status."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"
    FAILED = "failed"


class DigestStatus(str, enum.Enum):
    """pending ──claim──▶ sending ──accepted──▶ sent
                            ├──no recipients──▶ skipped
                            ├──error, attempts left──▶ pending
                            └──error, attempts used up──▶ failed
    A sender that dies leaves ``sending`` with a lease; once it expires the digest is claimed again."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    SKIPPED = "skipped"
    FAILED = "failed"
