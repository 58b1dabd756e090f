"""Who gets an answer to a unit's mail: the receipt's recipients (one mail each), the
已收到，正在核实 note for mail that waits in review, and the loop breakers for replies.

- A joint report's receipt goes to the sender and, one mail each, to the addresses the
  other units named are reminded at (confirmed ones; learnt ones only when a unit has
  none). Never a list in `To:`.
- Mail that answers our own mail is answered only when it answers a receipt or a
  reminder of ours that went to that very address (depth one): a mail answering our
  answer to a reply, answering mail we sent to someone else, or answering a digest or an
  alert, is never answered. Two mail systems that answer each other stop after one round.
- Mail that waits in review gets one short note (`receipt:<id>:review`) when it is a
  unit's: it comes from an address a unit is known by, or answers our mail to that
  address; staff's decision then sends the receipt (`tracker.staff.assign`).
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.addressbook import reminder_addresses
from tracker.models import Message, MessageUnit, Outbox, Unit, UnitAddress

MAX_ADDRESSES_PER_UNIT = 3
ANSWERABLE_THREADS = ("receipt", "reminder")


def reply_loop_reason(s: Session, msg: Message) -> str | None:
    """Why a reply to our mail must not be answered (module doc), or None."""
    if msg.reply_to_outbox_id is None:
        return None
    row = s.get(Outbox, msg.reply_to_outbox_id)
    if row is None:
        return None
    if row.kind not in ANSWERABLE_THREADS:
        return f"answers our own {row.kind} mail"
    sender = (msg.from_addr or "").strip().lower()
    if sender not in {r.lower() for r in row.recipients}:
        return "answers our mail to another address"
    if row.kind == "receipt" and row.related_message_id is not None:
        answered = s.get(Message, row.related_message_id)
        if answered is not None and answered.reply_to_outbox_id is not None:
            return "answers our answer to a reply (loop breaker)"
    return None


def co_unit_addresses(
    s: Session, msg: Message, sender: str, own: Collection[str] = ()
) -> list[str]:
    """The other units' addresses a joint report's receipt also goes to (module doc):
    the addresses each would be reminded at (`tracker.addressbook.reminder_addresses`:
    confirmed ones, learnt ones only when it has none), the sender's own unit skipped."""
    unit_ids = list(
        s.scalars(
            select(MessageUnit.unit_id)
            .where(MessageUnit.message_id == msg.id)
            .order_by(MessageUnit.id)
        )
    )
    if len(unit_ids) < 2:
        return []
    rows = list(s.scalars(select(UnitAddress).where(UnitAddress.unit_id.in_(unit_ids))))
    skip = {a.lower() for a in own} | {sender}
    out: list[str] = []
    for unit_id in unit_ids:
        mine = [r for r in rows if r.unit_id == unit_id]
        if any(r.address.lower() == sender for r in mine):
            continue  # the sender's own unit: the sender has it
        chosen = reminder_addresses(mine, exclude=skip)
        out.extend(chosen[:MAX_ADDRESSES_PER_UNIT])
    return list(dict.fromkeys(out))


def sender_units(s: Session, sender: str) -> list[str]:
    """The units an address is known for."""
    if not sender:
        return []
    return list(
        s.scalars(
            select(Unit.name)
            .join(UnitAddress, UnitAddress.unit_id == Unit.id)
            .where(UnitAddress.address == sender)
            .order_by(Unit.id)
        )
    )


def looks_like_a_units_mail(s: Session, msg: Message) -> bool:
    """A review message worth a note: a report or liaison form from an address a unit is
    known by (and not a new sender's), or a reply threaded to our mail. A stranger who
    names a unit gets nothing: a forged From must not make us mail a third party."""
    if msg.reply_to_outbox_id is not None:
        return True
    if msg.kind not in ("report", "liaison") or getattr(msg, "new_sender", False):
        return False
    return bool(sender_units(s, (msg.from_addr or "").lower()))
