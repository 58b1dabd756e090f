"""Read a campaign notice as offices publish it and turn it into a roster.

`read_notice(path)` takes the text of the web page (traditional or simplified; tables
flattened into `|` cells, one a line, rows apart by a lone `|`, as a browser copies them),
a .docx, an .xlsx or the saved .html, and returns a `NoticeRoster`: the campaign (name,
office, jurisdiction, mailbox, contact, deadline day), the units of the annex month tables
with their months, which of them attend the central event, the aliases people write (the
place prefix, full official names where the notice gives them) and what it could not read.
It never invents a unit: a name that is in no month table is reported, not added.
`roster_toml(notice)` writes the roster file (see tracker/data/roster.example.toml).
"""

from __future__ import annotations

import html.parser
import io
import re
import unicodedata
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from intake.archives import zip_problem
from intake.matching import find_periods
from intake.places import LEVELS
from intake.text import to_simplified

__all__ = ["NoticeError", "NoticeRoster", "NoticeUnit", "read_notice", "roster_toml"]


class NoticeError(Exception):
    """A notice that cannot be read at all: one line saying why."""


@dataclass
class NoticeUnit:
    name: str
    kind: str  # township | department
    months: list[str] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)
    central: bool = False


@dataclass
class NoticeRoster:
    name: str = ""
    office: str = ""
    jurisdiction: str = ""
    parent: str = ""  # the place above the jurisdiction, where the notice names it
    mailbox: str = ""
    contact: str = ""
    deadline_day: int | None = None
    deadline_month: str = "same"  # "next": the day is in the month after the activity (次月)
    units: list[NoticeUnit] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # what could not be read, in English

    def unit(self, name: str) -> NoticeUnit | None:
        return next((u for u in self.units if u.name == name), None)


# A line of text or a table row, in reading order.
Block = str | tuple[str, ...]

_ANNEX = re.compile(r"^附件\s*([0-9]{1,2})\s*[:：]?\s*$")
_TOWNSHIP = re.compile(r"(?:镇|乡|街道|街道办事处)$")
_UNIT_SUFFIX = re.compile(
    r"(?:局|委|办|社|大队|支队|公司|分公司|镇|乡|街道|中心|院|所|站|队|会|部|处|室|馆|台|厂|场|行|团)$"
)
_UNIT_NAME = re.compile(r"^[\u4e00-\u9fff（）()]{2,40}$")
_SPLIT = re.compile(r"[、，,；;/\s]+")
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
_DEADLINE = re.compile(r"(?:当月|每月|本月)\s*([0-9]{1,2})\s*[日号]\s*(?:前|之前|以前)")
_NEXT_MONTH = re.compile(r"次月\s*([0-9]{1,2})\s*[日号]\s*(?:前|之前|以前)")
_CONTACT = re.compile(r"联\s*系\s*人\s*[:：]\s*([^\n]{1,80})")
_CAMPAIGN = re.compile(r"(20[0-9]{2})\s*年\s*[“\"「]?([\u4e00-\u9fff]{2,16})[”\"」]?\s*活动")
_OFFICE = re.compile(r"^(.{4,60}?)关于")
_PLACE = re.compile(r"^([\u4e00-\u9fff]{2,6}?[" + "".join(LEVELS) + r"])(?=[\u4e00-\u9fff]{2})")
_SHORT_NAME = re.compile(
    r"([\u4e00-\u9fff]{4,30})[（(]\s*(?:以下)?简称\s*[“\"「]?([\u4e00-\u9fff]{2,12})[”\"」]?\s*[)）]"
)
_NAME_IN_BRACKETS = re.compile(r"^([\u4e00-\u9fff]{2,30})[（(]([\u4e00-\u9fff]{2,30})[)）]$")
# A notice a prefecture sends down to its counties (各县市区, 各县（市、区）).
_TO_COUNTIES = re.compile(r"各(?:县市区|县区|区县|县[（(]市、?区[)）]|县[（(]市[)）]|县市)")
_LEVEL_AFTER_PLACE = re.compile(r"[市州]")
_TITLE_PLACE = re.compile(r"《([\u4e00-\u9fff]{2,4}?[市州])")
# Words that end a run of text before a place name (关于X市, 根据X市, X县和Y市).
_BEFORE_PLACE = frozenset("于据的和与及在由对为是向照经、全本我各")


def _fold(s: str) -> str:
    return to_simplified(unicodedata.normalize("NFKC", s)).strip()


# ---------------------------------------------------------------------------------------------
# Formats -> blocks


def _text_blocks(text: str) -> list[Block]:
    """Web text: a line ending in `|` is a table cell, a lone `|` ends a row."""
    blocks: list[Block] = []
    row: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.endswith("|"):
            cells = [c.strip() for c in line.split("|")[:-1]]
            if not any(cells):  # a lone "|" (or "|||"): the row ends here
                if row:
                    blocks.append(tuple(row))
                row = []
                continue
            row.extend(c for c in cells if c)
            continue
        if row:
            blocks.append(tuple(row))
            row = []
        blocks.append(line)
    if row:
        blocks.append(tuple(row))
    return blocks


def _docx_blocks(payload: bytes) -> list[Block]:
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    document = docx.Document(io.BytesIO(payload))
    blocks: list[Block] = []
    for child in document.element.body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            text = Paragraph(child, document).text.strip()
            if text:
                blocks.append(text)
        elif tag == "tbl":
            for tr in Table(child, document).rows:
                cells: list[str] = []
                previous = None
                for cell in tr.cells:
                    if cell._tc is previous:  # a merged cell repeats itself
                        continue
                    previous = cell._tc
                    cells.append(cell.text.strip())
                if any(cells):
                    blocks.append(tuple(cells))
    return blocks


def _xlsx_blocks(payload: bytes) -> list[Block]:
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(payload), read_only=True, data_only=True)
    blocks: list[Block] = []
    try:
        for sheet in book.worksheets:
            for values in sheet.iter_rows(values_only=True):
                cells = [_cell_text(v) for v in values]
                filled = [c for c in cells if c]
                if len(filled) == 1:
                    blocks.append(filled[0])
                elif filled:
                    blocks.append(tuple(cells))
    finally:
        book.close()
    return blocks


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "year") and hasattr(value, "month"):  # a date cell: 2023-04-01 -> 2023年4月
        return f"{value.year}年{value.month}月"
    return str(value).strip()


class _HtmlBlocks(html.parser.HTMLParser):
    _BREAKS = frozenset({"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "table"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[Block] = []
        self.text: list[str] = []
        self.row: list[str] | None = None
        self.cell: list[str] | None = None
        self.skip = 0

    def _flush_text(self) -> None:
        line = "".join(self.text).strip()
        self.text = []
        for part in line.splitlines():
            if part.strip():
                self.blocks.append(part.strip())

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self.skip += 1
        elif tag == "tr":
            self._flush_text()
            self.row = []
        elif tag in ("td", "th"):
            self.cell = []
        elif tag in self._BREAKS and self.cell is None:
            self._flush_text()
        elif tag == "br" and self.cell is not None:
            self.cell.append("、")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self.skip = max(0, self.skip - 1)
        elif tag in ("td", "th") and self.row is not None and self.cell is not None:
            self.row.append("".join(self.cell).strip().strip("、"))
            self.cell = None
        elif tag == "tr" and self.row is not None:
            if any(self.row):
                self.blocks.append(tuple(self.row))
            self.row = None
        elif tag in self._BREAKS and self.cell is None:
            self._flush_text()

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        if self.cell is not None:
            self.cell.append(data)
        elif self.row is None:
            self.text.append(data)


def _html_blocks(text: str) -> list[Block]:
    parser = _HtmlBlocks()
    parser.feed(text)
    parser.close()
    parser._flush_text()
    return parser.blocks


def _decode(payload: bytes) -> str:
    from intake.charset import decode_bytes

    declared = None
    head = payload[:2048].decode("ascii", "replace").lower()
    found = re.search(r"charset=[\"']?([a-z0-9_\-]+)", head)
    if found:
        declared = found.group(1)
    return decode_bytes(payload, declared)


def notice_blocks(path: Path) -> list[Block]:
    """The notice at `path` as lines and table rows, folded to simplified Chinese."""
    try:
        payload = path.read_bytes()
    except FileNotFoundError:
        raise NoticeError(f"notice {path}: not found") from None
    except OSError as exc:
        raise NoticeError(f"notice {path}: {exc.strerror}") from None
    suffix = path.suffix.lower()
    if payload[:2] == b"PK" or suffix in (".docx", ".xlsx", ".xlsm"):
        # the same checks as a mail's attachments: a zip bomb is refused before
        # python-docx or openpyxl inflates it into memory
        problem = zip_problem(payload)
        if problem is not None:
            raise NoticeError(f"notice {path}: cannot read it, refused before opening: {problem}")
    try:
        if suffix == ".docx" or (payload[:2] == b"PK" and b"word/" in payload[:4096]):
            blocks = _docx_blocks(payload)
        elif suffix in (".xlsx", ".xlsm") or payload[:2] == b"PK":
            blocks = _xlsx_blocks(payload)
        elif suffix in (".html", ".htm") or re.search(
            rb"<(?:html|table|body)\b", payload[:4096], re.I
        ):
            blocks = _html_blocks(_decode(payload))
        else:
            blocks = _text_blocks(_decode(payload))
    except NoticeError:
        raise
    except Exception as exc:  # a broken office file: one line, no traceback
        raise NoticeError(f"notice {path}: cannot read it ({type(exc).__name__}: {exc})") from None
    out: list[Block] = []
    for b in blocks:
        if isinstance(b, str):
            out.append(_fold(b))
        else:
            out.append(tuple(_fold(c) for c in b))
    return out


# ---------------------------------------------------------------------------------------------
# Blocks -> roster


def read_notice(path: str | Path) -> NoticeRoster:
    return parse_notice(notice_blocks(Path(path)))


def parse_notice(blocks: list[Block]) -> NoticeRoster:
    notice = NoticeRoster()
    lines = [b for b in blocks if isinstance(b, str)]
    text = "\n".join(lines)
    _read_campaign(notice, lines, text)
    year = int(notice.name[:4]) if notice.name[:4].isdigit() else None
    central_names: list[str] = []
    full_names = _full_names(blocks)
    annex = ""
    caption = ""  # the annex's first line: its title
    caption_kind = ""
    saw_table = False
    for block in blocks:
        if isinstance(block, str):
            heading = _ANNEX.match(block)
            if heading:
                annex, caption, caption_kind = heading.group(1), "", ""
                continue
            caption = caption or block
            if "乡镇" in block and len(block) <= 12:
                caption_kind = "township"
            elif re.search(r"[县市区]直|部门|单位", block) and len(block) <= 12:
                caption_kind = "department"
            central_list = re.search(r"名单|主会|集中", caption)
            if annex and central_list and _looks_like_name_list(block):
                central_names.extend(_names(block))
            continue
        if _read_row(notice, block, year, caption_kind, annex):
            saw_table = True
    if not saw_table:
        notice.problems.append("no month table found (rows with a month and unit names)")
    named_in_full = _mark_central(notice, central_names, full_names)
    if not notice.parent:
        _read_parent(notice, text, blocks)
    _add_aliases(notice, full_names, named_in_full)
    return notice


def _place_ending_at(text: str, level: int) -> str:
    """The place name whose level character (市/州) stands at `level`: up to four characters
    before it, stopped by a particle (关于X市) or anything not Chinese; "" when shorter than 3."""
    start = level
    while (
        start > 0
        and level - start < 4
        and "\u4e00" <= text[start - 1] <= "\u9fff"
        and text[start - 1] not in _BEFORE_PLACE
    ):
        start -= 1
    name = text[start : level + 1]
    return name if len(name) >= 3 else ""


def _read_parent(notice: NoticeRoster, text: str, blocks: list[Block]) -> None:
    """The place above the jurisdiction, where the notice names it: written right before the
    office's own place (湘潭市湘潭县), heading a unit of the office's (湘潭市生态环境局韶山分局),
    or as the issuer of a document it cites (《湘潭市2023年政务公开工作要点》)."""
    own = notice.jurisdiction
    if not own:
        return
    from intake.places import Jurisdiction

    mine = (own, *Jurisdiction(own).places)
    cells = [c for b in blocks if not isinstance(b, str) for c in b]
    found: list[str] = []
    for chunk in [text, *cells]:
        for m in _LEVEL_AFTER_PLACE.finditer(chunk):
            if chunk.startswith(mine, m.end()):
                found.append(_place_ending_at(chunk, m.start()))
        found.extend(m.group(1) for m in _TITLE_PLACE.finditer(chunk))
    for unit in notice.units:  # 湘潭市生态环境局韶山分局: the parent's body in the own place
        level = _LEVEL_AFTER_PLACE.search(unit.name, 2, 6)
        if level and any(p in unit.name[level.end() :] for p in mine):
            found.append(_place_ending_at(unit.name, level.start()))
    places = [p for p in dict.fromkeys(found) if p and p != own and not p.startswith(own)]
    if len(places) == 1:
        notice.parent = places[0]
    elif places:
        notice.problems.append(
            f"parent: the notice names several places above it ({', '.join(places)}); "
            "set [campaign] parent by hand"
        )
    else:
        notice.problems.append("parent: not found in the notice; set [campaign] parent by hand")


def _read_campaign(notice: NoticeRoster, lines: list[str], text: str) -> None:
    title = lines[0] if lines else ""
    office = _OFFICE.match(title)
    if office:
        notice.office = office.group(1)
    else:
        notice.problems.append("office: the title does not read '<office>关于…'")
    place = _PLACE.match(notice.office)
    if place and place.group(1)[-1] in "市州" and _TO_COUNTIES.search(text):
        # the prefecture's own notice to its counties: it names the parent, not the office
        notice.parent = place.group(1)
        notice.problems.append(
            f"jurisdiction: the notice is {notice.parent}'s, sent to its counties (各县市区); "
            "set [campaign] jurisdiction to your own place by hand"
        )
    elif place:
        notice.jurisdiction = place.group(1)
    else:
        notice.problems.append("jurisdiction: not found at the start of the office's name")
    campaign = _CAMPAIGN.search(text)
    if campaign:
        notice.name = f"{campaign.group(1)}年{campaign.group(2)}"
    else:
        notice.problems.append("campaign name and year: not found ('<year>年“<name>”活动')")
    mails = _EMAIL.findall(text)
    if mails:
        near = [m for m in mails if re.search(r"邮箱[^\n]{0,20}" + re.escape(m), text)]
        notice.mailbox = (near or mails)[0].lower()
        if len(set(m.lower() for m in mails)) > 1:
            notice.problems.append(
                f"mailbox: several addresses ({', '.join(mails)}); took {notice.mailbox}"
            )
    else:
        notice.problems.append("mailbox: no email address in the notice")
    deadline = _DEADLINE.search(text)
    following = _NEXT_MONTH.search(text)
    if deadline and 1 <= int(deadline.group(1)) <= 28:
        notice.deadline_day = int(deadline.group(1))
    elif following and 1 <= int(following.group(1)) <= 28:
        notice.deadline_day, notice.deadline_month = int(following.group(1)), "next"
    elif deadline or following:
        day = (deadline or following).group(1)  # type: ignore[union-attr]
        notice.problems.append(
            f"deadline: day {day} is past the 28th, which a roster cannot hold for every month; "
            "deadline_day left at 25: set it or per-unit due dates by hand"
        )
    else:
        notice.problems.append(
            "deadline: no '当月N日前' or '次月N日前' in the notice; deadline_day left at 25"
        )
    contact = _CONTACT.search(text)
    if contact:
        parts = [p.strip() for p in re.split(r"[,，;；。]", contact.group(1)) if p.strip()]
        keep = [parts[0]] + [p for p in parts[1:] if re.search(r"电话|手机|座机|[0-9]{7}", p)]
        notice.contact = "，".join(re.sub(r"\s*[:]\s*", "：", p) for p in keep)
    else:
        notice.problems.append("contact: no '联系人:' line")


def _looks_like_name_list(line: str) -> bool:
    names = _names(line)
    return len(names) >= 2 and all(_is_unit_name(n) for n in names)


def _names(cell: str) -> list[str]:
    cell = re.sub(r"等?[。.]?$", "", cell.strip())
    return [n.strip() for n in _SPLIT.split(cell) if n.strip()]


def _is_unit_name(name: str) -> bool:
    bare = _NAME_IN_BRACKETS.sub(r"\1", name)
    return bool(_UNIT_NAME.match(name)) and bool(_UNIT_SUFFIX.search(bare))


def _months_in(cell: str, year: int | None) -> list[str]:
    found = []
    for hit in find_periods(cell, 1.0):
        y = hit.year or year
        if y is None:
            continue
        found.append(f"{y:04d}-{hit.month:02d}")
    return list(dict.fromkeys(found))


def _read_row(
    notice: NoticeRoster, row: tuple[str, ...], year: int | None, caption: str, annex: str
) -> bool:
    """A month-table row (序号 | 2023年4月 | 单位、单位): add its units. True when it was one."""
    month_cells = [
        (i, _months_in(c, year)) for i, c in enumerate(row) if len(c) <= 16 and not _names_ok(c)
    ]
    month_cells = [(i, m) for i, m in month_cells if m]
    if not month_cells:
        return False
    col, months = month_cells[0]
    where = f"annex {annex or '?'}, row '{' | '.join(row)}'"
    names = [n for i, c in enumerate(row) if i != col for n in _names(c) if not n.isdigit()]
    names = [n for n in names if not re.fullmatch(r"[0-9]+|序号|活动时间|单位|时间", n)]
    if not names:
        notice.problems.append(f"{where}: a month but no unit")
        return True
    for name in names:
        if not _is_unit_name(name):
            notice.problems.append(f"{where}: {name!r} is not a unit name; left out")
            continue
        full = _NAME_IN_BRACKETS.match(name)
        alias = ""
        if full:  # 县应急管理局(县应急局): the first is the name, the second an alias
            name, alias = full.group(1), full.group(2)
        kind = "township" if _TOWNSHIP.search(name) else "department"
        if caption and caption != kind and kind == "township":
            kind = "township"
        unit = notice.unit(name)
        if unit is None:
            unit = NoticeUnit(name, kind)
            notice.units.append(unit)
        for m in months:
            if m not in unit.months:
                unit.months.append(m)
        if alias and alias not in unit.aliases:
            unit.aliases.append(alias)
    return True


def _names_ok(cell: str) -> bool:
    names = _names(cell)
    return bool(names) and all(_is_unit_name(n) for n in names)


def _abbreviates(short: str, long: str) -> bool:
    """县应急局 for 县应急管理局: same first character and suffix, characters in order."""
    if short == long or len(short) >= len(long) or short[0] != long[0]:
        return False
    if short[-1] != long[-1]:
        return False
    it = iter(long)
    return all(ch in it for ch in short)


def _level_form(name: str, place: str) -> str:
    """浏阳市公安局 -> 市公安局: the own place written in full becomes its level character, as the
    month tables write the office's own departments; other names stay as they are."""
    if place and name.startswith(place) and len(name) > len(place):
        return place[-1] + name[len(place) :]
    return name


def _central_unit(
    notice: NoticeRoster, name: str, full_names: dict[str, str]
) -> tuple[list[NoticeUnit], str]:
    """The month-table units a central-event name can be, and how it writes them: "same" (as
    the table, or the notice's other name for it), "full" (longer: 浏阳市公安局 for 市公安局,
    浏阳市市场监督管理局 for 市市场监管局, by the forms the aliases are made of) or "short"
    (县应急局 for 县应急管理局)."""
    place = notice.jurisdiction
    level_form = _level_form(name, place)
    written = {name, level_form}
    same = [u for u in notice.units if u.name == name]
    if same:
        return same, "same"
    full = [u for u in notice.units if u.name == level_form]
    if not full:
        full = [
            u
            for u in notice.units
            if name in _written_forms(u, place, _full_of(u, place, full_names))
        ]
    if full:
        return full, "full"
    other = [u for u in notice.units if written & set(u.aliases)]
    if other:
        return other, "same"
    return [u for u in notice.units if any(_abbreviates(w, u.name) for w in written)], "short"


def _mark_central(
    notice: NoticeRoster, names: Iterable[str], full_names: dict[str, str]
) -> set[str]:
    """Set `central` on the units the central-event list names. The list may write a unit as
    the month table does, shorter (an alias) or in full (see `_central_unit`). A list that
    writes any unit in full is a list of full names: the longer names it gives go to
    `full_names`, and the units it writes as the table does are returned (their table name is
    the full one). A name that is no unit of a month table is reported in one line, never
    added."""
    place = notice.jurisdiction
    unresolved: list[tuple[str, str]] = []  # name, its candidates
    in_full = False
    listed: dict[str, str] = {}  # unit name -> the name the list gives it, level-prefixed
    for name in dict.fromkeys(names):
        found, how = _central_unit(notice, name, full_names)
        if len(found) != 1:
            unresolved.append((name, "、".join(u.name for u in found) if found else "none"))
            continue
        unit = found[0]
        unit.central = True
        if how == "short" and name not in unit.aliases:
            unit.aliases.insert(0, name)
        in_full = in_full or how == "full"
        if how != "short":
            listed.setdefault(unit.name, _level_form(name, place))
    if len(unresolved) == 1:
        name, which = unresolved[0]
        notice.problems.append(
            f"central event: {name} is in no month table (candidates: {which}); not added"
        )
    elif unresolved:
        notice.problems.append(
            f"central event: {len(unresolved)} names are in no month table, not added: "
            + ", ".join(f"{name} (candidates: {which})" for name, which in unresolved)
        )
    named_in_full: set[str] = set()
    if in_full:
        for unit_name, full in listed.items():
            if full == unit_name:
                named_in_full.add(unit_name)
            elif len(full) > len(unit_name):
                full_names.setdefault(unit_name, full)
    return named_in_full


def _full_names(blocks: list[Block]) -> dict[str, str]:
    """Short name -> the full official name, where the notice writes 'X（以下简称Y）'."""
    out: dict[str, str] = {}
    for block in blocks:
        for text in [block] if isinstance(block, str) else block:
            for m in _SHORT_NAME.finditer(text):
                out[m.group(2)] = m.group(1)
    return out


def _full_of(unit: NoticeUnit, place: str, full_names: dict[str, str]) -> str:
    """The unit's full official name: the notice's ('X（以下简称Y）', or its list of full
    names), else the standard one of tracker.deptnames (县人力资源和社会保障局 for 县人社局), or
    "" when none is known."""
    from tracker.deptnames import full_name

    level = place[-1] if place else ""
    full = full_names.get(unit.name, "")
    if not full and unit.kind == "department" and level and unit.name.startswith(level):
        standard = full_name(unit.name[1:])
        full = level + standard if standard else ""
    return full


def _written_forms(unit: NoticeUnit, place: str, full: str) -> list[str]:
    """The longer ways a department is written: its full name (`full`, from `_full_of`), and
    with the own place for the level character (浏阳市市场监督管理局, 浏阳市市场监管局 for
    市市场监管局)."""
    level = place[-1] if place else ""
    forms: list[str] = []
    if full:
        forms.append(full)
        if level and full.startswith(level):
            forms.append(place + full[1:])
    if place and level and unit.name.startswith(level) and not unit.name.startswith(place):
        forms.append(place + unit.name[1:])
    return forms


def _add_aliases(
    notice: NoticeRoster,
    full_names: dict[str, str],
    named_in_full: Collection[str] = (),
) -> None:
    """The names people write: the full official names (the notice's 'X（以下简称Y）' or list
    of full names, else the standard ones of tracker.deptnames), the place prefix, a
    township's 人民政府/党政办. `named_in_full`: units a list of full names writes as the
    month table does (their name is the full one)."""
    place = notice.jurisdiction
    level = place[-1] if place else ""
    given = 0
    without: list[str] = []
    for unit in notice.units:
        full = _full_of(unit, place, full_names)
        extra = _written_forms(unit, place, full)
        given += unit.name in full_names or unit.name in named_in_full
        if (
            not full
            and unit.kind == "department"
            and unit.name not in named_in_full
            and not _known_full(unit, level)
        ):
            without.append(unit.name)
        if unit.kind == "township":
            if place:
                extra.append(place + unit.name)
            if unit.name.endswith("街道"):
                extra += [unit.name + "办事处", unit.name + "办"]
            else:
                extra += [unit.name + "人民政府", unit.name + "党政办"]
        for a in unit.aliases:  # aliases the notice wrote with the level prefix
            if place and level and a.startswith(level):
                extra.append(place + a[1:])
        for a in extra:
            if a != unit.name and a not in unit.aliases:
                unit.aliases.append(a)
    if not given or without:
        names = "、".join(without[:6]) + ("…" if len(without) > 6 else "")
        notice.problems.append(
            "full names: "
            + (
                "the notice gives none (neither X（以下简称Y） nor a list of full names)"
                if not given
                else "not all in the notice"
            )
            + (
                f"; no full name known for {len(without)} "
                f"department{'s' if len(without) != 1 else ''} ({names})"
                if without
                else ""
            )
            + "; check the aliases and add the names people write by hand"
        )


def _known_full(unit: NoticeUnit, level: str) -> bool:
    """Whether the unit's name is a full official name already (县林业局), or an alias is a
    longer form of it (the notice's other way of writing it)."""
    from tracker.deptnames import is_full

    if level and unit.name.startswith(level) and is_full(unit.name[1:]):
        return True
    return any(len(a) > len(unit.name) and _abbreviates(unit.name, a) for a in unit.aliases)


# ---------------------------------------------------------------------------------------------
# Roster TOML


def _q(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _list(items: Iterable[str]) -> str:
    return "[" + ", ".join(_q(i) for i in items) + "]"


def roster_toml(notice: NoticeRoster, source: str = "") -> str:
    """The roster file for `notice`, with what could not be read as comments on top."""
    out: list[str] = [
        "# Roster written by `report-intake roster import`"
        + (f" from {source}" if source else "")
        + ".",
        "# Check it against the notice, add the units' addresses (emails) and the parent place.",
    ]
    if notice.problems:
        out.append("#")
        out.append("# Could not read:")
        out += [f"#   - {p}" for p in notice.problems]
    out += ["", "[campaign]"]
    out.append(f"name = {_q(notice.name or '政务公开主题日')}")
    if notice.jurisdiction:
        out.append(f"jurisdiction = {_q(notice.jurisdiction)}")
    if notice.parent:
        out.append(f"parent = {_q(notice.parent)}")
    else:
        out.append(
            '# parent = ""  # the place above the jurisdiction, e.g. the prefecture-level city'
        )
    out.append(f"office = {_q(notice.office)}")
    out.append(f"mailbox = {_q(notice.mailbox)}")
    out.append(f"deadline_day = {notice.deadline_day or 25}")
    if notice.deadline_month == "next":
        out.append('deadline_month = "next"  # 次月: the day is in the month after the activity')
    out.append(f"contact = {_q(notice.contact)}")
    for unit in notice.units:
        out += ["", "[[unit]]", f"name = {_q(unit.name)}", f"kind = {_q(unit.kind)}"]
        out.append(f"aliases = {_list(unit.aliases)}")
        out.append("emails = []")
        out.append(f"months = {_list(sorted(unit.months))}")
        if unit.central:
            out.append("central = true")
    return "\n".join(out) + "\n"
