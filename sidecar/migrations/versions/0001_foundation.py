"""Sites, members, subscriptions, events and cancellations.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

from sidecar.storage.types import Id, LongText, Money, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

MYSQL = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin", "mysql_engine": "InnoDB"}


def upgrade() -> None:
    op.create_table(
        "sites",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("url", sa.String(500), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("locale", sa.String(16), nullable=False),
        sa.Column("secret", sa.String(100), nullable=False),
        sa.Column("previous_secret", sa.String(100)),
        sa.Column("previous_secret_expires_at", UTCDateTime()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sites"),
        **MYSQL,
    )
    op.create_table(
        "members",
        sa.Column("id", Id, autoincrement=True),
        sa.Column("site_id", sa.String(32), nullable=False),
        sa.Column("external_id", sa.String(64), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("first_name", sa.String(200)),
        sa.Column("locale", sa.String(16)),
        sa.Column("details_at", UTCDateTime(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_members"),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name="fk_members_site_id_sites"),
        sa.UniqueConstraint("site_id", "external_id", name="uq_members_site_id_external_id"),
        **MYSQL,
    )
    op.create_index("ix_members_site_id_email", "members", ["site_id", "email"])
    op.create_table(
        "subscriptions",
        sa.Column("id", Id, autoincrement=True),
        sa.Column("site_id", sa.String(32), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("external_id", sa.String(191), nullable=False),
        sa.Column("member_id", Id, nullable=False),
        sa.Column("plan_id", sa.String(64)),
        sa.Column("plan_name", sa.String(200)),
        sa.Column("amount", Money()),
        sa.Column("currency", sa.String(3)),
        sa.Column("interval", sa.String(16)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_at", UTCDateTime(), nullable=False),
        sa.Column("started_at", UTCDateTime()),
        sa.Column("access_ends_at", UTCDateTime()),
        sa.Column("details_at", UTCDateTime(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_subscriptions"),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name="fk_subscriptions_site_id_sites"),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name="fk_subscriptions_member_id_members"),
        sa.UniqueConstraint(
            "site_id", "source", "external_id", name="uq_subscriptions_site_id_source_external_id"
        ),
        **MYSQL,
    )
    op.create_table(
        "events",
        sa.Column("id", Id, autoincrement=True),
        sa.Column("site_id", sa.String(32), nullable=False),
        sa.Column("webhook_id", sa.String(255), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("initiated_by", sa.String(16), nullable=False),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("member_id", Id),
        sa.Column("subscription_id", Id),
        sa.Column("payload", LongText, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name="fk_events_site_id_sites"),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name="fk_events_member_id_members"),
        sa.ForeignKeyConstraint(
            ["subscription_id"], ["subscriptions.id"], name="fk_events_subscription_id_subscriptions"
        ),
        sa.UniqueConstraint("site_id", "webhook_id", name="uq_events_site_id_webhook_id"),
        **MYSQL,
    )
    op.create_index(
        "ix_events_subscription_id_type_occurred_at", "events", ["subscription_id", "type", "occurred_at"]
    )
    op.create_table(
        "cancellations",
        sa.Column("id", Id, autoincrement=True),
        sa.Column("site_id", sa.String(32), nullable=False),
        sa.Column("member_id", Id, nullable=False),
        sa.Column("subscription_id", Id, nullable=False),
        sa.Column("event_id", Id, nullable=False),
        sa.Column("initiated_by", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("cancelled_at", UTCDateTime(), nullable=False),
        sa.Column("access_ends_at", UTCDateTime()),
        sa.Column("resumed_at", UTCDateTime()),
        sa.Column("ended_at", UTCDateTime()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_cancellations"),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name="fk_cancellations_site_id_sites"),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name="fk_cancellations_member_id_members"),
        sa.ForeignKeyConstraint(
            ["subscription_id"], ["subscriptions.id"], name="fk_cancellations_subscription_id_subscriptions"
        ),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], name="fk_cancellations_event_id_events"),
        sa.UniqueConstraint(
            "subscription_id", "cancelled_at", name="uq_cancellations_subscription_id_cancelled_at"
        ),
        **MYSQL,
    )
    op.create_index("ix_cancellations_site_id_cancelled_at", "cancellations", ["site_id", "cancelled_at"])


def downgrade() -> None:
    for table in ("cancellations", "events", "subscriptions", "members", "sites"):
        op.drop_table(table)
