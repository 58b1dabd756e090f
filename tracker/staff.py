"""Staff actions: the one layer the command line and the board both call.

assign, ignore, unassign (back to review), excuse/unexcuse, reschedule a unit's month,
remember a sender for a unit, and undo. Each action writes an audit row (`tracker.audit`:
who, when, what, before -> after, note) in the same transaction, and each can be undone
while nothing has changed the same thing since. A staff decision is final: `rematch` never
overwrites it. Assigning a message to one unit also teaches the matcher the sender's
address (a staff-confirmed address, which is matching evidence), linked to that message:
ignoring or reassigning the message later drops it, as it drops the learnt addresses the
message taught (tracker.addressbook); `remember_sender` confirms for good. The unit address
actions (`unit addresses`, `add-address`, `confirm-address`, `remove-address`) are in
tracker.addressbook.

Errors are `StaffError`: an English line for the command line and a Chinese one (`zh`) for
the board.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from intake.addresses import valid_address
from intake.matching import MatchResult, UnitRef
from tracker import audit
from tracker.addressbook import CONFIRMED, LEARNT, AddressError
from tracker.addressbook import add_address as book_add
from tracker.addressbook import confirm_address as book_confirm
from tracker.addressbook import remove_address as book_remove
from tracker.config import Config
from tracker.evidence import (
    check_photos,
    store_assessment,
    stored_files,
    with_reading_problems,
)
from tracker.models import (
    Attachment,
    Audit,
    Liaison,
    Message,
    Slot,
    Submission,
    Unit,
    UnitAddress,
)
from tracker.recording import apply_match
from tracker.references import reference
from tracker.roster import Roster, period_of
from tracker.slots import campaign_for
from tracker.threads import resolve_thread
from tracker.unitnames import resolve_unit, roster_refs

if TYPE_CHECKING:
    from tracker.db import Database
    from tracker.reanalysis import Failure, Reanalyser, Reanalysis, Request

KINDS = ("report", "liaison")


class StaffError(Exception):
    """A correction that cannot be made: one readable line (and its Chinese for the board)."""

    def __init__(self, message: str, zh: str = "") -> None:
        super().__init__(message)
        self.zh = zh or message


def get_message(s: Session, message_id: int) -> Message:
    msg = s.get(Message, message_id)
    if msg is None:
        raise StaffError(
            f"message #{message_id}: no such message", f"没有编号为 {message_id} 的邮件"
        )
    return msg


def find_unit(s: Session, name: str, roster: Roster) -> Unit:
    """A unit by the name staff typed: canonical, alias, traditional, abbreviation.

    A name that is not one unit's is refused with close names to choose from."""
    found = resolve_unit(name, roster_refs(roster))
    unit = None
    if found.name is not None:
        unit = s.scalar(select(Unit).where(Unit.name == found.name))
    if unit is None:
        unit = s.scalar(select(Unit).where(Unit.name == name.strip()))
    if unit is None:
        hint_en = f"; did you mean {' or '.join(found.suggestions)}?" if found.suggestions else ""
        hint_zh = f"，是不是：{'、'.join(found.suggestions)}？" if found.suggestions else ""
        raise StaffError(
            f"unit {name!r}: not in the roster{hint_en}", f"名单中没有单位“{name}”{hint_zh}"
        )
    return unit


def check_period(period: str) -> str:
    try:
        period_of(period)
    except ValueError:
        raise StaffError(
            f"period {period!r}: not YYYY-MM", f"月份“{period}”格式不对，应为 YYYY-MM"
        ) from None
    return period


def pick_campaign(roster: Roster, campaign: str | None) -> Roster:
    """The roster of the campaign staff named (`--campaign`, the board's picker), or the
    whole roster when they named none."""
    if not campaign:
        return roster
    if roster.part(campaign) is None:
        names = "、".join(p.campaign.key for p in roster.parts)
        raise StaffError(
            f"campaign {campaign!r}: not in the roster (campaigns: {names})",
            f"没有名为“{campaign}”的活动（现有：{names}）",
        )
    return roster.only([campaign])


def _report_campaigns(roster: Roster, units: Sequence[Unit], period: str, text: str) -> None:
    """Refuse a report decision that fits no campaign, or several, when staff named none:
    one line naming the campaigns, asking for --campaign."""
    if len(roster.parts) < 2:
        return
    for u in units:
        key, _ = campaign_for(roster, u.name, period, text)
        if key is not None:
            continue
        owing = roster.owing(u.name, period)
        names = "、".join(p.campaign.key for p in (owing or roster.parts))
        if len(owing) > 1:
            raise StaffError(
                f"{u.name} {period} is owed in several campaigns ({names}): "
                "name one with --campaign",
                f"{u.name} {period} 同时属于几项活动（{names}），请选择活动",
            )
        raise StaffError(
            f"{u.name} {period} is in no campaign's months ({names}): name one with --campaign",
            f"{u.name} {period} 不属于任何一项活动（{names}），请选择活动",
        )


# --- decisions on a message -----------------------------------------------------------------


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
    by: str = "cli",
    config: Config | None = None,
    campaign: str | None = None,
) -> Message:
    """Staff say: this message is `kind` for these units and this period (in `campaign`:
    needed only when several campaigns could hold the report).

    With `config` (the command line and the board pass it) a report's sender gets its
    receipt now, in this transaction, when the decision changed what was recorded: the
    unit told 已收到，正在核实 hears the outcome."""
    if not units:
        raise StaffError("name at least one unit (--unit)", "请填写单位")
    if kind not in KINDS:
        raise StaffError(f"kind {kind!r}: must be report or liaison", "类别不对")
    check_period(period)
    chosen = pick_campaign(roster, campaign)
    msg = get_message(s, message_id)
    found = list({u.id: u for u in (find_unit(s, name, roster) for name in units)}.values())
    if kind == "report":
        _report_campaigns(chosen, found, period, msg.subject)
    names = "、".join(u.name for u in found)
    reasons = [f"工作人员确认：{names} {period}"] + ([f"备注：{note}"] if note else [])
    result = MatchResult(kind, "matched", tuple(u.name for u in found), period, 1.0, tuple(reasons))
    before = audit.message_state(s, msg)
    prior = _address_source(s, found[0], msg.from_addr) if len(found) == 1 else None
    _decide(s, msg, result, chosen, now)
    learned = None
    if msg.from_addr and len(found) == 1:
        learned = _confirm_address(s, found[0], msg.from_addr, now, by=by, message_id=msg.id)
        if learned is not None:
            learned["before"] = prior  # what it was before this decision, not after it
    after = audit.message_state(s, msg)
    if learned is not None:
        after["address"] = learned
    audit.record(
        s,
        by=by,
        action="assign",
        now=now,
        summary=f"#{msg.id} 指定为 {names} {period}"
        + ("（联络员回执）" if kind == "liaison" else ""),
        before=before,
        after=after,
        note=note,
        message_id=msg.id,
        unit_id=found[0].id if len(found) == 1 else None,
    )
    if config is not None and kind == "report" and not audit.same_message_state(before, after):
        from tracker.clock import FixedClock
        from tracker.outgoing.receipts import queue_receipt

        clock = FixedClock(now, config.timezone)
        queue_receipt(s, msg, config, clock, campaign=chosen.campaign, staff=True)
    return msg


@dataclass(frozen=True)
class SharedSlot:
    """A slot a staff decision counted a message in that already counted other reports.

    Nothing is taken away: the earlier reports stay counted and the message counts beside
    them (the slot's state comes from all of them, the workbook lists every 登记编号), until
    staff unassign one."""

    unit: str
    period: str
    message_id: int
    others: tuple[tuple[int, str], ...]  # (message id, 登记编号) of the reports already there

    def en(self) -> str:
        refs = ", ".join(f"{ref} (#{mid})" for mid, ref in self.others)
        one = len(self.others) == 1
        return (
            f"note: {self.unit} {self.period} already had report {refs}; "
            f"{'it stays' if one else 'they stay'} counted and #{self.message_id} is counted "
            f"with {'it' if one else 'them'}: the slot now holds "
            f"{len(self.others) + 1} reports. To count only one, unassign the other "
            f"(report-intake unassign {self.others[0][0]})."
        )

    def zh(self) -> str:
        refs = "、".join(ref for _, ref in self.others)
        year, month = period_of(self.period)
        return (
            f"注意：{self.unit} {year}年{month}月 原已有报送（登记编号 {refs}），"
            f"原报送仍然计入，#{self.message_id} 也一并计入该月，现共 {len(self.others) + 1} "
            "封报送（导出表列出全部登记编号）。如只应保留一封，请将另一封退回待核。"
        )


def shared_slots(s: Session, roster: Roster, msg: Message) -> list[SharedSlot]:
    """The slots `msg` is counted in that also count other matched reports (for the
    warning after `assign`: the clerk is told, nothing changes)."""
    s.flush()
    mine = list(s.scalars(select(Submission.slot_id).where(Submission.message_id == msg.id)))
    if not mine:
        return []
    rows = s.execute(
        select(Submission.slot_id, Message.id)
        .join(Message, Message.id == Submission.message_id)
        .where(
            Submission.slot_id.in_(mine),
            Submission.message_id != msg.id,
            Message.decision == "matched",
        )
        .order_by(Message.received_at, Message.id)
    ).all()
    others: dict[int, list[int]] = {}
    for slot_id, mid in rows:
        others.setdefault(slot_id, []).append(mid)
    out = []
    for slot_id in sorted(others):
        slot = s.get(Slot, slot_id)
        if slot is None:
            continue
        part = roster.part(slot.campaign)
        camp = part.campaign if part is not None else roster.campaign
        out.append(
            SharedSlot(
                slot.unit.name,
                slot.period,
                msg.id,
                tuple((mid, reference(mid, camp)) for mid in others[slot_id]),
            )
        )
    return out


def ignore(
    s: Session, roster: Roster, message_id: int, now: datetime, note: str = "", *, by: str = "cli"
) -> Message:
    """Staff say: this message is not a report; leave it out of every count."""
    msg = get_message(s, message_id)
    reasons = ["工作人员确认：非报送邮件"] + ([f"备注：{note}"] if note else [])
    before = audit.message_state(s, msg)
    _decide(s, msg, MatchResult("other", "ignored", (), None, 1.0, tuple(reasons)), roster, now)
    audit.record(
        s,
        by=by,
        action="ignore",
        now=now,
        summary=f"#{msg.id} 确认非报送" + (f"：{note}" if note else ""),
        before=before,
        after=audit.message_state(s, msg),
        note=note,
        message_id=msg.id,
    )
    return msg


def unassign(
    s: Session,
    roster: Roster,
    message_id: int,
    now: datetime,
    note: str = "",
    *,
    by: str = "cli",
    campaign: str | None = None,
) -> Message:
    """Take a decision back: the message leaves every slot and waits in review again.

    With `campaign`, staff say which campaign the decision they undo counted it in: a
    message counted in another campaign (or in none) is left as it is, with one line
    naming where it is counted. It stays a staff decision, so `rematch` does not decide it
    again on its own."""
    msg = get_message(s, message_id)
    if msg.decision == "review":
        raise StaffError(f"message #{message_id}: already in review", "该邮件已在待核队列中")
    if campaign:
        pick_campaign(roster, campaign)  # a name that is no campaign: refused naming them
        counted = sorted({sub.slot.campaign for sub in msg.submissions})
        if campaign not in counted:
            where_en = ", ".join(counted) if counted else "no campaign"
            where_zh = f"计入的是“{'、'.join(counted)}”" if counted else "未计入任何活动"
            raise StaffError(
                f"message #{message_id} is counted in {where_en}, not in {campaign}: "
                "nothing undone",
                f"#{message_id} {where_zh}，不是“{campaign}”，未退回",
            )
    reasons = ["工作人员撤销原处理，退回待核"] + ([f"备注：{note}"] if note else [])
    before = audit.message_state(s, msg)
    _decide(s, msg, MatchResult("other", "review", (), None, 0.0, tuple(reasons)), roster, now)
    audit.record(
        s,
        by=by,
        action="unassign",
        now=now,
        summary=f"#{msg.id} 退回待核（原为 {audit.describe_message_state(before)}）",
        before=before,
        after=audit.message_state(s, msg),
        note=note,
        message_id=msg.id,
    )
    return msg


def _decide(s: Session, msg: Message, result: MatchResult, roster: Roster, now: datetime) -> None:
    s.execute(delete(Liaison).where(Liaison.message_id == msg.id))
    apply_match(s, msg, result, roster, now)
    msg.decided_by = "staff"


def _address_source(s: Session, unit: Unit, address: str) -> str | None:
    row = s.scalar(
        select(UnitAddress).where(
            UnitAddress.unit_id == unit.id, UnitAddress.address == address.strip().lower()
        )
    )
    if row is None:
        return None
    return row.source if row.status == CONFIRMED else f"{row.source}:{row.status}"


def _confirm_address(
    s: Session,
    unit: Unit,
    address: str,
    now: datetime,
    *,
    by: str = "cli",
    message_id: int | None = None,
) -> dict[str, Any] | None:
    """Make `address` a staff-confirmed address of `unit`; what it was before (for undo),
    or None when it already was. With `message_id` the address stays tied to that message
    (re-deciding it drops the address); without, it is confirmed for good."""
    address = valid_address(address) or ""
    if not address:
        return None
    row = s.scalar(
        select(UnitAddress).where(UnitAddress.unit_id == unit.id, UnitAddress.address == address)
    )
    if row is None:
        s.add(
            UnitAddress(
                unit_id=unit.id,
                address=address,
                source="staff",
                status=CONFIRMED,
                source_message_id=message_id,
                confirmed_by=by,
                created_at=now,
            )
        )
        s.flush()
        return {"unit": unit.name, "address": address, "before": None}
    if row.status == CONFIRMED:
        return None
    before = f"{row.source}:{row.status}"
    row.source, row.status, row.confirmed_by = "staff", CONFIRMED, by
    row.source_message_id = message_id
    return {"unit": unit.name, "address": address, "before": before}


def _restore_message(
    s: Session, msg: Message, state: dict[str, Any], roster: Roster, now: datetime
) -> None:
    result = MatchResult(
        state["kind"],
        state["decision"],
        tuple(state.get("units") or ()),
        state.get("period"),
        float(state.get("confidence") or 0.0),
        tuple(state.get("reasons") or ()),
    )
    s.execute(delete(Liaison).where(Liaison.message_id == msg.id))
    keys = [k for k in state.get("campaigns") or () if roster.part(k) is not None]
    if len(keys) == 1 and len(roster.parts) > 1:  # back into the campaign it was counted in
        roster = roster.only(keys)
    apply_match(s, msg, result, roster, now)
    msg.decided_by = state.get("decided_by") or "auto"
    s.execute(delete(Liaison).where(Liaison.message_id == msg.id))
    for lia in state.get("liaison") or []:
        unit = s.scalar(select(Unit).where(Unit.name == lia["unit"]))
        if unit is not None:
            s.add(
                Liaison(
                    unit_id=unit.id,
                    message_id=msg.id,
                    fields=lia.get("fields") or {},
                    created_at=now,
                )
            )
    s.flush()


def _restore_address(s: Session, change: dict[str, Any] | None) -> None:
    if not change:
        return
    unit = s.scalar(select(Unit).where(Unit.name == change["unit"]))
    if unit is None:
        return
    row = s.scalar(
        select(UnitAddress).where(
            UnitAddress.unit_id == unit.id, UnitAddress.address == change["address"]
        )
    )
    if row is None:
        return
    if change.get("before") is None:
        s.delete(row)
    else:  # "report:learnt" (or a bare source from before statuses: confirmed)
        source, _, status = str(change["before"]).partition(":")
        row.source, row.status = source, status or CONFIRMED
        if row.status == LEARNT:
            row.confirmed_by = None
    s.flush()


# --- a unit's slots ---------------------------------------------------------------------------


def _slot(s: Session, roster: Roster, unit: Unit, period: str, campaign: str | None) -> Slot:
    """The unit's slot for `period` (in `campaign`, when named). A unit owing the same month
    in several campaigns is refused with their names: staff pick one."""
    pick_campaign(roster, campaign)
    q = select(Slot).where(Slot.unit_id == unit.id, Slot.period == period)
    if campaign:
        q = q.where(Slot.campaign == campaign)
    slots = list(s.scalars(q.order_by(Slot.id)))
    if not slots:
        where = f" in {campaign}" if campaign else ""
        where_zh = f"在“{campaign}”中" if campaign else ""
        raise StaffError(
            f"{unit.name} owes no report for {period}{where}",
            f"{unit.name} {where_zh}在 {period} 没有应报记录",
        )
    if len(slots) > 1:
        names = "、".join(x.campaign or "-" for x in slots)
        raise StaffError(
            f"{unit.name} {period} is owed in several campaigns ({names}): "
            "name one with --campaign",
            f"{unit.name} {period} 同时属于几项活动（{names}），请选择活动",
        )
    return slots[0]


def _slot_state(slot: Slot) -> dict[str, Any]:
    return {
        "slot_id": slot.id,
        "period": slot.period,
        "due": slot.due.isoformat(),
        "excused": slot.excused,
        "note": slot.note,
        "moved_from": slot.moved_from,
        "scheduled": slot.scheduled,
    }


def excuse(
    s: Session,
    roster: Roster,
    unit: str,
    period: str,
    note: str,
    undo: bool = False,
    *,
    by: str = "cli",
    now: datetime | None = None,
    campaign: str | None = None,
) -> Slot:
    """Excuse a unit from a period's report (or, with `undo`, take the excuse back)."""
    now = now or datetime.now(UTC)
    check_period(period)
    u = find_unit(s, unit, roster)
    slot = _slot(s, roster, u, period, campaign)
    if slot.excused != undo:
        state = "already excused" if not undo else "not excused"
        zh = "已是免报" if not undo else "并未免报"
        raise StaffError(f"{u.name} {period}: {state}", f"{u.name} {period} {zh}")
    before = _slot_state(slot)
    slot.excused = not undo
    slot.note = "" if undo else note
    audit.record(
        s,
        by=by,
        action="unexcuse" if undo else "excuse",
        now=now,
        summary=f"{u.name} {period} "
        + ("取消免报" if undo else "免报" + (f"：{note}" if note else "")),
        before=before,
        after=_slot_state(slot),
        note=note,
        unit_id=u.id,
    )
    return slot


def reschedule(
    s: Session,
    roster: Roster,
    unit: str,
    period: str,
    to_period: str,
    now: datetime,
    *,
    note: str = "",
    by: str = "cli",
    campaign: str | None = None,
) -> Slot:
    """The unit's event moved from `period` to `to_period`: its slot moves with it (the
    due date follows its campaign's rule; reports already counted stay counted). The roster
    sync leaves it moved."""
    check_period(period)
    check_period(to_period)
    u = find_unit(s, unit, roster)
    slot = _slot(s, roster, u, period, campaign)
    if to_period == period:
        raise StaffError(f"{u.name}: already in {period}", f"{u.name} 已在 {period}")
    taken = s.scalar(
        select(Slot).where(
            Slot.unit_id == u.id, Slot.period == to_period, Slot.campaign == slot.campaign
        )
    )
    if taken is not None:
        raise StaffError(
            f"{u.name} already has a slot for {to_period}",
            f"{u.name} 在 {to_period} 已有应报记录，不能移入",
        )
    before = _slot_state(slot)
    slot.moved_from = slot.moved_from or period
    if slot.moved_from == to_period:
        slot.moved_from = None  # moved back where the roster has it
    slot.period = to_period
    part = roster.part(slot.campaign)
    slot.due = (part.campaign if part is not None else roster.campaign).due(to_period)
    s.flush()
    audit.record(
        s,
        by=by,
        action="reschedule",
        now=now,
        summary=f"{u.name} 活动月份 {period} → {to_period}" + (f"：{note}" if note else ""),
        before=before,
        after=_slot_state(slot),
        note=note,
        unit_id=u.id,
    )
    return slot


def remember_sender(
    s: Session,
    roster: Roster,
    message_id: int,
    unit: str,
    now: datetime,
    *,
    by: str = "cli",
) -> str:
    """The sender of this message writes for `unit`: a staff-confirmed address (matching
    evidence and a reminder address from now on). Returns the address."""
    msg = get_message(s, message_id)
    if not msg.from_addr:
        raise StaffError(f"message #{message_id}: no sender address", "该邮件没有发件地址")
    u = find_unit(s, unit, roster)
    change = _confirm_address(s, u, msg.from_addr, now, by=by)
    if change is None:
        raise StaffError(
            f"{msg.from_addr} is already an address of {u.name}",
            f"{msg.from_addr} 已是 {u.name} 的地址",
        )
    audit.record(
        s,
        by=by,
        action="remember_sender",
        now=now,
        summary=f"记住 {msg.from_addr} 为 {u.name} 的地址",
        before={"address": None},
        after={"address": change},
        message_id=msg.id,
        unit_id=u.id,
    )
    return msg.from_addr.lower()


# --- a unit's addresses (tracker.addressbook does the work; here they are audited) ----------

_ADDRESS_ZH = (
    ("not a usable address", "不是可用的邮箱地址"),
    ("is not one of its addresses", "不是该单位的地址"),
    ("comes from the roster file", "该地址来自名单文件，请在名单文件中删除"),
    ("not in the roster", "名单中没有这个单位"),
)


def _address_error(exc: Exception) -> StaffError:
    text = str(exc)
    zh = next((z for en, z in _ADDRESS_ZH if en in text), text)
    return StaffError(text, zh)


def _address_row_state(s: Session, unit: Unit, address: str) -> dict[str, Any] | None:
    row = s.scalar(
        select(UnitAddress).where(UnitAddress.unit_id == unit.id, UnitAddress.address == address)
    )
    if row is None:
        return None
    return {
        "source": row.source,
        "status": row.status,
        "source_message_id": row.source_message_id,
        "confirmed_by": row.confirmed_by,
        "created_at": row.created_at.isoformat(),
    }


def _set_address_row(s: Session, unit_id: int, address: str, state: dict[str, Any] | None) -> None:
    """Put a unit's address row back as a snapshot had it (None: no row)."""
    row = s.scalar(
        select(UnitAddress).where(UnitAddress.unit_id == unit_id, UnitAddress.address == address)
    )
    if state is None:
        if row is not None:
            s.delete(row)
        s.flush()
        return
    if row is None:
        row = UnitAddress(
            unit_id=unit_id, address=address, created_at=datetime.fromisoformat(state["created_at"])
        )
        s.add(row)
    row.source, row.status = state["source"], state["status"]
    row.source_message_id, row.confirmed_by = state["source_message_id"], state["confirmed_by"]
    s.flush()


def _address_change(
    s: Session, roster: Roster, unit: str, address: str, change: Any
) -> tuple[Unit, dict[str, Any] | None, Any]:
    """Run one address-book `change(unit)` for staff: (unit, the row's state before, result);
    the book's refusals become a `StaffError`."""
    try:
        u = find_unit(s, unit, roster)
        checked = valid_address(address) or address.strip().lower()
        before = _address_row_state(s, u, checked)
        return u, before, change(u)
    except AddressError as exc:
        raise _address_error(exc) from None


def _audit_address(
    s: Session,
    u: Unit,
    action: str,
    verb: str,
    address: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    now: datetime,
    by: str,
) -> None:
    audit.record(
        s,
        by=by,
        action=action,
        now=now,
        summary=f"{u.name} {verb}地址 {address}",
        before={"unit": u.name, "address": address, "row": before},
        after={"unit": u.name, "address": address, "row": after},
        unit_id=u.id,
    )


def add_address(
    s: Session, roster: Roster, unit: str, address: str, now: datetime, *, by: str = "cli"
) -> tuple[str, str]:
    """Staff add a confirmed address to a unit (or confirm one it has); (unit, address)."""
    u, before, info = _address_change(
        s, roster, unit, address, lambda u: book_add(s, roster, u.name, address, by=by, now=now)
    )
    after = _address_row_state(s, u, info.address)
    if before == after:
        raise StaffError(
            f"{info.address} is already a confirmed address of {u.name}",
            f"{info.address} 已是 {u.name} 的确认地址",
        )
    _audit_address(s, u, "add_address", "添加", info.address, before, after, now, by)
    return u.name, info.address


def confirm_address(
    s: Session, roster: Roster, unit: str, address: str, now: datetime, *, by: str = "cli"
) -> tuple[str, str]:
    """Staff confirm a learnt address of a unit."""
    u, before, info = _address_change(
        s,
        roster,
        unit,
        address,
        lambda u: book_confirm(s, roster, u.name, address, by=by, now=now),
    )
    after = _address_row_state(s, u, info.address)
    _audit_address(s, u, "confirm_address", "确认", info.address, before, after, now, by)
    return u.name, info.address


def remove_address(
    s: Session, roster: Roster, unit: str, address: str, now: datetime, *, by: str = "cli"
) -> tuple[str, str]:
    """Staff remove an address from a unit (roster addresses are edited in the roster)."""
    u, before, removed = _address_change(
        s, roster, unit, address, lambda u: book_remove(s, roster, u.name, address, by=by)
    )
    _audit_address(s, u, "remove_address", "删除", removed, before, None, now, by)
    return u.name, removed


def _undo_address(s: Session, row: Audit) -> dict[str, Any]:
    unit = s.scalar(select(Unit).where(Unit.name == row.after["unit"]))
    if unit is None:
        raise StaffError("the unit is gone", "该单位已不存在")
    address = row.after["address"]
    if _address_row_state(s, unit, address) != row.after["row"]:
        raise StaffError(
            f"history #{row.id}: changed again since; undo the later change first",
            "此后又有改动，请先撤销后面的操作",
        )
    _set_address_row(s, unit.id, address, row.before["row"])
    return {"unit": unit.name, "address": address, "row": row.before["row"]}


# --- undo -------------------------------------------------------------------------------------


def undo(s: Session, roster: Roster, audit_id: int, now: datetime, *, by: str = "cli") -> Audit:
    """Undo one staff action, if nothing has changed the same thing since."""
    row = s.get(Audit, audit_id)
    if row is None:
        raise StaffError(f"history #{audit_id}: no such entry", f"没有编号为 {audit_id} 的记录")
    if row.action == "undo":
        raise StaffError(
            f"history #{audit_id} is itself an undo; do the action again instead",
            "这条记录本身就是撤销，如需恢复请重新操作",
        )
    if row.undone_by_id is not None:
        raise StaffError(f"history #{audit_id}: already undone", "该操作已撤销")
    stale = StaffError(
        f"history #{audit_id}: changed again since; undo the later change first",
        "此后又有改动，请先撤销后面的操作",
    )
    if row.action in ("assign", "ignore", "unassign"):
        if row.message_id is None:
            raise StaffError(f"history #{audit_id}: the message is gone", "该邮件已不存在")
        msg = get_message(s, row.message_id)
        current = audit.message_state(s, msg)
        if not audit.same_message_state(current, row.after):
            raise stale
        _restore_message(s, msg, row.before, roster, now)
        _restore_address(s, row.after.get("address"))
        after = audit.message_state(s, msg)
        summary = f"撤销：{row.summary}（恢复为 {audit.describe_message_state(after)}）"
    elif row.action in ("excuse", "unexcuse", "reschedule"):
        slot = s.get(Slot, row.before.get("slot_id"))
        if slot is None:
            raise stale
        if _slot_state(slot) != row.after:
            raise stale
        if row.action == "reschedule":
            taken = s.scalar(
                select(Slot.id).where(
                    Slot.unit_id == slot.unit_id,
                    Slot.period == row.before["period"],
                    Slot.campaign == slot.campaign,
                    Slot.id != slot.id,
                )
            )
            if taken is not None:
                raise stale
        slot.period = row.before["period"]
        slot.due = datetime.fromisoformat(row.before["due"]).date()
        slot.excused = bool(row.before["excused"])
        slot.note = row.before["note"]
        slot.moved_from = row.before.get("moved_from")
        s.flush()
        after = _slot_state(slot)
        summary = f"撤销：{row.summary}"
    elif row.action in ("add_address", "confirm_address", "remove_address"):
        after = _undo_address(s, row)
        summary = f"撤销：{row.summary}"
    elif row.action == "remember_sender":
        _restore_address(s, row.after.get("address"))
        after = {"address": None}
        summary = f"撤销：{row.summary}"
    else:
        raise StaffError(f"history #{audit_id}: {row.action} cannot be undone", "该操作不能撤销")
    return audit.record(
        s,
        by=by,
        action="undo",
        now=now,
        summary=summary,
        before=row.after,
        after=after,
        message_id=row.message_id,
        unit_id=row.unit_id,
        undoes=row,
    )


@dataclass
class RematchChange:
    message_id: int
    before: str
    after: str


@dataclass
class RematchSkipped:
    """A message left as it was: its analysis ran past the budget, its process died, or
    its raw copy could not be read (`reason`, one English line)."""

    message_id: int
    reason: str


RematchEvent = RematchChange | RematchSkipped

# A page of rematch: this many messages, or this many bytes of raw mail, analysed and then
# written in one transaction.
REMATCH_PAGE = 200
REMATCH_PAGE_BYTES = 64 * 1024 * 1024


def rematch_stream(
    db: Database,
    roster: Roster,
    units: Sequence[UnitRef],
    storage_dir: object,
    now: datetime,
    *,
    ids: Sequence[int] = (),
    own_addresses: Sequence[str] = (),
    seconds: float = 60.0,
    memory_bytes: int | None = 1024 * 1024 * 1024,
    page: int = REMATCH_PAGE,
    page_bytes: int = REMATCH_PAGE_BYTES,
    report: Callable[[RematchEvent], None] = lambda _e: None,
) -> tuple[int, int]:
    """Re-run matching on recorded messages (`ids`, or all of them) from their raw copies,
    page by page: walk the messages by id, analyse a page (each message in a worker
    process under the intake's budget, `tracker.reanalysis`, no transaction open), then
    write the page in one transaction and `report` each change and each message left as
    it was. Memory is bounded by the page whatever the number of messages; a run stopped
    anywhere has committed whole pages, and running again gives the same end state.

    Returns (changed, staff decisions kept).
    """
    wanted = sorted(set(ids))
    if wanted:
        with db.session() as s:
            found: set[int] = set()
            for chunk in _chunks(wanted, 500):
                found.update(s.scalars(select(Message.id).where(Message.id.in_(chunk))))
        missing = set(wanted) - found
        if missing:
            raise StaffError(
                f"message #{min(missing)}: no such message", f"没有编号为 {min(missing)} 的邮件"
            )
    analyser = _reanalyser(roster, units, storage_dir, own_addresses, seconds, memory_bytes)
    changed = kept = 0
    try:
        after_id = 0
        while True:
            with db.session() as s:
                pending = _rematch_page(s, after_id, wanted, page, page_bytes)
            if not pending:
                break
            after_id = pending[-1].message_id
            outcomes = analyser.run_page(pending)
            with db.session() as s:
                events, page_kept = _apply_page(s, roster, now, pending, outcomes)
            kept += page_kept
            for event in events:  # committed: tell
                changed += isinstance(event, RematchChange)
                report(event)
    finally:
        analyser.close()
    return changed, kept


def rematch(
    s: Session,
    roster: Roster,
    units: Sequence[UnitRef],
    storage_dir: object,
    now: datetime,
    *,
    ids: Sequence[int] = (),
    own_addresses: Sequence[str] = (),
    seconds: float = 60.0,
    memory_bytes: int | None = 1024 * 1024 * 1024,
) -> tuple[list[RematchEvent], int]:
    """Re-run matching on a few messages (`ids`) in the caller's transaction (the board's
    one-message action; for many or all, `rematch_stream`). The analysis runs under the
    same budget; a message past it is left as it was (a `RematchSkipped`).

    Returns the changes and messages left as they were, and how many staff decisions were
    kept.
    """
    for message_id in ids:
        get_message(s, message_id)
    wanted = sorted(set(ids))
    pending = [r for chunk in _chunks(wanted, 500) for r in _requests(s, chunk)]
    analyser = _reanalyser(roster, units, storage_dir, own_addresses, seconds, memory_bytes)
    try:
        outcomes = analyser.run_page(pending)
    finally:
        analyser.close()
    return _apply_page(s, roster, now, pending, outcomes)


def _reanalyser(
    roster: Roster,
    units: Sequence[UnitRef],
    storage_dir: object,
    own_addresses: Sequence[str],
    seconds: float,
    memory_bytes: int | None,
) -> Reanalyser:
    from pathlib import Path

    from tracker.reanalysis import Reanalyser

    return Reanalyser(
        Path(str(storage_dir)),
        units,
        own_addresses=own_addresses,
        jurisdiction=roster.jurisdiction,
        seconds=seconds,
        memory_bytes=memory_bytes,
    )


def _chunks(values: Sequence[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(values), size):
        yield list(values[start : start + size])


def _rematch_page(
    s: Session, after_id: int, wanted: Sequence[int], page: int, page_bytes: int
) -> list[Request]:
    """The next page of messages after `after_id` (of `wanted`, when given): at most
    `page` messages, and fewer once their raw copies add up to `page_bytes`."""
    q = select(Message.id, Message.raw_size).where(Message.id > after_id)
    if wanted:
        q = q.where(Message.id.in_([i for i in wanted if i > after_id][:page]))
    ids: list[int] = []
    total = 0
    for message_id, size in s.execute(q.order_by(Message.id).limit(page)):
        if ids and total + (size or 0) > page_bytes:
            break
        ids.append(message_id)
        total += size or 0
    return _requests(s, ids)


def _requests(s: Session, ids: Sequence[int]) -> list[Request]:
    """What the worker needs of each message: its raw copy, its arrival, and its stored
    files' facts (none for a staff decision whose assessment is already stored, which is
    not analysed at all)."""
    from tracker.reanalysis import FACT_COLUMNS, Request

    if not ids:
        return []
    rows = s.execute(
        select(
            Message.id, Message.raw_path, Message.received_at, Message.decided_by, Message.writeup
        )
        .where(Message.id.in_(list(ids)))
        .order_by(Message.id)
    ).all()
    columns = [getattr(Attachment, c) for c in FACT_COLUMNS]
    files: dict[int, list[tuple[int, dict[str, Any]]]] = {}
    for row in s.execute(
        select(Attachment.message_id, Attachment.id, *columns)
        .where(Attachment.message_id.in_(list(ids)), Attachment.kind == "file")
        .order_by(Attachment.id)
    ):
        files.setdefault(row[0], []).append((row[1], dict(zip(FACT_COLUMNS, row[2:], strict=True))))
    requests = []
    for message_id, raw_path, received_at, decided_by, writeup in rows:
        if decided_by == "staff" and writeup is not None:
            raw_path = ""  # kept as it is: nothing to analyse
        requests.append(
            Request(message_id, raw_path or "", received_at, tuple(files.get(message_id, ())))
        )
    return requests


def _apply_page(
    s: Session,
    roster: Roster,
    now: datetime,
    pending: Sequence[Request],
    outcomes: Sequence[Reanalysis | Failure | None],
) -> tuple[list[RematchEvent], int]:
    """Write the analyses of a page, message by message in id order (a message's photo
    check and thread see the messages before it as rematched): (events, staff kept)."""
    from tracker.reanalysis import Failure

    events: list[RematchEvent] = []
    kept = 0
    for request, outcome in zip(pending, outcomes, strict=True):
        msg = s.get(Message, request.message_id)
        if msg is None:  # gone meanwhile
            continue
        if msg.decided_by == "staff":
            kept += 1
            if msg.writeup is None and outcome is not None and not isinstance(outcome, Failure):
                _store_assessment(s, msg, outcome)  # recorded before reports were assessed
            continue
        if outcome is None:
            if request.raw_path or not msg.raw_path:
                continue  # no raw copy (too large to download): nothing to read again
            # a staff decision when the page was read, undone since
            events.append(RematchSkipped(msg.id, "decided by staff meanwhile; run again"))
            continue
        if isinstance(outcome, Failure):
            events.append(RematchSkipped(msg.id, outcome.reason))
            continue
        before = _describe(msg)
        a = outcome.analysis
        _store_assessment(s, msg, outcome)
        result = with_reading_problems(resolve_thread(s, msg, a.parsed, a.result), a.reading)
        apply_match(s, msg, result, roster, now, a.parsed)
        check_photos(
            s,
            msg,
            lambda r, m=msg, p=a.parsed: apply_match(s, m, r, roster, now, p),
            roster.campaign,
        )
        after = _describe(msg)
        if before != after:
            events.append(RematchChange(msg.id, before, after))
    return events, kept


def _store_assessment(s: Session, msg: Message, outcome: Reanalysis) -> None:
    """The photo assessment made in the worker, if the stored files are still those."""
    if outcome.assessment is None:
        return
    stored = stored_files(s, msg.id)
    if tuple(a.id for a in stored) == outcome.file_ids:
        store_assessment(s, msg, stored, outcome.assessment)


def _describe(msg: Message) -> str:
    names = "、".join(sorted(mu.unit.name for mu in msg.units)) or "-"
    return f"{msg.kind} {msg.decision} {names} {msg.period or '-'}"
