"""The current database schema, as SQLAlchemy Core tables.

Alembic migrations (``sidecar/migrations/versions``) create and change the real schema step by
step; ``tests/test_migrations.py`` checks that the migrated database matches these definitions.
All text is utf8mb4 with a binary collation on MySQL/MariaDB, so comparisons behave as on SQLite
and any character (French accents, emoji) round-trips byte-exact.
"""

from sqlalchemy import (
    Boolean,
    Column,
    Integer,
    ForeignKey,
    Index,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from .types import Id, LongText, Money, UTCDateTime

MYSQL_TABLE_ARGS = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin", "mysql_engine": "InnoDB"}

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

sites = Table(
    "sites",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("url", String(500), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("locale", String(16), nullable=False),
    Column("secret", String(100), nullable=False),
    Column("previous_secret", String(100)),
    Column("previous_secret_expires_at", UTCDateTime()),
    Column("created_at", UTCDateTime(), nullable=False),
    **MYSQL_TABLE_ARGS,
)

members = Table(
    "members",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("site_id", String(32), ForeignKey("sites.id"), nullable=False),
    Column("external_id", String(64), nullable=False),
    Column("email", String(254), nullable=False),
    Column("first_name", String(200)),
    Column("locale", String(16)),
    # occurred_at of the event that last set email/name/locale: an older event never overwrites.
    Column("details_at", UTCDateTime(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("site_id", "external_id"),
    Index(None, "site_id", "email"),
    **MYSQL_TABLE_ARGS,
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("site_id", String(32), ForeignKey("sites.id"), nullable=False),
    Column("source", String(32), nullable=False),
    Column("external_id", String(191), nullable=False),
    Column("member_id", Id, ForeignKey("members.id"), nullable=False),
    Column("plan_id", String(64)),
    Column("plan_name", String(200)),
    Column("amount", Money()),
    Column("currency", String(3)),
    Column("interval", String(16)),
    Column("status", String(16), nullable=False),
    # occurred_at of the event that last changed the status; older events never change it back.
    Column("status_at", UTCDateTime(), nullable=False),
    Column("started_at", UTCDateTime()),
    Column("access_ends_at", UTCDateTime()),
    Column("details_at", UTCDateTime(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("site_id", "source", "external_id"),
    **MYSQL_TABLE_ARGS,
)

events = Table(
    "events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("site_id", String(32), ForeignKey("sites.id"), nullable=False),
    Column("webhook_id", String(255), nullable=False),
    Column("type", String(32), nullable=False),
    Column("source", String(32), nullable=False),
    Column("initiated_by", String(16), nullable=False),
    Column("occurred_at", UTCDateTime(), nullable=False),
    Column("received_at", UTCDateTime(), nullable=False),
    Column("member_id", Id, ForeignKey("members.id")),
    Column("subscription_id", Id, ForeignKey("subscriptions.id")),
    # The raw body exactly as signed, for audit and for replaying history into new features.
    Column("payload", LongText, nullable=False),
    UniqueConstraint("site_id", "webhook_id"),
    Index(None, "subscription_id", "type", "occurred_at"),
    **MYSQL_TABLE_ARGS,
)

cancellations = Table(
    "cancellations",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("site_id", String(32), ForeignKey("sites.id"), nullable=False),
    Column("member_id", Id, ForeignKey("members.id"), nullable=False),
    Column("subscription_id", Id, ForeignKey("subscriptions.id"), nullable=False),
    Column("event_id", Id, ForeignKey("events.id"), nullable=False),
    Column("initiated_by", String(16), nullable=False),
    # "cancelled": somebody stopped the subscription; "expired": it ran out with no cancel seen.
    Column("kind", String(16), nullable=False),
    Column("cancelled_at", UTCDateTime(), nullable=False),
    Column("access_ends_at", UTCDateTime()),
    Column("resumed_at", UTCDateTime()),
    Column("ended_at", UTCDateTime()),
    Column("created_at", UTCDateTime(), nullable=False),
    # The same cancellation reported twice (two webhook ids, one occurrence) is one record.
    UniqueConstraint("subscription_id", "cancelled_at"),
    Index(None, "site_id", "cancelled_at"),
    **MYSQL_TABLE_ARGS,
)

survey_definitions = Table(
    "survey_definitions",
    metadata,
    Column("site_id", String(32), ForeignKey("sites.id"), primary_key=True),
    # Versions are immutable once stored: an answer names the version its member saw.
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("definition", LongText, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    **MYSQL_TABLE_ARGS,
)

survey_answers = Table(
    "survey_answers",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("site_id", String(32), ForeignKey("sites.id"), nullable=False),
    Column("member_id", Id, ForeignKey("members.id"), nullable=False),
    # NULL until the cancellation it answers is known (the answer may arrive first).
    Column("cancellation_id", Id, ForeignKey("cancellations.id")),
    # The source's subscription id the member answered about, to attach the answer later.
    Column("subscription_external_id", String(191)),
    Column("event_id", Id, ForeignKey("events.id"), nullable=False),
    Column("definition_version", Integer, nullable=False),
    Column("locale", String(16)),
    Column("reason", String(40)),
    Column("follow_up", String(1000)),
    Column("comment", Text),
    Column("contact_requested", Boolean, nullable=False),
    Column("contact", String(200)),
    Column("answered_at", UTCDateTime(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    # One answer per cancellation: a second one replaces the first.
    UniqueConstraint("cancellation_id"),
    Index(None, "member_id", "answered_at"),
    **MYSQL_TABLE_ARGS,
)

contact_requests = Table(
    "contact_requests",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("site_id", String(32), ForeignKey("sites.id"), nullable=False),
    Column("answer_id", Id, ForeignKey("survey_answers.id"), nullable=False),
    Column("member_id", Id, ForeignKey("members.id"), nullable=False),
    Column("contact", String(200)),
    Column("requested_at", UTCDateTime(), nullable=False),
    # Set when the owner's alert email went out (jobs) and when the owner marked it answered.
    Column("alerted_at", UTCDateTime()),
    Column("answered_at", UTCDateTime()),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("answer_id"),
    Index(None, "site_id", "answered_at"),
    **MYSQL_TABLE_ARGS,
)
