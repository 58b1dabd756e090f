"""slots belong to a campaign: slot.campaign, unique campaign x unit x period

Revision ID: 0006_slot_campaign
Revises: 0005_address_trust
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0006_slot_campaign"
down_revision = "0005_address_trust"
branch_labels = None
depends_on = None


# Rows that point at a slot. SQLite changes a constraint by copying the table and dropping
# the old one, and with foreign keys on, that DROP deletes the submissions (ON DELETE CASCADE)
# and clears the outbox's links (SET NULL): they are kept aside and put back.
_KEEP = (
    ("submission", "CREATE TEMP TABLE _keep_submission AS SELECT * FROM submission"),
    (
        "outbox",
        "CREATE TEMP TABLE _keep_outbox AS SELECT id, slot_id FROM outbox "
        "WHERE slot_id IS NOT NULL",
    ),
)
_RESTORE = (
    "INSERT INTO submission SELECT * FROM _keep_submission "
    "WHERE id NOT IN (SELECT id FROM submission)",
    "UPDATE outbox SET slot_id = (SELECT k.slot_id FROM _keep_outbox k WHERE k.id = outbox.id) "
    "WHERE id IN (SELECT id FROM _keep_outbox)",
    "DROP TABLE _keep_submission",
    "DROP TABLE _keep_outbox",
)


def _rebuild_slot(change: Callable[[Any], None]) -> None:
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    if sqlite:
        for _table, sql in _KEEP:
            bind.exec_driver_sql(sql)
    with op.batch_alter_table("slot", schema=None) as batch:
        change(batch)
    if sqlite:
        for sql in _RESTORE:
            bind.exec_driver_sql(sql)


def upgrade() -> None:
    # Existing slots keep every column; their campaign reads "" until the roster sync adopts
    # each into the campaign that schedules its unit and period (tracker.slots.sync_roster).
    def change(batch: Any) -> None:
        batch.add_column(
            sa.Column("campaign", sa.String(length=200), nullable=False, server_default="")
        )
        batch.drop_constraint("uq_slot_unit_id", type_="unique")
        batch.create_unique_constraint("uq_slot_campaign", ["campaign", "unit_id", "period"])
        batch.create_index(batch.f("ix_slot_campaign"), ["campaign"], unique=False)

    _rebuild_slot(change)


def downgrade() -> None:
    # Only possible while no unit owes the same period in two campaigns.
    def change(batch: Any) -> None:
        batch.drop_index(batch.f("ix_slot_campaign"))
        batch.drop_constraint("uq_slot_campaign", type_="unique")
        batch.create_unique_constraint("uq_slot_unit_id", ["unit_id", "period"])
        batch.drop_column("campaign")

    _rebuild_slot(change)
