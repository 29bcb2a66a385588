"""A subscription replaced by another of its member (a plan change) is no longer active (issue 13).

A plan change reaches us as the new subscription's subscription.created naming the old one in
"subscription.replaces" (docs/PROTOCOL.md). The old one then ends without being a cancellation:
replaced_at says when, so that its own later events (an expiry the plugin sends for it, a late
created) neither reopen it nor count it as churn (sidecar.domain.ingest).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

from sidecar.storage.types import UTCDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("subscriptions", sa.Column("replaced_at", UTCDateTime(), nullable=True))
    # The comebacks' reads tell a plan change (at a replaced_at of the member's) from a comeback.
    op.create_index("ix_subscriptions_replaced_at_member_id", "subscriptions", ["replaced_at", "member_id"])


def downgrade() -> None:
    op.drop_index("ix_subscriptions_replaced_at_member_id", "subscriptions")
    # In place, on SQLite too (3.35+): a batch copy would have to drop the subscriptions table,
    # which the events' and cancellations' foreign keys refuse once it holds subscriptions.
    op.drop_column("subscriptions", "replaced_at")
