"""Faults while recording: storage that refuses a write (a full disk) rolls the mail back,
fails the poll in one line and counts towards the staff alert; the next poll with room
records it whole.

The full disk is real: the kernel's file-size limit (RLIMIT_FSIZE, with SIGXFSZ ignored)
makes every write past 1 MB fail with EFBIG, as ENOSPC would on a full disk.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.evidence_mail import workspace
from tracker.app import App
from tracker.clock import FixedClock
from tracker.jobs import JobFailed, Jobs
from tracker.models import Attachment, Checkpoint, Message
from tracker.watch import Watch

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 1024 * 1024


def big_report() -> bytes:
    msg = EmailMessage()
    msg["From"] = "县林业局 <lyj.xtx@example.com>"
    msg["To"] = "xtxgov@126.com"
    msg["Subject"] = "县林业局5月主题日活动图片"
    msg["Date"] = "Tue, 16 May 2023 10:00:00 +0800"
    msg["Message-ID"] = "<full-disk@example.com>"
    msg.set_content("我局开展了主题日活动，图片见附件。")
    msg.add_attachment(os.urandom(2 * LIMIT), maintype="application", subtype="zip",
                       filename="活动图片.zip")  # fmt: skip
    return msg.as_bytes()


def _limit_file_size() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, resource.RLIM_INFINITY))


@contextmanager
def full_disk() -> Iterator[None]:
    previous_handler = signal.getsignal(signal.SIGXFSZ)
    previous = resource.getrlimit(resource.RLIMIT_FSIZE)
    _limit_file_size()
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, previous)
        signal.signal(signal.SIGXFSZ, previous_handler)


def _counts(app: App) -> tuple[int, int]:
    with app.db.session() as s:
        messages = int(s.scalar(select(func.count()).select_from(Message)) or 0)
        checkpoint = s.scalar(select(Checkpoint.last_uid)) or 0
    return messages, int(checkpoint)


def test_a_full_disk_keeps_no_bare_record_and_counts_towards_the_alert(
    tmp_path: Path, sqlite_url: str
) -> None:
    config = workspace(tmp_path, sqlite_url, [big_report()])
    app = App.from_path(config)
    clock = FixedClock(datetime(2023, 5, 16, 4, 0, tzinfo=UTC))
    try:
        jobs = Jobs(app, clock)
        app.store  # noqa: B018  (the database and the store exist before the disk fills)
        with full_disk(), pytest.raises(JobFailed) as failed:
            jobs.poll()
        assert str(failed.value).startswith("could not record mail uid 1 of maildir:")
        assert "File too large" in str(failed.value)
        assert _counts(app) == (0, 0)  # nothing kept, the checkpoint did not move
        assert Watch(app.db, app.config, app.roster, clock).health().failures == 1
        assert not list((tmp_path / "data").rglob(".tmp-*"))

        assert jobs.poll() is True  # room again: the same mail, whole
        assert _counts(app) == (1, 1)
        with app.db.session() as s:
            msg = s.scalars(select(Message)).one()
            assert msg.from_addr == "lyj.xtx@example.com" and msg.decision == "matched"
            files = s.scalars(select(Attachment).where(Attachment.message_id == msg.id)).all()
            assert [(a.filename, a.size) for a in files] == [("活动图片.zip", 2 * LIMIT)]
        assert Watch(app.db, app.config, app.roster, clock).health().failures == 0
    finally:
        app.close()


def test_poll_on_a_full_disk_is_one_line(tmp_path: Path, sqlite_url: str) -> None:
    config = workspace(tmp_path, sqlite_url, [big_report()])
    app = App.from_path(config)
    app.store  # noqa: B018
    app.close()
    done = subprocess.run(
        [sys.executable, "-m", "tracker.cli", "--config", str(config), "poll", "--once"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_limit_file_size,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("report-intake: error: could not record mail uid 1 of maildir:")
