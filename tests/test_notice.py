"""`roster import`: a campaign notice (web text, .docx, .xlsx, saved .html) becomes a roster."""

from __future__ import annotations

import html
import io
import tomllib
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any

import docx
import openpyxl
import pytest
from click.testing import CliRunner

from tracker.cli import main
from tracker.notice import Block, NoticeRoster, notice_blocks, read_notice, roster_toml
from tracker.roster import load_roster, parse_roster

ROOT = Path(__file__).resolve().parent.parent
SEED = Path("/work/shared/seed/notice.txt")
SEED_COPY = ROOT / "tests" / "places" / "xiangtan-notice.txt"
CITY_NOTICE = ROOT / "tests" / "places" / "shaoshan-notice.txt"
COUNTY = ROOT / "examples" / "roster.toml"
CITY = ROOT / "tests" / "places" / "shaoshan-city.toml"
# a notice and roster by an independent tester: 浏阳市 (长沙市), 2024, deadline the 20th; its
# central-event list writes full names (浏阳市市场监督管理局), its month tables short ones
LIUYANG_NOTICE = ROOT / "tests" / "places" / "liuyang-notice.txt"
LIUYANG = ROOT / "tests" / "places" / "liuyang-city.toml"


def _units(roster_units: Iterable[Any]) -> dict[str, tuple[str, tuple[str, ...], bool]]:
    return {u.name: (u.kind, tuple(sorted(u.months)), u.central) for u in roster_units}


def test_the_committed_seed_copy_is_the_seed() -> None:
    if not SEED.exists():
        pytest.skip("no shared seed on this machine")
    assert SEED_COPY.read_bytes() == SEED.read_bytes()


def test_the_committed_liuyang_copies_are_the_testers() -> None:
    held_out = Path("/work/heldout-city2")
    if not held_out.exists():
        pytest.skip("no held-out set on this machine")
    assert LIUYANG_NOTICE.read_bytes() == (held_out / "notice.txt").read_bytes()
    assert LIUYANG.read_bytes() == (held_out / "roster.toml").read_bytes()


def test_it_reads_the_seed_notice_into_the_shipped_roster() -> None:
    notice = read_notice(SEED_COPY)
    shipped = load_roster(COUNTY)
    assert len(notice.units) == 47
    assert _units(notice.units) == _units(shipped.units)
    assert notice.name == shipped.campaign.name
    assert notice.office == shipped.campaign.office
    assert notice.jurisdiction == "湘潭县"
    assert notice.mailbox == "xtxgov@126.com"
    assert notice.deadline_day == 25
    assert notice.contact == shipped.campaign.contact
    # annex 1 writes 县应急局, annex 3 县应急管理局: one unit, the other name an alias
    unit = notice.unit("县应急管理局")
    assert unit is not None and unit.central and "县应急局" in unit.aliases
    assert notice.unit("县应急局") is None
    forestry = notice.unit("县林业局")
    assert forestry is not None and "湘潭县林业局" in forestry.aliases
    town = notice.unit("石潭镇")
    assert town is not None and "湘潭县石潭镇" in town.aliases
    # the seed names no place above the county: said in one line
    assert "parent: not found in the notice; set [campaign] parent by hand" in notice.problems
    assert notice.parent == ""
    # the notice writes short names only: the standard full names are aliases, and it says so
    rsj = notice.unit("县人社局")
    assert rsj is not None and "湘潭县人力资源和社会保障局" in rsj.aliases
    scj = notice.unit("县市场监管局")
    assert scj is not None and "县市场监督管理局" in scj.aliases
    full = next(p for p in notice.problems if p.startswith("full names:"))
    assert "gives none" in full and "县供电公司" in full and "县林业局" not in full
    assert all("\n" not in p for p in notice.problems)


def test_it_reads_a_county_level_citys_notice() -> None:
    notice = read_notice(CITY_NOTICE)
    roster = load_roster(CITY)
    assert _units(notice.units) == _units(roster.units)
    assert (notice.jurisdiction, notice.deadline_day, notice.mailbox) == (
        "韶山市",
        20,
        "ssgov@163.com",
    )
    assert notice.name == "2024年政务公开主题日"
    unit = notice.unit("市应急管理局")
    assert unit is not None and unit.central and "市应急局" in unit.aliases
    assert "韶山市林业局" in (notice.unit("市林业局") or unit).aliases
    # 湘潭市生态环境局韶山分局: the prefecture's body in the city names the parent
    assert notice.parent == "湘潭市"
    assert not any(p.startswith("parent") for p in notice.problems)
    assert "韶山市人力资源和社会保障局" in (notice.unit("市人社局") or unit).aliases


def test_it_reads_a_notice_whose_central_list_gives_full_names() -> None:
    """Annex 1 writes 浏阳市公安局, 浏阳市市场监督管理局, ... where the month tables write
    市公安局, 市市场监管局: the same place-prefix and full-name forms the aliases are made of
    find the unit. The one name that is in no month table (the tax bureau) is said in one
    line and not added."""
    notice = read_notice(LIUYANG_NOTICE)
    roster = load_roster(LIUYANG)
    assert _units(notice.units) == _units(roster.units)
    assert sum(u.central for u in notice.units) == 15
    assert (notice.jurisdiction, notice.parent, notice.deadline_day, notice.mailbox) == (
        "浏阳市",
        "长沙市",
        20,
        "lyszwgk@126.com",
    )
    central = [p for p in notice.problems if p.startswith("central event")]
    assert central == [
        "central event: 国家税务总局浏阳市税务局 is in no month table (candidates: none); not added"
    ]
    assert notice.unit("国家税务总局浏阳市税务局") is None
    scj = notice.unit("市市场监管局")
    assert scj is not None and scj.central
    assert {"市市场监督管理局", "浏阳市市场监督管理局"} <= set(scj.aliases)
    # annex 1 is a list of full names: every department's full name is known, nothing to say
    assert not any(p.startswith("full names") for p in notice.problems), notice.problems


def test_the_command_on_the_liuyang_notice(tmp_path: Path) -> None:
    out = tmp_path / "roster.toml"
    result = CliRunner().invoke(main, ["roster", "import", str(LIUYANG_NOTICE), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "15 at the central event" in result.output
    lines = [line for line in result.output.splitlines() if "central event:" in line]
    assert lines == [
        "could not read: central event: 国家税务总局浏阳市税务局 is in no month table "
        "(candidates: none); not added"
    ]
    assert "full names" not in result.output
    assert _units(load_roster(out).units) == _units(load_roster(LIUYANG).units)


def test_central_names_it_cannot_resolve_are_one_line(tmp_path: Path) -> None:
    text = "\n".join(
        [
            "青溪县政务公开办公室关于组织开展2024年“政务公开主题日”活动的通知",
            "附件1",
            "参加现场集中宣传活动单位名单",
            "青溪县林业局、青溪县人力资源和社会保障局、青溪县档案馆、碧水市林业局、县城管局。",
            "附件2",
            "|",
            "1 |",
            "2024年5月 |",
            "县林业局、县人社局、县城管执法局、县城市管理局 |",
            "|",
        ]
    )
    path = tmp_path / "notice.txt"
    path.write_text(text, encoding="utf-8")
    notice = read_notice(path)
    assert [u.name for u in notice.units if u.central] == ["县林业局", "县人社局"]
    central = [p for p in notice.problems if p.startswith("central event")]
    assert central == [
        "central event: 3 names are in no month table, not added: 青溪县档案馆 (candidates: "
        "none), 碧水市林业局 (candidates: none), 县城管局 (candidates: 县城管执法局、县城市管理局)"
    ]
    assert [u.name for u in notice.units] == [
        "县林业局",
        "县人社局",
        "县城管执法局",
        "县城市管理局",
    ]


def _notice(tmp_path: Path, *lines: str) -> NoticeRoster:
    table = ["附件2", "|", "1 |", "2024年5月 |", "县林业局、县人社局 |", "|"]
    path = tmp_path / "notice.txt"
    path.write_text("\n".join([*lines, *table]), encoding="utf-8")
    return read_notice(path)


@pytest.mark.parametrize(
    ("lines", "jurisdiction", "parent"),
    [
        # a county's notice citing its prefecture's plan
        (["青溪县政务公开办公室关于组织开展2024年“政务公开主题日”活动的通知",
          "根据《碧水市2024年政务公开工作要点》精神，现通知如下。"], "青溪县", "碧水市"),
        # the prefecture written before the county
        (["青溪县政务公开办公室关于组织开展2024年“政务公开主题日”活动的通知",
          "按照碧水市青溪县政务公开工作安排，各乡镇、县直单位开展活动。"], "青溪县", "碧水市"),
        # the prefecture's own notice, sent down to its counties: it names the parent only
        (["碧水市政务公开办公室关于组织开展2024年“政务公开主题日”活动的通知",
          "各县市区政务公开办："], "", "碧水市"),
        (["碧水市政务公开办公室关于组织开展2024年“政务公开主题日”活动的通知",
          "各县（市、区）政务公开办："], "", "碧水市"),
    ],
)  # fmt: skip
def test_it_reads_the_parent_where_the_notice_names_it(
    tmp_path: Path, lines: list[str], jurisdiction: str, parent: str
) -> None:
    notice = _notice(tmp_path, *lines)
    assert (notice.jurisdiction, notice.parent) == (jurisdiction, parent), notice.problems
    text = roster_toml(notice)
    assert f'parent = "{parent}"' in text
    if not jurisdiction:
        assert any(p.startswith("jurisdiction: the notice is 碧水市's") for p in notice.problems)


def test_two_places_above_are_not_guessed(tmp_path: Path) -> None:
    notice = _notice(
        tmp_path,
        "青溪县政务公开办公室关于组织开展2024年“政务公开主题日”活动的通知",
        "根据《碧水市2024年政务公开工作要点》《远山市2024年政务公开方案》，现通知如下。",
    )
    assert notice.parent == ""
    assert any("several places above it (碧水市, 远山市)" in p for p in notice.problems)


def _docx(blocks: list[Block]) -> bytes:
    document = docx.Document()
    for block in blocks:
        if isinstance(block, str):
            document.add_paragraph(block)
        else:
            table = document.add_table(rows=1, cols=len(block))
            for i, cell in enumerate(block):
                table.cell(0, i).text = cell
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def _xlsx(blocks: list[Block]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for block in blocks:
        sheet.append([block] if isinstance(block, str) else list(block))
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def _html(blocks: list[Block]) -> bytes:
    parts = ['<html><head><meta charset="gb2312"><style>p{}</style></head><body>']
    for block in blocks:
        if isinstance(block, str):
            parts.append(f"<p>{html.escape(block)}</p>")
        else:
            cells = "".join(f"<td>{html.escape(c)}</td>" for c in block)
            parts.append(f"<table><tr>{cells}</tr></table>")
    parts.append("<script>var x = '县林业局、县公安局';</script></body></html>")
    return "\n".join(parts).encode("gb18030")


@pytest.mark.parametrize(("suffix", "make"), [(".docx", _docx), (".xlsx", _xlsx), (".html", _html)])
@pytest.mark.parametrize(
    ("source", "roster", "mailbox"),
    [(CITY_NOTICE, CITY, "ssgov@163.com"), (LIUYANG_NOTICE, LIUYANG, "lyszwgk@126.com")],
    ids=["shaoshan", "liuyang"],
)
def test_it_reads_the_same_notice_from_office_files_and_saved_pages(
    tmp_path: Path, suffix: str, make: object, source: Path, roster: Path, mailbox: str
) -> None:
    blocks = notice_blocks(source)
    path = tmp_path / f"notice{suffix}"
    path.write_bytes(make(blocks))  # type: ignore[operator]
    notice = read_notice(path)
    assert _units(notice.units) == _units(load_roster(roster).units)
    assert (notice.deadline_day, notice.mailbox) == (20, mailbox)


def test_it_never_invents_a_unit_and_says_what_it_could_not_read(tmp_path: Path) -> None:
    text = "\n".join(
        [
            "某某县政务公开办公室关于组织开展2024年“政务公开主题日”活动的通知",
            "请于活动开展次月5日前报送。县林业局（以下简称县林业局）牵头，"
            "县人力资源和社会保障局（以下简称县人社局）配合。",
            "附件1",
            "参加现场集中宣传活动单位名单",
            "县林业局、县档案馆。",
            "附件2",
            "|",
            "1 |",
            "2024年5月 |",
            "县林业局、abc、县人社局 |",
            "|",
            "2 |",
            "2024年6月 |",
            "|",
        ]
    )
    path = tmp_path / "notice.txt"
    path.write_text(text, encoding="utf-8")
    notice = read_notice(path)
    assert [u.name for u in notice.units] == ["县林业局", "县人社局"]
    rsj = notice.unit("县人社局")
    assert rsj is not None
    assert rsj.aliases[:2] == ["县人力资源和社会保障局", "某某县人力资源和社会保障局"]
    joined = "\n".join(notice.problems)
    assert "县档案馆 is in no month table" in joined
    assert "'abc' is not a unit name" in joined
    assert "a month but no unit" in joined
    assert "mailbox" in joined
    # 次月5日前: day 5 of the month after the activity, as a roster deadline rule
    assert (notice.deadline_day, notice.deadline_month) == (5, "next")
    assert "deadline" not in joined
    roster = parse_roster(tomllib.loads(roster_toml(notice)))
    assert roster.parts[0].due(roster.units[0], "2024-05") == date(2024, 6, 5)


def test_the_command_writes_a_roster_the_service_loads(tmp_path: Path) -> None:
    out = tmp_path / "roster.toml"
    result = CliRunner().invoke(main, ["roster", "import", str(CITY_NOTICE), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output and "28 units (4 townships, 24 departments)" in result.output
    assert "could not read: parent" not in result.output  # 湘潭市 read from the notice
    roster = load_roster(out)
    assert (roster.campaign.jurisdiction, roster.campaign.parent) == ("韶山市", "湘潭市")
    assert _units(roster.units) == _units(load_roster(CITY).units)
    assert roster.campaign.deadline_day == 20
    again = CliRunner().invoke(main, ["roster", "import", str(CITY_NOTICE), "--out", str(out)])
    assert again.exit_code == 2 and again.output.count("\n") == 1, again.output
    assert "exists" in again.output


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "not found"), (b"PK\x03\x04 broken", "cannot read it"), (b"hello\n", "no unit")],
)
def test_a_bad_notice_gets_one_line(tmp_path: Path, content: bytes | None, message: str) -> None:
    path = tmp_path / ("notice.xlsx" if content and content.startswith(b"PK") else "notice.txt")
    if content is not None:
        path.write_bytes(content)
    out = tmp_path / "roster.toml"
    result = CliRunner().invoke(main, ["roster", "import", str(path), "--out", str(out)])
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output
    assert not out.exists()


PEAK = """
import atexit, re, resource, sys
def peak_kb():  # this process's own high-water mark (ru_maxrss can carry the parent's)
    with open("/proc/self/status") as f:
        return int(re.search(r"VmHWM:\\s+(\\d+)", f.read()).group(1))
with open("/proc/self/statm") as f:
    limit = int(f.read().split()[0]) * resource.getpagesize() + 1536 * 1024 * 1024
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))  # a regression dies, it does not swap
atexit.register(lambda: print(peak_kb()))
from tracker.cli import main
main()
"""


@pytest.mark.parametrize("kind", ["docx", "xlsx"])
def test_a_zip_bomb_notice_is_refused_before_it_is_opened(tmp_path: Path, kind: str) -> None:
    """The notice goes through the same archive checks as a mail's attachments: a bomb is
    one line and exit 1, read in small chunks (the command's peak memory stays far below
    the 512 MB or 1 GiB the bomb inflates to)."""
    import subprocess
    import sys

    from tests.zip_bombs import docx_bomb, xlsx_bomb

    path = tmp_path / f"notice.{kind}"
    path.write_bytes(docx_bomb() if kind == "docx" else xlsx_bomb())
    out = tmp_path / "roster.toml"
    done = subprocess.run(
        [sys.executable, "-c", PEAK, "roster", "import", str(path), "--out", str(out)],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"report-intake: error: notice {path}: cannot read it, refused")
    assert "未读取" in lines[0]
    assert not out.exists()
    peak_mb = int(done.stdout.split()[-1]) / 1024
    assert peak_mb < 300, peak_mb
