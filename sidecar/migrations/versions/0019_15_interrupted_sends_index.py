"""The sum of interrupted sends read by an index (issue 15).

/metrics (and /healthz's figures) sum scheduled_emails.interrupted_sends at each scrape. With no
index on it, both databases read every email ever stored (0.09 s per million rows on MariaDB
10.11), and each scrape grew with the history. An index on interrupted_sends lets the sum read
only the emails whose send was interrupted (a dispatcher that died or stalled mid-send), which
the rest of the table, zeros all, does not touch; no update but the take-over of an abandoned
send changes the column, so the index costs one entry per email planned.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07
"""

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

_INDEX = "ix_scheduled_emails_interrupted_sends"


def upgrade() -> None:
    op.create_index(_INDEX, "scheduled_emails", ["interrupted_sends"])


def downgrade() -> None:
    op.drop_index(_INDEX, "scheduled_emails")
