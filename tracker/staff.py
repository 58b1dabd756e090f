"""Staff corrections: decide a message by hand, excuse a slot, re-run matching.

A staff decision is final: `rematch` never overwrites it. Assigning a message to a unit
also teaches the matcher the sender's address.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.matching import MatchResult, UnitRef
from tracker.evidence import assess_message
from tracker.models import Message, Slot, Unit
from tracker.recording import _learn_address, analyse, apply_match
from tracker.roster import Roster, period_of


class StaffError(Exception):
    """A correction that cannot be made: one readable line."""


def get_message(s: Session, message_id: int) -> Message:
    msg = s.get(Message, message_id)
    if msg is None:
        raise StaffError(f"message #{message_id}: no such message")
    return msg


def find_unit(s: Session, name: str, roster: Roster) -> Unit:
    """A unit by its canonical name or one of its roster aliases."""
    wanted = name.strip()
    for ru in roster.units:
        if wanted == ru.name or wanted in ru.aliases:
            wanted = ru.name
            break
    unit = s.scalar(select(Unit).where(Unit.name == wanted))
    if unit is None:
        raise StaffError(f"unit {name!r}: not in the roster")
    return unit


def assign(
    s: Session,
    roster: Roster,
    message_id: int,
    units: Sequence[str],
    period: str,
    now: datetime,
    *,
    kind: str = "report",
    note: str = "",
) -> Message:
    """Staff say: this message is `kind` for these units and this period."""
    if not units:
        raise StaffError("name at least one unit (--unit)")
    try:
        period_of(period)
    except ValueError:
        raise StaffError(f"period {period!r}: not YYYY-MM") from None
    msg = get_message(s, message_id)
    found = [find_unit(s, u, roster) for u in units]
    reasons = [f"工作人员确认：{'、'.join(u.name for u in found)} {period}"]
    if note:
        reasons.append(f"备注：{note}")
    result = MatchResult(
        kind=kind,
        decision="matched",
        units=tuple(u.name for u in found),
        period=period,
        confidence=1.0,
        reasons=tuple(reasons),
    )
    apply_match(s, msg, result, roster, now)
    msg.decided_by = "staff"
    if msg.from_addr and len(found) == 1:
        _learn_address(s, found[0], msg.from_addr, "staff", now)
    return msg


def ignore(s: Session, roster: Roster, message_id: int, now: datetime, note: str = "") -> Message:
    """Staff say: this message is not a report; leave it out of every count."""
    msg = get_message(s, message_id)
    reasons = ["工作人员确认：非报送邮件"] + ([f"备注：{note}"] if note else [])
    result = MatchResult(
        kind="other",
        decision="ignored",
        units=(),
        period=None,
        confidence=1.0,
        reasons=tuple(reasons),
    )
    apply_match(s, msg, result, roster, now)
    msg.decided_by = "staff"
    return msg


def excuse(
    s: Session, roster: Roster, unit: str, period: str, note: str, undo: bool = False
) -> Slot:
    """Excuse a unit from a period's report (or take the excuse back)."""
    u = find_unit(s, unit, roster)
    slot = s.scalar(select(Slot).where(Slot.unit_id == u.id, Slot.period == period))
    if slot is None:
        raise StaffError(f"{u.name} owes no report for {period}")
    slot.excused = not undo
    slot.note = "" if undo else note
    return slot


@dataclass
class RematchChange:
    message_id: int
    before: str
    after: str


def rematch(
    s: Session,
    roster: Roster,
    units: Sequence[UnitRef],
    storage_dir: object,
    now: datetime,
    *,
    ids: Sequence[int] = (),
    own_addresses: Sequence[str] = (),
) -> tuple[list[RematchChange], int]:
    """Re-run matching on recorded messages from their raw copies.

    Returns the changes and how many staff decisions were left as they were.
    """
    from pathlib import Path

    q = select(Message).order_by(Message.id)
    if ids:
        q = q.where(Message.id.in_(list(ids)))
        missing = set(ids) - set(s.scalars(select(Message.id).where(Message.id.in_(list(ids)))))
        if missing:
            raise StaffError(f"message #{min(missing)}: no such message")
    changes: list[RematchChange] = []
    kept = 0
    root = Path(str(storage_dir))
    for msg in s.scalars(q):
        if not msg.raw_path:
            kept += msg.decided_by == "staff"
            continue
        if msg.decided_by == "staff":
            kept += 1
            if msg.writeup is None:  # recorded before reports were assessed
                raw = (root / msg.raw_path).read_bytes()
                a = analyse(raw, units, received_at=msg.received_at, own_addresses=own_addresses)
                assess_message(s, msg, a.parsed)
            continue
        raw = (root / msg.raw_path).read_bytes()
        before = _describe(msg)
        a = analyse(raw, units, received_at=msg.received_at, own_addresses=own_addresses)
        assess_message(s, msg, a.parsed)
        apply_match(s, msg, a.result, roster, now, a.parsed)
        after = _describe(msg)
        if before != after:
            changes.append(RematchChange(msg.id, before, after))
    return changes, kept


def _describe(msg: Message) -> str:
    names = "、".join(sorted(mu.unit.name for mu in msg.units)) or "-"
    return f"{msg.kind} {msg.decision} {names} {msg.period or '-'}"
