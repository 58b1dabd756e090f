"""activity date of a report, where its text or its photos tell it

Revision ID: 0004_activity_date
Revises: 0003_board_users_audit
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_activity_date"
down_revision = "0003_board_users_audit"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # One nullable column: existing rows keep their data and read as "date unknown".
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("activity_on", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_column("activity_on")
