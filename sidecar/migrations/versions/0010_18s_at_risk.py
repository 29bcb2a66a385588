"""Members at risk (issue 18): per subscription, the current run of failed renewals, the last
success and the pause (at_risk), and each stay on the list for the weekly figures
(at_risk_spells). Both are filled as events are applied; here from the events applied before
this revision (the bridge has sent payment.failed and subscription.paused all along), with the
rules of sidecar.domain.at_risk.compute, one subscription at a time.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

from sidecar.storage.types import Id, UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

MYSQL = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin", "mysql_engine": "InnoDB"}


def upgrade() -> None:
    op.create_table(
        "at_risk",
        sa.Column("subscription_id", Id, nullable=False),
        sa.Column("site_id", sa.String(32), nullable=False),
        sa.Column("failing_since", UTCDateTime()),
        sa.Column("failed_attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_succeeded_at", UTCDateTime()),
        sa.Column("paused_since", UTCDateTime()),
        sa.Column("since", UTCDateTime()),
        sa.PrimaryKeyConstraint("subscription_id", name="pk_at_risk"),
        sa.ForeignKeyConstraint(["subscription_id"], ["subscriptions.id"],
                                name="fk_at_risk_subscription_id_subscriptions"),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name="fk_at_risk_site_id_sites"),
        **MYSQL,
    )
    op.create_index("ix_at_risk_site_id_since", "at_risk", ["site_id", "since"])
    op.create_table(
        "at_risk_spells",
        sa.Column("id", Id, nullable=False, autoincrement=True),
        sa.Column("site_id", sa.String(32), nullable=False),
        sa.Column("subscription_id", Id, nullable=False),
        sa.Column("entered_at", UTCDateTime(), nullable=False),
        sa.Column("left_at", UTCDateTime()),
        sa.Column("left_reason", sa.String(16)),
        sa.PrimaryKeyConstraint("id", name="pk_at_risk_spells"),
        sa.ForeignKeyConstraint(["subscription_id"], ["subscriptions.id"],
                                name="fk_at_risk_spells_subscription_id_subscriptions"),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name="fk_at_risk_spells_site_id_sites"),
        **MYSQL,
    )
    op.create_index("ix_at_risk_spells_subscription_id", "at_risk_spells", ["subscription_id"])
    op.create_index("ix_at_risk_spells_site_id_entered_at", "at_risk_spells", ["site_id", "entered_at"])
    op.create_index("ix_at_risk_spells_site_id_left_at", "at_risk_spells", ["site_id", "left_at"])
    _fill()


# The rule of sidecar/domain/at_risk.py as it was at this revision, frozen here: a migration must
# give the same result whatever the domain becomes later, and may not import a layer above it
# (tests/test_layering.py). tests/test_at_risk.py checks the fill against the live rule today.
_OPENS = ("payment.failed", "subscription.paused")
_CLOSES = {"payment.succeeded": "recovered", "subscription.resumed": "recovered",
           "subscription.cancelled": "cancelled", "subscription.expired": "expired"}
TYPES = (*_OPENS, *_CLOSES)


def _compute(events: list[dict]) -> tuple[dict, list[dict]]:
    ordered = sorted(events, key=lambda e: (e["occurred_at"], e["type"] in _CLOSES))
    spells: list[dict] = []
    open_spell: dict | None = None
    failing_since = paused_since = last_succeeded_at = last_failed_at = None
    failed_attempts = 0
    for event in ordered:
        at, type_ = event["occurred_at"], event["type"]
        if type_ in _OPENS:
            if open_spell is None:
                open_spell = {"entered_at": at, "imported": event["imported"]}
            if type_ == "payment.failed":
                failing_since = failing_since or at
                failed_attempts += 1
                last_failed_at = at
            else:
                paused_since = paused_since or at
            continue
        if type_ == "subscription.expired" and failing_since is not None and at == last_failed_at:
            continue  # access ended for this failure: still at risk
        failing_since, failed_attempts = None, 0
        if type_ == "payment.succeeded":
            last_succeeded_at = at
            if paused_since is not None:
                continue  # still paused: on the list until resumed
        else:
            paused_since = None
        if open_spell is not None:
            if not (open_spell["imported"] and event["imported"]):
                spells.append({"entered_at": open_spell["entered_at"], "left_at": at, "left_reason": _CLOSES[type_]})
            open_spell = None
    if open_spell is not None:
        spells.append({"entered_at": open_spell["entered_at"], "left_at": None, "left_reason": None})
    state = {"failing_since": failing_since, "failed_attempts": failed_attempts,
             "last_succeeded_at": last_succeeded_at, "paused_since": paused_since,
             "since": open_spell["entered_at"] if open_spell else None}
    return state, spells


def _fill() -> None:
    events = sa.table("events", sa.column("site_id", sa.String()), sa.column("subscription_id", Id),
                      sa.column("type", sa.String()), sa.column("occurred_at", UTCDateTime()),
                      sa.column("imported", sa.Boolean()), sa.column("applied_at", UTCDateTime()),
                      sa.column("id", Id))
    state_table = sa.table("at_risk", *(sa.column(c) for c in ("subscription_id", "site_id", "failing_since",
                                                               "failed_attempts", "last_succeeded_at",
                                                               "paused_since", "since")))
    spells_table = sa.table("at_risk_spells", *(sa.column(c) for c in ("site_id", "subscription_id", "entered_at",
                                                                       "left_at", "left_reason")))
    conn = op.get_bind()
    query = (sa.select(events.c.site_id, events.c.subscription_id, events.c.type, events.c.occurred_at,
                       events.c.imported)
             .where(events.c.subscription_id.is_not(None), events.c.applied_at.is_not(None),
                    events.c.type.in_(TYPES))
             .order_by(events.c.subscription_id, events.c.occurred_at, events.c.id))
    rows = [dict(r) for r in conn.execute(query).mappings()]
    by_subscription: dict = {}
    for row in rows:
        by_subscription.setdefault((row["site_id"], row["subscription_id"]), []).append(row)
    for (site_id, subscription_id), its_events in by_subscription.items():
        state, spells = _compute(its_events)
        # As domain.at_risk.on_event_applied keeps it: a row once anything opened a stay, even a
        # stay left out as imported history (it relies on that to skip recomputes).
        if not spells and not any(state.values()) and not any(e["type"] in _OPENS for e in its_events):
            continue
        conn.execute(state_table.insert().values(site_id=site_id, subscription_id=subscription_id, **state))
        for spell in spells:
            conn.execute(spells_table.insert().values(site_id=site_id, subscription_id=subscription_id, **spell))


def downgrade() -> None:
    op.drop_table("at_risk_spells")
    op.drop_table("at_risk")
