"""The year's record for the performance assessment (政务公开绩效考核): a workbook (or CSV).

`collect` reads everything in a fixed number of queries (linear in the data: no per-row
query, no per-row recount); `write_xlsx` streams it with openpyxl's write-only mode and
`write_csv` writes the main sheet. Every text that came from mail is written as text,
never as a formula (`text_value`).

Sheets: one per campaign year (title row; 序号, 单位, 类型, 主会场, 计划月份, 开展月份,
活动日期, 报送时间, 状态, 图片, 文字材料, 材料情况, 联络员, 联系电话, 备注, 登记编号, and
材料文件夹 when the evidence folders are written beside it), 邮件 (every message of the
year with Chinese labels) and 汇总 (counts by state and by township/department, on-time
rate).
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from copy import copy
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.styles.cell_style import StyleArray
from openpyxl.utils import get_column_letter
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from intake.completeness import MISSING_LABELS
from intake.places import Jurisdiction
from tracker.cells import as_text, is_formula_like
from tracker.evidence import slot_completeness
from tracker.models import Attachment, Liaison, Message, MessageUnit, Slot, Unit
from tracker.references import reference
from tracker.review_hold import waiting_messages
from tracker.roster import Campaign
from tracker.senders import NEW_SENDER
from tracker.slots import slot_states

STATE_ZH = {
    "upcoming": "未到期",
    "open": "进行中",
    "received": "按时报送",
    "late": "逾期报送",
    "missing": "未报送",
    "excused": "免报",
}
FILLS = {
    "received": "C6EFCE",
    "late": "FFEB9C",
    "missing": "FFC7CE",
    "excused": "E4DFEC",
    "open": "DDEBF7",
}
WAITING_FILL = "FCE4D6"  # nothing counted, but mail waits in review: not simply 未报送
KIND_ZH = {"township": "乡镇", "department": "县直单位"}
MESSAGE_KIND_ZH = {"report": "活动报送", "liaison": "联络员回执", "other": "其他邮件"}
DECISION_ZH = {"matched": "已登记", "review": "待人工核对", "ignored": "已忽略"}

COLUMNS: tuple[tuple[str, float], ...] = (
    ("序号", 5),
    ("单位", 17),
    ("类型", 8),
    ("主会场", 6),
    ("计划月份", 8),
    ("开展月份", 8),
    ("活动日期", 10.5),
    ("报送时间", 15),
    ("状态", 10),
    ("图片数", 6),
    ("文字材料", 20),
    ("材料情况", 11),
    ("联络员", 7),
    ("联系电话", 12.5),
    ("备注", 20),
    ("登记编号", 13),
)
FOLDER_COLUMN = ("材料文件夹", 20)
MESSAGE_COLUMNS: tuple[tuple[str, float], ...] = (
    ("登记编号", 13),
    ("收到时间", 15),
    ("发件人", 26),
    ("发件人名称", 14),
    ("主题", 40),
    ("类别", 9),
    ("处理", 9),
    ("单位", 18),
    ("月份", 8),
    ("附件数", 6),
    ("图片数", 6),
    ("文字材料", 18),
    ("依据", 50),
)


@dataclass(frozen=True)
class SlotRow:
    """One line of the year's sheet: a unit's slot and what was counted for it."""

    index: int
    slot_id: int
    unit: str
    unit_kind: str
    central: bool
    period: str  # the slot's period
    scheduled: bool
    held: str  # the month the event was held, as reported ("" when nothing counted)
    activity_on: date | None
    received_at: datetime | None  # first counted mail, local time
    state: str
    photos: int
    writeup: str
    complete: bool
    missing: tuple[str, ...]
    liaison: str
    phone: str
    notes: str
    message_ids: tuple[int, ...]
    refs: tuple[str, ...] = ()  # the 登记编号 of the counted mail
    kind_text: str = ""  # 乡镇 / 县直单位 (市直单位, 区直单位: by the jurisdiction's level)
    waiting: tuple[str, ...] = ()  # the 登记编号 of mail about it still in review
    new_senders: tuple[str, ...] = ()  # counted mail from an address new to the unit

    @property
    def kind_label(self) -> str:
        return self.kind_text or KIND_ZH.get(self.unit_kind, self.unit_kind)

    @property
    def waits(self) -> bool:
        """Nothing counted yet, but mail about it waits in review."""
        return bool(self.waiting) and self.state in ("missing", "open", "upcoming")

    @property
    def state_label(self) -> str:
        label = STATE_ZH[self.state]
        return f"{label}（有邮件待核实）" if self.waits else label

    @property
    def state_fill(self) -> str | None:
        return WAITING_FILL if self.waits else FILLS.get(self.state)

    @property
    def writeup_label(self) -> str:
        if not self.writeup:
            return "无"
        return "有（邮件正文）" if self.writeup == "正文" else f"有：{self.writeup}"

    @property
    def materials_label(self) -> str:
        if not self.message_ids:
            return ""
        if self.complete:
            return "齐全"
        return "缺" + "、".join(MISSING_LABELS[m].split("（")[0] for m in self.missing)

    @property
    def numbers(self) -> str:
        return "、".join(self.refs)


@dataclass(frozen=True)
class MessageRow:
    id: int
    ref: str
    received_at: datetime  # local
    from_addr: str
    from_name: str
    subject: str
    kind: str
    decision: str
    units: str
    period: str
    files: int
    photos: int | None
    writeup: str | None
    reasons: str


@dataclass
class YearRecord:
    year: int
    as_of: date
    title: str
    rows: list[SlotRow] = field(default_factory=list)
    messages: Iterable[MessageRow] = ()
    place: Jurisdiction = field(default_factory=Jurisdiction)


def _local(dt: datetime, tz: ZoneInfo) -> datetime:
    return dt.astimezone(tz).replace(tzinfo=None)


def collect(
    s: Session,
    *,
    year: int,
    as_of: date,
    tz: ZoneInfo,
    campaign: Campaign | None = None,
    campaigns: Collection[str] | None = None,
) -> YearRecord:
    """Everything the workbook shows for `year` (of `campaigns`, default all), in a fixed
    number of queries."""
    statuses = [
        r
        for r in slot_states(s, as_of=as_of, tz=tz, campaigns=campaigns)
        if r.period[:4] == f"{year:04d}"
    ]
    held_by = slot_completeness(s, statuses)
    central: dict[str, bool] = {n: c for n, c in s.execute(select(Unit.name, Unit.central))}
    scheduled: dict[int, bool] = {i: sc for i, sc in s.execute(select(Slot.id, Slot.scheduled))}
    ids = sorted({sub.message_id for r in statuses for sub in r.submissions})
    info: dict[int, tuple[str | None, date | None, list[str]]] = {}
    # message id -> (the address new to some of its units, those units' names or None)
    new_sender: dict[int, tuple[str, set[str] | None]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for mid, period, activity_on, reasons, is_new, sender in s.execute(
            select(
                Message.id,
                Message.period,
                Message.activity_on,
                Message.reasons,
                Message.new_sender,
                Message.from_addr,
            ).where(Message.id.in_(chunk))
        ):
            info[mid] = (period, activity_on, list(reasons or []))
            if is_new:
                new_sender[mid] = (sender or "（无发件地址）", _new_for(reasons or []))
    year_slots = list(s.scalars(select(Slot).where(Slot.period.like(f"{year:04d}-%"))))
    waiting = waiting_messages(s, year_slots, tz)
    liaison: dict[str, dict[str, str]] = {}
    for name, fields in s.execute(
        select(Unit.name, Liaison.fields).join(Liaison.unit).order_by(Liaison.id)
    ):
        liaison[name] = dict(fields or {})  # the latest form wins

    place = Jurisdiction(campaign.jurisdiction, campaign.parent) if campaign else Jurisdiction()
    rows = []
    for n, r in enumerate(statuses, 1):
        mids = tuple(sub.message_id for sub in r.submissions)
        held = held_by[r.slot_id]
        periods = [p for m in mids if (p := info.get(m, (None, None, []))[0])]
        days = [info[m][1] for m in mids if m in info and info[m][1]]
        notes = [r.note] if r.note else []
        for m in mids:
            notes += [x.removeprefix("备注：") for x in info.get(m, (None, None, []))[2]
                      if x.startswith("备注：")]  # fmt: skip
        senders = tuple(
            dict.fromkeys(
                addr
                for m in mids
                if m in new_sender
                for addr, named in [new_sender[m]]
                if named is None or r.unit in named
            )
        )
        if senders:
            notes.append(f"{NEW_SENDER}：{'、'.join(senders)}")
        held_refs = tuple(reference(m, campaign) for m in waiting.get(r.slot_id, []))
        if held_refs and r.state != "excused":
            more = "另有" if mids else "有"
            notes.append(f"{more}邮件待核实（登记编号 {'、'.join(held_refs)}）")
        form = liaison.get(r.unit, {})
        phone = form.get("手机") or form.get("办公电话") or ""
        rows.append(
            SlotRow(
                index=n,
                slot_id=r.slot_id,
                unit=r.unit,
                unit_kind=r.unit_kind,
                central=bool(central.get(r.unit)),
                period=r.period,
                scheduled=scheduled.get(r.slot_id, True),
                held=periods[0] if periods else (r.period if mids else ""),
                activity_on=days[0] if days else None,
                received_at=_local(r.submissions[0].received_at, tz) if r.submissions else None,
                state=r.state,
                photos=held.photos,
                writeup=held.writeup,
                complete=held.complete,
                missing=held.missing,
                liaison=form.get("姓名", ""),
                phone=phone,
                notes="；".join(notes),
                message_ids=mids,
                refs=tuple(reference(m, campaign) for m in mids),
                kind_text=place.kind_label(r.unit_kind),
                waiting=held_refs if r.state != "excused" else (),
                new_senders=senders,
            )
        )
    title = f"{campaign.name if campaign else f'{year}年'}报送情况（截至{as_of.year}年{as_of.month}月{as_of.day}日）"
    return YearRecord(year, as_of, title, rows, _messages(s, year, tz, campaign), place)


def _new_for(reasons: Sequence[str]) -> set[str] | None:
    """The units a 新发件地址 reason names (tracker.senders writes "新发件地址：addr
    （县卫健局、县民政局此前未用过该地址）"); None when no such reason can be read."""
    tail = "此前未用过该地址）"
    for reason in reasons:
        if reason.startswith(f"{NEW_SENDER}：") and reason.endswith(tail):
            inner = reason[: -len(tail)]
            return set(inner[inner.rfind("（") + 1 :].split("、"))
    return None


def _messages(
    s: Session, year: int, tz: ZoneInfo, campaign: Campaign | None
) -> Iterator[MessageRow]:
    """The year's messages (received that year or reported for it), streamed in id order."""
    start = datetime.combine(date(year, 1, 1), time(0), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(date(year + 1, 1, 1), time(0), tzinfo=tz).astimezone(UTC)
    where = or_(
        (Message.received_at >= start) & (Message.received_at < end),
        Message.period.like(f"{year:04d}-%"),
    )
    files: dict[int, int] = {
        mid: n
        for mid, n in s.execute(
            select(Attachment.message_id, func.count(Attachment.id))
            .join(Message, Message.id == Attachment.message_id)
            .where(where, Attachment.kind == "file")
            .group_by(Attachment.message_id)
        )
    }
    names: dict[int, list[str]] = {}
    for mid, name in s.execute(
        select(MessageUnit.message_id, Unit.name)
        .join(Unit, Unit.id == MessageUnit.unit_id)
        .join(Message, Message.id == MessageUnit.message_id)
        .where(where)
        .order_by(MessageUnit.id)
    ):
        names.setdefault(mid, []).append(name)
    q = (
        select(
            Message.id,
            Message.received_at,
            Message.from_addr,
            Message.from_name,
            Message.subject,
            Message.kind,
            Message.decision,
            Message.period,
            Message.photos,
            Message.writeup,
            Message.reasons,
        )
        .where(where)
        .order_by(Message.id)
        .execution_options(yield_per=500)
    )
    for row in s.execute(q):
        yield MessageRow(
            id=row.id,
            ref=reference(row.id, campaign),
            received_at=_local(row.received_at, tz),
            from_addr=row.from_addr,
            from_name=row.from_name,
            subject=row.subject,
            kind=row.kind,
            decision=row.decision,
            units="、".join(names.get(row.id, [])),
            period=row.period or "",
            files=files.get(row.id, 0),
            photos=row.photos,
            writeup=row.writeup,
            reasons="；".join(row.reasons or []),
        )


# -- writing ---------------------------------------------------------------------------------


def text_value(value: str) -> str:
    """Mail text made safe for a cell: no characters XML forbids."""
    return ILLEGAL_CHARACTERS_RE.sub("", value)


def csv_value(value: object) -> str:
    """A CSV field that no spreadsheet reads as a formula (a leading ' when it could)."""
    text = "" if value is None else str(value)
    if is_formula_like(value):
        return "'" + text
    return text


THIN = Side(style="thin", color="BFBFBF")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
HEADER_FILL_HEX = "D9E1F2"
WRAP = Alignment(vertical="center", wrap_text=True)
CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)
NOWRAP = Alignment(horizontal="center", vertical="center")
BODY_FONT = Font(name="宋体", size=10)
ROW_HEIGHT = 13.5  # points per line of 10-point text
MAX_LINES = 12


def _char_width(ch: str) -> float:
    return 1.6 if unicodedata.east_asian_width(ch) in "WF" else 1.0


def _tokens(line: str) -> Iterator[str]:
    """What a spreadsheet wraps between: each Chinese character, each run of other
    characters up to a space (the space kept with it)."""
    word: list[str] = []
    for ch in line:
        if unicodedata.east_asian_width(ch) in "WF":
            if word:
                yield "".join(word)
                word = []
            yield ch
        else:
            word.append(ch)
            if ch == " ":
                yield "".join(word)
                word = []
    if word:
        yield "".join(word)


def text_lines(text: str, width: float) -> int:
    """Lines a wrapped cell `width` units wide needs for `text` (a Chinese character about
    1.6 units in 10-point 宋体, other characters one; on the safe side), at most `MAX_LINES`."""
    usable = max(width - 0.5, 1.0)
    lines = 0
    for part in text.split("\n"):
        n, used = 1, 0.0
        for token in _tokens(part):
            w = sum(_char_width(ch) for ch in token)
            if used and used + w > usable:
                n, used = n + 1, 0.0
            while w > usable:  # a word longer than the cell breaks inside
                n, w = n + 1, w - usable
            used += w
        lines += n
        if lines >= MAX_LINES:
            return MAX_LINES
    return lines


class _Sheet:
    """A write-only sheet with the helpers every sheet here needs."""

    def __init__(self, wb: Workbook, title: str, columns: Sequence[tuple[str, float]]) -> None:
        self.ws = wb.create_sheet(title)
        self.columns = columns
        self.written = 0  # rows appended so far
        # Each combination of styles is set once and its style ids copied to every other
        # cell that has it: setting a style object hashes it deep inside openpyxl (most of
        # the time of a large export).
        self._styles: dict[tuple[object, ...], tuple[StyleArray, Alignment, Font]] = {}
        for i, (_, width) in enumerate(columns, 1):
            self.ws.column_dimensions[get_column_letter(i)].width = width

    def cell(
        self,
        value: Any,
        *,
        fmt: str | None = None,
        fill: str | None = None,
        align: Alignment = WRAP,
        font: Font = BODY_FONT,
        link: str | None = None,
    ) -> WriteOnlyCell:
        if isinstance(value, str):
            value = text_value(value)
        c = WriteOnlyCell(self.ws, value)
        if isinstance(value, str) and value:
            c.data_type = "s"  # text stays text: "=..." is never a formula
            as_text(c)  # ... also once a clerk edits the cell (Excel's quote prefix)
        if link:
            c.hyperlink = link
        key = (fmt, fill, id(align), id(font), bool(link), c.quotePrefix)
        known = self._styles.get(key)
        if known is not None:
            c._style = copy(known[0])
            return c
        if fmt:
            c.number_format = fmt
        if fill:
            c.fill = PatternFill("solid", fgColor=fill)
        if link:
            font = Font(name=font.name, size=font.sz, color="0563C1", underline="single")
        c.font, c.alignment, c.border = font, align, BORDER
        self._styles[key] = (copy(c._style), align, font)  # align, font: their ids stay theirs
        return c

    def append(self, cells: Sequence[WriteOnlyCell]) -> None:
        """Add a row, as tall as its longest wrapped text needs: LibreOffice and Excel keep
        a written row's height, so a long note would otherwise spill over the next row
        when printed."""
        lines = 1
        for (_, width), c in zip(self.columns, cells, strict=False):
            if isinstance(c.value, str) and c.alignment is not None and c.alignment.wrap_text:
                lines = max(lines, text_lines(c.value, width))
        self.written += 1
        if lines > 1:
            dims = self.ws.row_dimensions
            dims[self.written].height = ROW_HEIGHT * lines + 2
            self.ws.append(cells)
            del dims[self.written]  # written out: memory stays flat
        else:
            self.ws.append(cells)

    def title(self, text: str) -> None:
        c = WriteOnlyCell(self.ws, text_value(text))
        c.font = Font(name="黑体", size=14, bold=True)
        c.alignment = Alignment(horizontal="center", vertical="center")
        self.ws.row_dimensions[1].height = 26
        self.ws.merged_cells.add(f"A1:{get_column_letter(len(self.columns))}1")
        self.append([c])

    def header(self, row: int) -> None:
        self.append(
            [
                self.cell(name, fill=HEADER_FILL_HEX, align=CENTER, font=Font(name="黑体", size=10))
                for name, _ in self.columns
            ]
        )
        self.ws.print_title_rows = f"{row}:{row}"

    def print_setup(self, header_row: int) -> None:
        ws = self.ws
        ws.freeze_panes = f"C{header_row + 1}"
        ws.page_setup.orientation = "landscape"
        ws.page_setup.paperSize = "9"  # A4
        ws.page_setup.fitToWidth = 1
        ws.page_setup.fitToHeight = 0
        ws.sheet_properties.pageSetUpPr.fitToPage = True
        ws.print_options.horizontalCentered = True
        ws.page_margins.left = ws.page_margins.right = 0.4
        ws.page_margins.top = ws.page_margins.bottom = 0.5
        ws.oddFooter.center.text = "第 &P 页，共 &N 页"


def write_xlsx(
    record: YearRecord, out: Path | IO[bytes], *, folders: Mapping[int, str] | None = None
) -> None:
    """The workbook; `folders` (slot id -> relative folder path) adds links to the evidence."""
    wb = Workbook(write_only=True)
    columns = COLUMNS + ((FOLDER_COLUMN,) if folders is not None else ())
    sheet = _Sheet(wb, f"{record.year}年", columns)
    sheet.print_setup(header_row=2)
    sheet.title(record.title)
    sheet.header(2)
    for r in record.rows:
        cells = [
            sheet.cell(r.index, align=CENTER),
            sheet.cell(r.unit),
            sheet.cell(r.kind_label, align=CENTER),
            sheet.cell("是" if r.central else "", align=CENTER),
            sheet.cell(r.period if r.scheduled else "计划外", align=CENTER),
            sheet.cell(r.held, align=CENTER),
            sheet.cell(r.activity_on, fmt="yyyy-mm-dd", align=CENTER),
            sheet.cell(r.received_at, fmt="yyyy-mm-dd hh:mm", align=CENTER),
            sheet.cell(r.state_label, fill=r.state_fill, align=CENTER),
            sheet.cell(r.photos if r.message_ids else None, align=CENTER),
            sheet.cell(r.writeup_label if r.message_ids else ""),
            sheet.cell(
                r.materials_label,
                fill=None if r.complete or not r.message_ids else FILLS["late"],
                align=CENTER,
            ),
            sheet.cell(r.liaison, align=CENTER),
            sheet.cell(r.phone, align=CENTER),
            sheet.cell(r.notes),
            sheet.cell(r.numbers, align=CENTER if len(r.refs) < 2 else WRAP),
        ]
        if folders is not None:
            folder = folders.get(r.slot_id)
            cells.append(sheet.cell(folder or "", link=folder or None))
        sheet.append(cells)

    ms = _Sheet(wb, "邮件", MESSAGE_COLUMNS)
    ms.print_setup(header_row=2)
    ms.title(f"{record.year}年收到的邮件")
    ms.header(2)
    for m in record.messages:
        ms.append(
            [
                ms.cell(m.ref, align=NOWRAP),
                ms.cell(m.received_at, fmt="yyyy-mm-dd hh:mm", align=CENTER),
                ms.cell(m.from_addr),
                ms.cell(m.from_name),
                ms.cell(m.subject),
                ms.cell(MESSAGE_KIND_ZH.get(m.kind, m.kind), align=CENTER),
                ms.cell(DECISION_ZH.get(m.decision, m.decision), align=CENTER),
                ms.cell(m.units),
                ms.cell(m.period, align=CENTER),
                ms.cell(m.files, align=CENTER),
                ms.cell(m.photos, align=CENTER),
                ms.cell({None: "", "": "无", "正文": "邮件正文"}.get(m.writeup, m.writeup or "")),
                ms.cell(m.reasons),
            ]
        )
    _summary(wb, record)
    wb.save(out)


def _summary(wb: Workbook, record: YearRecord) -> None:
    states = ("received", "late", "missing", "excused", "open", "upcoming")
    shown = [st for st in states if st in ("received", "late", "missing", "excused")
             or any(r.state == st for r in record.rows)]  # fmt: skip
    columns = [("", 12.0)] + [(STATE_ZH[st], 9.0) for st in shown]
    columns += [("合计", 7.0), ("按时报送率", 10.0), ("材料齐全", 9.0)]
    ss = _Sheet(wb, "汇总", columns)
    ss.print_setup(header_row=2)
    ss.title(f"{record.year}年汇总（截至{record.as_of.isoformat()}）")
    ss.header(2)
    groups: list[tuple[str, list[SlotRow]]] = [
        (record.place.kind_label(k), [r for r in record.rows if r.unit_kind == k])
        for k in ("township", "department")
    ]
    groups.append(("全部", record.rows))
    for label, rows in groups:
        counts = {st: 0 for st in shown}
        complete = 0
        for r in rows:
            counts[r.state] = counts.get(r.state, 0) + 1
            complete += bool(r.message_ids and r.complete)
        due = counts.get("received", 0) + counts.get("late", 0) + counts.get("missing", 0)
        rate = counts.get("received", 0) / due if due else None
        bold = Font(name="宋体", size=10, bold=label == "全部")
        ss.append(
            [ss.cell(label, font=bold)]
            + [ss.cell(counts[st], align=CENTER, font=bold) for st in shown]
            + [
                ss.cell(len(rows), align=CENTER, font=bold),
                ss.cell(rate, fmt="0.0%", align=CENTER, font=bold),
                ss.cell(complete, align=CENTER, font=bold),
            ]
        )
    ss.append([])
    note = "按时报送率 = 按时报送 ÷（按时报送 + 逾期报送 + 未报送）；免报和未到期的不计入。"
    ss.append([WriteOnlyCell(ss.ws, note)])


def write_csv(record: YearRecord, out: Path | IO[bytes]) -> None:
    """The year's sheet as CSV (UTF-8 with BOM, so spreadsheet programs read the Chinese)."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow([name for name, _ in COLUMNS])
    for r in record.rows:
        w.writerow(
            csv_value(v)
            for v in (
                r.index,
                r.unit,
                r.kind_label,
                "是" if r.central else "",
                r.period if r.scheduled else "计划外",
                r.held,
                r.activity_on.isoformat() if r.activity_on else "",
                r.received_at.strftime("%Y-%m-%d %H:%M") if r.received_at else "",
                r.state_label,
                r.photos if r.message_ids else "",
                r.writeup_label if r.message_ids else "",
                r.materials_label,
                r.liaison,
                r.phone,
                r.notes,
                r.numbers,
            )
        )
    data = buf.getvalue().encode("utf-8-sig")
    if isinstance(out, Path):
        out.write_bytes(data)
    else:
        out.write(data)


def export_year(
    s: Session,
    *,
    year: int,
    as_of: date,
    tz: ZoneInfo,
    out: Path,
    campaign: Campaign | None = None,
    folders: Mapping[int, str] | None = None,
    campaigns: Collection[str] | None = None,
) -> int:
    """Write the year's record to `out` (.xlsx, or .csv by extension); returns its rows."""
    record = collect(s, year=year, as_of=as_of, tz=tz, campaign=campaign, campaigns=campaigns)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".csv":
        write_csv(record, out)
    else:
        write_xlsx(record, out, folders=folders)
    return len(record.rows)
