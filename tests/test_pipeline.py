"""The intake pipeline (fetch ahead, prepare on worker threads, record in order) on a real
Dovecot: killed with SIGKILL in the middle of a batch it loses nothing and doubles
nothing, it never marks a mail it has not recorded, and it records the same rows in the
same order as a pass without workers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import func, select

from intake.mailbox import ImapSettings, ImapSource
from intake.store import AttachmentStore
from tests.dovecot import DovecotMailbox, DovecotServer
from tracker.clock import FixedClock
from tracker.db import open_database
from tracker.models import Attachment, Message
from tracker.recording import Recorder
from tracker.roster import load_roster
from tracker.samples import photo
from tracker.slots import sync_roster

ROOT = Path(__file__).resolve().parent.parent
ROSTER = ROOT / "tracker" / "data" / "roster.example.toml"
UNITS = [("县林业局", "lyj"), ("排头乡", "ptx"), ("河口镇", "hkz"), ("县财政局", "czj")]
MAILS = 12
NOW = datetime(2023, 6, 30, 12, 0, tzinfo=UTC)


def source_for(box: DovecotMailbox) -> ImapSource:
    return ImapSource(
        ImapSettings(
            host=box.host, port=box.port, security="none", username=box.user, password=box.password
        )
    )


def report(i: int) -> bytes:
    unit, short = UNITS[i % len(UNITS)]
    msg = EmailMessage()
    msg["From"] = f"{short}{i}@163.com"
    msg["To"] = "xtxgov@126.com"
    msg["Subject"] = f"{unit}5月政务公开主题日活动报送（第{i}份）"
    msg["Date"] = "Tue, 16 May 2023 10:00:00 +0800"
    msg.set_content(f"{unit}于5月16日开展政务公开主题日活动，现报送活动图片。")
    for k in range(2):
        msg.add_attachment(
            photo(100 * i + k, size=(1600, 1200)),
            maintype="image",
            subtype="jpeg",
            filename=f"活动{k}.jpg",
        )
    return msg.as_bytes()


def make_recorder(url: str, store: Path, workers: int) -> Recorder:
    db = open_database(url)
    roster = load_roster(ROSTER)
    with db.session() as s:
        sync_roster(s, roster)
    return Recorder(
        db,
        AttachmentStore(store),
        roster,
        FixedClock(NOW),
        own_addresses=("xtxgov@126.com",),
        batch_size=4,
        workers=workers,
    )


def rows(recorder: Recorder) -> list[tuple[int, int, str, str, str | None, tuple[str, ...]]]:
    with recorder.db.session() as s:
        out = []
        for m in s.scalars(select(Message).order_by(Message.id)):
            shas = tuple(a.sha256 or "" for a in sorted(m.attachments, key=lambda a: a.id))
            out.append((m.id, m.uid, m.subject, m.decision, m.period, shas))
        return out


SLOW_POLL = textwrap.dedent(
    """
    import sys, time
    from datetime import UTC, datetime
    from intake.mailbox import ImapSettings, ImapSource
    from intake.store import AttachmentStore
    from tracker.clock import FixedClock
    from tracker.db import open_database
    from tracker.recording import Recorder
    from tracker.roster import load_roster

    url, store, roster, host, port, user, password = sys.argv[1:]
    source = ImapSource(ImapSettings(host=host, port=int(port), security="none",
                                     username=user, password=password))

    def slowly(session, msg):
        time.sleep(0.25)  # inside the transaction that records the mail

    Recorder(open_database(url), AttachmentStore(store), load_roster(roster),
             FixedClock(datetime(2023, 6, 30, tzinfo=UTC)), batch_size=4, workers=2,
             on_recorded=slowly).poll_once(source)
    """
)


def test_a_pipelined_poll_killed_mid_batch_loses_and_doubles_nothing(
    dovecot: DovecotMailbox, database_url: str, tmp_path: Path
) -> None:
    for i in range(MAILS):
        dovecot.append(report(i))
    store = tmp_path / "store"
    recorder = make_recorder(database_url, store, workers=2)
    args = [database_url, str(store), str(ROSTER), dovecot.host, str(dovecot.port)]
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOW_POLL, *args, dovecot.user, dovecot.password],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 90
        while len(rows(recorder)) < 6:  # the first batch is in, the second under way
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "the poll recorded nothing in 90 s"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    recorded = {uid for _, uid, *_ in rows(recorder)}
    assert 6 <= len(recorded) < MAILS  # killed in the middle
    flagged = {uid for uid, f in dovecot.all_flags().items() if "$Recorded" in f}
    assert flagged and flagged <= recorded  # nothing marked that is not recorded
    assert len(flagged) % 4 == 0  # marked batch by batch
    with recorder.db.session() as s:
        for att in s.scalars(select(Attachment)):
            assert att.relpath and (store / att.relpath).is_file()
        for msg in s.scalars(select(Message)):
            assert (store / msg.raw_path).is_file()

    again = recorder.poll_once(source_for(dovecot))
    assert again.new == MAILS - len(recorded)
    after = rows(recorder)
    assert [uid for _, uid, *_ in after] == sorted(dovecot.uids())  # once each, in UID order
    assert [m_id for m_id, *_ in after] == sorted(m_id for m_id, *_ in after)
    with recorder.db.session() as s:
        shas = s.scalar(select(func.count(func.distinct(Message.raw_sha256))))
    assert shas == MAILS
    assert all("$Recorded" in f for f in dovecot.all_flags().values())
    with recorder.db.session() as s:
        reasons = [r for m in s.scalars(select(Message)) for r in m.reasons]
    assert not [r for r in reasons if "出错" in r or "无法解析" in r]  # none recorded bare


def test_workers_record_the_same_rows_in_the_same_order_as_one_thread(
    dovecot_server: DovecotServer, tmp_path: Path
) -> None:
    boxes = [dovecot_server.new_mailbox() for _ in range(2)]
    for i in range(9):
        raw = report(i)
        for box in boxes:
            box.append(raw)
    serial = make_recorder(f"sqlite:///{tmp_path}/serial.sqlite3", tmp_path / "s", workers=0)
    piped = make_recorder(f"sqlite:///{tmp_path}/piped.sqlite3", tmp_path / "p", workers=2)
    one = serial.poll_once(source_for(boxes[0]))
    two = piped.poll_once(source_for(boxes[1]))
    assert one.new == two.new == 9 and one.marked == two.marked == 9
    assert rows(serial) == rows(piped)
    assert sorted((tmp_path / "s").rglob("*.*")) != []
    files = sorted(p.relative_to(tmp_path / "s") for p in (tmp_path / "s").rglob("*.*"))
    assert files == sorted(p.relative_to(tmp_path / "p") for p in (tmp_path / "p").rglob("*.*"))


def test_mail_started_ahead_of_the_recorder_stays_within_its_byte_budget() -> None:
    """Fetching runs ahead while the recorder syncs and commits, but the mails started and
    not yet prepared never hold more than the budget (one mail over it goes alone)."""
    import threading
    from concurrent.futures import Future

    from intake.mailbox import FetchedMail
    from tracker.recording import _Prefetch

    sizes = [10, 10, 10, 40, 10]
    started: list[Future[object]] = []

    def start(mail: FetchedMail) -> Future[object]:
        future: Future[object] = Future()
        started.append(future)
        return future

    def settle(count: int) -> None:
        deadline = time.monotonic() + 5
        while len(started) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)  # and no more than that
        assert len(started) == count

    mails = iter(
        FetchedMail(uid=i + 1, raw=b"x" * n, internal_date=None) for i, n in enumerate(sizes)
    )
    prefetch = _Prefetch(mails, start, threading.Lock(), ahead=16, ahead_bytes=25)  # type: ignore[arg-type]
    try:
        settle(2)  # 10 + 10 in flight; a third 10 would pass 25
        started[0].set_result(None)
        settle(3)
        started[1].set_result(None)
        started[2].set_result(None)
        settle(4)  # the 40-byte mail, alone over the budget, goes when nothing is in flight
        started[3].set_result(None)
        settle(5)
        started[4].set_result(None)
        assert len(list(prefetch)) == 5  # every mail reaches the recorder, in order
    finally:
        prefetch.close()


def test_a_pass_sets_up_the_analysis_only_when_mail_came(
    dovecot_server: DovecotServer, tmp_path: Path, monkeypatch: object
) -> None:
    """The matcher's index and the converters are filled before the worker processes
    fork, once per pass that has mail; a pass that finds nothing new sets up nothing."""
    import tracker.recording as recording

    calls: list[int] = []
    real = recording._warm_up

    def counted(*args: object) -> None:
        calls.append(1)
        real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(recording, "_warm_up", counted)  # type: ignore[attr-defined]
    box = dovecot_server.new_mailbox()
    recorder = make_recorder(f"sqlite:///{tmp_path}/db.sqlite3", tmp_path / "store", workers=2)
    assert recorder.poll_once(source_for(box)).fetched == 0
    assert calls == []
    for i in range(3):
        box.append(report(i))
    assert recorder.poll_once(source_for(box)).new == 3
    assert calls == [1]  # two worker processes, one setting-up
