"""Imported history is stored as such: events.imported, so the dashboard and the digest can say
that reasons are only known since the first live event.

Events stored before this revision are marked from their signed body, which the bridge's import
marks with "imported": true (a JSON string value holding those words would have its quotes
escaped, so it cannot match).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("imported", sa.Boolean(), nullable=False, server_default="0"))
    events = sa.table("events", sa.column("imported", sa.Boolean()), sa.column("payload", sa.Text()))
    op.execute(events.update().where(sa.or_(events.c.payload.like('%"imported":true%'),
                                            events.c.payload.like('%"imported": true%'))).values(imported=True))
    op.create_index("ix_events_site_id_imported_occurred_at", "events", ["site_id", "imported", "occurred_at"])


def downgrade() -> None:
    op.drop_index("ix_events_site_id_imported_occurred_at", "events")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("imported")
