"""The 登记编号 of a recorded mail: short, stable, the same in receipts, the digest, the
workbook and the evidence folders (the message row id, which never changes)."""

from __future__ import annotations

PREFIX = "DJ"


def registration_number(message_id: int) -> str:
    """ "DJ00042" for message row 42."""
    return f"{PREFIX}{message_id:05d}"
