"""address trust: unit_address.status, source_message_id, confirmed_by; message.new_sender

Addresses from the roster and from staff stay confirmed; those learnt from liaison forms
and reports become "learnt", linked to the earliest matched message of that unit sent from
the address when there is one. Addresses that are not plain `local@domain` (a liaison form's
`x@evil.test<y@evil.test>`) are kept but marked "refused": nothing sends to them.

Revision ID: 0005_address_trust
Revises: 0004_activity_date
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from intake.addresses import valid_address

revision = "0005_address_trust"
down_revision = "0004_activity_date"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("unit_address", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("status", sa.String(length=20), nullable=False, server_default="confirmed")
        )
        batch_op.add_column(sa.Column("source_message_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("confirmed_by", sa.String(length=200), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_unit_address_source_message_id"), ["source_message_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_unit_address_source_message_id_message"),
            "message",
            ["source_message_id"],
            ["id"],
            ondelete="SET NULL",
        )
    # a plain ADD COLUMN: on SQLite a batch "recreate" of `message` would drop the table,
    # and with foreign keys on, its ON DELETE CASCADE would empty message_unit, submission
    # and attachment
    op.add_column(
        "message", sa.Column("new_sender", sa.Boolean(), nullable=False, server_default=sa.false())
    )

    conn = op.get_bind()
    ua = sa.table(
        "unit_address",
        sa.column("id", sa.Integer),
        sa.column("unit_id", sa.Integer),
        sa.column("address", sa.String),
        sa.column("source", sa.String),
        sa.column("status", sa.String),
        sa.column("source_message_id", sa.Integer),
    )
    message = sa.table(
        "message",
        sa.column("id", sa.Integer),
        sa.column("from_addr", sa.String),
        sa.column("decision", sa.String),
    )
    message_unit = sa.table(
        "message_unit", sa.column("message_id", sa.Integer), sa.column("unit_id", sa.Integer)
    )
    rows = conn.execute(sa.select(ua.c.id, ua.c.unit_id, ua.c.address, ua.c.source)).all()
    for row_id, unit_id, address, source in rows:
        checked = valid_address(address)
        if checked is None:
            conn.execute(sa.update(ua).where(ua.c.id == row_id).values(status="refused"))
            continue
        if source not in ("liaison", "report"):
            continue
        first = conn.execute(
            sa.select(sa.func.min(message.c.id))
            .select_from(message.join(message_unit, message_unit.c.message_id == message.c.id))
            .where(
                message.c.from_addr == checked,
                message.c.decision == "matched",
                message_unit.c.unit_id == unit_id,
            )
        ).scalar()
        conn.execute(
            sa.update(ua).where(ua.c.id == row_id).values(status="learnt", source_message_id=first)
        )


def downgrade() -> None:
    op.drop_column("message", "new_sender")
    with op.batch_alter_table("unit_address", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_unit_address_source_message_id_message"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_unit_address_source_message_id"))
        batch_op.drop_column("confirmed_by")
        batch_op.drop_column("source_message_id")
        batch_op.drop_column("status")
