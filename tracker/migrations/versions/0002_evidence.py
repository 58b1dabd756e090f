"""evidence: what a report holds (photo count, write-up) and per-photo hash and capture date

Revision ID: 0002_evidence
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_evidence"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # New nullable columns only: existing rows keep their data and read as "not assessed"
    # (`report-intake rematch --all` assesses them from the raw copies).
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("photos", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("writeup", sa.String(length=1000), nullable=True))
    with op.batch_alter_table("attachment", schema=None) as batch_op:
        batch_op.add_column(sa.Column("photo", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("phash", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("taken_on", sa.Date(), nullable=True))
        batch_op.create_index(batch_op.f("ix_attachment_phash"), ["phash"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("attachment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attachment_phash"))
        batch_op.drop_column("taken_on")
        batch_op.drop_column("phash")
        batch_op.drop_column("photo")
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_column("writeup")
        batch_op.drop_column("photos")
