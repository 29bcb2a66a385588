"""Owner's dashboard: single-use login nonces (one row per sign-in token used).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

from sidecar.storage.types import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

MYSQL = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin", "mysql_engine": "InnoDB"}


def upgrade() -> None:
    op.create_table(
        "login_nonces",
        sa.Column("site_id", sa.String(32), nullable=False),
        sa.Column("nonce", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("site_id", "nonce", name="pk_login_nonces"),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name="fk_login_nonces_site_id_sites"),
        **MYSQL,
    )
    op.create_index("ix_login_nonces_expires_at", "login_nonces", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_login_nonces_expires_at", "login_nonces")
    op.drop_table("login_nonces")
