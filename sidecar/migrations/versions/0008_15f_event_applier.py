"""Events applied in the background: a 202 stores the raw event, the applier applies it later.

Every event stored before this revision was applied in its request: it is marked applied as of
its arrival.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

from sidecar.storage.types import Id, UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("applied_at", UTCDateTime()))
        batch.add_column(sa.Column("apply_after", UTCDateTime()))
        batch.add_column(sa.Column("apply_attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("apply_error", sa.String(1000)))
        batch.add_column(sa.Column("survey_cancellation_id", Id))
    op.execute("UPDATE events SET applied_at = received_at")
    op.create_index("ix_events_applied_at_apply_after", "events", ["applied_at", "apply_after"])


def downgrade() -> None:
    op.drop_index("ix_events_applied_at_apply_after", "events")
    with op.batch_alter_table("events") as batch:
        for name in ("survey_cancellation_id", "apply_error", "apply_attempts", "apply_after", "applied_at"):
            batch.drop_column(name)
