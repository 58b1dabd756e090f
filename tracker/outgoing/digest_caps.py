"""The digest stays a readable mail at any size (a county's 47 units or a province's 6,000).

Counts are always complete, and so is the list of the units that need action (a report
overdue). Every other list is cut at `[digest] list_limit` rows and ends with one line
"另有 N 项，请在看板查看" (linked to the board when `[web] base_url` is set). When more
slots are overdue than that, they are listed one row per unit (its overdue months
together) instead of one row per slot, this month's overdue ones included, so that even
6,000 units all behind stay a few MB.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from tracker.slots import SlotStatus

__all__ = ["grouped_rows", "month_and_overdue", "months_text", "more_line"]


def more_line(hidden: int, what: str = "项", detail: str = "") -> str:
    """The line that ends a cut list ("" when nothing was cut)."""
    if hidden <= 0:
        return ""
    return f"另有 {hidden} {what}{f'（{detail}）' if detail else ''}未列出，请在看板查看"


def months_text(periods: Sequence[str]) -> str:
    """2023-01, 2023-02, 2024-01 -> 2023年1月、2月、2024年1月."""
    out: list[str] = []
    year = ""
    for p in sorted(periods):
        if p[:4] != year:
            year = p[:4]
            out.append(f"{year}年{int(p[5:])}月")
        else:
            out.append(f"{int(p[5:])}月")
    return "、".join(out)


def month_and_overdue(
    month: Sequence[SlotStatus], overdue: Sequence[SlotStatus], limit: int
) -> tuple[list[SlotStatus], list[SlotStatus] | None, int, dict[str, int]]:
    """This month's rows to show, the overdue slots grouped (None: one row per slot, as
    they fit), how many of this month's rows were left out, and those by state.

    `month` comes sorted with the missing first. While the overdue slots (this month's
    and earlier ones) fit in `limit` rows, nothing changes but this month's other rows
    being cut; beyond, every overdue slot goes to the grouped list and this month's list
    keeps the rest."""
    month_missing = [s for s in month if s.state == "missing"]
    if len(overdue) + len(month_missing) <= limit:
        grouped = None
        keep = max(limit, len(month_missing))
        shown, cut = list(month[:keep]), list(month[keep:])
    else:
        grouped = [*month_missing, *overdue]
        rest = [s for s in month if s.state != "missing"]
        shown, cut = rest[:limit], rest[limit:]
    by_state: dict[str, int] = {}
    for s in cut:
        by_state[s.state] = by_state.get(s.state, 0) + 1
    return shown, grouped, len(cut), by_state


def grouped_rows(
    slots: Sequence[SlotStatus],
    as_of: date,
    contacts: dict[str, str],
    kind_label: Callable[[str], str] = str,
) -> list[dict[str, Any]]:
    """One row per unit for its overdue slots: the months together, the longest delay."""
    by_unit: dict[str, list[SlotStatus]] = {}
    for s in slots:
        by_unit.setdefault(s.unit, []).append(s)
    ranked = sorted(
        by_unit.items(), key=lambda kv: (-max((as_of - s.due).days for s in kv[1]), -len(kv[1]))
    )
    return [
        {
            "unit": unit,
            "kind": kind_label(group[0].unit_kind),
            "period_text": months_text([s.period for s in group]),
            "slots": len(group),
            "days_over": max(max(0, (as_of - s.due).days) for s in group),
            "contact": contacts.get(unit, ""),
        }
        for unit, group in ranked
    ]
