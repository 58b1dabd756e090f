"""The units' addresses and how far each is trusted.

- **confirmed**: from the roster, added or confirmed by staff, or the sender of a mail staff
  assigned by hand. Confirmed addresses receive reminders and are matching evidence.
- **learnt**: the sender of an automatically matched report or liaison form, or the
  电子邮箱 written on a liaison form. Anyone can write a unit's name in a subject, so a learnt
  address is not trusted: it receives reminders only while the unit has no confirmed
  address, and it is no matching evidence.
- **refused**: a stored address that is not a plain `local@domain` (kept from before
  addresses were checked); never used.

An address learnt from a mail keeps a link to it (`source_message_id`): when that mail is
decided again (staff ignore it or assign it elsewhere, or `rematch` changes it) the address
goes, unless staff confirmed it meanwhile (confirming cuts the link) or another matched mail
of the same unit came from it (the link moves there).

The staff functions (`list_addresses`, `add_address`, `remove_address`, `confirm_address`)
are what the command line (`unit ...`) and the web board call; each takes `by`, who acts.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.addresses import BadAddress, check_address, valid_address
from tracker.models import Message, MessageUnit, Unit, UnitAddress
from tracker.roster import Roster

log = logging.getLogger(__name__)

CONFIRMED = "confirmed"
LEARNT = "learnt"
REFUSED = "refused"
TRUSTED_SOURCES = ("roster", "staff")
SOURCE_ORDER = {"roster": 0, "staff": 1, "liaison": 2, "report": 3}


class AddressError(Exception):
    """A staff action on an address that cannot be done: one readable line."""


# --- learning from mail --------------------------------------------------------------------


def learn(
    s: Session,
    unit: Unit,
    address: str,
    source: str,
    now: datetime,
    *,
    message_id: int | None = None,
) -> UnitAddress | None:
    """Record that `address` belongs to `unit` (source: liaison | report | staff).

    A bad address is refused (logged, None). Staff sources are confirmed; others learnt.
    An existing row is only ever upgraded (learnt -> confirmed by a staff source)."""
    try:
        checked = check_address(address)
    except BadAddress as exc:
        log.info("address for %s refused (%s): %r", unit.name, exc, address[:80])
        return None
    row = s.scalar(
        select(UnitAddress).where(UnitAddress.unit_id == unit.id, UnitAddress.address == checked)
    )
    status = CONFIRMED if source in TRUSTED_SOURCES else LEARNT
    if row is None:
        row = UnitAddress(
            unit_id=unit.id,
            address=checked,
            source=source,
            status=status,
            source_message_id=message_id,
            created_at=now,
        )
        s.add(row)
        s.flush()
    elif status == CONFIRMED and row.status != CONFIRMED:
        row.status, row.source, row.source_message_id = CONFIRMED, source, message_id
    return row


def forget_learnt_from(s: Session, msg: Message) -> list[str]:
    """Before `msg` is decided again: drop the addresses it taught (see module doc).

    Returns the addresses removed."""
    removed = []
    rows = s.scalars(select(UnitAddress).where(UnitAddress.source_message_id == msg.id))
    for row in list(rows):
        other = None
        if row.status == LEARNT and row.source == "report":
            other = s.scalar(
                select(Message.id)
                .join(MessageUnit, MessageUnit.message_id == Message.id)
                .where(
                    Message.id != msg.id,
                    Message.from_addr == row.address,
                    Message.decision == "matched",
                    Message.kind == "report",
                    MessageUnit.unit_id == row.unit_id,
                )
                .order_by(Message.id)
                .limit(1)
            )
        if other is not None:
            row.source_message_id = other
            continue
        removed.append(row.address)
        log.info("address %s no longer known for unit #%s (message #%s re-decided)",
                 row.address, row.unit_id, msg.id)  # fmt: skip
        s.delete(row)
    if removed:
        s.flush()
    return removed


# --- using them ------------------------------------------------------------------------------


def usable(rows: Iterable[UnitAddress]) -> list[UnitAddress]:
    """Rows that are not refused and hold a valid address, in a stable order."""
    out = [r for r in rows if r.status != REFUSED and valid_address(r.address)]
    return sorted(out, key=lambda r: (SOURCE_ORDER.get(r.source, 9), r.id))


def reminder_addresses(rows: Iterable[UnitAddress], exclude: Iterable[str] = ()) -> list[str]:
    """Who is told about a unit: its confirmed addresses; only when it has none, the
    learnt ones (so a fake liaison form cannot add itself to a unit's reminders)."""
    skip = {a.lower() for a in exclude}
    good = [r for r in usable(rows) if r.address not in skip]
    confirmed = [r.address for r in good if r.status == CONFIRMED]
    chosen = confirmed or [r.address for r in good if r.status == LEARNT]
    return list(dict.fromkeys(chosen))


def known_addresses(s: Session, unit_id: int) -> set[str]:
    """The addresses the unit has reported from: its confirmed ones and those learnt from
    its matched reports. An address only a liaison form named is not one: anyone can send
    a form, so a report from that address is still a new sender's."""
    rows = s.execute(
        select(UnitAddress.address, UnitAddress.status, UnitAddress.source).where(
            UnitAddress.unit_id == unit_id
        )
    )
    return {
        address
        for address, status, source in rows
        if status == CONFIRMED or (status == LEARNT and source == "report")
    }


# --- staff actions -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AddressInfo:
    unit: str
    address: str
    status: str  # confirmed | learnt | refused
    source: str  # roster | staff | liaison | report
    message_id: int | None
    created_at: datetime
    confirmed_by: str | None
    gets_reminders: bool


def _unit(s: Session, roster: Roster, name: str) -> Unit:
    from tracker.staff import StaffError, find_unit

    try:
        return find_unit(s, name, roster)
    except StaffError as exc:
        raise AddressError(str(exc)) from None


def _checked(address: str) -> str:
    try:
        return check_address(address)
    except BadAddress as exc:
        raise AddressError(f"{address[:80]!r} is not a usable address: {exc}") from None


def _row(s: Session, unit: Unit, address: str) -> UnitAddress:
    row = s.scalar(
        select(UnitAddress).where(UnitAddress.unit_id == unit.id, UnitAddress.address == address)
    )
    if row is None:
        raise AddressError(f"{unit.name}: {address} is not one of its addresses")
    return row


def list_addresses(s: Session, roster: Roster, unit: str | None = None) -> list[AddressInfo]:
    """The addresses of one unit (or of every unit), with their status."""
    q = select(Unit).order_by(Unit.id)
    if unit is not None:
        q = q.where(Unit.id == _unit(s, roster, unit).id)
    out: list[AddressInfo] = []
    for u in s.scalars(q):
        rows = list(s.scalars(select(UnitAddress).where(UnitAddress.unit_id == u.id)))
        reminded = set(reminder_addresses(rows))
        for r in sorted(rows, key=lambda r: (SOURCE_ORDER.get(r.source, 9), r.id)):
            out.append(
                AddressInfo(
                    unit=u.name,
                    address=r.address,
                    status=r.status,
                    source=r.source,
                    message_id=r.source_message_id,
                    created_at=r.created_at,
                    confirmed_by=r.confirmed_by,
                    gets_reminders=r.address in reminded,
                )
            )
    return out


def add_address(
    s: Session, roster: Roster, unit: str, address: str, *, by: str, now: datetime
) -> AddressInfo:
    """Staff add a confirmed address to a unit (or confirm it if it is already there)."""
    u = _unit(s, roster, unit)
    checked = _checked(address)
    row = s.scalar(
        select(UnitAddress).where(UnitAddress.unit_id == u.id, UnitAddress.address == checked)
    )
    if row is None:
        row = UnitAddress(
            unit_id=u.id, address=checked, source="staff", status=CONFIRMED, created_at=now
        )
        s.add(row)
    row.status, row.source_message_id, row.confirmed_by = CONFIRMED, None, by
    s.flush()
    log.info("%s: %s added by %s", u.name, checked, by)
    return _info(s, roster, u, checked)


def confirm_address(
    s: Session, roster: Roster, unit: str, address: str, *, by: str, now: datetime
) -> AddressInfo:
    """Staff confirm a learnt address: it now receives reminders and stays when the mail
    it came from is re-decided."""
    u = _unit(s, roster, unit)
    row = _row(s, u, _checked(address))
    row.status, row.source_message_id, row.confirmed_by = CONFIRMED, None, by
    s.flush()
    log.info("%s: %s confirmed by %s", u.name, row.address, by)
    return _info(s, roster, u, row.address)


def remove_address(s: Session, roster: Roster, unit: str, address: str, *, by: str) -> str:
    """Staff remove an address from a unit (not a roster one: edit the roster for that)."""
    u = _unit(s, roster, unit)
    wanted = valid_address(address) or address.strip().lower()
    row = _row(s, u, wanted)
    ru = next((r for r in roster.units if r.name == u.name), None)
    if ru is not None and row.address in ru.emails:
        raise AddressError(f"{u.name}: {row.address} comes from the roster file; remove it there")
    s.delete(row)
    s.flush()
    log.info("%s: %s removed by %s", u.name, row.address, by)
    return row.address


def _info(s: Session, roster: Roster, u: Unit, address: str) -> AddressInfo:
    return next(i for i in list_addresses(s, roster, u.name) if i.address == address)
