"""The contact requests still waiting for their owner alert found by an index (issue 15).

Each jobs tick reads the open contact requests whose owner alert is neither sent nor planned
(sidecar.domain.alerts). No index began with alerted_at, so both databases read every contact
request ever stored, and each tick grew with the site's history. (alerted_at, answered_at,
requested_at) reads the requests neither alerted nor answered, oldest first, as the read orders
them.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07
"""

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

_INDEX = "ix_contact_requests_alerted_at_answered_at_requested_at"


def upgrade() -> None:
    op.create_index(_INDEX, "contact_requests", ["alerted_at", "answered_at", "requested_at"])


def downgrade() -> None:
    op.drop_index(_INDEX, "contact_requests")
