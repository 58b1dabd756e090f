"""Who sent it: a report from an address its unit has never used (新发件地址).

`From:` is written by the sender: anyone can send a mail naming a unit. Such a mail still
counts or waits as `[matching] new_sender` says ("count", the default: it counts and is
marked; "review": it waits for staff), is marked on `show` and in the digest, and the
unit's known addresses (those that get its reminders) receive a short notice naming the
address it came from, so a unit learns when someone reports in its name.

Called by the recorder before the match is written (`check_new_sender`) and from the
post-recording hook, in the same transaction (`queue_sender_notices`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from intake.addresses import valid_address
from intake.matching import MatchResult
from tracker.addressbook import known_addresses, reminder_addresses
from tracker.clock import Clock
from tracker.config import Config
from tracker.models import Message, MessageUnit, Outbox, Unit, UnitAddress
from tracker.outgoing.emails import base_context, period_label, sender_notice_message
from tracker.outgoing.outbox import enqueue
from tracker.roster import Campaign

log = logging.getLogger(__name__)

NEW_SENDER = "新发件地址"
NOTICES_PER_UNIT_PER_DAY = 3  # a flood of forged reports must not flood the unit


def check_new_sender(
    s: Session, result: MatchResult, from_addr: str, mode: str
) -> tuple[MatchResult, bool]:
    """The result with the new-sender reason (and, with mode "review", sent to review),
    and whether the sender is new for one of the units it names."""
    if result.decision != "matched" or result.kind not in ("report", "liaison"):
        return result, False
    units = list(s.scalars(select(Unit).where(Unit.name.in_(result.units))))
    if not units:
        return result, False
    sender = valid_address(from_addr)
    new_for = [u.name for u in units if sender is None or sender not in known_addresses(s, u.id)]
    if not new_for:
        return result, False
    who = sender or "（无可用发件地址）"
    reasons = [*result.reasons, f"{NEW_SENDER}：{who}（{'、'.join(new_for)}此前未用过该地址）"]
    if mode == "review" and result.kind == "report":
        reasons.append("按配置（new_sender = review）新发件地址的报送由工作人员确认")
        return replace(result, decision="review", reasons=tuple(reasons)), True
    return replace(result, reasons=tuple(reasons)), True


def _notices_today(s: Session, unit_id: int, now: datetime, config: Config) -> int:
    local = now.astimezone(config.timezone)
    start = datetime.combine(local.date(), time(0), tzinfo=config.timezone)
    return int(
        s.scalar(
            select(func.count(func.distinct(Outbox.related_message_id))).where(
                Outbox.kind == "sender-notice",
                Outbox.key.like(f"sender-notice:u{unit_id}:%"),
                Outbox.created_at >= start,
                Outbox.created_at < start + timedelta(days=1),
            )
        )
        or 0
    )


def queue_sender_notices(
    s: Session,
    msg: Message,
    config: Config,
    clock: Clock,
    *,
    campaign: Campaign | None = None,
) -> int:
    """Tell each unit a new-sender message names, at its known addresses (one mail each).

    Returns how many mails were queued."""
    if not (msg.new_sender and config.smtp.configured):
        return 0
    sender = valid_address(msg.from_addr)
    now = clock.now()
    exclude: Sequence[str] = (*config.own_addresses, *([sender] if sender else []))
    unit_ids = list(s.scalars(select(MessageUnit.unit_id).where(MessageUnit.message_id == msg.id)))
    queued = 0
    for unit in s.scalars(select(Unit).where(Unit.id.in_(unit_ids)).order_by(Unit.id)):
        rows = [
            r
            for r in s.scalars(select(UnitAddress).where(UnitAddress.unit_id == unit.id))
            if r.source_message_id != msg.id  # not the addresses this very mail taught
        ]
        to = reminder_addresses(rows, exclude=exclude)
        if not to:
            continue
        if _notices_today(s, unit.id, now, config) >= NOTICES_PER_UNIT_PER_DAY:
            log.info("no new-sender notice to %s for message #%s: enough today", unit.name, msg.id)
            continue
        ctx = _context(msg, unit, sender, config, campaign)
        for address in to:
            try:
                email = sender_notice_message(config, to=address, ctx=ctx)
            except Exception as exc:  # one bad recipient skips its own mail
                log.warning("new-sender notice to %r not built: %s", address[:80], exc)
                continue
            queued += enqueue(
                s,
                key=f"sender-notice:u{unit.id}:m{msg.id}:{address}",
                kind="sender-notice",
                recipients=[address],
                message=email,
                now=now,
                related_message_id=msg.id,
            )
    return queued


def _context(
    msg: Message, unit: Unit, sender: str | None, config: Config, campaign: Campaign | None
) -> dict[str, Any]:
    ctx = base_context(config, campaign)
    ctx.update(
        unit=unit.name,
        sender_address=sender or "（无可用发件地址）",
        kind_label="联络员登记表" if msg.kind == "liaison" else "活动情况报送",
        period_text=period_label(msg.period) if msg.period else "",
        received_label=msg.received_at.astimezone(config.timezone).strftime("%Y-%m-%d %H:%M"),
        counted=msg.decision == "matched",
        office=campaign.office if campaign else "",
        contact=campaign.contact if campaign else "",
    )
    return ctx
