"""The holdout's judged figures are kept per site (issue 20).

sidecar.domain.holdout read every judged cancellation with a group on each view of the
dashboard's overview and sequence page: 433 ms with 7,960 judged, 3.1 s with 61,960
(BENCHMARKS.md, bench.holdout --grouped-history). The judged ones' figures are now kept in
holdout_tallies with the generation they were counted at; a view reads those judged since. Every
site has its row from the start (the applier's batches lock it shared, which only an existing row
allows); the index (member_id, followup_group, cancelled_at) lets a batch find its members' grouped
cancellations.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

from sidecar.storage.types import LongText, UTCDateTime

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "holdout_tallies",
        sa.Column("site_id", sa.String(32), sa.ForeignKey("sites.id", name="fk_holdout_tallies_site_id_sites"),
                  nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("claimed_until", UTCDateTime(), nullable=True),
        sa.Column("bound", UTCDateTime(), nullable=True),
        sa.Column("tally_generation", sa.Integer(), nullable=True),
        sa.Column("reason_cutoff_seconds", sa.Integer(), nullable=True),
        sa.Column("key_probe", sa.String(64), nullable=True),
        sa.Column("figures", LongText, nullable=True),
        sa.PrimaryKeyConstraint("site_id", name="pk_holdout_tallies"),
        mysql_charset="utf8mb4", mysql_collate="utf8mb4_bin", mysql_engine="InnoDB",
    )
    op.execute("INSERT INTO holdout_tallies (site_id, generation) SELECT id, 0 FROM sites")
    op.create_index("ix_cancellations_member_id_followup_group_cancelled_at", "cancellations",
                    ["member_id", "followup_group", "cancelled_at"])


_NEW_INDEX = "ix_cancellations_member_id_followup_group_cancelled_at"


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        # The member_id foreign key needs an index once the new one goes. InnoDB drops the index it
        # made implicitly for the key when the new one can serve it, and keeps one made explicitly
        # (whichever this database has): made again only when no other index leads with member_id.
        serving = [index for index in sa.inspect(bind).get_indexes("cancellations")
                   if index["name"] != _NEW_INDEX and index["column_names"][:1] == ["member_id"]]
        if not serving:
            op.create_index("fk_cancellations_member_id_members", "cancellations", ["member_id"])
    op.drop_index(_NEW_INDEX, "cancellations")
    op.drop_table("holdout_tallies")
