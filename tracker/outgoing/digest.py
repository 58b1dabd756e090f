"""The weekly digest for staff: where every unit stands, what came in, what needs a human.

Sections: this month's slots by state and the overdue ones, the reports received since
the last digest (one contact sheet of photos per report, inline by Content-ID, plus
cloud links with their expiry), the review queue, units without a known address, and
the year-to-date table (unit x period). HTML with inline CSS in tables (max 640px,
renders in web mail and on phones) with a plain-text alternative.

It goes out once a week: outbox key `digest:<ISO week of as_of>:<recipients hash>`;
the ServiceState row "digest" remembers when the last one was queued, so "new reports"
means new since then.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from tracker.clock import Clock
from tracker.config import Config
from tracker.contacts import liaison_contacts
from tracker.db import Database
from tracker.models import Message, MessageUnit, Outbox, ServiceState, Submission, Unit
from tracker.outgoing import digest_caps as caps
from tracker.outgoing.emails import (
    InlineImage,
    base_context,
    date_label,
    digest_message,
    period_label,
    render,
    size_label,
    when_label,
)
from tracker.outgoing.links import add_board_links
from tracker.outgoing.outbox import DeliveryReport, Mailer, deliver_now, enqueue
from tracker.roster import Roster
from tracker.slots import SlotStatus, slot_states

log = logging.getLogger(__name__)

STATE_NAME = "digest"
SHEET_WIDTH = 592
SHEET_GAP = 4
LINK_WARN = timedelta(days=3)

STATE_LABELS = {
    "upcoming": "未到期",
    "open": "待报送",
    "received": "已报送",
    "late": "逾期报送",
    "missing": "未报送",
    "excused": "已免报",
}
# (text colour, background) per state, and a one-character mark for the year table
STATE_COLOURS = {
    "upcoming": ("#5f6368", "#f1f3f4"),
    "open": ("#1967d2", "#e8f0fe"),
    "received": ("#137333", "#e6f4ea"),
    "late": ("#b06000", "#fef7e0"),
    "missing": ("#c5221f", "#fce8e6"),
    "excused": ("#8430ce", "#f3e8fd"),
}
STATE_MARKS = {
    "upcoming": "·",
    "open": "○",
    "received": "✓",
    "late": "✓",
    "missing": "✗",
    "excused": "免",
}


@dataclass
class DigestReport:
    as_of: date
    key: str
    recipients: tuple[str, ...]
    subject: str
    size: int
    reports: int
    images: int
    queued: bool = False
    already_sent: bool = False
    out_file: Path | None = None
    no_address: list[str] = field(default_factory=list)
    delivery: DeliveryReport | None = None


@dataclass(frozen=True)
class Digest:
    message: EmailMessage | None  # None for a preview without recipients or sender
    subject: str
    html: str
    text: str
    images: tuple[InlineImage, ...]
    context: dict[str, Any]


# --- contact sheets ----------------------------------------------------------------------


def _register_heif() -> None:
    try:
        from pillow_heif import register_heif_opener

        register_heif_opener()
    except ImportError:  # pragma: no cover - optional at runtime
        pass


def load_thumbnail(path: Path, size: int) -> Image.Image | None:
    """A square RGB thumbnail of the image at `path`, or None when it cannot be read."""
    try:
        with Image.open(path) as src:
            src.draft("RGB", (size * 2, size * 2))
            im: Image.Image = ImageOps.exif_transpose(src) or src
            return ImageOps.fit(im.convert("RGB"), (size, size), Image.Resampling.LANCZOS)
    except Exception as exc:  # unreadable, truncated, a decompression bomb: skip it
        log.warning("digest: cannot thumbnail %s: %s", path.name, exc)
        return None


def contact_sheet(paths: Sequence[Path], *, width: int = SHEET_WIDTH) -> bytes | None:
    """One JPEG with the images in a grid (4 across, 3 for 3, fewer for fewer)."""
    if not paths:
        return None
    _register_heif()
    cols = 4 if len(paths) >= 4 else max(1, len(paths))
    if len(paths) in (3, 5, 6, 9):
        cols = 3
    cell = (width - SHEET_GAP * (cols - 1)) // cols
    thumbs = [t for p in paths if (t := load_thumbnail(p, cell)) is not None]
    if not thumbs:
        return None
    rows = (len(thumbs) + cols - 1) // cols
    sheet = Image.new(
        "RGB", (cols * cell + SHEET_GAP * (cols - 1), rows * cell + SHEET_GAP * (rows - 1)), "white"
    )
    for i, th in enumerate(thumbs):
        r, c = divmod(i, cols)
        sheet.paste(th, (c * (cell + SHEET_GAP), r * (cell + SHEET_GAP)))
    out = io.BytesIO()
    sheet.save(out, "JPEG", quality=80, optimize=True, progressive=True)
    return out.getvalue()


def _image_paths(msg: Message, storage_dir: Path, limit: int) -> tuple[list[Path], int]:
    images = [a for a in msg.attachments if a.kind == "file" and a.is_image and not a.error]
    paths = []
    for a in images[:limit]:
        for rel in (a.thumb_relpath, a.relpath):
            if rel:
                p = storage_dir / rel
                if p.is_file():
                    paths.append(p)
                    break
    return paths, len(images)


# --- gathering ---------------------------------------------------------------------------


def _state_cell(state: str) -> dict[str, str]:
    fg, bg = STATE_COLOURS[state]
    return {
        "state": state,
        "label": STATE_LABELS[state],
        "fg": fg,
        "bg": bg,
        "mark": STATE_MARKS[state],
    }


def last_digest(session: Session) -> dict[str, Any]:
    row = session.get(ServiceState, STATE_NAME)
    return dict(row.value) if row else {}


def _since(session: Session, as_of: date, tz: Any) -> datetime:
    end = datetime.combine(as_of + timedelta(days=1), time(0), tzinfo=tz)
    last = last_digest(session).get("sent_at")
    if last:
        when = datetime.fromisoformat(last)
        if when < end and end - when <= timedelta(days=35):
            return when
    return datetime.combine(as_of - timedelta(days=7), time(0), tzinfo=tz)


def _report_entry(
    msg: Message,
    config: Config,
    index: int,
    due_by_slot: dict[int, date],
    now: datetime,
    with_photos: bool = True,
) -> tuple[dict[str, Any], InlineImage | None]:
    tz = config.timezone
    received = msg.received_at.astimezone(tz)
    dues = [due_by_slot[s.slot_id] for s in msg.submissions if s.slot_id in due_by_slot]
    on_time = all(received.date() <= d for d in dues) if dues else True
    shown = config.digest.thumbnails_per_report if with_photos else 0
    paths, n_images = _image_paths(msg, config.storage_dir, shown)
    sheet = contact_sheet(paths) if paths else None
    image = None
    if sheet:
        image = InlineImage(cid=f"sheet{index}.{msg.id}@report-intake", data=sheet)
    links = []
    for a in msg.attachments:
        if a.kind != "link":
            continue
        expires = a.expires_at.astimezone(tz) if a.expires_at else None
        links.append(
            {
                "name": a.filename or a.safe_name or "超大附件",
                "url": a.url or "",
                "provider": a.provider or "",
                "size": size_label(a.size) if a.size else "",
                "expires": expires.strftime("%Y-%m-%d %H:%M") if expires else "",
                "expiring": bool(expires and expires - now <= LINK_WARN),
                "expired": bool(expires and expires <= now),
            }
        )
    others = [
        a.safe_name or a.filename
        for a in msg.attachments
        if a.kind == "file" and not a.is_image and not a.error
    ]
    return (
        {
            "id": msg.id,
            "units": [mu.unit.name for mu in msg.units] or ["（未定单位）"],
            "period": msg.period,
            "period_text": period_label(msg.period),
            "received": when_label(received, now.year),  # now: the digest's day
            "from": msg.from_addr,
            "from_name": msg.from_name,
            "new_sender": bool(msg.new_sender),
            "notes": [r for r in msg.reasons or [] if r.startswith(("新发件地址", "邮件头日期"))],
            "subject": msg.subject or "（无主题）",
            "on_time": on_time,
            "images": n_images,
            "shown": len(paths),
            "sheet_cid": image.cid if image else None,
            "links": links,
            "documents": others,
        },
        image,
    )


def units_without_address(session: Session) -> list[str]:
    units = session.scalars(
        select(Unit)
        .where(Unit.active.is_(True))
        .options(selectinload(Unit.addresses))
        .order_by(Unit.id)
    )
    return [u.name for u in units if not u.addresses]


def digest_context(
    session: Session, config: Config, roster: Roster, as_of: date, *, since: datetime | None = None
) -> tuple[dict[str, Any], list[InlineImage]]:
    tz = config.timezone
    since = since or _since(session, as_of, tz)
    end = datetime.combine(as_of + timedelta(days=1), time(0), tzinfo=tz)
    # "now" for link expiry: the real time when the digest is for today, else noon of as_of
    real_now = datetime.now(tz)
    moment = real_now if real_now.date() == as_of else datetime.combine(as_of, time(12), tz)
    period = f"{as_of.year:04d}-{as_of.month:02d}"
    statuses = slot_states(session, as_of=as_of, tz=tz, campaigns=roster.campaign_keys())
    roster_names = {u.name for u in roster.units}
    statuses = [s for s in statuses if s.unit in roster_names]
    due_by_slot = {s.slot_id: s.due for s in statuses}

    contacts = liaison_contacts(session)  # whom to call about an overdue unit

    def row(s: SlotStatus) -> dict[str, Any]:
        sub = s.submissions[0] if s.submissions else None
        return {
            "contact": contacts.get(s.unit, "") if s.state == "missing" else "",
            "unit": s.unit,
            "kind": roster.jurisdiction.kind_label(s.unit_kind),
            "period": s.period,
            "period_text": period_label(s.period),
            "due": date_label(s.due),
            "days_over": max(0, (as_of - s.due).days),
            "received": (
                when_label(sub.received_at.astimezone(tz), as_of.year, clock=False) if sub else ""
            ),
            "note": s.note,
            **_state_cell(s.state),
        }

    order = {"missing": 0, "open": 1, "late": 2, "received": 3, "excused": 4, "upcoming": 5}
    month = sorted((s for s in statuses if s.period == period), key=lambda s: order[s.state])
    overdue = [s for s in statuses if s.period < period and s.state == "missing"]
    counts = {k: sum(1 for s in month if s.state == k) for k in STATE_LABELS}
    # every list but the overdue units is cut at `limit` rows (tracker.outgoing.digest_caps)
    limit = config.digest.list_limit
    month_shown, grouped, month_hidden, hidden_states = caps.month_and_overdue(
        month, overdue, limit
    )

    new_reports = (
        select(Message.id)
        .where(
            Message.kind == "report",
            Message.decision == "matched",
            Message.received_at > since.astimezone(UTC),
            Message.received_at < end.astimezone(UTC),
        )
        .order_by(Message.received_at, Message.id)
    )
    report_ids = list(session.scalars(new_reports))
    msgs = list(
        session.scalars(
            select(Message)
            .where(Message.id.in_(report_ids[:limit]))
            .options(
                selectinload(Message.units).selectinload(MessageUnit.unit),
                selectinload(Message.attachments),
                selectinload(Message.submissions).selectinload(Submission.slot),
            )
            .order_by(Message.received_at, Message.id)
        )
    )
    from tracker.evidence import completeness_line, report_completeness

    reports, images = [], []
    for i, msg in enumerate(msgs, 1):
        with_photos = i <= config.digest.photo_reports
        entry, image = _report_entry(msg, config, i, due_by_slot, moment, with_photos)
        held = report_completeness(session, msg.id)
        taken = sorted({a.taken_on.isoformat() for a in msg.attachments if a.taken_on})
        entry.update(
            complete=held.complete,
            materials=completeness_line(held),
            taken="、".join(taken[:3]) + ("等" if len(taken) > 3 else ""),
            flags=[r for r in msg.reasons or [] if r.startswith("照片")],
        )
        reports.append(entry)
        if image:
            images.append(image)

    in_review = session.scalar(
        select(func.count()).select_from(Message).where(Message.decision == "review")
    )
    review = [
        {
            "id": m.id,
            "received": when_label(m.received_at.astimezone(tz), as_of.year),
            "from": m.from_addr or "（无发件人）",
            "subject": m.subject or "（无主题）",
            "reasons": list(m.reasons or [])[:3],
        }
        for m in session.scalars(
            select(Message)
            .where(Message.decision == "review")
            .order_by(Message.received_at, Message.id)
            .limit(limit)
        )
    ]
    uncertain = [
        {
            "id": o.id,
            "to": "、".join(o.recipients),
            "subject": o.subject or "（无主题）",
            "when": when_label(o.next_attempt_at.astimezone(tz), as_of.year),
        }
        for o in session.scalars(
            select(Outbox).where(Outbox.state == "uncertain").order_by(Outbox.id)
        )
    ]
    no_address = [n for n in units_without_address(session) if n in roster_names]
    owing = {s.unit for s in statuses if s.state in ("open", "missing")}

    periods = sorted({s.period for s in statuses if s.period[:4] == f"{as_of.year:04d}"})
    by_unit: dict[str, dict[str, SlotStatus]] = {}
    for s in statuses:
        by_unit.setdefault(s.unit, {})[s.period] = s
    ytd = []
    ytd_rows = 0
    for kind in ("township", "department"):
        kind_label = roster.jurisdiction.kind_label(kind)
        group = []
        for ru in roster.units:
            if ru.kind != kind:
                continue
            ytd_rows += 1
            if ytd_rows > limit:
                continue
            cells = []
            for p in periods:
                st = by_unit.get(ru.name, {}).get(p)
                cells.append(_state_cell(st.state) if st else None)
            group.append({"unit": ru.name, "cells": cells})
        if group:
            ytd.append({"label": kind_label, "rows": group})
    year_counts = {
        k: sum(1 for s in statuses if s.state == k and s.period in periods) for k in STATE_LABELS
    }

    camp = roster.campaign
    ctx = base_context(config, camp)
    ctx.update(
        campaign_name=camp.name,
        office=camp.office,
        mailbox=camp.mailbox,
        as_of=as_of,
        as_of_text=date_label(as_of),
        week=iso_week(as_of),
        since_text=since.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
        period=period,
        period_text=period_label(period),
        month_due=date_label(month[0].due) if month else "",
        month_rows=[row(s) for s in month_shown],
        month_more=caps.more_line(
            month_hidden,
            "个单位",
            "、".join(f"{STATE_LABELS[k]} {n}" for k, n in hidden_states.items() if n),
        ),
        counts=counts,
        month_total=len(month),
        overdue_rows=(
            [row(s) for s in overdue]
            if grouped is None
            else caps.grouped_rows(grouped, as_of, contacts, roster.jurisdiction.kind_label)
        ),
        overdue_grouped=grouped is not None,
        overdue_total=counts["missing"] + len(overdue),
        overdue_slots=len(overdue) if grouped is None else len(grouped),
        reports=reports,
        reports_total=len(report_ids),
        reports_more=caps.more_line(len(report_ids) - len(reports), "份新收报送"),
        review=review,
        review_total=in_review or 0,
        review_more=caps.more_line((in_review or 0) - len(review), "封待核对邮件"),
        uncertain=uncertain,
        no_address=[{"unit": n, "owing": n in owing} for n in no_address],
        periods=[{"period": p, "label": f"{int(p[5:])}月"} for p in periods],
        ytd=ytd,
        ytd_more=caps.more_line(ytd_rows - limit, "个单位"),
        year_counts=year_counts,
        legend=[
            _state_cell(k) for k in ("received", "late", "open", "missing", "excused", "upcoming")
        ],
        state_labels=STATE_LABELS,
    )
    add_board_links(ctx, config.web)
    return ctx, images


def iso_week(day: date) -> str:
    y, w, _ = day.isocalendar()
    return f"{y}-W{w:02d}"


def digest_key(as_of: date, recipients: Sequence[str]) -> str:
    h = hashlib.sha256(",".join(sorted(r.lower() for r in recipients)).encode()).hexdigest()
    return f"digest:{iso_week(as_of)}:{h[:12]}"


def build_digest(
    session: Session,
    config: Config,
    roster: Roster,
    as_of: date,
    *,
    to: Sequence[str] | None = None,
    since: datetime | None = None,
) -> EmailMessage:
    msg = make_digest(session, config, roster, as_of, to=to, since=since).message
    assert msg is not None
    return msg


def make_digest(
    session: Session,
    config: Config,
    roster: Roster,
    as_of: date,
    *,
    to: Sequence[str] | None = None,
    since: datetime | None = None,
    preview: bool = False,
) -> Digest:
    """Build the digest. With `preview` (a dry run) it needs neither recipients nor
    `[smtp] from`: then `message` is None when it could not be built, and only the
    rendered subject, HTML and text are there."""
    recipients = list(to or config.digest.recipients or config.staff)
    if not recipients and not preview:
        raise ValueError("the digest has no recipients: set [digest] recipients or [office] staff")
    ctx, images = digest_context(session, config, roster, as_of, since=since)
    rendered = render("digest", ctx, config.templates_dir)
    msg = None
    if recipients and (config.smtp.sender or not preview):
        msg = digest_message(config, to=recipients, ctx=ctx, images=images)
    return Digest(msg, rendered.subject, rendered.html, rendered.text, tuple(images), ctx)


def html_for_file(html: str, images: Sequence[InlineImage]) -> str:
    """The digest HTML with its cid: images made data: URIs (to open in a browser)."""
    by_cid = {img.cid: img for img in images}

    def sub(m: re.Match[str]) -> str:
        img = by_cid.get(m.group(1))
        if img is None:
            return m.group(0)
        return f"data:image/{img.subtype};base64,{base64.b64encode(img.data).decode()}"

    return re.sub(r"cid:([^\"'\s>]+)", sub, html)


def send_digest(
    db: Database,
    config: Config,
    roster: Roster,
    clock: Clock,
    *,
    as_of: date | None = None,
    dry_run: bool = False,
    out_file: Path | None = None,
    to: Sequence[str] | None = None,
    mailer: Mailer | None = None,
) -> DigestReport:
    """Build this week's digest; queue and deliver it unless `dry_run` (or already sent)."""
    day = as_of or clock.today()
    recipients = tuple(to or config.digest.recipients or config.staff)
    key = digest_key(day, recipients)
    with db.session() as s:
        d = make_digest(s, config, roster, day, to=recipients, preview=dry_run)
        if d.message is not None:
            size = len(d.message.as_bytes())
        else:  # a preview: about what the mail would weigh (base64 of every part)
            parts = len(d.html.encode()) + len(d.text.encode()) + sum(len(i.data) for i in d.images)
            size = parts * 4 // 3
        report = DigestReport(
            as_of=day,
            key=key,
            recipients=recipients,
            subject=d.subject,
            size=size,
            reports=d.context["reports_total"],
            images=len(d.images),
            no_address=[u["unit"] for u in d.context["no_address"]],
        )
        if out_file is not None:
            out_file.write_text(html_for_file(d.html, d.images), encoding="utf-8")
            report.out_file = out_file
        if dry_run:
            return report
        now = clock.now()
        assert d.message is not None
        report.queued = enqueue(
            s, key=key, kind="digest", recipients=list(recipients), message=d.message, now=now
        )
        report.already_sent = not report.queued
        if report.queued and not to:
            state = s.get(ServiceState, STATE_NAME)
            value = {"sent_at": now.isoformat(), "as_of": day.isoformat(), "key": key}
            if state is None:
                s.add(ServiceState(name=STATE_NAME, value=value, updated_at=now))
            else:
                state.value, state.updated_at = value, now
    report.delivery = deliver_now(db, config.smtp, clock, mailer, kinds=("digest",))
    return report
