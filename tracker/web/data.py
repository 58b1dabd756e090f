"""What the board's pages show, read from the database: no decisions are made here.

Slot states come from `tracker.slots.slot_states` (the one place that knows them), the
mail's text from its raw copy through `intake.parsing` (shown as text, never as HTML).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from tracker.bodytext import mail_text
from tracker.models import Attachment, Liaison, Message, MessageUnit, Outbox, Submission, Unit
from tracker.outgoing.digest import STATE_LABELS, STATE_MARKS
from tracker.roster import Roster
from tracker.slots import SlotStatus, slot_states

log = logging.getLogger(__name__)

BODY_LIMIT = 20_000
SAFE_INLINE_IMAGES = ("image/jpeg", "image/png", "image/gif", "image/webp")
STATE_ORDER = ("received", "late", "open", "missing", "excused", "upcoming")


def messages_query() -> Any:
    return select(Message).options(
        selectinload(Message.units).selectinload(MessageUnit.unit),
        selectinload(Message.attachments),
        selectinload(Message.submissions).selectinload(Submission.slot),
    )


def review_messages(s: Session) -> list[Message]:
    q = messages_query().where(Message.decision == "review").order_by(Message.received_at)
    return list(s.scalars(q))


def review_count(s: Session) -> int:
    return int(
        s.scalar(select(func.count()).select_from(Message).where(Message.decision == "review")) or 0
    )


def body_text(storage_dir: Path, msg: Message) -> str:
    """The mail's own text (plain part, else the HTML part's visible text), for display as
    text, read under a bound (tracker.bodytext). "" when the raw copy is gone or unreadable;
    a note when reading it ran out of time or memory."""
    if not msg.raw_path:
        return ""
    path = storage_dir / msg.raw_path
    text = mail_text(path.read_bytes, reasons=msg.reasons)
    if text is None:
        return "（这封邮件无法在限定时间内读取，正文未显示，请下载原始邮件查看）"
    text = text.strip()
    if len(text) > BODY_LIMIT:
        text = text[:BODY_LIMIT] + "\n……（以下省略，请下载原始邮件查看）"
    return text


@dataclass
class Files:
    images: list[Attachment] = field(default_factory=list)
    documents: list[Attachment] = field(default_factory=list)
    links: list[Attachment] = field(default_factory=list)


def files_of(msg: Message) -> Files:
    out = Files()
    for a in msg.attachments:
        if a.kind == "link":
            out.links.append(a)
        elif a.is_image and a.thumb_relpath and not a.error:
            out.images.append(a)
        else:
            out.documents.append(a)
    return out


def can_inline(a: Attachment) -> bool:
    return a.kind == "file" and a.is_image and a.content_type in SAFE_INLINE_IMAGES


# --- overview -------------------------------------------------------------------------------


@dataclass
class Grid:
    periods: list[str]
    groups: list[tuple[str, list[tuple[str, list[SlotStatus | None]]]]]


def grid(roster: Roster, statuses: list[SlotStatus], year: int) -> Grid:
    """The year's table: a row per unit, a column per month. With slots of several campaigns
    the rows are grouped by campaign (a unit may owe the same month in two)."""
    periods = sorted({st.period for st in statuses if st.period.startswith(f"{year:04d}-")})
    by_unit: dict[tuple[str, str], dict[str, SlotStatus]] = {}
    for st in statuses:
        by_unit.setdefault((st.campaign, st.unit), {})[st.period] = st
    keys = list(dict.fromkeys(st.campaign for st in statuses))
    several = len(keys) > 1
    groups = []
    for key in keys or [""]:
        part = roster.part(key) if several else None
        names = {u.name for u in part.units} if part is not None else None
        for kind in ("township", "department"):
            label = roster.jurisdiction.kind_label(kind)
            rows = [
                (ru.name, [by_unit.get((key, ru.name), {}).get(p) for p in periods])
                for ru in roster.units
                if ru.kind == kind and (names is None or ru.name in names)
            ]
            if rows and (not several or any(any(c) for _, c in rows)):
                title = f"{key or '（未归入活动）'} · {label}" if several else label
                groups.append((title, rows))
    return Grid(periods, groups)


def counts(statuses: list[SlotStatus]) -> dict[str, int]:
    return {k: sum(1 for st in statuses if st.state == k) for k in STATE_ORDER}


def overview(
    s: Session, roster: Roster, as_of: date, tz: Any, campaigns: list[str] | None = None
) -> dict[str, Any]:
    """What the overview shows of the campaigns `campaigns` (None: every slot)."""
    statuses = slot_states(s, as_of=as_of, tz=tz, campaigns=campaigns)
    names = {u.name for u in roster.units}
    statuses = [st for st in statuses if st.unit in names]
    period = f"{as_of.year:04d}-{as_of.month:02d}"
    month = [st for st in statuses if st.period == period]
    order = {"missing": 0, "open": 1, "late": 2, "received": 3, "excused": 4, "upcoming": 5}
    month.sort(key=lambda st: order[st.state])
    years = sorted({int(st.period[:4]) for st in statuses}) or [as_of.year]
    year = as_of.year if as_of.year in years else years[-1]
    in_year = [st for st in statuses if st.period.startswith(f"{year:04d}-")]
    overdue = [st for st in statuses if st.period < period and st.state == "missing"]
    return {
        "period": period,
        "month": month,
        "month_counts": counts(month),
        "year": year,
        "year_counts": counts(in_year),
        "grid": grid(roster, statuses, year),
        "overdue": overdue,
        "review": review_count(s),
    }


# --- a unit ---------------------------------------------------------------------------------


def unit_page(
    s: Session,
    roster: Roster,
    unit: Unit,
    as_of: date,
    tz: Any,
    campaigns: list[str] | None = None,
) -> dict[str, Any]:
    from tracker.addressbook import list_addresses

    roster_unit = roster.unit(unit.name)
    on_roster = set(roster_unit.emails) if roster_unit else set()
    addresses = (
        [
            {"info": info, "removable": info.address not in on_roster}
            for info in list_addresses(s, roster, unit.name)
        ]
        if roster_unit
        else []
    )
    statuses = slot_states(s, as_of=as_of, tz=tz, unit=unit.name, campaigns=campaigns)
    msgs = list(
        s.scalars(
            messages_query()
            .join(MessageUnit, MessageUnit.message_id == Message.id)
            .where(MessageUnit.unit_id == unit.id)
            .order_by(Message.received_at.desc())
        )
    )
    liaisons = list(
        s.scalars(select(Liaison).where(Liaison.unit_id == unit.id).order_by(Liaison.id.desc()))
    )
    return {
        "unit": unit,
        "slots": statuses,
        "messages": msgs,
        "addresses": addresses,
        "liaison": liaisons[0].fields if liaisons else {},
        "liaison_message": liaisons[0].message_id if liaisons else None,
    }


# --- outbox ---------------------------------------------------------------------------------


def outbox_rows(s: Session, limit: int = 300) -> dict[str, list[Outbox]]:
    rows = list(s.scalars(select(Outbox).order_by(Outbox.id.desc()).limit(limit)))
    groups: dict[str, list[Outbox]] = {"failed": [], "waiting": [], "sent": [], "cancelled": []}
    for r in rows:
        if r.state == "failed":
            groups["failed"].append(r)
        elif r.state in ("pending", "sending"):
            groups["waiting"].append(r)
        elif r.state == "sent":
            groups["sent"].append(r)
        else:
            groups["cancelled"].append(r)
    return groups


def state_cell(st: SlotStatus | None) -> dict[str, str] | None:
    if st is None:
        return None
    return {"state": st.state, "label": STATE_LABELS[st.state], "mark": STATE_MARKS[st.state]}
