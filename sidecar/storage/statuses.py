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


# The one ``subscriptions.status`` storage writes itself rather than taking from an event: a
# subscription another replaced (a plan change, ``subscription.replaces``), ended without being a
# cancellation. The others are the events' (sidecar.domain.events.SUBSCRIPTION_STATUSES).
SUBSCRIPTION_REPLACED = "replaced"


# The one value of ``scheduled_emails.step`` that storage's queries single out: the owner's alert
# that a member asks to be contacted (sidecar.mail.catalog.OWNER_ALERT) is no step of the member's
# sequence, so stopping a member's emails leaves it and the digest's count of emails sent skips it.
OWNER_ALERT_STEP = "owner_alert"


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
