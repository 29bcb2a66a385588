"""A member's subscriptions found by an index on SQLite too (issue 15).

A cancellation that reaches the applier after its member's comeback reads the member's
subscriptions (the win-back's amount), and an erasure reads them too. InnoDB made an index for
the member_id foreign key by itself; SQLite makes none, so there each of those reads went through
every subscription of the database. (member_id) serves them on both databases (the rows come in
id order, which both keep within an index's equal keys); on MariaDB it takes the place of the
implicit one.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

_NEW_INDEX = "ix_subscriptions_member_id"


def upgrade() -> None:
    op.create_index(_NEW_INDEX, "subscriptions", ["member_id"])


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        # The member_id foreign key needs an index once the new one goes: InnoDB dropped its
        # implicit one when the new one could serve the key (see 0016's downgrade).
        serving = [index for index in sa.inspect(bind).get_indexes("subscriptions")
                   if index["name"] != _NEW_INDEX and index["column_names"][:1] == ["member_id"]]
        if not serving:
            op.create_index("fk_subscriptions_member_id_members", "subscriptions", ["member_id"])
    op.drop_index(_NEW_INDEX, "subscriptions")
