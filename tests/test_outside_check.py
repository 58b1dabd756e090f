"""Issue 8's check from outside, with the command line against a real Dovecot: one mailbox
holding a 400 KB long-thread mail with a 163 link, a zip-bomb .docx, the bad-address
liaison form and 47 ordinary reports (one with a formula subject) is taken in by one
`poll --once`, every mail recorded once; `remind` afterwards reaches the due units; `export`
writes the formula subject as text.

The 47 ordinary reports: the 43 units due before December report in their month, and four
of them send more photos later. The four December units have not reported yet, so on
18 December (7 days before the 25th) `remind` must reach exactly them, at their roster
addresses, although one of them (县商务局) was named in the liaison form whose 电子邮箱 is
`x@evil.test<y@evil.test>`.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

from openpyxl import load_workbook

from tests.dovecot import DovecotMailbox
from tests.service_helpers import ROSTER, cli_command, service_config
from tests.smtp_server import SmtpServer, smtp_factory_fixture, smtp_server_fixture  # noqa: F401
from tests.zip_bombs import MB, docx_bomb
from tracker.samples import photo

NETEASE = (
    "https://mail.163.com/large-attachment-download/index.html"
    "?p=X-NETEASE-HUGE-ATTACHMENT&file=ThreadFileKey"
)
DOCX = "vnd.openxmlformats-officedocument.wordprocessingml.document"
FORMULA = '=HYPERLINK("https://evil.test/","县林业局5月补充图片")'
BAD_LIAISON = "x@evil.test<y@evil.test>"
DECEMBER = {"易俗河镇", "县商务局", "县供销社", "县烟草专卖局"}


def _units() -> list[tuple[str, str, str]]:
    """(name, roster address, month) of every unit of the example roster."""
    text = ROSTER.read_text(encoding="utf-8")
    out = []
    for block in text.split("[[unit]]")[1:]:
        name = re.search(r'^name = "([^"]+)"', block, re.M)
        email = re.search(r'^emails = \["([^"]+)"', block, re.M)
        month = re.search(r'^months = \["([^"]+)"', block, re.M)
        assert name and email and month
        out.append((name.group(1), email.group(1), month.group(1)))
    return out


def _mail(n: int, sender: str, subject: str, text: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "xtxgov@126.com"
    msg["Subject"] = subject
    msg["Date"] = "Thu, 16 Nov 2023 10:00:00 +0800"
    msg["Message-ID"] = f"<outside-{n}@example.com>"
    msg.set_content(text)
    return msg


def _mailbox() -> list[tuple[datetime, EmailMessage]]:
    """(arrival, mail) for the whole mailbox: 50 mails."""
    mails: list[tuple[datetime, EmailMessage]] = []
    units = _units()
    reporting = [u for u in units if u[0] not in DECEMBER]
    assert len(units) == 47 and len(reporting) == 43
    for n, (unit, address, month) in enumerate(reporting):
        msg = _mail(n, f"{unit} <{address}>", f"{unit}{int(month[5:])}月主题日活动图片",
                    "我单位开展了政务公开主题日活动，现报送活动图片。")  # fmt: skip
        msg.add_attachment(photo(100 + n, (640, 480)), maintype="image", subtype="jpeg",
                           filename="活动.jpg")  # fmt: skip
        mails.append((datetime(int(month[:4]), int(month[5:]), 16, 2, 0, tzinfo=UTC), msg))
    for k, (unit, address, month) in enumerate(reporting[:4]):  # more photos, later
        subject = FORMULA if k == 0 else f"{unit}{int(month[5:])}月主题日补充图片"
        msg = _mail(60 + k, f"{unit} <{address}>", subject, "补充活动图片。")
        msg.add_attachment(photo(300 + k, (640, 480)), maintype="image", subtype="jpeg",
                           filename="补充.jpg")  # fmt: skip
        mails.append((datetime(int(month[:4]), int(month[5:]), 20, 2, 0, tzinfo=UTC), msg))
    line = "> 回复：关于报送主题日活动情况 在 2023年11月20日 10:00，xtxgov 写道：好的\n"
    thread = _mail(
        70,
        "lyj@example.com",
        "回复：回复：转发：关于报送主题日活动情况",
        "活动图片见超大附件。\n"
        + line * (400 * 1024 // len(line.encode()))
        + "从网易163邮箱发来的超大附件\n照片.zip (80.96M, 2023年12月22日 17:33 到期)\n"
        + NETEASE,
    )
    bomb = _mail(71, "someone@example.net", "联络员信息表", "联络员信息见附件")
    bomb.add_attachment(
        docx_bomb(256 * MB), maintype="application", subtype=DOCX, filename="联络员信息表.docx"
    )
    liaison = _mail(
        72,
        "swj.clerk@163.com",
        "联络员信息",
        "联络员信息如下：\n单位名称：县商务局\n姓名：王芳\n性别：女\n职务：办公室副主任\n"
        f"办公电话：0731-57225566\n手机：13975212345\n电子邮箱：{BAD_LIAISON}\n",
    )
    for msg in (thread, bomb, liaison):
        mails.append((datetime(2023, 11, 21, 2, 0, tzinfo=UTC), msg))
    return mails


def _cli(config: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cli_command(config, *args), capture_output=True, text=True, timeout=timeout
    )


def test_one_poll_takes_in_the_hostile_mailbox_then_remind_and_export(
    tmp_path: Path, dovecot: DovecotMailbox, smtp_server: SmtpServer
) -> None:
    mails = _mailbox()
    for arrival, msg in mails:
        dovecot.append(msg.as_bytes(), date=arrival)
    assert len(mails) == 50
    config = service_config(tmp_path, dovecot, smtp_server.port)

    started = time.monotonic()
    done = _cli(config, "poll", "--once")
    took = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert took < 180, f"one poll took {took:.0f} s"
    print(f"poll --once of {len(mails)} mails: {took:.1f} s")

    listed = _cli(config, "messages", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    ids = sorted(r["message_id"] for r in rows)
    assert ids == sorted(m["Message-ID"] for _, m in mails)  # each once, none missing
    assert _cli(config, "poll", "--once").returncode == 0  # nothing new the second time
    again = _cli(config, "messages", "--json")
    assert len(again.stdout.splitlines()) == len(mails)
    by_id = {r["message_id"]: r for r in rows}
    reports = [by_id[f"<outside-{n}@example.com>"] for n in range(43)]
    assert all(r["decision"] == "matched" for r in reports), [
        (r["subject"], r["decision"]) for r in reports if r["decision"] != "matched"
    ]

    smtp_server.clear()
    started = time.monotonic()
    reminded = _cli(config, "remind", "--as-of", "2023-12-18")
    assert reminded.returncode == 0, reminded.stderr
    print(f"remind --as-of 2023-12-18: {time.monotonic() - started:.1f} s")
    rcpts = [r.rcpt_tos for r in smtp_server.received]
    assert all(len(r) == 1 for r in rcpts)
    december = {address for unit, address, _ in _units() if unit in DECEMBER}
    assert {r[0] for r in rcpts} == december
    assert not any("evil" in a for r in rcpts for a in r)

    out = tmp_path / "2023.xlsx"
    exported = _cli(config, "export", "--as-of", "2023-12-31", "--out", str(out))
    assert exported.returncode == 0, exported.stderr
    cells = [
        cell
        for sheet in load_workbook(out).worksheets
        for row in sheet.iter_rows()
        for cell in row
        if cell.value == FORMULA
    ]
    assert cells
    for cell in cells:
        assert cell.data_type == "s" and cell.quotePrefix, cell.coordinate
