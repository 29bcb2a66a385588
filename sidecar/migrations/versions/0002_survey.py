"""Survey definitions (versioned), answers and contact requests.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

from sidecar.storage.types import Id, LongText, UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

MYSQL = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin", "mysql_engine": "InnoDB"}


def upgrade() -> None:
    op.create_table(
        "survey_definitions",
        sa.Column("site_id", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("definition", LongText, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("site_id", "version", name="pk_survey_definitions"),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name="fk_survey_definitions_site_id_sites"),
        **MYSQL,
    )
    op.create_table(
        "survey_answers",
        sa.Column("id", Id, autoincrement=True),
        sa.Column("site_id", sa.String(32), nullable=False),
        sa.Column("member_id", Id, nullable=False),
        sa.Column("cancellation_id", Id),
        sa.Column("subscription_external_id", sa.String(191)),
        sa.Column("event_id", Id, nullable=False),
        sa.Column("definition_version", sa.Integer, nullable=False),
        sa.Column("locale", sa.String(16)),
        sa.Column("reason", sa.String(40)),
        sa.Column("follow_up", sa.String(1000)),
        sa.Column("comment", sa.Text),
        sa.Column("contact_requested", sa.Boolean, nullable=False),
        sa.Column("contact", sa.String(200)),
        sa.Column("answered_at", UTCDateTime(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_survey_answers"),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name="fk_survey_answers_site_id_sites"),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name="fk_survey_answers_member_id_members"),
        sa.ForeignKeyConstraint(
            ["cancellation_id"], ["cancellations.id"], name="fk_survey_answers_cancellation_id_cancellations"
        ),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], name="fk_survey_answers_event_id_events"),
        sa.UniqueConstraint("cancellation_id", name="uq_survey_answers_cancellation_id"),
        **MYSQL,
    )
    op.create_index("ix_survey_answers_member_id_answered_at", "survey_answers", ["member_id", "answered_at"])
    op.create_table(
        "contact_requests",
        sa.Column("id", Id, autoincrement=True),
        sa.Column("site_id", sa.String(32), nullable=False),
        sa.Column("answer_id", Id, nullable=False),
        sa.Column("member_id", Id, nullable=False),
        sa.Column("contact", sa.String(200)),
        sa.Column("requested_at", UTCDateTime(), nullable=False),
        sa.Column("alerted_at", UTCDateTime()),
        sa.Column("answered_at", UTCDateTime()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_contact_requests"),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name="fk_contact_requests_site_id_sites"),
        sa.ForeignKeyConstraint(["answer_id"], ["survey_answers.id"], name="fk_contact_requests_answer_id_survey_answers"),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name="fk_contact_requests_member_id_members"),
        sa.UniqueConstraint("answer_id", name="uq_contact_requests_answer_id"),
        **MYSQL,
    )
    op.create_index("ix_contact_requests_site_id_answered_at", "contact_requests", ["site_id", "answered_at"])


def downgrade() -> None:
    for table in ("contact_requests", "survey_answers", "survey_definitions"):
        op.drop_table(table)
