"""Members at risk (issue 18): per subscription, the current run of failed renewals, the last
success and the pause (at_risk), and each stay on the list for the weekly figures
(at_risk_spells). Both are filled as events are applied; events applied before this revision
are not replayed into them.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

from sidecar.storage.types import Id, UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

MYSQL = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin", "mysql_engine": "InnoDB"}


def upgrade() -> None:
    op.create_table(
        "at_risk",
        sa.Column("subscription_id", Id, nullable=False),
        sa.Column("site_id", sa.String(32), nullable=False),
        sa.Column("failing_since", UTCDateTime()),
        sa.Column("failed_attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_succeeded_at", UTCDateTime()),
        sa.Column("paused_since", UTCDateTime()),
        sa.Column("since", UTCDateTime()),
        sa.PrimaryKeyConstraint("subscription_id", name="pk_at_risk"),
        sa.ForeignKeyConstraint(["subscription_id"], ["subscriptions.id"], name="fk_at_risk_subscription_id_subscriptions"),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name="fk_at_risk_site_id_sites"),
        **MYSQL,
    )
    op.create_index("ix_at_risk_site_id_since", "at_risk", ["site_id", "since"])
    op.create_table(
        "at_risk_spells",
        sa.Column("id", Id, nullable=False, autoincrement=True),
        sa.Column("site_id", sa.String(32), nullable=False),
        sa.Column("subscription_id", Id, nullable=False),
        sa.Column("entered_at", UTCDateTime(), nullable=False),
        sa.Column("left_at", UTCDateTime()),
        sa.Column("left_reason", sa.String(16)),
        sa.PrimaryKeyConstraint("id", name="pk_at_risk_spells"),
        sa.ForeignKeyConstraint(["subscription_id"], ["subscriptions.id"],
                                name="fk_at_risk_spells_subscription_id_subscriptions"),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name="fk_at_risk_spells_site_id_sites"),
        **MYSQL,
    )
    op.create_index("ix_at_risk_spells_subscription_id", "at_risk_spells", ["subscription_id"])
    op.create_index("ix_at_risk_spells_site_id_entered_at", "at_risk_spells", ["site_id", "entered_at"])
    op.create_index("ix_at_risk_spells_site_id_left_at", "at_risk_spells", ["site_id", "left_at"])


def downgrade() -> None:
    op.drop_table("at_risk_spells")
    op.drop_table("at_risk")
