"""Hostile mail end to end: one poll on a real Dovecot and on a Maildir takes in a long
thread with a 163 link, a zip-bomb liaison form, an ESC subject, a backslash link and
ordinary reports, each recorded once; an analysis past its budget is kept raw for review."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select

from intake.mailbox import ImapSettings, ImapSource, MaildirSource, MailSource
from intake.store import AttachmentStore
from tests.dovecot import DovecotMailbox
from tests.zip_bombs import MB, docx_bomb
from tracker.bounded import run_bounded
from tracker.clock import FixedClock
from tracker.db import open_database
from tracker.models import Attachment, Checkpoint, Message
from tracker.recording import Recorder
from tracker.roster import load_roster
from tracker.samples import photo
from tracker.slots import sync_roster

ROSTER = Path(__file__).resolve().parent.parent / "tracker" / "data" / "roster.example.toml"
NOW = datetime(2023, 6, 30, 12, 0, tzinfo=UTC)
NETEASE = (
    "https://mail.163.com/large-attachment-download/index.html"
    "?p=X-NETEASE-HUGE-ATTACHMENT&file=ThreadFileKey"
)
DOCX = "vnd.openxmlformats-officedocument.wordprocessingml.document"


def _mail(subject: str, sender: str, text: str, n: int) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "xtxgov@126.com"
    msg["Subject"] = subject
    msg["Date"] = "Tue, 16 May 2023 10:00:00 +0800"
    msg["Message-ID"] = f"<hostile-{n}@example.com>"
    msg.set_content(text)
    return msg


def hostile_mails() -> list[bytes]:
    line = "> 回复：关于报送主题日活动情况 在 2023年5月20日 10:00，xtxgov 写道：好的\n"
    thread = _mail(
        "回复：县林业局5月主题日活动图片",
        "lyj@example.com",
        "我局5月主题日活动图片见超大附件。\n"
        + line * (400 * 1024 // len(line.encode()))
        + "从网易163邮箱发来的超大附件\n照片.zip (80.96M, 2024年08月22日 17:33 到期)\n"
        + NETEASE,
        1,
    )
    bomb = _mail("县林业局联络员信息表", "lyj@example.com", "联络员信息见附件", 2)
    bomb.add_attachment(
        docx_bomb(256 * MB), maintype="application", subtype=DOCX, filename="联络员信息表.docx"
    )
    esc = _mail(
        "县财政局\x1b[2J\x1b]0;owned\x07 5月\u202e主题日", "czj@example.com", "图片见附件", 3
    )
    esc.add_attachment(photo(7), maintype="image", subtype="jpeg", filename="活动\x1b[1m.jpg")
    backslash = _mail("县审计局5月主题日", "sjj@example.com", "图片见超大附件", 4)
    backslash.add_alternative(
        '<a href="https://evil.test\\.mail.163.com/large-attachment-download/index.html'
        '?p=X-NETEASE-HUGE-ATTACHMENT&amp;file=evil">活动.zip</a> (80.96M, 2024年08月22日 17:33 到期)',
        subtype="html",
    )
    ordinary = []
    for n, unit in zip(range(5, 9), ("河口镇", "排头乡", "县消防救援大队", "河口镇"), strict=True):
        report = _mail(f"{unit}5月主题日活动图片", f"u{n}@example.com", "我单位开展了主题日活动", n)
        report.add_attachment(photo(n), maintype="image", subtype="jpeg", filename=f"{n}.jpg")
        ordinary.append(report)
    return [m.as_bytes() for m in (thread, bomb, esc, backslash, *ordinary)]


@pytest.fixture
def recorder(sqlite_url: str, tmp_path: Path) -> Recorder:
    db = open_database(sqlite_url)
    roster = load_roster(ROSTER)
    with db.session() as s:
        sync_roster(s, roster)
    return Recorder(
        db,
        AttachmentStore(tmp_path / "store"),
        roster,
        FixedClock(NOW),
        own_addresses=("xtxgov@126.com",),
    )


def _maildir(tmp_path: Path, mails: list[bytes]) -> MaildirSource:
    root = tmp_path / "Maildir"
    for sub in ("new", "cur", "tmp"):
        (root / sub).mkdir(parents=True)
    for index, raw in enumerate(mails):
        path = root / "new" / f"{1684200000 + index}.M{index}.host"
        path.write_bytes(raw)
        os.utime(path, (1684200000 + index, 1684200000 + index))
    return MaildirSource(root)


def _dovecot(box: DovecotMailbox, mails: list[bytes]) -> ImapSource:
    for raw in mails:
        box.append(raw, date=datetime(2023, 5, 16, 2, 0, tzinfo=UTC))
    return ImapSource(
        ImapSettings(
            host=box.host, port=box.port, security="none", username=box.user, password=box.password
        )
    )


@pytest.fixture(params=["maildir", "dovecot"])
def hostile_source(request: pytest.FixtureRequest, tmp_path: Path) -> MailSource:
    mails = hostile_mails()
    if request.param == "maildir":
        return _maildir(tmp_path, mails)
    box: DovecotMailbox = request.getfixturevalue("dovecot")
    return _dovecot(box, mails)


def test_one_poll_takes_in_every_hostile_mail_once(
    recorder: Recorder, hostile_source: MailSource
) -> None:
    started = time.monotonic()
    report = recorder.poll_once(hostile_source)
    assert time.monotonic() - started < 60
    assert (report.fetched, report.new, report.duplicates) == (8, 8, 0)
    again = recorder.poll_once(hostile_source)
    assert (again.fetched, again.new) == (0, 0)

    with recorder.db.session() as s:
        messages = {m.message_id: m for m in s.scalars(select(Message))}
        assert len(messages) == 8
        thread = messages["<hostile-1@example.com>"]
        links = [a for a in thread.attachments if a.kind == "link"]
        assert [(a.filename, a.url) for a in links] == [("照片.zip", NETEASE)]
        esc = messages["<hostile-3@example.com>"]
        assert esc.subject == "县财政局[2J]0;owned 5月主题日"
        assert [a.filename for a in esc.attachments] == ["活动[1m.jpg"]
        backslash = messages["<hostile-4@example.com>"]
        assert not [a for a in backslash.attachments if a.kind == "link"]
        bomb = messages["<hostile-2@example.com>"]
        assert bomb.from_addr == "lyj@example.com"  # recorded whole, the form unread
        assert not any("evil" in (a.url or "") for a in s.scalars(select(Attachment)))
        for n in range(5, 9):
            assert messages[f"<hostile-{n}@example.com>"].decision == "matched"


def test_an_analysis_past_its_budget_is_kept_raw_for_review(
    recorder: Recorder, tmp_path: Path
) -> None:
    source = _maildir(tmp_path, hostile_mails()[4:6])
    recorder.analysis_seconds = 0.001  # no real analysis finishes in a millisecond
    report = recorder.poll_once(source)
    assert (report.new, report.in_review) == (2, 2)
    with recorder.db.session() as s:
        for msg in s.scalars(select(Message)):
            assert msg.raw_path and msg.decision == "review"
            assert "超时" in msg.reasons[0]
            assert "budget" in (msg.parse_error or "")
        cp = s.scalar(select(Checkpoint))
        assert cp is not None and cp.last_uid == 2
    recorder.analysis_seconds = 60
    assert recorder.poll_once(source).new == 0  # kept, not taken again


def _spin() -> int:
    while True:
        pass


def _allocate() -> int:
    blocks = [bytearray(64 * MB) for _ in range(64)]
    return len(blocks)


def test_run_bounded_kills_work_past_its_budget_and_contains_memory() -> None:
    started = time.monotonic()
    outcome = run_bounded(_spin, seconds=0.5)
    assert outcome.timed_out and outcome.value is None
    assert time.monotonic() - started < 5
    outcome = run_bounded(_allocate, seconds=30, memory_bytes=256 * MB)
    assert outcome.value is None and outcome.failure == "out of memory"
    assert run_bounded(lambda: 42, seconds=5).value == 42
