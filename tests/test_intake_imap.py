"""The story of a mail, end to end: appended to a real Dovecot, polled, recorded exactly once
in a real database (SQLite and PostgreSQL), its attachments stored, and marked on the server."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from email.header import Header
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import func, select

from intake.mailbox import ImapSettings, ImapSource
from intake.store import AttachmentStore
from tests.dovecot import DovecotMailbox
from tracker.clock import SHANGHAI, FixedClock
from tracker.db import open_database
from tracker.models import Attachment, Checkpoint, Message
from tracker.recording import Recorder
from tracker.roster import load_roster
from tracker.samples import build_samples, photo
from tracker.slots import slot_states, sync_roster

ROSTER = Path(__file__).resolve().parent.parent / "tracker" / "data" / "roster.example.toml"
NOW = datetime(2023, 6, 30, 12, 0, tzinfo=UTC)


def source_for(box: DovecotMailbox) -> ImapSource:
    return ImapSource(
        ImapSettings(
            host=box.host,
            port=box.port,
            security="none",
            username=box.user,
            password=box.password,
        )
    )


@pytest.fixture
def recorder(database_url: str, tmp_path: Path) -> Recorder:
    db = open_database(database_url)
    roster = load_roster(ROSTER)
    with db.session() as s:
        sync_roster(s, roster)
    store = AttachmentStore(tmp_path / "store")
    return Recorder(
        db, store, roster, FixedClock(NOW), own_addresses=("xtxgov@126.com",), batch_size=3
    )


def samples() -> dict[str, tuple[datetime, bytes]]:
    return {name: (sent, raw) for name, sent, raw in build_samples()}


def count(recorder: Recorder, model: type = Message) -> int:
    with recorder.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def report_mail(
    subject: str, sender: str, *, filename: str = "活动.jpg", payload: bytes | None = None
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "xtxgov@126.com"
    msg["Subject"] = subject
    msg["Date"] = "Tue, 16 May 2023 10:00:00 +0800"
    msg.set_content("我局于5月16日开展政务公开主题日活动，现报送活动图片。")
    msg.add_attachment(
        payload if payload is not None else photo(42),
        maintype="image",
        subtype="jpeg",
        filename=filename,
    )
    return msg.as_bytes()


def test_it_polls_incrementally_and_records_each_mail_once(
    dovecot: DovecotMailbox, recorder: Recorder
) -> None:
    mails = samples()
    for name in ("fgj-april", "yhqz-april-gbk", "zjj-april-big5"):
        sent, raw = mails[name]
        dovecot.append(raw, date=sent)

    first = recorder.poll_once(source_for(dovecot))
    assert (first.fetched, first.new, first.duplicates) == (3, 3, 0)

    sent, raw = mails["lyj-may-cloud-link"]
    dovecot.append(raw, date=sent)
    second = recorder.poll_once(source_for(dovecot))
    assert (second.fetched, second.new) == (1, 1)

    third = recorder.poll_once(source_for(dovecot))
    assert (third.fetched, third.new) == (0, 0)
    assert count(recorder) == 4

    flags = dovecot.all_flags()
    assert len(flags) == 4
    assert all("$Recorded" in f for f in flags.values()), flags
    with recorder.db.session() as s:
        cp = s.scalar(select(Checkpoint))
        assert cp is not None and cp.last_uid == max(dovecot.uids())
        assert all(m.marked_at is not None for m in s.scalars(select(Message)))


def test_it_sends_the_imap_id_command_before_select(
    dovecot: DovecotMailbox, recorder: Recorder
) -> None:
    recorder.poll_once(source_for(dovecot))
    assert any("name=report-intake" in line for line in dovecot.id_log())
    verbs = dovecot.commands()[0]
    assert verbs.index("ID") < verbs.index("SELECT")


def test_it_decodes_chinese_headers_in_every_encoding(
    dovecot: DovecotMailbox, recorder: Recorder
) -> None:
    mails = samples()
    for name in (
        "yhqz-april-gbk",
        "zlpz-april-late-raw-gbk",
        "zjj-april-big5",
        "nyncj-april-reply",
    ):
        sent, raw = mails[name]
        dovecot.append(raw, date=sent)
    recorder.poll_once(source_for(dovecot))
    with recorder.db.session() as s:
        subjects = set(s.scalars(select(Message.subject)))
        names = set(s.scalars(select(Attachment.filename)))
        bodies_from = set(s.scalars(select(Message.from_name)))
    assert "云湖桥镇政务公开主题日活动信息（4月）" in subjects
    assert "中路铺镇四月份政务公开主题日活动" in subjects
    assert "湘潭縣住房和城鄉建設局政務公開主題日活動報送" in subjects
    assert "云湖桥镇活动照片.jpg" in names  # Foxmail-style RFC 2047 name in quotes, GBK
    assert "县农业农村局主题日活动图片.jpg" in names
    assert "住建局活動.jpg" in names
    assert "云湖桥镇党政办" in bodies_from


def test_a_uidvalidity_change_records_nothing_again(
    dovecot: DovecotMailbox, recorder: Recorder
) -> None:
    mails = samples()
    for name in ("fgj-april", "ptx-may"):
        sent, raw = mails[name]
        dovecot.append(raw, date=sent)
    assert recorder.poll_once(source_for(dovecot)).new == 2

    dovecot.change_uidvalidity()
    sent, raw = mails["lyj-may-cloud-link"]
    dovecot.append(raw, date=sent)
    after = recorder.poll_once(source_for(dovecot))
    assert after.uidvalidity_changed
    assert (after.fetched, after.new, after.duplicates) == (3, 1, 2)
    assert count(recorder) == 3
    assert recorder.poll_once(source_for(dovecot)).new == 0


def test_a_mail_that_breaks_the_parser_is_kept_raw_and_sent_to_review(
    dovecot: DovecotMailbox, recorder: Recorder, tmp_path: Path
) -> None:
    sent, broken = samples()["broken-mime"]
    dovecot.append(broken, date=sent)
    dovecot.append(
        b"\x00\x01\x02\xff\xfe binary garbage with no header at all \x00" * 20, date=sent
    )
    dovecot.append(report_mail("县林业局5月主题日活动", "lyj.xtx@example.com"), date=sent)
    report = recorder.poll_once(source_for(dovecot))
    assert report.new == 3
    with recorder.db.session() as s:
        rows = list(s.scalars(select(Message).order_by(Message.uid)))
        assert [m.decision for m in rows[:2]] == ["review", "review"]
        for m in rows[:2]:
            assert m.reasons
            raw_copy = tmp_path / "store" / m.raw_path
            assert raw_copy.is_file() and raw_copy.stat().st_size == m.raw_size
        assert rows[2].decision == "matched"


def test_a_path_escaping_attachment_name_stays_inside_the_store(
    dovecot: DovecotMailbox, recorder: Recorder, tmp_path: Path
) -> None:
    evil = f"../../../../../../tmp/ri-escape-{os.getpid()}.jpg"
    dovecot.append(report_mail("县林业局5月主题日活动", "lyj.xtx@example.com", filename=evil))
    dovecot.append(
        report_mail(
            "县林业局5月主题日活动(2)", "lyj.xtx@example.com", filename="..\\..\\windows\\evil.jpg"
        )
    )
    recorder.poll_once(source_for(dovecot))
    assert not Path(f"/tmp/ri-escape-{os.getpid()}.jpg").exists()
    store = (tmp_path / "store").resolve()
    with recorder.db.session() as s:
        atts = list(s.scalars(select(Attachment)))
    assert len(atts) == 2
    for att in atts:
        assert "/" not in att.safe_name and "\\" not in att.safe_name and ".." not in att.safe_name
        assert att.relpath is not None
        assert (store / att.relpath).resolve().is_relative_to(store)
    for path in tmp_path.rglob("*"):
        assert path.resolve().is_relative_to(tmp_path.resolve())


def test_a_20_mb_attachment_comes_through_whole(
    dovecot: DovecotMailbox, recorder: Recorder, tmp_path: Path
) -> None:
    payload = os.urandom(20 * 1024 * 1024)
    dovecot.append(
        report_mail(
            "县林业局5月主题日活动视频", "lyj.xtx@example.com", filename="视频.mp4", payload=payload
        )
    )
    report = recorder.poll_once(source_for(dovecot))
    assert report.new == 1
    with recorder.db.session() as s:
        att = s.scalar(select(Attachment))
        assert att is not None and att.size == len(payload)
        assert (tmp_path / "store" / att.relpath).read_bytes() == payload


def test_a_report_counts_for_its_slot(dovecot: DovecotMailbox, recorder: Recorder) -> None:
    sent, raw = samples()["lyj-may-cloud-link"]
    dovecot.append(raw, date=sent)
    recorder.poll_once(source_for(dovecot))
    with recorder.db.session() as s:
        rows = {
            r.unit: r
            for r in slot_states(
                s, as_of=datetime(2023, 5, 22).date(), tz=FixedClock(NOW).tz, period="2023-05"
            )
        }
        links = list(s.scalars(select(Attachment).where(Attachment.kind == "link")))
    assert rows["县林业局"].state == "received"
    assert rows["河口镇"].state == "open"
    assert len(links) == 1 and links[0].url and "mail.163.com" in links[0].url


CRASHING_POLL = textwrap.dedent(
    """
    import os, sys
    from intake.mailbox import ImapSettings, ImapSource
    from intake.store import AttachmentStore
    from tracker.clock import SHANGHAI, FixedClock
    from tracker.db import open_database
    from tracker.recording import Recorder
    from tracker.roster import load_roster
    from datetime import datetime, UTC

    class DiesBeforeMarking(ImapSource):
        def mark_recorded(self, uids):
            os._exit(9)  # killed after the commit, before the server hears of it

    url, store, roster, host, port, user, password = sys.argv[1:]
    source = DiesBeforeMarking(ImapSettings(host=host, port=int(port), security="none",
                                            username=user, password=password))
    Recorder(open_database(url), AttachmentStore(store), load_roster(roster),
             FixedClock(datetime(2023, 6, 30, tzinfo=UTC))).poll_once(source)
    """
)


def test_a_process_killed_between_recording_and_flagging_records_nothing_twice(
    dovecot: DovecotMailbox, recorder: Recorder, database_url: str, tmp_path: Path
) -> None:
    mails = samples()
    for name in ("fgj-april", "ptx-may"):
        sent, raw = mails[name]
        dovecot.append(raw, date=sent)
    args = [database_url, str(tmp_path / "store"), str(ROSTER), dovecot.host, str(dovecot.port)]
    proc = subprocess.run(
        [sys.executable, "-c", CRASHING_POLL, *args, dovecot.user, dovecot.password],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 9, proc.stderr
    assert count(recorder) == 2
    assert all("$Recorded" not in f for f in dovecot.all_flags().values())

    again = recorder.poll_once(source_for(dovecot))
    assert again.new == 0 and again.marked == 2
    assert count(recorder) == 2
    assert all("$Recorded" in f for f in dovecot.all_flags().values())


def test_it_records_a_mail_too_large_to_download_for_review(
    dovecot: DovecotMailbox, recorder: Recorder
) -> None:
    recorder.max_message_bytes = 1024 * 1024
    dovecot.append(
        report_mail("县林业局活动视频", "lyj.xtx@example.com", payload=os.urandom(2 * 1024 * 1024))
    )
    report = recorder.poll_once(source_for(dovecot))
    assert report.new == 1
    with recorder.db.session() as s:
        msg = s.scalar(select(Message))
        assert msg is not None and msg.decision == "review"
        assert any("过大" in r for r in msg.reasons)
    assert recorder.poll_once(source_for(dovecot)).new == 0


def test_subject_header_encoded_as_gbk_words_is_read(
    dovecot: DovecotMailbox, recorder: Recorder
) -> None:
    # GBK bytes labelled gb2312 (喆 is not in GB2312), base64 encoded-words as NetEase sends
    subject = (
        Header("县林业局5月主题日活动（王喆报送）", "gb18030").encode().replace("gb18030", "gb2312")
    )
    sender = Header("湘潭县林业局", "gb18030").encode().replace("gb18030", "gb2312")
    raw = (
        (
            f"From: {sender} <lyj.xtx@example.com>\r\nTo: xtxgov@126.com\r\n"
            f"Subject: {subject}\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=gb2312\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        ).encode("ascii")
        + "见附件，王喆".encode("gbk")
        + b"\r\n"
    )
    dovecot.append(raw)
    recorder.poll_once(source_for(dovecot))
    with recorder.db.session() as s:
        row = s.scalar(select(Message))
        assert row is not None
        assert row.subject == "县林业局5月主题日活动（王喆报送）"
        assert row.from_name == "湘潭县林业局"


def test_a_backdated_report_counts_from_its_arrival(
    dovecot: DovecotMailbox, recorder: Recorder
) -> None:
    # The Date header says 16 May 2023 (before the 25th); the mail reached the mailbox on
    # 28 May (INTERNALDATE). Anyone can write a Date header: arrival decides, and staff
    # are told about the gap.
    dovecot.append(
        report_mail("县林业局5月主题日活动", "someone@163.com"),
        date=datetime(2023, 5, 28, 1, 0, tzinfo=UTC),
    )
    recorder.poll_once(source_for(dovecot))
    with recorder.db.session() as s:
        msg = s.scalar(select(Message))
        assert msg is not None
        assert msg.received_at == datetime(2023, 5, 28, 1, 0, tzinfo=UTC)
        assert msg.sent_at == datetime(2023, 5, 16, 2, 0, tzinfo=UTC)
        assert (msg.decision, msg.period) == ("matched", "2023-05")
        assert "邮件头日期（Date）比实际到达时间早12天：按到达时间计" in msg.reasons
        rows = {
            r.unit: r.state for r in slot_states(s, as_of=datetime(2023, 5, 29).date(), tz=SHANGHAI)
        }
    assert rows["县林业局"] == "late"


def test_an_address_seen_on_an_automatic_match_is_not_evidence_for_the_next_mail(
    dovecot: DovecotMailbox, recorder: Recorder
) -> None:
    dovecot.append(
        report_mail("县林业局5月主题日活动", "newcomer@163.com"),
        date=datetime(2023, 5, 16, tzinfo=UTC),
    )
    recorder.poll_once(source_for(dovecot))
    neutral = EmailMessage()
    neutral["From"] = "newcomer@163.com"
    neutral["To"] = "xtxgov@126.com"
    neutral["Subject"] = "活动照片"
    neutral["Date"] = "Wed, 17 May 2023 10:00:00 +0800"
    neutral.set_content("见附件")
    neutral.add_attachment(photo(3), maintype="image", subtype="jpeg", filename="IMG_1.jpg")
    dovecot.append(neutral.as_bytes(), date=datetime(2023, 5, 17, tzinfo=UTC))
    recorder.poll_once(source_for(dovecot))
    with recorder.db.session() as s:
        second = s.scalar(select(Message).where(Message.subject == "活动照片"))
        assert second is not None and second.decision == "review"
    refs = {u.name: u for u in recorder.unit_refs()}
    assert "newcomer@163.com" not in refs["县林业局"].emails
