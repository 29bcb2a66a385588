"""Dashboard sessions that can be ended: a per-site "sessions valid after" moment, and the ids of
sessions signed out before their 8 hours were up.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from sidecar.storage.types import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

MYSQL = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin", "mysql_engine": "InnoDB"}


def upgrade() -> None:
    with op.batch_alter_table("sites") as batch:
        batch.add_column(sa.Column("sessions_valid_after", UTCDateTime()))
    op.create_table(
        "signed_out_sessions",
        sa.Column("site_id", sa.String(32), nullable=False),
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("site_id", "session_id", name="pk_signed_out_sessions"),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name="fk_signed_out_sessions_site_id_sites"),
        **MYSQL,
    )
    op.create_index("ix_signed_out_sessions_expires_at", "signed_out_sessions", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_signed_out_sessions_expires_at", "signed_out_sessions")
    op.drop_table("signed_out_sessions")
    with op.batch_alter_table("sites") as batch:
        batch.drop_column("sessions_valid_after")
