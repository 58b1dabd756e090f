"""Replies to our own mail: threaded to what they answer, so units can fix things themselves.

Every mail we send keeps its Message-ID in the outbox. A mail whose In-Reply-To (or
References) names one of our receipts or reminders is a reply in that thread, and the
thread says which unit(s) and month it is about: the original report's (for a receipt)
or the reminder's slot. `resolve_thread` then decides, in place of the matcher:

- a correction ("不是我们单位", "应为6月", see `intake.replies.find_dispute`) goes to
  review, linked to the original report (`Message.original_id`), with the month it says
  is right; staff correct the original;
- more material (photos, a write-up, a cloud link) from an address the mail of ours went
  to counts for the thread's slot(s) with no review;
- a short thanks is ignored; anything else without material goes to review.

The matcher's own answer wins when it is stronger: an ignored mail (auto-reply, bounce)
stays ignored, and a reply that names another unit or month than its thread goes to
review rather than being counted for either. Our Message-IDs are random: quoting one is
evidence the sender saw our mail (or was forwarded it), and the address check covers the
forward.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.matching import MatchResult
from intake.parsing import ParsedMail
from intake.replies import find_dispute, has_material, is_thanks_only, own_text
from tracker.models import Message, MessageUnit, Outbox, Slot, Unit

log = logging.getLogger(__name__)

THREAD_KINDS = ("receipt", "reminder")
MAX_REFERENCES = 20
LABELS = {"receipt": "回执", "reminder": "提醒"}
DISPUTE_MARK = "提出更正：“"


@dataclass(frozen=True)
class Thread:
    """What a reply answers: our mail, and the report or slot it was about."""

    outbox_id: int
    kind: str  # receipt | reminder
    recipients: tuple[str, ...]
    original_id: int | None  # the unit's original report (receipts)
    units: tuple[str, ...]
    period: str | None

    @property
    def label(self) -> str:
        return LABELS.get(self.kind, "邮件")

    def about(self) -> str:
        orig = f"原邮件 #{self.original_id}" if self.original_id else "报送提醒"
        return f"回复本系统的{self.label}（{orig}）"


def dispute_text(msg: Message) -> str:
    """The correction a threaded reply asked for (kept in its reasons), or ""."""
    for reason in msg.reasons or []:
        start = reason.find(DISPUTE_MARK)
        if start != -1:
            rest = reason[start + len(DISPUTE_MARK) :]
            return rest[: rest.rfind("”")] if "”" in rest else rest
    return ""


def _answered_ids(parsed: ParsedMail) -> list[str]:
    """Message-IDs the mail answers, the direct parent first (only <...@...> forms)."""
    ids = [parsed.in_reply_to or "", *reversed(parsed.references)]
    out = []
    for value in ids:
        value = value.strip()
        if value.startswith("<") and value.endswith(">") and "@" in value and len(value) < 998:
            out.append(value)
    return list(dict.fromkeys(out))[:MAX_REFERENCES]


def find_thread(s: Session, parsed: ParsedMail) -> Thread | None:
    """The receipt or reminder of ours this mail answers, or None."""
    ids = _answered_ids(parsed)
    if not ids:
        return None
    rows = {
        r.message_id: r
        for r in s.scalars(
            select(Outbox).where(Outbox.message_id.in_(ids), Outbox.kind.in_(THREAD_KINDS))
        )
    }
    row = next((rows[i] for i in ids if i in rows), None)
    if row is None:
        return None
    if row.kind == "receipt" and row.related_message_id is not None:
        answered = s.get(Message, row.related_message_id)
        if answered is None:
            return None
        # a receipt for a reply: the thread is still about the first report
        original = s.get(Message, answered.original_id) if answered.original_id else None
        original = original or answered
        units = tuple(
            s.scalars(
                select(Unit.name)
                .join(MessageUnit, MessageUnit.unit_id == Unit.id)
                .where(MessageUnit.message_id == original.id)
                .order_by(MessageUnit.id)
            )
        )
        return Thread(row.id, row.kind, tuple(row.recipients), original.id, units, original.period)
    if row.kind == "reminder" and row.slot_id is not None:
        slot = s.get(Slot, row.slot_id)
        if slot is None:
            return None
        return Thread(row.id, row.kind, tuple(row.recipients), None, (slot.unit.name,), slot.period)
    return None


def _result(
    kind: str, decision: str, units: tuple[str, ...], period: str | None, reasons: list[str]
) -> MatchResult:
    confidence = 0.95 if decision == "matched" else 0.3
    return MatchResult(kind, decision, units, period, confidence, tuple(dict.fromkeys(reasons)))


def _corrected_period(thread: Thread, month: int | None, fallback_year: int) -> str | None:
    if month is None:
        return thread.period
    year = int(thread.period[:4]) if thread.period else fallback_year
    return f"{year:04d}-{month:02d}"


def resolve_thread(
    s: Session, msg: Message, parsed: ParsedMail | None, result: MatchResult
) -> MatchResult:
    """Link a reply to our mail to its thread and decide what it does (module doc);
    any other mail comes back with the matcher's result untouched."""
    if parsed is None:
        return result
    thread = find_thread(s, parsed)
    if thread is None:
        return result
    msg.reply_to_outbox_id = thread.outbox_id
    msg.original_id = thread.original_id
    if result.decision == "ignored":
        return result  # an auto-reply, a bounce, our own mail: the matcher knows
    text = own_text(parsed)
    about = thread.about()
    dispute = find_dispute(text)
    if dispute is not None:
        period = _corrected_period(thread, dispute.month, msg.received_at.year)
        units = thread.units
        if dispute.kind == "unit" and result.units and set(result.units) != set(thread.units):
            units = result.units  # the unit it says it really is, as a guess for staff
        reasons = [f"{about}，{DISPUTE_MARK}{dispute.text}”"]
        if thread.original_id:
            reasons.append(f"如属实，请更正原邮件 #{thread.original_id} 的登记，并处理本邮件")
        return _result("report", "review", units, period, reasons)
    if not has_material(parsed):
        if is_thanks_only(text):
            return _result(
                "other", "ignored", thread.units, thread.period, [f"{about}，仅表示收到"]
            )
        return _result(
            "other", "review", thread.units, thread.period, [f"{about}，没有附件，请查看回复内容"]
        )
    if not thread.units or not thread.period:
        return result
    sender = (msg.from_addr or "").lower()
    named = "、".join(thread.units)
    if result.units and not set(result.units) <= set(thread.units):
        written = "、".join(result.units)
        return _result(
            "report",
            "review",
            result.units,
            result.period,
            [f"{about}是{named}的，但邮件中写的是{written}，请人工确认"],
        )
    if result.period and result.period != thread.period and result.kind == "report":
        return _result(
            "report",
            "review",
            thread.units,
            result.period,
            [f"{about}是{thread.period}的，但邮件中写的是{result.period}，请人工确认"],
        )
    if sender not in thread.recipients:
        return _result(
            "report",
            "review",
            thread.units,
            thread.period,
            [f"{about}，但发件地址 {sender or '（无）'} 不是该邮件的收件人，请确认"],
        )
    reasons = [f"{about}补充材料，计入{named} {thread.period}"]
    return _result("report", "matched", thread.units, thread.period, reasons)
