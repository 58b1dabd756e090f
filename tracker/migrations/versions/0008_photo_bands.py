"""photo bands: each counted photo's dHash cut into five bands in an indexed table, so a
reused photo is found by index lookups instead of reading every hash (tracker.photo_index);
filled here from the hashes already stored

Revision ID: 0008_photo_bands
Revises: 0007_reply_threads
Create Date: 2026-12-01 18:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_photo_bands"
down_revision = "0007_reply_threads"
branch_labels = None
depends_on = None

# as in tracker.photo_index at this revision (copied: a migration must not change later)
BANDS = ((51, 13), (38, 13), (25, 13), (12, 13), (0, 12))


def upgrade() -> None:
    op.create_table(
        "photo_band",
        sa.Column("band", sa.Integer(), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.Column("attachment_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["attachment_id"],
            ["attachment.id"],
            name=op.f("fk_photo_band_attachment_id_attachment"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("band", "value", "attachment_id", name=op.f("pk_photo_band")),
    )
    op.create_index(
        op.f("ix_photo_band_attachment_id"), "photo_band", ["attachment_id"], unique=False
    )
    conn = op.get_bind()
    attachment = sa.table(
        "attachment",
        sa.column("id", sa.Integer),
        sa.column("photo", sa.Boolean),
        sa.column("phash", sa.String),
    )
    band = sa.table(
        "photo_band",
        sa.column("band", sa.Integer),
        sa.column("value", sa.Integer),
        sa.column("attachment_id", sa.Integer),
    )
    rows = conn.execute(
        sa.select(attachment.c.id, attachment.c.phash)
        .where(attachment.c.photo.is_(True), attachment.c.phash.is_not(None))
        .order_by(attachment.c.id)
    ).all()
    batch: list[dict[str, int]] = []
    for att_id, phash in rows:
        try:
            value = int(phash, 16)
        except ValueError:
            continue
        for i, (shift, width) in enumerate(BANDS):
            batch.append(
                {"band": i, "value": (value >> shift) & ((1 << width) - 1), "attachment_id": att_id}
            )
        if len(batch) >= 5000:
            conn.execute(band.insert(), batch)
            batch = []
    if batch:
        conn.execute(band.insert(), batch)


def downgrade() -> None:
    op.drop_index(op.f("ix_photo_band_attachment_id"), table_name="photo_band")
    op.drop_table("photo_band")
