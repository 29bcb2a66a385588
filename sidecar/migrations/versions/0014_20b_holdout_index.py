"""The holdout's figures find the grouped cancellations by index (issue 20).

sidecar.domain.holdout reads every judged cancellation with a group on each view of the
dashboard's overview and sequence page. With (site_id, cancelled_at) only, MariaDB read every
cancellation of the site up to the judging bound and dropped those without a group: on a site with
a long history (before the holdout, imported, by an admin) the figures' cost followed that history,
163 ms with 10,000 older cancellations, 2.65 s with 1,000,000 (BENCHMARKS.md, bench.holdout).
(site_id, followup_group, cancelled_at) reads the grouped rows only.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_cancellations_site_id_followup_group_cancelled_at", "cancellations",
                    ["site_id", "followup_group", "cancelled_at"])


def downgrade() -> None:
    op.drop_index("ix_cancellations_site_id_followup_group_cancelled_at", "cancellations")
