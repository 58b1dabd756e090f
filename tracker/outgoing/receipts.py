"""Receipts: a short reply to the unit that sent a report, once the report is recorded.

`queue_receipt` is called by the recorder in the transaction that records the message;
it only queues (outbox key `receipt:<message row id>`), the outbox delivers.

Never answered: messages not matched as reports, auto-replies, bounces, mailing lists
and our own addresses (the matcher already marks those "ignored", the stored headers
are checked again here), mail that answers our own mail (its In-Reply-To or References
name one of our Message-IDs), a sender who already got `max_per_sender_per_day` receipts
today (counted per real mailbox: `unit+1@x.cn` and `unit+2@x.cn` are one), and anyone
once `max_per_hour` receipts went out in the last hour (a forged From can point receipts
at a third party: this bounds how much mail that makes). A receipt goes to one address
and quotes no text the sender wrote (no subject), so it cannot carry a stranger's words.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from intake.addresses import base_address, valid_address
from tracker.clock import Clock
from tracker.config import Config
from tracker.models import Attachment, Message, MessageUnit, Outbox, Slot, Submission, Unit
from tracker.outgoing.emails import period_label, receipt_message
from tracker.outgoing.outbox import enqueue
from tracker.roster import Campaign, RosterError, load_rosters

log = logging.getLogger(__name__)

AUTO_LOCALPARTS = (
    "mailer-daemon",
    "postmaster",
    "noreply",
    "no-reply",
    "do-not-reply",
    "donotreply",
)
AUTO_PRECEDENCE = ("bulk", "list", "junk", "auto_reply", "auto-reply")
AUTO_SUBJECTS = (
    "自动回复",
    "auto reply",
    "auto-reply",
    "automatic reply",
    "autoreply",
    "out of office",
    "退信",
)
LIST_HEADERS = (
    "list-id",
    "list-unsubscribe",
    "x-loop",
    "x-autoreply",
    "x-autorespond",
    "x-auto-response-suppress",
)


def is_our_message_id(value: str, config: Config) -> bool:
    """Whether `value` (`<...>`) is a Message-ID we made (tracker.outgoing.emails makes
    them with `make_msgid(idstring="ri", domain=<our sender's domain>)`)."""
    domains = {a.rsplit("@", 1)[-1].lower() for a in (*config.own_addresses, config.smtp.sender)}
    m = _OUR_MSGID.fullmatch(value.strip())
    return m is not None and m.group(1).lower() in domains


_OUR_MSGID = re.compile(r"<\d{1,30}\.\d{1,12}\.\d{1,30}\.ri@([A-Za-z0-9.-]{1,253})>")


def why_no_receipt(msg: Message, config: Config) -> str | None:
    """Why this message must not be answered, or None when a receipt may go out."""
    if msg.kind != "report" or msg.decision != "matched":
        return f"not a matched report ({msg.kind}/{msg.decision})"
    sender = valid_address(msg.from_addr)
    if sender is None:
        return "no usable sender address"
    if sender in config.own_addresses or sender == config.smtp.sender.lower():
        return "our own address"
    if sender.split("@", 1)[0] in AUTO_LOCALPARTS:
        return "automatic sender"
    headers = {k.lower(): (v or "") for k, v in (msg.headers or {}).items()}
    auto = headers.get("auto-submitted", "").strip().lower()
    if auto and auto != "no":
        return f"Auto-Submitted: {auto}"
    if headers.get("precedence", "").strip().lower() in AUTO_PRECEDENCE:
        return "Precedence: " + headers["precedence"].strip()
    for name in LIST_HEADERS:
        if name in headers:
            return f"{name} header"
    if "return-path" in headers and headers["return-path"].strip() in ("", "<>"):
        return "null return path (bounce)"
    answered = [headers.get("in-reply-to", ""), *headers.get("references", "").split()[-20:]]
    if any(is_our_message_id(v, config) for v in answered if v):
        return "answers our own mail"
    subject = (msg.subject or "").lower()
    if any(s in subject for s in AUTO_SUBJECTS):
        return "auto-reply subject"
    return None


def _receipts_today(session: Session, sender: str, now: datetime, config: Config) -> int:
    """Receipts queued today for the mailbox behind `sender` (+tags folded)."""
    local = now.astimezone(config.timezone)
    start = datetime.combine(local.date(), time(0), tzinfo=config.timezone)
    rows = session.scalars(
        select(Outbox.recipients).where(
            Outbox.kind == "receipt",
            Outbox.created_at >= start,
            Outbox.created_at < start + timedelta(days=1),
        )
    )
    mailbox = base_address(sender)
    return sum(1 for recipients in rows if mailbox in {base_address(r) for r in recipients})


def _receipts_last_hour(session: Session, now: datetime) -> int:
    return (
        session.scalar(
            select(func.count(Outbox.id)).where(
                Outbox.kind == "receipt", Outbox.created_at > now - timedelta(hours=1)
            )
        )
        or 0
    )


def receipt_context(
    session: Session, msg: Message, config: Config, campaign: Campaign | None = None
) -> dict[str, Any]:
    units = list(
        session.scalars(
            select(Unit.name)
            .join(MessageUnit, MessageUnit.unit_id == Unit.id)
            .where(MessageUnit.message_id == msg.id)
            .order_by(MessageUnit.id)
        )
    )
    slots = list(
        session.scalars(
            select(Slot)
            .join(Submission, Submission.slot_id == Slot.id)
            .where(Submission.message_id == msg.id)
        )
    )
    atts = list(
        session.scalars(
            select(Attachment).where(Attachment.message_id == msg.id).order_by(Attachment.id)
        )
    )
    received_local = msg.received_at.astimezone(config.timezone)
    due = min((s.due for s in slots), default=None)
    period = msg.period or (slots[0].period if slots else None)
    camp = campaign
    key = slots[0].campaign if slots else ""  # the campaign the report counted in
    if camp is None or (key and camp.key != key):
        try:
            roster = load_rosters(config.roster_files or (config.roster_file,))
            part = roster.part(key) if key else None
            camp = part.campaign if part is not None else (camp or roster.campaign)
        except RosterError:  # the receipt must not fail a recording over the roster file
            pass
    files = [
        {"name": a.safe_name or a.filename or "附件", "size": a.size}
        for a in atts
        if a.kind == "file" and not a.error
    ]
    links = [
        {
            "name": a.filename or a.safe_name,
            "url": a.url or "",
            "expires": a.expires_at.astimezone(config.timezone).strftime("%Y-%m-%d %H:%M")
            if a.expires_at
            else "",
        }
        for a in atts
        if a.kind == "link"
    ]
    from tracker.evidence import report_completeness

    held = report_completeness(session, msg.id)
    return {
        "complete": held.complete,
        "missing_text": held.missing_text,
        "photos": held.photos,
        "writeup": "邮件正文" if held.writeup == "正文" else held.writeup,
        "units": units or ["贵单位"],
        "period": period,
        "period_text": period_label(period),
        "due": due or received_local.date(),
        "on_time": due is None or received_local.date() <= due,
        "received_label": received_local.strftime("%Y-%m-%d %H:%M"),
        "files": files,
        "links": links,
        "campaign_name": camp.name if camp else "政务公开主题日",
        "office": camp.office if camp else "",
        "contact": camp.contact if camp else "",
        "mailbox": (camp.mailbox if camp else "") or config.smtp.sender,
        "sender_name": config.smtp.sender_name,
    }


def queue_receipt(
    session: Session,
    msg: Message,
    config: Config,
    clock: Clock,
    *,
    campaign: Campaign | None = None,
) -> bool:
    """Queue the receipt for a just-recorded message; False when none is due (logged)."""
    if not (config.receipts.enabled and config.smtp.configured):
        return False
    reason = why_no_receipt(msg, config)
    if reason is not None:
        log.debug("no receipt for message #%s: %s", msg.id, reason)
        return False
    sender = valid_address(msg.from_addr) or ""
    now = clock.now()
    if _receipts_today(session, sender, now, config) >= config.receipts.max_per_sender_per_day:
        log.info("no receipt for message #%s: %s had enough receipts today", msg.id, sender)
        return False
    if _receipts_last_hour(session, now) >= config.receipts.max_per_hour:
        log.warning(
            "no receipt for message #%s: %d receipts in the last hour already ([receipts] "
            "max_per_hour)",
            msg.id,
            config.receipts.max_per_hour,
        )
        return False
    refs = tuple((msg.headers or {}).get("references", "").split())
    email = receipt_message(
        config,
        to=sender,
        ctx=receipt_context(session, msg, config, campaign),
        in_reply_to=msg.message_id,
        references=refs,
    )
    return enqueue(
        session,
        key=f"receipt:{msg.id}",
        kind="receipt",
        recipients=[sender],
        message=email,
        now=now,
        related_message_id=msg.id,
    )
