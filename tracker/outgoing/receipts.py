"""Receipts: a short reply to the unit that sent a report, once the report is recorded.

`answer` is called by the recorder in the transaction that records the message (and
`tracker.staff.assign` after a staff decision); it only queues, the outbox delivers:

- a matched report gets its receipt (`queue_receipt`, outbox key `receipt:<id>`; a
  staff decision `receipt:<id>:staff:<period>:<unit ids>`), one mail per recipient:
  the sender, and for a joint report the other units' known addresses (`...:to:<addr>`);
- mail that waits in review gets one 已收到，正在核实 note (`receipt:<id>:review`).

Each carries the 登记编号 (`tracker.references`), says what was received and what seems
missing, and invites a reply to add or correct (`tracker.threads` threads the reply).

Never answered: messages not matched as reports (except the note), auto-replies,
bounces, mailing lists and our own addresses (the matcher already marks those
"ignored", the stored headers are checked again here), mail older than `[receipts]
max_age_days`, a sender who already got `max_per_sender_per_day` receipts today (counted
per real mailbox: `unit+1@x.cn` and `unit+2@x.cn` are one), and anyone once
`max_per_hour` receipts went out in the last hour (a forged From can point receipts at a
third party: this bounds how much mail that makes). A receipt goes to one address and
quotes no text the sender wrote (no subject).

Mail that answers our own mail (its In-Reply-To or References name one of our
Message-IDs) is answered only when `tracker.threads` threaded it to a receipt or reminder
of ours that went to that very address, and that mail of ours was not itself an answer to
a reply (`tracker.outgoing.answers.reply_loop_reason`): a unit that replies with more
photos or a correction hears back once; a robot answering our mail gets at most one mail
per mail of ours, and a mail answering a digest, an alert or a Message-ID we have no
record of gets nothing.
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
from tracker.outgoing.answers import co_unit_addresses, looks_like_a_units_mail, reply_loop_reason
from tracker.outgoing.emails import period_label, receipt_message
from tracker.outgoing.outbox import enqueue
from tracker.references import reference
from tracker.roster import Campaign, RosterError
from tracker.startcache import config_roster
from tracker.threads import dispute_text

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


def why_no_receipt(msg: Message, config: Config, session: Session | None = None) -> str | None:
    """Why this message must not be answered, or None when a receipt may go out."""
    if msg.kind != "report" or msg.decision != "matched":
        return f"not a matched report ({msg.kind}/{msg.decision})"
    return why_not_answer(msg, config, session)


def _we_sent(session: Session | None, value: str) -> bool:
    """Whether the outbox holds a mail with Message-ID `value`. Without a session, the
    shape alone decides (an id of ours cannot be guessed, but it can be made up: a forger
    who writes References: <1.2.3.ri@126.com> must not switch the receipt off)."""
    if session is None:
        return True
    return session.scalar(select(Outbox.id).where(Outbox.message_id == value).limit(1)) is not None


def why_not_answer(msg: Message, config: Config, session: Session | None = None) -> str | None:
    """Why the sender of this message must get no mail at all from us, or None."""
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
    if msg.reply_to_outbox_id is None and any(
        is_our_message_id(v, config) and _we_sent(session, v.strip()) for v in answered if v
    ):
        return "answers our own mail"  # not threaded to a receipt or reminder of ours
    subject = (msg.subject or "").lower()
    if any(s in subject for s in AUTO_SUBJECTS):
        return "auto-reply subject"
    return None


def too_old(msg: Message, config: Config, now: datetime) -> bool:
    """Mail older than `[receipts] max_age_days` is recorded but never answered: a first
    start on a full mailbox must not answer last spring's mail."""
    return msg.received_at < now - timedelta(days=config.receipts.max_age_days)


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


def _over_hourly_cap(session: Session, msg: Message, config: Config, now: datetime) -> bool:
    if _receipts_last_hour(session, now) < config.receipts.max_per_hour:
        return False
    log.warning(
        "no receipt for message #%s: %d receipts in the last hour already ([receipts] "
        "max_per_hour)",
        msg.id,
        config.receipts.max_per_hour,
    )
    return True


WHAT_TO_SEND = {
    "photos": "活动图片：活动现场照片，作为附件（jpg 等图片格式）",
    "writeup": "文字材料：活动开展情况简要说明，可写在邮件正文中，或附 Word / PDF 文件",
}


def _campaign(
    config: Config, campaign: Campaign | None, slot_campaign: str | None = None
) -> Campaign | None:
    """The campaign a receipt speaks for: the one the report counted in (its slot's),
    else the one given, else the roster's first."""
    if campaign is not None and (not slot_campaign or campaign.key == slot_campaign):
        return campaign
    try:
        roster = config_roster(config)
        part = roster.part(slot_campaign) if slot_campaign else None
        return part.campaign if part is not None else (campaign or roster.campaign)
    except RosterError:  # the receipt must not fail a recording over the roster file
        return campaign


def receipt_context(
    session: Session,
    msg: Message,
    config: Config,
    campaign: Campaign | None = None,
    *,
    staff_decided: bool = False,
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
    camp = _campaign(config, campaign, slots[0].campaign if slots else None)
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
    supplement_of = ""
    if msg.original_id is not None and msg.original_id != msg.id:
        supplement_of = reference(msg.original_id, camp)
    return {
        "ref": reference(msg.id, camp),
        "supplement_of": supplement_of,
        "staff_decided": staff_decided,
        "missing": [WHAT_TO_SEND[m] for m in held.missing if m in WHAT_TO_SEND],
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


def answer(
    session: Session,
    msg: Message,
    config: Config,
    clock: Clock,
    *,
    campaign: Campaign | None = None,
) -> bool:
    """Queue what a just-recorded message calls for: its receipt, or the review note."""
    if msg.decision == "review":
        return queue_review_note(session, msg, config, clock, campaign=campaign)
    return queue_receipt(session, msg, config, clock, campaign=campaign)


def _had_note(session: Session, msg: Message) -> bool:
    key = f"receipt:{msg.id}:review"
    return session.scalar(select(Outbox.id).where(Outbox.key == key)) is not None


def queue_receipt(
    session: Session,
    msg: Message,
    config: Config,
    clock: Clock,
    *,
    campaign: Campaign | None = None,
    staff: bool = False,
) -> bool:
    """Queue the receipt for a just-recorded (or just-decided, `staff`) message; False
    when none is due (logged)."""
    if not (config.receipts.enabled and config.smtp.configured):
        return False
    reason = why_no_receipt(msg, config, session) or reply_loop_reason(session, msg)
    if reason is not None:
        log.debug("no receipt for message #%s: %s", msg.id, reason)
        return False
    sender = valid_address(msg.from_addr) or ""
    now = clock.now()
    # a unit told 正在核实 waits for the answer, however long staff took
    if too_old(msg, config, now) and not (staff and _had_note(session, msg)):
        log.info(
            "no receipt for message #%s: older than %d days ([receipts] max_age_days)",
            msg.id,
            config.receipts.max_age_days,
        )
        return False
    if _receipts_today(session, sender, now, config) >= config.receipts.max_per_sender_per_day:
        log.info("no receipt for message #%s: %s had enough receipts today", msg.id, sender)
        return False
    if _over_hourly_cap(session, msg, config, now):
        return False
    ctx = receipt_context(session, msg, config, campaign, staff_decided=staff)
    key = f"receipt:{msg.id}"
    if staff:
        unit_ids = ",".join(
            str(u)
            for u in sorted(
                session.scalars(select(MessageUnit.unit_id).where(MessageUnit.message_id == msg.id))
            )
        )
        key = f"receipt:{msg.id}:staff:{msg.period}:{unit_ids}"
    queued = _enqueue_answer(session, msg, config, "receipt", ctx, sender, key, now, reply=True)
    for address in co_unit_addresses(session, msg, sender, config.own_addresses):
        _enqueue_answer(
            session, msg, config, "receipt", ctx, address, f"{key}:to:{address}", now, reply=False
        )
    return queued


def _enqueue_answer(
    session: Session,
    msg: Message,
    config: Config,
    template: str,
    ctx: dict[str, Any],
    to: str,
    key: str,
    now: datetime,
    *,
    reply: bool,
) -> bool:
    """One mail to one recipient; threaded as a reply to `msg` when it goes to its sender."""
    refs = tuple((msg.headers or {}).get("references", "").split()) if reply else ()
    email = receipt_message(
        config,
        to=to,
        ctx=ctx,
        in_reply_to=msg.message_id if reply else None,
        references=refs,
        template=template,
    )
    return enqueue(
        session,
        key=key,
        kind="receipt",
        recipients=[to],
        message=email,
        now=now,
        related_message_id=msg.id,
    )


def review_note_context(
    session: Session, msg: Message, config: Config, campaign: Campaign | None = None
) -> dict[str, Any]:
    """What the 已收到，正在核实 note says: the 登记编号, what came, the correction asked for."""
    ctx = receipt_context(session, msg, config, campaign)
    camp = _campaign(config, campaign)
    guessed = list(
        session.scalars(
            select(Unit.name)
            .join(MessageUnit, MessageUnit.unit_id == Unit.id)
            .where(MessageUnit.message_id == msg.id)
            .order_by(MessageUnit.id)
        )
    )
    ctx.update(
        units=guessed,
        period=msg.period,
        dispute=dispute_text(msg),
        original_ref=reference(msg.original_id, camp) if msg.original_id else "",
    )
    return ctx


def queue_review_note(
    session: Session,
    msg: Message,
    config: Config,
    clock: Clock,
    *,
    campaign: Campaign | None = None,
) -> bool:
    """Queue the one 已收到，正在核实 note for a message that waits in review; False when
    none is due (not a unit's mail, an auto-reply, too old, enough mail today)."""
    if not (config.receipts.enabled and config.smtp.configured) or msg.decision != "review":
        return False
    reason = why_not_answer(msg, config, session) or reply_loop_reason(session, msg)
    if reason is None and not looks_like_a_units_mail(session, msg):
        reason = "not a unit's report"
    if reason is not None:
        log.debug("no review note for message #%s: %s", msg.id, reason)
        return False
    sender = valid_address(msg.from_addr) or ""
    now = clock.now()
    if too_old(msg, config, now):
        return False
    if _receipts_today(session, sender, now, config) >= config.receipts.max_per_sender_per_day:
        log.info("no review note for message #%s: %s had enough mail today", msg.id, sender)
        return False
    if _over_hourly_cap(session, msg, config, now):
        return False
    ctx = review_note_context(session, msg, config, campaign)
    key = f"receipt:{msg.id}:review"
    return _enqueue_answer(
        session, msg, config, "receipt_review", ctx, sender, key, now, reply=True
    )
