"""A unit whose mail waits in review is not chased for it.

A slot is held while a message in review is about it: the message names the slot's unit
(or comes from one of the unit's addresses) and either says the slot's month or arrived
in or after it (the month read may be wrong, or the event moved: staff decide). The unit was told 已收到，正在核实; a 催报 on top (copied
to staff) would be wrong. Staff's decision ends the hold: matched, the slot is received;
ignored, the reminders take up again at the stage due that day.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, tzinfo
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.models import Message, MessageUnit, Slot, UnitAddress


class _SlotLike(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def unit_id(self) -> int: ...
    @property
    def period(self) -> str: ...


def held_slot_ids(s: Session, slots: list[Slot], tz: tzinfo = UTC) -> set[int]:
    """The ids of `slots` that wait on a message in review (months in zone `tz`)."""
    return set(waiting_messages(s, slots, tz))


def waiting_messages(
    s: Session, slots: Sequence[_SlotLike], tz: tzinfo = UTC
) -> dict[int, list[int]]:
    """Slot id -> the ids of the messages in review it waits on, oldest first, for those
    of `slots` that wait (the workbook says 有邮件待核实 with their 登记编号)."""
    if not slots:
        return {}
    waiting = s.execute(
        select(Message.id, Message.period, Message.received_at, Message.from_addr).where(
            Message.decision == "review"
        )
    ).all()
    if not waiting:
        return {}
    ids = [row[0] for row in waiting]
    named: dict[int, set[int]] = {}
    for message_id, unit_id in s.execute(
        select(MessageUnit.message_id, MessageUnit.unit_id).where(MessageUnit.message_id.in_(ids))
    ):
        named.setdefault(message_id, set()).add(unit_id)
    senders = {(row[3] or "").lower() for row in waiting if not named.get(row[0])}
    by_address: dict[str, set[int]] = {}
    if senders - {""}:
        for address, unit_id in s.execute(
            select(UnitAddress.address, UnitAddress.unit_id).where(
                UnitAddress.address.in_(sorted(senders - {""}))
            )
        ):
            by_address.setdefault(address.lower(), set()).add(unit_id)
    # each message is set against its own units' slots, not every slot (a province's
    # year holds 72,000 slots and its review queue thousands of messages)
    by_unit: dict[int, list[tuple[int, str]]] = {}
    for slot in slots:
        by_unit.setdefault(slot.unit_id, []).append((slot.id, slot.period))
    held: dict[int, list[int]] = {}
    for message_id, period, received_at, sender in waiting:
        units = named.get(message_id) or by_address.get((sender or "").lower(), set())
        if not units:
            continue
        local = received_at.astimezone(tz)
        month = f"{local.year:04d}-{local.month:02d}"
        for unit_id in units:
            for slot_id, slot_period in by_unit.get(unit_id, ()):
                # the month it says, or any slot that was due by the time it came (the
                # month read may be wrong or moved: staff decide)
                if period == slot_period or slot_period <= month:
                    held.setdefault(slot_id, []).append(message_id)
    return {k: sorted(v) for k, v in held.items()}
