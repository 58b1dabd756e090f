"""The year's record for the performance assessment, as a spreadsheet (openpyxl)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from tracker.models import Message, MessageUnit
from tracker.slots import slot_states

STATE_ZH = {
    "upcoming": "未到期",
    "open": "进行中",
    "received": "按时报送",
    "late": "逾期报送",
    "missing": "未报送",
    "excused": "已免报",
}
FILLS = {
    "received": "C6EFCE",
    "late": "FFEB9C",
    "missing": "FFC7CE",
    "excused": "E4DFEC",
}


def export_year(s: Session, *, year: int, as_of: date, tz: ZoneInfo, out: Path) -> int:
    """Write the slots of `year` (and the messages behind them) to `out`; returns rows."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = f"{year}年报送情况"
    header = ["单位", "月份", "截止日期", "状态", "报送日期", "邮件编号", "备注"]
    ws.append(header)
    rows = [r for r in slot_states(s, as_of=as_of, tz=tz) if r.period.startswith(str(year))]
    for r in rows:
        first = (
            r.submissions[0].received_at.astimezone(tz).date().isoformat() if r.submissions else ""
        )
        ws.append(
            [
                r.unit,
                r.period,
                r.due.isoformat(),
                STATE_ZH[r.state],
                first,
                ", ".join(f"#{sub.message_id}" for sub in r.submissions),
                r.note,
            ]
        )
        fill = FILLS.get(r.state)
        if fill:
            ws.cell(ws.max_row, 4).fill = PatternFill("solid", fgColor=fill)
    _style(ws, [18, 10, 12, 10, 12, 16, 30])

    ms = wb.create_sheet("邮件")
    ms.append(
        ["编号", "收到时间", "发件人", "主题", "类别", "处理", "单位", "月份", "附件数", "依据"]
    )
    q = (
        select(Message)
        .options(
            selectinload(Message.units).selectinload(MessageUnit.unit),
            selectinload(Message.attachments),
        )
        .order_by(Message.id)
    )
    for msg in s.scalars(q):
        local = msg.received_at.astimezone(tz)
        if local.year != year and not (msg.period or "").startswith(str(year)):
            continue
        ms.append(
            [
                msg.id,
                local.strftime("%Y-%m-%d %H:%M"),
                msg.from_addr,
                msg.subject,
                msg.kind,
                msg.decision,
                "、".join(mu.unit.name for mu in msg.units),
                msg.period or "",
                sum(1 for a in msg.attachments if a.kind == "file"),
                "；".join(msg.reasons or []),
            ]
        )
    _style(ms, [6, 17, 28, 40, 8, 8, 20, 9, 7, 50])
    out.parent.mkdir(parents=True, exist_ok=True)
    wb.save(out)
    return len(rows)


def _style(ws: object, widths: list[int]) -> None:
    for cell in ws[1]:  # type: ignore[index]
        cell.font = Font(bold=True)
        cell.alignment = Alignment(horizontal="center")
    for i, width in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(i)].width = width  # type: ignore[attr-defined]
    ws.freeze_panes = "A2"  # type: ignore[attr-defined]
