"""Re-engagement emails: site settings, sequence steps, scheduled emails, suppressions, win-backs.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from sidecar.storage.types import Id, Money, UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

MYSQL = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin", "mysql_engine": "InnoDB"}


def _fk(table: str, column: str, referred: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{referred}.id"], name=f"fk_{table}_{column}_{referred}")


def upgrade() -> None:
    op.create_table(
        "site_settings",
        sa.Column("site_id", sa.String(32), nullable=False),
        sa.Column("sender_name", sa.String(200)),
        sa.Column("support_email", sa.String(254)),
        sa.Column("owner_emails", sa.String(1000)),
        sa.Column("postal_address", sa.String(500)),
        sa.Column("default_offer_text", sa.Text),
        sa.Column("default_offer_code", sa.String(64)),
        sa.Column("news_url", sa.String(500)),
        sa.Column("discount_percent", sa.Integer),
        sa.Column("coupon_days", sa.Integer),
        sa.Column("winback_window_days", sa.Integer),
        sa.Column("min_account_age_days", sa.Integer),
        sa.Column("max_emails_per_cancellation", sa.Integer),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("site_id", name="pk_site_settings"),
        _fk("site_settings", "site_id", "sites"),
        **MYSQL,
    )
    op.create_table(
        "sequence_steps",
        sa.Column("site_id", sa.String(32), nullable=False),
        sa.Column("step", sa.String(32), nullable=False),
        sa.Column("enabled", sa.Boolean),
        sa.Column("delay_seconds", sa.Integer),
        sa.Column("copy_overrides", sa.Text),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("site_id", "step", name="pk_sequence_steps"),
        _fk("sequence_steps", "site_id", "sites"),
        **MYSQL,
    )
    op.create_table(
        "scheduled_emails",
        sa.Column("id", Id, autoincrement=True),
        sa.Column("site_id", sa.String(32), nullable=False),
        sa.Column("member_id", Id, nullable=False),
        sa.Column("cancellation_id", Id),
        sa.Column("contact_request_id", Id),
        sa.Column("step", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("lease_token", sa.String(32)),
        sa.Column("lease_until", UTCDateTime()),
        sa.Column("sent_at", UTCDateTime()),
        sa.Column("skip_reason", sa.String(64)),
        sa.Column("last_error", sa.String(500)),
        sa.Column("coupon_code", sa.String(64)),
        sa.Column("coupon_expires_at", UTCDateTime()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_scheduled_emails"),
        _fk("scheduled_emails", "site_id", "sites"),
        _fk("scheduled_emails", "member_id", "members"),
        _fk("scheduled_emails", "cancellation_id", "cancellations"),
        sa.UniqueConstraint("cancellation_id", "step", name="uq_scheduled_emails_cancellation_id_step"),
        sa.UniqueConstraint("contact_request_id", name="uq_scheduled_emails_contact_request_id"),
        **MYSQL,
    )
    op.create_index("ix_scheduled_emails_status_due_at", "scheduled_emails", ["status", "due_at"])
    op.create_index("ix_scheduled_emails_status_lease_until", "scheduled_emails", ["status", "lease_until"])
    op.create_index("ix_scheduled_emails_member_id_status", "scheduled_emails", ["member_id", "status"])
    op.create_table(
        "suppressions",
        sa.Column("site_id", sa.String(32), nullable=False),
        sa.Column("email_hash", sa.String(64), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("site_id", "email_hash", name="pk_suppressions"),
        _fk("suppressions", "site_id", "sites"),
        **MYSQL,
    )
    op.create_table(
        "winbacks",
        sa.Column("id", Id, autoincrement=True),
        sa.Column("site_id", sa.String(32), nullable=False),
        sa.Column("member_id", Id, nullable=False),
        sa.Column("cancellation_id", Id, nullable=False),
        sa.Column("event_id", Id, nullable=False),
        sa.Column("subscription_id", Id, nullable=False),
        sa.Column("event_type", sa.String(32), nullable=False),
        sa.Column("won_back_at", UTCDateTime(), nullable=False),
        sa.Column("amount", Money()),
        sa.Column("currency", sa.String(3)),
        sa.Column("last_email_id", Id),
        sa.Column("last_email_step", sa.String(32)),
        sa.Column("coupon_code", sa.String(64)),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_winbacks"),
        _fk("winbacks", "site_id", "sites"),
        _fk("winbacks", "member_id", "members"),
        _fk("winbacks", "cancellation_id", "cancellations"),
        _fk("winbacks", "event_id", "events"),
        _fk("winbacks", "subscription_id", "subscriptions"),
        sa.ForeignKeyConstraint(["last_email_id"], ["scheduled_emails.id"],
                                name="fk_winbacks_last_email_id_scheduled_emails"),
        sa.UniqueConstraint("cancellation_id", name="uq_winbacks_cancellation_id"),
        **MYSQL,
    )
    op.create_index("ix_winbacks_site_id_won_back_at", "winbacks", ["site_id", "won_back_at"])


def downgrade() -> None:
    for table in ("winbacks", "suppressions", "scheduled_emails", "sequence_steps", "site_settings"):
        op.drop_table(table)
