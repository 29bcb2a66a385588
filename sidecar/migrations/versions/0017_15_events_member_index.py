"""A member's events found by an index on SQLite too (issue 15).

The applier reads its batch's members' comebacks from events by member_id, and a cancellation
that arrives after its comeback reads that member's events in a window. InnoDB made an index for
the member_id foreign key by itself; SQLite makes none, so there each of those reads went
through every event of the database, and an applier batch grew with the site's history. The
index (member_id, occurred_at) serves both reads on both databases; on MariaDB it takes the place
of the implicit one.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

_NEW_INDEX = "ix_events_member_id_occurred_at"


def upgrade() -> None:
    op.create_index(_NEW_INDEX, "events", ["member_id", "occurred_at"])


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        # The member_id foreign key needs an index once the new one goes: InnoDB dropped its
        # implicit one when the new one could serve the key (see 0016's downgrade).
        serving = [index for index in sa.inspect(bind).get_indexes("events")
                   if index["name"] != _NEW_INDEX and index["column_names"][:1] == ["member_id"]]
        if not serving:
            op.create_index("fk_events_member_id_members", "events", ["member_id"])
    op.drop_index(_NEW_INDEX, "events")
