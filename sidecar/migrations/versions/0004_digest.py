"""Owners' weekly digest: its settings, one claim row per site and week, and the indexes it reads through.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

from sidecar.storage.types import Id, UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

MYSQL = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin", "mysql_engine": "InnoDB"}


def upgrade() -> None:
    op.create_table(
        "digest_settings",
        sa.Column("site_id", sa.String(32), nullable=False),
        sa.Column("weekday", sa.Integer),
        sa.Column("hour", sa.Integer),
        sa.Column("recipients", sa.String(1000)),
        sa.Column("wordpress_admin_email", sa.String(254)),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("site_id", name="pk_digest_settings"),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name="fk_digest_settings_site_id_sites"),
        **MYSQL,
    )
    op.create_table(
        "digests",
        sa.Column("id", Id, autoincrement=True),
        sa.Column("site_id", sa.String(32), nullable=False),
        sa.Column("week", sa.String(8), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("lease_token", sa.String(32)),
        sa.Column("lease_until", UTCDateTime()),
        sa.Column("recipients", sa.String(1000)),
        sa.Column("sent_at", UTCDateTime()),
        sa.Column("last_error", sa.String(500)),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_digests"),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name="fk_digests_site_id_sites"),
        sa.UniqueConstraint("site_id", "week", name="uq_digests_site_id_week"),
        **MYSQL,
    )
    # The digest reads one week at a time: these keep its cost independent of the history.
    # (cancellations (site_id, cancelled_at), winbacks (site_id, won_back_at) and contact_requests
    # (site_id, answered_at) are indexed already.)
    op.create_index("ix_survey_answers_site_id_answered_at", "survey_answers", ["site_id", "answered_at"])
    op.create_index("ix_scheduled_emails_site_id_sent_at", "scheduled_emails", ["site_id", "sent_at"])
    op.create_index("ix_suppressions_site_id_created_at", "suppressions", ["site_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_suppressions_site_id_created_at", "suppressions")
    op.drop_index("ix_scheduled_emails_site_id_sent_at", "scheduled_emails")
    op.drop_index("ix_survey_answers_site_id_answered_at", "survey_answers")
    op.drop_table("digests")
    op.drop_table("digest_settings")
