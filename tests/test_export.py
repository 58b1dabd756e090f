"""The year's record: the assessment workbook (cells, types, Chinese states, counts, central
flag, liaison, 登记编号) for a scenario of complete, late, missing, excused and joint reports,
polled from real mail on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from PIL import Image

from tests.evidence_mail import (
    DOCX,
    WRITEUP_TEXT,
    docx_bytes,
    exif_photo,
    noise_photo,
    report,
    when,
    workspace,
)
from tracker.cli import main

LIAISON = """联络员信息如下：
单位名称：湘潭县林业局
姓名：李四
性别：男
职务：办公室主任
办公电话：0731-57220000
手机：13975200000
"""


def run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output + result.stderr
    return result.stdout


def resaved(jpeg: bytes) -> bytes:
    """The same photo, scaled down and saved again at another quality."""
    im = Image.open(io.BytesIO(jpeg))
    out = io.BytesIO()
    im.resize((900, 600)).save(out, "JPEG", quality=60)
    return out.getvalue()


def scenario_mails() -> list[bytes]:
    return [
        # complete, on time: photos (with EXIF dates) and a docx naming the day
        report(
            "县林业局5月政务公开主题日活动信息",
            "lyj.xtx@example.com",
            when(2023, 5, 15),
            photos=[
                ("活动现场1.jpg", exif_photo(11, "2023:05:12 09:30:00")),
                ("活动现场2.jpg", exif_photo(12, "2023:05:12 10:05:00")),
            ],
            files=[("县林业局主题日活动信息.docx", DOCX, docx_bytes())],
        ),
        # the liaison form of the same unit
        report("联络员信息", "lyj.xtx@example.com", when(2023, 4, 20), body=LIAISON),
        # late: July's report in August, photos only
        report(
            "县人社局7月政务公开主题日活动",
            "rsj.xtx@example.com",
            when(2023, 8, 2),
            photos=[("=HYPERLINK(1).jpg", exif_photo(21, "2022:07:01 09:00:00"))],
            files=[
                ("../../../evil.jpg", "image/jpeg", b"not really a photo"),
                ("..\\..\\evil2.txt", "text/plain", b"x"),
            ],
        ),
        # reused: 县交通局 sends 县林业局's May photo again (re-saved smaller) for October
        report(
            "县交通局10月政务公开主题日活动",
            "jtj.xtx@example.com",
            when(2023, 10, 20),
            body=WRITEUP_TEXT.replace("5月12日", "10月18日"),
            photos=[("现场.jpg", resaved(exif_photo(11, "2023:05:12 09:30:00")))],
        ),
        # joint: two departments, one mail, write-up in the body
        report(
            "县卫健局、县民政局联合开展6月政务公开主题日活动",
            "wjj.xtx@example.com",
            when(2023, 6, 20),
            body=WRITEUP_TEXT.replace("5月12日", "6月16日"),
            photos=[("合影.jpg", noise_photo(31)), ("合影.jpg", noise_photo(32))],
        ),
    ]


@pytest.fixture
def year(tmp_path: Path, database_url: str) -> Path:
    config = workspace(tmp_path, database_url, scenario_mails())
    run("--config", str(config), "poll", "--once")
    run("--config", str(config), "excuse", "县医保局", "2023-06", "--note", "机构改革，经同意免报")
    return config


def _export(config: Path, out: Path) -> None:
    run("--config", str(config), "export", "--year", "2023", "--as-of", "2023-12-31",
        "--out", str(out))  # fmt: skip


def test_the_workbook_holds_the_years_record(year: Path, tmp_path: Path) -> None:
    out = tmp_path / "2023.xlsx"
    _export(year, out)
    wb = load_workbook(out)
    assert wb.sheetnames == ["2023年", "邮件", "汇总"]
    ws = wb["2023年"]
    assert "报送情况" in ws["A1"].value and "A1:P1" in {str(r) for r in ws.merged_cells.ranges}
    header = [c.value for c in ws[2]]
    assert header == [
        "序号", "单位", "类型", "主会场", "计划月份", "开展月份", "活动日期", "报送时间", "状态",
        "图片数", "文字材料", "材料情况", "联络员", "联系电话", "备注", "登记编号",
    ]  # fmt: skip
    rows = {r[1].value: r for r in ws.iter_rows(min_row=3)}
    assert len(rows) == 47
    assert [r[0].value for r in ws.iter_rows(min_row=3)] == list(range(1, 48))

    lyj = {h: c for h, c in zip(header, rows["县林业局"], strict=True)}
    assert lyj["类型"].value == "县直单位" and lyj["主会场"].value == "是"
    assert (lyj["计划月份"].value, lyj["开展月份"].value) == ("2023-05", "2023-05")
    assert lyj["活动日期"].value == datetime(2023, 5, 12)  # a real date cell
    assert lyj["活动日期"].is_date and lyj["报送时间"].is_date
    assert lyj["报送时间"].value == datetime(2023, 5, 15, 10, 0)
    assert lyj["状态"].value == "按时报送" and lyj["状态"].fill.fgColor.rgb.endswith("C6EFCE")
    assert lyj["图片数"].value == 2 and lyj["图片数"].data_type == "n"
    assert lyj["文字材料"].value == "有：县林业局主题日活动信息.docx"
    assert lyj["材料情况"].value == "齐全"
    assert (lyj["联络员"].value, lyj["联系电话"].value) == ("李四", "13975200000")
    assert lyj["登记编号"].value.startswith("BS2023-")

    rsj = {h: c.value for h, c in zip(header, rows["县人社局"], strict=True)}
    assert rsj["状态"] == "逾期报送" and rsj["图片数"] == 1
    assert rsj["文字材料"] == "无" and rsj["材料情况"] == "缺文字材料"

    wjj = {h: c.value for h, c in zip(header, rows["县卫健局"], strict=True)}
    mzj = {h: c.value for h, c in zip(header, rows["县民政局"], strict=True)}
    assert wjj["状态"] == mzj["状态"] == "按时报送"
    assert wjj["登记编号"] == mzj["登记编号"]  # one mail, counted for both
    assert wjj["活动日期"] == datetime(2023, 6, 16) and wjj["文字材料"] == "有（邮件正文）"

    ybj = {h: c.value for h, c in zip(header, rows["县医保局"], strict=True)}
    assert ybj["状态"] == "免报" and ybj["备注"] == "机构改革，经同意免报"
    gaj = {h: c.value for h, c in zip(header, rows["县公安局"], strict=True)}
    assert gaj["状态"] == "未报送" and gaj["图片数"] is None and gaj["登记编号"] is None
    assert gaj["备注"] is None
    assert {h: c.value for h, c in zip(header, rows["易俗河镇"], strict=True)}["类型"] == "乡镇"

    # print setup and layout
    assert ws.freeze_panes == "C3" and ws.print_title_rows == "$2:$2"
    assert ws.page_setup.orientation == "landscape" and ws.page_setup.fitToWidth == 1
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    assert ws.column_dimensions["B"].width >= 14

    msgs = wb["邮件"]
    mheader = [c.value for c in msgs[2]]
    assert mheader[:7] == ["登记编号", "收到时间", "发件人", "发件人名称", "主题", "类别", "处理"]
    mrows = [
        dict(zip(mheader, (c.value for c in r), strict=True)) for r in msgs.iter_rows(min_row=3)
    ]
    assert len(mrows) == 5
    kinds = {r["主题"]: (r["类别"], r["处理"]) for r in mrows}
    assert kinds["联络员信息"] == ("联络员回执", "已登记")
    assert kinds["县人社局7月政务公开主题日活动"] == ("活动报送", "已登记")
    assert all(isinstance(r["收到时间"], datetime) for r in mrows)
    jtj_mail = next(r for r in mrows if r["主题"].startswith("县交通局"))
    assert jtj_mail["处理"] == "待人工核对", mrows
    assert jtj_mail["依据"].startswith("与县林业局2023年5月报送的照片相同（BS2023-")
    rsj_mail = next(r for r in mrows if r["主题"].startswith("县人社局"))
    assert rsj_mail["处理"] == "已登记"
    assert "照片拍摄日期2022-07-01，与报送的2023年7月相差较远" in rsj_mail["依据"]
    jtj = {h: c.value for h, c in zip(header, rows["县交通局"], strict=True)}
    assert jtj["登记编号"] is None  # not silently counted, but not simply 未报送 either:
    assert jtj["状态"] == "未报送（有邮件待核实）"
    assert jtj["备注"] == f"有邮件待核实（登记编号 {jtj_mail['登记编号']}）"
    assert rows["县交通局"][8].fill.fgColor.rgb.endswith("FCE4D6")
    # 新发件地址: the joint report came from 县卫健局's address, new to 县民政局 only
    assert mzj["备注"] == "新发件地址：wjj.xtx@example.com"
    # a row whose note wraps is tall enough to print it (no spill over the next row)
    mzj_row = rows["县民政局"][0].row
    assert ws.row_dimensions[mzj_row].height >= 2 * 13.5
    assert ws.row_dimensions[rows["县公安局"][0].row].height is None
    assert wjj["备注"] is None and lyj["备注"].value is None

    summary = wb["汇总"]
    sheader = [c.value for c in summary[2]]
    lines = {r[0].value: dict(zip(sheader, (c.value for c in r), strict=True))
             for r in summary.iter_rows(min_row=3, max_row=5)}  # fmt: skip
    total = lines["全部"]
    assert (total["按时报送"], total["逾期报送"], total["免报"]) == (3, 1, 1)
    assert total["未报送"] == 42 and total["合计"] == 47
    assert total["按时报送率"] == pytest.approx(3 / 46)
    assert lines["乡镇"]["合计"] == 17 and lines["县直单位"]["合计"] == 30
    assert total["材料齐全"] == 3


def test_mail_text_never_becomes_a_formula(year: Path, tmp_path: Path) -> None:
    out = tmp_path / "2023.xlsx"
    _export(year, out)
    wb = load_workbook(out)
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                assert c.data_type != "f", (ws.title, c.coordinate, c.value)


def test_csv_by_extension(year: Path, tmp_path: Path) -> None:
    out = tmp_path / "2023.csv"
    _export(year, out)
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(raw.decode("utf-8-sig").splitlines()))
    assert rows[0][:2] == ["序号", "单位"] and len(rows) == 48
    by_unit = {r[1]: r for r in rows[1:]}
    assert by_unit["县人社局"][8] == "逾期报送"
    assert by_unit["县林业局"][6] == "2023-05-12"


def test_export_needs_a_known_extension(year: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["--config", str(year), "export", "--out", str(tmp_path / "x.pdf")]
    )
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "report-intake: error: --out: the file name must end in .xlsx or .csv"
    )


def test_export_of_a_year_without_a_campaign_says_so(year: Path, tmp_path: Path) -> None:
    out = tmp_path / "2025.xlsx"
    result = CliRunner().invoke(
        main, ["--config", str(year), "export", "--year", "2025", "--out", str(out)]
    )
    assert result.exit_code == 2 and not out.exists()
    assert result.stderr.strip() == (
        "report-intake: error: --year 2025: no campaign schedules a month of that year "
        "(the roster covers 2023)"
    )


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_the_evidence_folders_hold_each_slots_files(year: Path, tmp_path: Path) -> None:
    target = tmp_path / "out" / "evidence"
    before = {p for p in tmp_path.rglob("*") if "out" not in p.parts}
    run("--config", str(year), "export", "--year", "2023", "--as-of", "2023-12-31",
        "--files", str(target))  # fmt: skip
    tree = _tree(target)
    folders = sorted({name.split("/")[0] for name in tree if "/" in name})
    assert folders == [
        "2023-05 县林业局",
        "2023-06 县卫健局",
        "2023-06 县民政局",
        "2023-07 县人社局",
    ]
    lyj = sorted(n.split("/", 1)[1] for n in tree if n.startswith("2023-05 县林业局/"))
    assert lyj == ["县林业局主题日活动信息.docx", "活动现场1.jpg", "活动现场2.jpg", "说明.txt"]
    assert tree["2023-05 县林业局/活动现场1.jpg"] == exif_photo(11, "2023:05:12 09:30:00")
    note = tree["2023-05 县林业局/说明.txt"].decode("utf-8-sig")
    assert (
        "登记编号：BS2023-" in note and "lyj.xtx@example.com" in note and "2023-05-15 10:00" in note
    )
    # a joint report: the same files in both folders; same names made unique
    for unit in ("县卫健局", "县民政局"):
        names = sorted(n.split("/", 1)[1] for n in tree if n.startswith(f"2023-06 {unit}/"))
        assert names == ["合影 (2).jpg", "合影.jpg", "活动信息（邮件正文）.txt", "说明.txt"]
    body = tree["2023-06 县卫健局/活动信息（邮件正文）.txt"].decode()
    assert "6月16日上午" in body
    # names from mail never leave the folder
    rsj = sorted(n.split("/", 1)[1] for n in tree if n.startswith("2023-07 县人社局/"))
    assert all("/" not in n and ".." not in n.split("/") for n in rsj)
    assert "=HYPERLINK(1).jpg" in rsj and len(rsj) == 4
    after = {p for p in tmp_path.rglob("*") if "out" not in p.parts}
    assert after == before  # nothing written outside the target
    assert not (tmp_path / "evil.jpg").exists() and not (tmp_path / "out" / "evil.jpg").exists()
    # the workbook at the top links each row to its folder
    (book,) = [n for n in tree if n.endswith(".xlsx")]
    ws = load_workbook(target / book)["2023年"]
    header = [c.value for c in ws[2]]
    col = header.index("材料文件夹")
    links = {
        r[1].value: r[col].hyperlink.target for r in ws.iter_rows(min_row=3) if r[col].hyperlink
    }
    assert links == {
        "县林业局": "2023-05 县林业局/",
        "县卫健局": "2023-06 县卫健局/",
        "县民政局": "2023-06 县民政局/",
        "县人社局": "2023-07 县人社局/",
    }


def test_the_zip_has_the_same_content(year: Path, tmp_path: Path) -> None:
    import zipfile

    run("--config", str(year), "export", "--year", "2023", "--as-of", "2023-12-31",
        "--files", str(tmp_path / "dir"), "--zip", str(tmp_path / "2023.zip"))  # fmt: skip
    tree = _tree(tmp_path / "dir")
    with zipfile.ZipFile(tmp_path / "2023.zip") as zf:
        assert zf.testzip() is None
        names = [n for n in zf.namelist() if not n.endswith("/")]
        for n in zf.namelist():
            assert not n.startswith("/") and ".." not in n.split("/") and "\\" not in n
        files = {n: zf.read(n) for n in names if not n.endswith(".xlsx")}
    assert files == {n: b for n, b in tree.items() if not n.endswith(".xlsx")}
    assert len(names) == len(tree)


def test_the_evidence_is_not_written_over_a_folder_in_use(year: Path, tmp_path: Path) -> None:
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("mine")
    result = CliRunner().invoke(
        main, ["--config", str(year), "export", "--files", str(tmp_path / "busy")]
    )
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"report-intake: error: {tmp_path / 'busy'}: exists and is not an empty folder"
    )
    assert (tmp_path / "busy" / "keep.txt").read_text() == "mine"


def test_a_reused_photo_is_flagged_in_review_and_the_digest(year: Path) -> None:
    from tracker.app import App
    from tracker.outgoing.digest import digest_context
    from tracker.outgoing.emails import render

    review = run("--config", str(year), "review", "--json").splitlines()
    (jtj,) = [r for r in map(json.loads, review) if r["subject"].startswith("县交通局")]
    assert jtj["reasons"][0].startswith("与县林业局2023年5月报送的照片相同")
    app = App.from_path(year)
    try:
        with app.db.session() as s:
            ctx, _ = digest_context(s, app.config, app.roster, date(2023, 10, 23))
            (item,) = [m for m in ctx["review"] if m["subject"].startswith("县交通局")]
            assert item["reasons"][0].startswith("与县林业局2023年5月报送的照片相同")
            text = render("digest", ctx, None).text
            assert "与县林业局2023年5月报送的照片相同" in text
            ctx, _ = digest_context(s, app.config, app.roster, date(2023, 8, 4))
            (rsj,) = [r for r in ctx["reports"] if r["units"] == ["县人社局"]]
            assert rsj["taken"] == "2022-07-01"
            assert rsj["flags"] == ["照片拍摄日期2022-07-01，与报送的2023年7月相差较远"]
    finally:
        app.close()
    # staff may still count it: then it is their decision
    run(
        "--config", str(year), "assign", str(jtj["id"]), "--unit", "县交通局", "--period", "2023-10"
    )
    rows = json.loads(run("--config", str(year), "status", "--json", "--as-of", "2023-12-31"))
    assert {r["unit"]: r["state"] for r in rows}["县交通局"] == "received"


class _Unseekable(io.RawIOBase):
    """A write-only stream that cannot seek or tell, like a web response body."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b: bytes) -> int:  # type: ignore[override]
        self.data += b
        return len(b)


def test_the_zip_streams_to_an_unseekable_file_object(year: Path, tmp_path: Path) -> None:
    import zipfile

    from tracker.app import App
    from tracker.evidence_files import write_year_zip

    app = App.from_path(year)
    sink = _Unseekable()
    try:
        with app.db.session() as s:
            n = write_year_zip(
                s, app.store, sink, year=2023, as_of=date(2023, 12, 31), tz=app.config.timezone
            )
    finally:
        app.close()
    with zipfile.ZipFile(io.BytesIO(bytes(sink.data))) as zf:
        assert zf.testzip() is None
        names = [n for n in zf.namelist() if not n.endswith("/")]
        assert len(names) == n
        assert "2023-05 县林业局/活动现场1.jpg" in names


def test_same_named_files_get_numbers_in_linear_time() -> None:
    # 30,000 attachments all called a.txt: each name is found in a step or two, not by
    # trying (2), (3), ... from the start every time (a stranger's mail once took 15 min)
    import time as _time

    from tracker.evidence_files import Names, _unique

    taken = Names(["说明.txt"])
    assert _unique("说明.TXT", taken) == "说明 (2).TXT"
    assert [_unique("a.txt", taken) for _ in range(3)] == ["a.txt", "a (2).txt", "a (3).txt"]
    assert _unique("a (2).txt", taken) == "a (2) (2).txt"
    start = _time.process_time()
    names = [_unique("b.jpg", taken) for _ in range(30_000)]
    assert len(set(names)) == 30_000 and names[-1] == "b (30000).jpg"
    assert _time.process_time() - start < 10  # square time took minutes; linear takes ms
