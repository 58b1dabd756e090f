"""board users, the audit table, and moved slots

Revision ID: 0003_board_users_audit
Revises: 0002_evidence
Create Date: 2026-12-01 15:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_board_users_audit"
down_revision = "0002_evidence"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "board_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("last_failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_board_user")),
        sa.UniqueConstraint("name", name=op.f("uq_board_user_name")),
    )
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("before", sa.JSON(), nullable=False),
        sa.Column("after", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("undoes_id", sa.Integer(), nullable=True),
        sa.Column("undone_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["message.id"],
            name=op.f("fk_audit_message_id_message"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["unit.id"], name=op.f("fk_audit_unit_id_unit"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(["undoes_id"], ["audit.id"], name=op.f("fk_audit_undoes_id_audit")),
        sa.ForeignKeyConstraint(
            ["undone_by_id"], ["audit.id"], name=op.f("fk_audit_undone_by_id_audit")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit")),
    )
    op.create_index(op.f("ix_audit_at"), "audit", ["at"], unique=False)
    op.create_index(op.f("ix_audit_action"), "audit", ["action"], unique=False)
    op.create_index(op.f("ix_audit_message_id"), "audit", ["message_id"], unique=False)
    op.create_index(op.f("ix_audit_unit_id"), "audit", ["unit_id"], unique=False)
    with op.batch_alter_table("slot") as batch:
        batch.add_column(sa.Column("moved_from", sa.String(length=7), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("slot") as batch:
        batch.drop_column("moved_from")
    op.drop_table("audit")
    op.drop_table("board_user")
