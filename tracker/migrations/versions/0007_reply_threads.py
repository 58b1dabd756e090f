"""reply threads: the Message-ID each outgoing mail was sent with, and replies linked
to the mail of ours they answer and to the unit's original report

Revision ID: 0007_reply_threads
Revises: 0006_slot_campaign
Create Date: 2026-12-01 15:40:00
"""

from __future__ import annotations

from email import message_from_bytes, policy

import sqlalchemy as sa
from alembic import op

revision = "0007_reply_threads"
down_revision = "0006_slot_campaign"
branch_labels = None
depends_on = None


def _message_id(mime: bytes) -> str | None:
    """The Message-ID header of a stored mail (headers only are parsed)."""
    head = bytes(mime).split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    value = message_from_bytes(head, policy=policy.compat32).get("Message-ID")
    return str(value).strip()[:998] if value else None


def upgrade() -> None:
    # Plain ADD COLUMN, no batch mode (table copy): on SQLite that drops and re-creates
    # `message`, and with foreign keys on, the drop would fire ON DELETE on every row
    # that points at it (submissions, attachments, outbox). The two new ids carry no
    # foreign key for the same reason (SQLite adds none in place); nothing deletes
    # outbox rows or messages.
    op.add_column("outbox", sa.Column("message_id", sa.String(length=998), nullable=True))
    op.create_index(op.f("ix_outbox_message_id"), "outbox", ["message_id"], unique=False)
    op.add_column("message", sa.Column("reply_to_outbox_id", sa.Integer(), nullable=True))
    op.add_column("message", sa.Column("original_id", sa.Integer(), nullable=True))
    op.create_index(op.f("ix_message_original_id"), "message", ["original_id"], unique=False)
    # mail already sent keeps its Message-ID in its stored MIME: copy it out, so a
    # reply to a receipt sent before the upgrade is threaded too
    conn = op.get_bind()
    outbox = sa.table(
        "outbox",
        sa.column("id", sa.Integer),
        sa.column("mime", sa.LargeBinary),
        sa.column("message_id", sa.String),
    )
    rows = conn.execute(sa.select(outbox.c.id, outbox.c.mime)).all()
    for row_id, mime in rows:
        mid = _message_id(mime or b"")
        if mid:
            conn.execute(outbox.update().where(outbox.c.id == row_id).values(message_id=mid))


def downgrade() -> None:
    op.drop_index(op.f("ix_message_original_id"), table_name="message")
    op.drop_column("message", "original_id")
    op.drop_column("message", "reply_to_outbox_id")
    op.drop_index(op.f("ix_outbox_message_id"), table_name="outbox")
    op.drop_column("outbox", "message_id")
