"""Events record the rules their payload was validated with before the 202 (events.validated_with).

The applier validated every event's JSON Schema a second time (about an eighth of its CPU,
BENCHMARKS.md); it now skips that when the event was validated with today's rules. Events stored
before this revision have NULL, and are validated again when applied, as they always were.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("events", sa.Column("validated_with", sa.String(16)))


def downgrade() -> None:
    # In place, on SQLite too (3.35+): a batch copy of the table would have to drop the events
    # table, which the cancellations' and answers' foreign keys refuse once it holds events.
    op.drop_column("events", "validated_with")
