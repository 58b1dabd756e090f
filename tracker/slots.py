"""Slots and their states: which unit owes which period, and where each stands on a date.

States (BRIEF.md): upcoming (its month has not begun), open (its month has begun, not yet
due, nothing in), received (in on or before the due date), late (in after the due date),
missing (due date passed, nothing in), excused (staff said so).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from tracker.models import Message, Slot, Submission, Unit, UnitAddress
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
    campaign: str = ""


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
    _adopt_legacy_slots(roster, units, all_slots)
    slots = {(s.campaign, s.unit_id, s.period): s for s in all_slots}
    # a slot staff moved to another month (tracker.staff.reschedule) stands for its roster month
    moved = {(s.campaign, s.unit_id, s.moved_from) for s in all_slots if s.moved_from}
    new_units = [
        Unit(name=ru.name, kind=ru.kind, central=ru.central, aliases=list(ru.aliases))
        for ru in roster.units
        if ru.name not in units
    ]
    if new_units:  # one flush gives them all their ids (a first start: thousands at once)
        session.add_all(new_units)
        session.flush()
        units.update((u.name, u) for u in new_units)
    fresh = set(new_units)
    for ru in roster.units:
        unit = units[ru.name]
        unit.kind, unit.central, unit.aliases, unit.active = (
            ru.kind,
            ru.central,
            list(ru.aliases),
            True,
        )
        # a new unit has no addresses yet: reading the relation would load it (and flush)
        known = {} if unit in fresh else {a.address: a for a in unit.addresses}
        for address in ru.emails:
            row = known.get(address)
            if row is None:
                session.add(
                    UnitAddress(
                        unit_id=unit.id,
                        address=address,
                        source="roster",
                        status="confirmed",
                        created_at=now,
                    )
                )
            elif row.status != "confirmed":  # learnt first, now in the roster: trusted
                row.source, row.status, row.source_message_id = "roster", "confirmed", None
        for part in roster.parts:
            pu = part.unit(ru.name)
            key = part.campaign.key
            for period in pu.months if pu is not None else ():
                if (key, unit.id, period) in moved:
                    continue
                due = part.due(pu, period)  # type: ignore[arg-type]
                slot = slots.get((key, unit.id, period))
                if slot is None:
                    slot = Slot(
                        unit_id=unit.id, period=period, due=due, scheduled=True, campaign=key
                    )
                    session.add(slot)
                    slots[key, unit.id, period] = slot
                elif not slot.moved_from:
                    slot.due, slot.scheduled = due, True
    names = {ru.name for ru in roster.units}
    for name, unit in units.items():
        if name not in names:
            unit.active = False
    session.flush()


def _adopt_legacy_slots(roster: Roster, units: dict[str, Unit], slots: Sequence[Slot]) -> None:
    """Slots recorded before campaigns (campaign "") join the campaign that schedules their
    unit and period (or, for an unscheduled or moved slot, the one whose months cover its
    year); a slot no campaign claims keeps "" and stays as it was."""
    names = {u.id: name for name, u in units.items()}
    taken = {(s.campaign, s.unit_id, s.period) for s in slots if s.campaign}
    for slot in slots:
        if slot.campaign or slot.unit_id not in names:
            continue
        name = names[slot.unit_id]
        owing = roster.owing(name, slot.moved_from or slot.period)
        if not owing:
            owing = [p for p in roster.parts if slot.period[:4] in {m[:4] for m in p.periods()}]
        if len(owing) != 1 and len(roster.parts) > 1:
            continue
        key = (owing[0] if owing else roster.parts[0]).campaign.key
        if (key, slot.unit_id, slot.period) in taken:
            continue
        slot.campaign = key
        taken.add((key, slot.unit_id, slot.period))


def campaign_for(roster: Roster, unit: str, period: str, text: str = "") -> tuple[str | None, str]:
    """The campaign a report of `unit` for `period` counts in, and a reason when none:
    the campaign that schedules it, else the one whose months cover the period's year; of
    several, the one whose keywords `text` (subject, body) names. One campaign: always it."""
    parts = roster.parts
    if len(parts) == 1:
        return parts[0].campaign.key, ""
    found = roster.owing(unit, period)
    if not found:
        found = [
            p
            for p in parts
            if p.unit(unit) is not None and period[:4] in {m[:4] for m in p.periods()}
        ]
    if len(found) > 1:
        named = [p for p in found if any(k and k in text for k in p.campaign.keywords)]
        if len(named) == 1:
            return named[0].campaign.key, ""
        names = "、".join(p.campaign.name for p in found)
        return None, f"{unit}{period}同时属于几项活动（{names}），无法确定报的是哪一项，请人工确认"
    if not found:
        names = "、".join(p.campaign.name for p in parts)
        return None, f"{unit}{period}不属于任何一项活动（{names}），请人工确认"
    return found[0].campaign.key, ""


def slot_for(s: Session, unit: Unit, period: str, roster: Roster, campaign: str) -> Slot:
    """The slot of `campaign` a report counts for: the period's own, else the unit's one
    scheduled slot that year (an event moved to another month), else a new unscheduled
    slot due on the campaign's day."""
    in_campaign = select(Slot).where(Slot.unit_id == unit.id, Slot.campaign == campaign)
    slot = s.scalar(in_campaign.where(Slot.period == period))
    if slot is not None:
        return slot
    same_year = [
        x
        for x in s.scalars(in_campaign.where(Slot.scheduled.is_(True)))
        if x.period.startswith(period[:4])
    ]
    if len(same_year) == 1:
        return same_year[0]
    part = roster.part(campaign)
    slot = Slot(
        unit_id=unit.id,
        period=period,
        due=(part.campaign if part is not None else roster.campaign).due(period),
        scheduled=False,
        campaign=campaign,
    )
    s.add(slot)
    s.flush()
    return slot


def state_of(slot: Slot, subs: Sequence[SubmissionInfo], as_of: date) -> str:
    return _state(slot.excused, slot.due, slot.period, subs, as_of)


def _state(
    excused: bool, due: date, period: str, subs: Sequence[SubmissionInfo], as_of: date
) -> str:
    if excused:
        return "excused"
    if subs:
        return "received" if any(s.on_time for s in subs) else "late"
    if as_of > due:
        return "missing"
    if as_of < period_start(period):
        return "upcoming"
    return "open"


def slot_states(
    session: Session,
    *,
    as_of: date,
    tz: ZoneInfo,
    period: str | None = None,
    unit: str | None = None,
    campaigns: Collection[str] | None = None,
) -> list[SlotStatus]:
    """Every slot (optionally of one period or unit) with its state on `as_of`.

    A submission counts only if its message was received on or before `as_of`, so the
    question "where did we stand on 20 May" has an honest answer.
    """
    # Plain columns, two queries: no ORM object per slot or per counted message (with
    # 6,000 units x 12 months and 50,000 messages that was most of the time and memory).
    q = select(
        Slot.id,
        Slot.period,
        Slot.due,
        Slot.excused,
        Slot.note,
        Slot.campaign,
        Unit.name,
        Unit.kind,
    ).join(Unit, Unit.id == Slot.unit_id)
    subs_q = (
        select(Submission.slot_id, Message.id, Message.received_at)
        .join(Message, Message.id == Submission.message_id)
        .join(Slot, Slot.id == Submission.slot_id)
        .where(Message.decision == "matched")
    )
    if unit:
        q = q.where(Unit.name == unit)
        subs_q = subs_q.join(Unit, Unit.id == Slot.unit_id).where(Unit.name == unit)
    if period:
        q, subs_q = q.where(Slot.period == period), subs_q.where(Slot.period == period)
    if campaigns is not None:
        chosen = Slot.campaign.in_(list(campaigns))
        q, subs_q = q.where(chosen), subs_q.where(chosen)
    q = q.order_by(Slot.period, Slot.due, Unit.kind.desc(), Unit.id)
    counted: dict[int, list[tuple[int, datetime]]] = {}
    for slot_id, message_id, received_at in session.execute(subs_q.order_by(Submission.id)):
        counted.setdefault(slot_id, []).append((message_id, received_at))
    out = []
    for row in session.execute(q):
        subs = []
        for message_id, received_at in counted.get(row.id, ()):
            local = received_at.astimezone(tz).date()
            if local > as_of:
                continue
            subs.append(SubmissionInfo(message_id, received_at, local <= row.due))
        subs.sort(key=lambda s: s.received_at)
        out.append(
            SlotStatus(
                slot_id=row.id,
                unit=row.name,
                unit_kind=row.kind,
                period=row.period,
                due=row.due,
                state=_state(row.excused, row.due, row.period, subs, as_of),
                submissions=tuple(subs),
                excused=row.excused,
                note=row.note,
                campaign=row.campaign,
            )
        )
    return out


def chosen_campaigns(
    roster: Roster, as_of: date, campaign: str | None = None, overdue_days: int = 0
) -> list[str] | None:
    """The campaigns a command covers on `as_of`: the one named by `--campaign`, else those
    active on the date, else (between campaigns) the latest begun. None: no filter (a
    one-campaign roster, where older slots may still carry "" )."""
    if campaign:
        if roster.part(campaign) is None:
            names = "、".join(p.campaign.name for p in roster.parts)
            raise ValueError(f"campaign {campaign!r}: not in the roster (campaigns: {names})")
        return [campaign]
    if len(roster.parts) == 1:
        return None
    active = roster.active(as_of, overdue_days)
    if not active:
        begun = [p for p in roster.parts if (d := p.first_day()) is not None and d <= as_of]
        active = begun[-1:] or list(roster.parts[:1])
    return [p.campaign.key for p in active]
