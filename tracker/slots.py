"""Slots and their states: which unit owes which period, and where each stands on a date.

States (BRIEF.md): upcoming (its month has not begun), open (its month has begun, not yet
due, nothing in), received (in on or before the due date), late (in after the due date),
missing (due date passed, nothing in), excused (staff said so).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from tracker.models import Slot, Submission, Unit, UnitAddress
from tracker.roster import Roster, period_of

STATES = ("upcoming", "open", "received", "late", "missing", "excused")


@dataclass(frozen=True)
class SubmissionInfo:
    message_id: int
    received_at: datetime
    on_time: bool


@dataclass(frozen=True)
class SlotStatus:
    slot_id: int
    unit: str
    unit_kind: str
    period: str
    due: date
    state: str
    submissions: tuple[SubmissionInfo, ...]
    excused: bool = False
    note: str = ""


def due_date(period: str, deadline_day: int) -> date:
    year, month = period_of(period)
    return date(year, month, deadline_day)


def period_start(period: str) -> date:
    year, month = period_of(period)
    return date(year, month, 1)


def sync_roster(session: Session, roster: Roster, now: datetime | None = None) -> None:
    """Make units, their roster addresses and their scheduled slots match the roster.

    Units that left the roster are kept (their history matters) but marked inactive;
    slots are never deleted, and learnt addresses are never removed.
    """
    now = now or datetime.now(UTC)
    units = {u.name: u for u in session.scalars(select(Unit).options(selectinload(Unit.addresses)))}
    all_slots = list(session.scalars(select(Slot)))
    slots = {(s.unit_id, s.period): s for s in all_slots}
    # a slot staff moved to another month (tracker.staff.reschedule) stands for its roster month
    moved = {(s.unit_id, s.moved_from) for s in all_slots if s.moved_from}
    for ru in roster.units:
        unit = units.get(ru.name)
        if unit is None:
            unit = Unit(name=ru.name, kind=ru.kind, central=ru.central, aliases=list(ru.aliases))
            session.add(unit)
            session.flush()
            units[ru.name] = unit
        unit.kind, unit.central, unit.aliases, unit.active = (
            ru.kind,
            ru.central,
            list(ru.aliases),
            True,
        )
        known = {a.address for a in unit.addresses}
        for address in ru.emails:
            if address not in known:
                session.add(
                    UnitAddress(unit_id=unit.id, address=address, source="roster", created_at=now)
                )
        for period in ru.months:
            if (unit.id, period) in moved:
                continue
            due = roster.due(ru, period)
            slot = slots.get((unit.id, period))
            if slot is None:
                session.add(Slot(unit_id=unit.id, period=period, due=due, scheduled=True))
            elif not slot.moved_from:
                slot.due, slot.scheduled = due, True
    names = {ru.name for ru in roster.units}
    for name, unit in units.items():
        if name not in names:
            unit.active = False
    session.flush()


def state_of(slot: Slot, subs: Sequence[SubmissionInfo], as_of: date) -> str:
    if slot.excused:
        return "excused"
    if subs:
        return "received" if any(s.on_time for s in subs) else "late"
    if as_of > slot.due:
        return "missing"
    if as_of < period_start(slot.period):
        return "upcoming"
    return "open"


def slot_states(
    session: Session,
    *,
    as_of: date,
    tz: ZoneInfo,
    period: str | None = None,
    unit: str | None = None,
) -> list[SlotStatus]:
    """Every slot (optionally of one period or unit) with its state on `as_of`.

    A submission counts only if its message was received on or before `as_of`, so the
    question "where did we stand on 20 May" has an honest answer.
    """
    q = (
        select(Slot)
        .join(Unit)
        .options(
            selectinload(Slot.unit), selectinload(Slot.submissions).selectinload(Submission.message)
        )
    )
    if period:
        q = q.where(Slot.period == period)
    if unit:
        q = q.where(Unit.name == unit)
    q = q.order_by(Slot.period, Slot.due, Unit.kind.desc(), Unit.id)
    out = []
    for slot in session.scalars(q):
        subs = []
        for sub in slot.submissions:
            msg = sub.message
            if msg.decision != "matched":
                continue
            local = msg.received_at.astimezone(tz).date()
            if local > as_of:
                continue
            subs.append(SubmissionInfo(msg.id, msg.received_at, local <= slot.due))
        subs.sort(key=lambda s: s.received_at)
        out.append(
            SlotStatus(
                slot_id=slot.id,
                unit=slot.unit.name,
                unit_kind=slot.unit.kind,
                period=slot.period,
                due=slot.due,
                state=state_of(slot, subs, as_of),
                submissions=tuple(subs),
                excused=slot.excused,
                note=slot.note,
            )
        )
    return out
