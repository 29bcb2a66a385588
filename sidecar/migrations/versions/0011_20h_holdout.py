"""The holdout (issue 20): each site's share of voluntary cancellations that get the farewell and
no follow-up (site_settings.holdout_percent, default in sidecar.domain.site_settings), the site's
secret seed that draws each cancellation's group (sites.holdout_seed), and the group drawn, kept
with the cancellation (cancellations.followup_group: "followups", "holdout", or none: outside the
comparison). Existing sites get a seed here; existing cancellations stay outside the comparison,
since every one of them was followed up.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("sites", sa.Column("holdout_seed", sa.String(64)))
    op.add_column("site_settings", sa.Column("holdout_percent", sa.Integer()))
    op.add_column("cancellations", sa.Column("followup_group", sa.String(16)))
    sites = sa.table("sites", sa.column("id", sa.String(32)), sa.column("holdout_seed", sa.String(64)))
    conn = op.get_bind()
    for (site_id,) in conn.execute(sa.select(sites.c.id).where(sites.c.holdout_seed.is_(None))).all():
        # One seed per site, never shown: whoever knew it could tell in advance who gets no emails.
        conn.execute(sa.update(sites).where(sites.c.id == site_id).values(holdout_seed=secrets.token_hex(32)))


def downgrade() -> None:
    # ALTER TABLE … DROP COLUMN in place (SQLite 3.35+ has it): a batch operation would copy and
    # drop sites and cancellations, which other tables' foreign keys forbid.
    op.drop_column("cancellations", "followup_group")
    op.drop_column("site_settings", "holdout_percent")
    op.drop_column("sites", "holdout_seed")
