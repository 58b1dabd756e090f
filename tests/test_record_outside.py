"""Issue 11's check from outside, with the command line against a real Dovecot: after one
`poll --once` of a mixed mailbox (reports with a docx, a legacy .doc, a .wps from an address
new to its unit, photos only, a pdf only, a photo another unit already sent, a joint
report, a GB2312-labelled mail, an auto-reply), `status --json` rows carry `complete` and
`missing`; `export --year 2023 --files DIR` writes a folder per reported slot holding its
photos under their original names and the workbook at the top, where a slot whose mail
waits in review says so and 新发件地址 shows in 备注."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from openpyxl import load_workbook

from tests.dovecot import DovecotMailbox
from tests.evidence_mail import (
    DOCX,
    WRITEUP_TEXT,
    docx_bytes,
    exif_photo,
    noise_photo,
    pdf_bytes,
    report,
    when,
)
from tests.service_helpers import cli_command, service_config

DOCS = Path(__file__).resolve().parent / "documents"


def _cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cli_command(config, *args), capture_output=True, text=True, timeout=300)


def _gb2312_report() -> bytes:
    """A phone client's mail: subject and body in GBK bytes labelled gb2312, one photo."""
    from email import encoders
    from email.header import Header
    from email.mime.base import MIMEBase
    from email.mime.multipart import MIMEMultipart
    from email.mime.text import MIMEText

    msg = MIMEMultipart()
    msg["From"] = "hkz.xtx@example.com"
    msg["To"] = "xtxgov@126.com"
    msg["Subject"] = Header("河口镇5月份政务公开主题日活动照片", "gb2312").encode()
    msg["Date"] = "Mon, 22 May 2023 09:00:00 +0800"
    msg["Message-ID"] = "<gb2312-1@example.com>"
    msg.attach(MIMEText("附件是我镇活动照片，请查收。", "plain", "gb2312"))
    part = MIMEBase("image", "jpeg")
    part.set_payload(noise_photo(61))
    encoders.encode_base64(part)
    part.add_header("Content-Disposition", "attachment", filename=("gb2312", "", "镇政府门前.jpg"))
    msg.attach(part)
    return msg.as_bytes()


def _mailbox() -> list[tuple[datetime, bytes]]:
    doc = (DOCS / "writeup.doc").read_bytes()
    wps = (DOCS / "writeup.wps").read_bytes()
    lyj_photo = exif_photo(11, "2023:05:12 09:30:00")
    mails = [
        report("县林业局5月政务公开主题日活动信息", "lyj.xtx@example.com", when(2023, 5, 15),
               photos=[("活动现场1.jpg", lyj_photo), ("活动现场2.jpg", exif_photo(12))],
               files=[("县林业局主题日活动信息.docx", DOCX, docx_bytes())]),
        report("县人社局7月政务公开主题日活动", "rsj.xtx@example.com", when(2023, 7, 20),
               photos=[("IMG_2041.jpg", noise_photo(21))],
               files=[("活动简报.doc", "application/msword", doc)]),
        report("县教育局7月政务公开主题日活动", "jyj.report@163.com", when(2023, 7, 18),
               photos=[("现场照片.jpg", noise_photo(22))],
               files=[("信息.wps", "application/kswps", wps)]),
        report("县财政局8月政务公开主题日活动", "czj.xtx@example.com", when(2023, 8, 10),
               photos=[("DSC_0001.JPG", noise_photo(23)), ("DSC_0002.JPG", noise_photo(24))]),
        report("县水利局11月政务公开主题日活动信息", "slj.xtx@example.com", when(2023, 11, 12),
               files=[("信息.pdf", "application/pdf", pdf_bytes())]),
        report("县交通局10月政务公开主题日活动", "jtj.xtx@example.com", when(2023, 10, 20),
               body=WRITEUP_TEXT.replace("5月12日", "10月18日"), photos=[("现场.jpg", lyj_photo)]),
        report("县卫健局、县民政局联合开展6月政务公开主题日活动", "wjj.xtx@example.com",
               when(2023, 6, 20), body=WRITEUP_TEXT.replace("5月12日", "6月16日"),
               photos=[("合影.jpg", noise_photo(31)), ("合影.jpg", noise_photo(32))]),
        report("自动回复：县发改局", "fgj.xtx@example.com", when(2023, 9, 13),
               body="您好，您的邮件已收到。"),
    ]  # fmt: skip
    out = [(datetime.fromisoformat(_date(m)).astimezone(UTC), m) for m in mails]
    out.append((datetime(2023, 5, 22, 1, tzinfo=UTC), _gb2312_report()))
    return out


def _date(raw: bytes) -> str:
    from email import message_from_bytes
    from email.utils import parsedate_to_datetime

    return parsedate_to_datetime(str(message_from_bytes(raw)["Date"])).isoformat()


def test_status_and_the_evidence_folders_after_one_poll(
    tmp_path: Path, dovecot: DovecotMailbox
) -> None:
    for arrival, raw in _mailbox():
        dovecot.append(raw, date=arrival)
    config = service_config(tmp_path, dovecot, None)
    done = _cli(config, "poll", "--once")
    assert done.returncode == 0, done.stderr

    status = _cli(config, "status", "--json", "--as-of", "2023-12-31")
    assert status.returncode == 0, status.stderr
    rows = {r["unit"]: r for r in json.loads(status.stdout)}
    assert len(rows) == 47 and all("complete" in r and "missing" in r for r in rows.values())
    want = {
        "县林业局": (True, []),
        "县人社局": (True, []),  # the .doc write-up
        "县教育局": (True, []),  # the .wps write-up
        "县财政局": (False, ["writeup"]),
        "县水利局": (False, ["photos"]),
        "县卫健局": (True, []),
        "县民政局": (True, []),
        "河口镇": (False, ["writeup"]),
        "县交通局": (False, ["photos", "writeup"]),  # reused photo: waits in review
        "县公安局": (False, ["photos", "writeup"]),  # nothing sent
    }
    assert {u: (rows[u]["complete"], rows[u]["missing"]) for u in want} == want
    assert rows["县交通局"]["state"] == "missing" and rows["河口镇"]["state"] == "received"

    target = tmp_path / "evidence"
    exported = _cli(config, "export", "--year", "2023", "--as-of", "2023-12-31",
                    "--files", str(target))  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    folders = sorted(p.name for p in target.iterdir() if p.is_dir())
    assert folders == [
        "2023-05 县林业局", "2023-05 河口镇", "2023-06 县卫健局", "2023-06 县民政局",
        "2023-07 县人社局", "2023-07 县教育局", "2023-08 县财政局", "2023-11 县水利局",
    ]  # fmt: skip
    names = {f: sorted(p.name for p in (target / f).iterdir()) for f in folders}
    assert names["2023-05 县林业局"] == [
        "县林业局主题日活动信息.docx", "活动现场1.jpg", "活动现场2.jpg", "说明.txt"
    ]  # fmt: skip
    assert names["2023-05 河口镇"] == ["说明.txt", "镇政府门前.jpg"]
    assert names["2023-07 县人社局"] == ["IMG_2041.jpg", "活动简报.doc", "说明.txt"]
    assert names["2023-07 县教育局"] == ["信息.wps", "现场照片.jpg", "说明.txt"]
    # made safe: intake.store.safe_name lower-cases the extension
    assert names["2023-08 县财政局"] == ["DSC_0001.jpg", "DSC_0002.jpg", "说明.txt"]
    assert (target / "2023-08 县财政局" / "DSC_0002.jpg").read_bytes() == noise_photo(24)

    (book,) = target.glob("*.xlsx")
    ws = load_workbook(book)["2023年"]
    header = [c.value for c in ws[2]]
    sheet = {r[1].value: dict(zip(header, (c.value for c in r), strict=True))
             for r in ws.iter_rows(min_row=3)}  # fmt: skip
    assert sheet["县交通局"]["状态"] == "未报送（有邮件待核实）"
    assert sheet["县交通局"]["备注"].startswith("有邮件待核实（登记编号 BS2023-")
    assert sheet["县教育局"]["备注"] == "新发件地址：jyj.report@163.com"
    assert sheet["县人社局"]["文字材料"] == "有：活动简报.doc"
    assert sheet["县公安局"]["状态"] == "未报送" and sheet["县公安局"]["备注"] is None
