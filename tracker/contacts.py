"""Whom to call about a unit: its liaison (annex 5 form) as the digest shows it to staff."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.models import Liaison, Unit

MAX_FIELD = 40


def _clean(value: object) -> str:
    text = " ".join(str(value or "").split())
    return text[:MAX_FIELD]


def liaison_contacts(s: Session) -> dict[str, str]:
    """Unit name -> "姓名 手机" (or the office phone) from its latest liaison form."""
    out: dict[str, str] = {}
    rows = s.execute(
        select(Unit.name, Liaison.fields)
        .join(Liaison, Liaison.unit_id == Unit.id)
        .order_by(Liaison.id)
    ).all()
    for name, fields in rows:  # the latest form wins
        f = fields or {}
        person = _clean(f.get("姓名"))
        phone = _clean(f.get("手机") or f.get("办公电话"))
        line = " ".join(p for p in (person, phone) if p)
        if line:
            out[name] = line
    return out
