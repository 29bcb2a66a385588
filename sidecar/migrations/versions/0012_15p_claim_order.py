"""The applier's claim reads the unapplied events in the order it applies them.

Its claim (oldest occurred_at first, LIMIT, FOR UPDATE SKIP LOCKED) had only (applied_at,
apply_after) to go by: MariaDB read every unapplied event, sorted them and kept every one it had
read locked until the batch ended, so a second applier (another jobs process, serve's thread)
skipped them all and claimed nothing while the first applied its 100: appliers side by side took
turns. With (applied_at, occurred_at, id) the claim reads in order and stops at its limit, locking
its batch only.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_events_applied_at_occurred_at_id", "events", ["applied_at", "occurred_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_events_applied_at_occurred_at_id", "events")
