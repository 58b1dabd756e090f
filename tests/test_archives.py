"""Zip bombs (.docx / .xlsx liaison forms) are refused before any reader inflates them.

Memory is measured in a child process (peak resident size before and after the work); the
child also runs under an address-space limit, so a regression fails the test instead of
taking the machine's memory.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from intake.archives import ZipLimits, zip_problem
from tests.zip_bombs import MB, docx_bomb, xlsx_bomb

ROOT = Path(__file__).resolve().parent.parent

CHILD = textwrap.dedent(
    """
    import json, resource, sys
    from datetime import UTC, datetime
    from email.message import EmailMessage

    from intake.completeness import read_docx
    from intake.matching import read_liaison_fields
    from intake.parsing import parse_message
    from tests.matching_mail import load_units
    from tests.zip_bombs import MB, docx_bomb, xlsx_bomb
    from tracker.recording import analyse

    kind = sys.argv[1]
    payload = docx_bomb(512 * MB) if kind == "docx" else xlsx_bomb(512 * MB)
    msg = EmailMessage()
    msg["From"] = "lyj@example.com"
    msg["To"] = "xtxgov@126.com"
    msg["Subject"] = "县林业局联络员信息表"
    msg["Message-ID"] = "<bomb@example.com>"
    msg.set_content("联络员信息见附件")
    subtype = (
        "vnd.openxmlformats-officedocument.wordprocessingml.document"
        if kind == "docx"
        else "vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    msg.add_attachment(payload, maintype="application", subtype=subtype, filename="联络员信息表." + kind)
    raw = msg.as_bytes()
    units = load_units()
    analyse(b"From: a@b.test\\n\\nx", units, received_at=datetime(2023, 5, 20, tzinfo=UTC))  # warm up

    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[0])
    limit = pages * resource.getpagesize() + 1536 * MB  # a regression dies, it does not swap
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    analysis = analyse(raw, units, received_at=datetime(2023, 5, 20, tzinfo=UTC))
    fields = read_liaison_fields(analysis.parsed)
    facts = read_docx(payload) if kind == "docx" else None
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({
        "grew_mb": (after - before) / 1024,
        "fields": fields,
        "decision": analysis.result.decision,
        "error": facts.error if facts else None,
    }))
    """
)


@pytest.mark.parametrize("kind", ["docx", "xlsx"])
def test_a_zip_bomb_form_costs_little_memory(kind: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, kind],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    # The bomb inflates to 512 MB (python-docx held several GB for less); reading the mail
    # may cost the mail's own size a few times over, never the inflated size.
    assert result["grew_mb"] < 150, result
    assert result["fields"] == {}  # the form is refused, not read
    if kind == "docx":
        assert "解压后过大" in result["error"]


def test_it_names_why_a_zip_is_refused() -> None:
    assert "解压后过大（word/document.xml）" in (zip_problem(docx_bomb(64 * MB)) or "")
    assert "解压后过大（xl/worksheets/sheet1.xml）" in (zip_problem(xlsx_bomb(64 * MB)) or "")
    assert "损坏" in (zip_problem(b"PK\x03\x04 not a zip") or "")


def test_it_refuses_too_many_members_and_a_high_ratio() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for index in range(30):
            zf.writestr(f"word/media/{index}.bin", b"\0" * (2 * MB))
    payload = buf.getvalue()
    assert "文件过多" in (zip_problem(payload, ZipLimits(max_members=20)) or "")
    assert "压缩比异常" in (zip_problem(payload) or "")
    assert "总量过大" in (zip_problem(payload, ZipLimits(max_total=10 * MB, max_ratio=10**6)) or "")


def test_an_honest_form_is_still_read() -> None:
    import docx

    from intake.matching import read_liaison_fields
    from tests.matching_mail import attachment, mail

    document = docx.Document()
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "姓名", "张三"
    table.cell(1, 0).text, table.cell(1, 1).text = "电子邮箱", "zhangsan@example.com"
    buf = io.BytesIO()
    document.save(buf)
    assert zip_problem(buf.getvalue()) is None
    form = attachment("联络员信息表.docx", "application/octet-stream", buf.getvalue())
    fields = read_liaison_fields(mail("联络员", attachments=(form,)))
    assert fields == {"姓名": "张三", "电子邮箱": "zhangsan@example.com"}
