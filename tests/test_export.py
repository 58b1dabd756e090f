"""The year's record: the assessment workbook (cells, types, Chinese states, counts, central
flag, liaison, 登记编号) for a scenario of complete, late, missing, excused and joint reports,
polled from real mail on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

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
            photos=[("=HYPERLINK(1).jpg", noise_photo(21))],
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
        "图片（张）", "文字材料", "材料情况", "联络员", "联系电话", "备注", "登记编号",
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
    assert lyj["图片（张）"].value == 2 and lyj["图片（张）"].data_type == "n"
    assert lyj["文字材料"].value == "有：县林业局主题日活动信息.docx"
    assert lyj["材料情况"].value == "齐全"
    assert (lyj["联络员"].value, lyj["联系电话"].value) == ("李四", "13975200000")
    assert lyj["登记编号"].value.startswith("DJ")

    rsj = {h: c.value for h, c in zip(header, rows["县人社局"], strict=True)}
    assert rsj["状态"] == "逾期报送" and rsj["图片（张）"] == 1
    assert rsj["文字材料"] == "无" and rsj["材料情况"] == "缺文字材料"

    wjj = {h: c.value for h, c in zip(header, rows["县卫健局"], strict=True)}
    mzj = {h: c.value for h, c in zip(header, rows["县民政局"], strict=True)}
    assert wjj["状态"] == mzj["状态"] == "按时报送"
    assert wjj["登记编号"] == mzj["登记编号"]  # one mail, counted for both
    assert wjj["活动日期"] == datetime(2023, 6, 16) and wjj["文字材料"] == "有（邮件正文）"

    ybj = {h: c.value for h, c in zip(header, rows["县医保局"], strict=True)}
    assert ybj["状态"] == "免报" and ybj["备注"] == "机构改革，经同意免报"
    gaj = {h: c.value for h, c in zip(header, rows["县公安局"], strict=True)}
    assert gaj["状态"] == "未报送" and gaj["图片（张）"] is None and gaj["登记编号"] is None
    assert {h: c.value for h, c in zip(header, rows["易俗河镇"], strict=True)}["类型"] == "乡镇"

    # print setup and layout
    assert ws.freeze_panes == "C3" and ws.print_title_rows == "$2:$2"
    assert ws.page_setup.orientation == "landscape" and ws.page_setup.fitToWidth == 1
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    assert ws.column_dimensions["B"].width >= 14

    msgs = wb["邮件"]
    mheader = [c.value for c in msgs[2]]
    assert mheader[:7] == ["登记编号", "收到时间", "发件人", "发件人名称", "主题", "类别", "处理"]
    mrows = [dict(zip(mheader, (c.value for c in r), strict=True)) for r in msgs.iter_rows(min_row=3)]
    assert len(mrows) == 4
    kinds = {r["主题"]: (r["类别"], r["处理"]) for r in mrows}
    assert kinds["联络员信息"] == ("联络员回执", "已登记")
    assert kinds["县人社局7月政务公开主题日活动"] == ("活动报送", "已登记")
    assert all(isinstance(r["收到时间"], datetime) for r in mrows)

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
