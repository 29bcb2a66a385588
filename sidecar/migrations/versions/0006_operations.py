"""Operations: a rate-limit store shared by every process, the jobs' heartbeats, and a count of
sends a crashed dispatcher may have left half done.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

from sidecar.storage.types import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

MYSQL = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin", "mysql_engine": "InnoDB"}


def upgrade() -> None:
    op.create_table(
        "rate_limit_hits",
        sa.Column("bucket", sa.String(100), nullable=False),
        sa.Column("window_start", UTCDateTime(), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("bucket", "window_start", name="pk_rate_limit_hits"),
        **MYSQL,
    )
    op.create_index("ix_rate_limit_hits_window_start", "rate_limit_hits", ["window_start"])
    op.create_table(
        "job_heartbeats",
        sa.Column("worker", sa.String(100), nullable=False),
        sa.Column("job", sa.String(32), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("last_tick_at", UTCDateTime(), nullable=False),
        sa.Column("last_report", sa.String(500)),
        sa.PrimaryKeyConstraint("worker", "job", name="pk_job_heartbeats"),
        **MYSQL,
    )
    with op.batch_alter_table("scheduled_emails") as batch:
        batch.add_column(sa.Column("interrupted_sends", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("scheduled_emails") as batch:
        batch.drop_column("interrupted_sends")
    op.drop_table("job_heartbeats")
    op.drop_index("ix_rate_limit_hits_window_start", "rate_limit_hits")
    op.drop_table("rate_limit_hits")
