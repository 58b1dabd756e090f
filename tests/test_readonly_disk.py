"""Faults while recording: the disk under the attachment store, or under the SQLite
database, turns read-only in the middle of a poll.

The disk is real: a small ext4 file system on a loop device, mounted with
``errors=remount-ro``. Its kernel error trigger (``/sys/fs/ext4/<dev>/trigger_fs_error``)
makes ext4 abort its journal and remount read-only, as it does on a real disk error, even
with files open for writing: every later write is EROFS. "Writable again" is what an
administrator does: unmount, ``e2fsck``, mount.

The poll then fails in one line, nothing of the mail in hand is kept (no message row, no
stored file counted for it), the checkpoint stays on the last mail recorded whole, and the
failure counts towards the staff alert; after the repair the next poll records the mail
whole, once, and every file a message row names is on the disk (so the store must make
its renames durable, not only the file contents).

Needs root and loop devices (CI runs as root); skipped otherwise, with the reason.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.evidence_mail import ROSTER, write_mails
from tracker.app import App
from tracker.clock import FixedClock
from tracker.jobs import JobFailed, Jobs
from tracker.models import Attachment, Checkpoint, Message
from tracker.samples import photo
from tracker.watch import Watch

ROOT = Path(__file__).resolve().parent.parent


class Ext4Disk:
    """A 64 MB ext4 file system on a loop device, mounted at `mountpoint`."""

    def __init__(self, image: Path, mountpoint: Path) -> None:
        self.image = image
        self.mountpoint = mountpoint
        mountpoint.mkdir(parents=True, exist_ok=True)
        with open(image, "wb") as fh:
            fh.truncate(64 * 1024 * 1024)
        _run("mkfs.ext4", "-q", "-F", str(image))
        self.mount()

    def mount(self) -> None:
        _run("mount", "-o", "loop,errors=remount-ro", str(self.image), str(self.mountpoint))
        source = _run("findmnt", "-no", "SOURCE", str(self.mountpoint)).strip()
        self.device = os.path.basename(source)

    def fail(self) -> None:
        """A disk error: ext4 aborts its journal and remounts read-only."""
        Path(f"/sys/fs/ext4/{self.device}/trigger_fs_error").write_text("test\n")

    @property
    def read_only(self) -> bool:
        """Whether a new file is refused with EROFS (ext4's emergency read-only state is
        not in statvfs's flags)."""
        probe = self.mountpoint / ".probe"
        try:
            probe.write_bytes(b"")
        except OSError as exc:
            if exc.errno == errno.EROFS:
                return True
            raise
        probe.unlink()
        return False

    def repair(self) -> None:
        """What an administrator does: unmount, check, mount again."""
        _run("umount", str(self.mountpoint))
        subprocess.run(["e2fsck", "-fy", str(self.image)], capture_output=True, check=False)
        self.mount()

    def remove(self) -> None:
        subprocess.run(["umount", "-l", str(self.mountpoint)], capture_output=True, check=False)


def _run(*argv: str) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout


@pytest.fixture
def disk_factory(tmp_path: Path) -> Iterator[Callable[[str], Ext4Disk]]:
    if os.geteuid() != 0:
        pytest.skip("a real read-only disk needs root (mount of a loop device)")
    for tool in ("mkfs.ext4", "e2fsck", "mount", "findmnt"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (e2fsprogs, util-linux)")
    disks: list[Ext4Disk] = []

    def make(name: str) -> Ext4Disk:
        try:
            disk = Ext4Disk(tmp_path / f"{name}.img", tmp_path / name)
        except subprocess.CalledProcessError as exc:
            pytest.skip(f"cannot mount a loop device here: {exc.stderr.strip()}")
        disks.append(disk)
        if not Path(f"/sys/fs/ext4/{disk.device}/trigger_fs_error").exists():
            pytest.skip("this kernel has no ext4 error trigger (/sys/fs/ext4/*/trigger_fs_error)")
        return disk

    yield make
    for disk in disks:
        disk.remove()


def report(n: int) -> bytes:
    msg = EmailMessage()
    unit = ["县林业局", "河口镇"][n % 2]
    msg["From"] = f"{unit} <unit{n}.xtx@example.com>"
    msg["To"] = "xtxgov@126.com"
    msg["Subject"] = f"{unit}5月主题日活动图片"
    msg["Date"] = "Tue, 16 May 2023 10:00:00 +0800"
    msg["Message-ID"] = f"<read-only-{n}@example.com>"
    msg.set_content("我单位开展了政务公开主题日活动，图片见附件。")
    for i in range(2):
        msg.add_attachment(photo(10 * n + i), maintype="image", subtype="jpeg",
                           filename=f"活动{i + 1}.jpg")  # fmt: skip
    return msg.as_bytes()


def _config(tmp_path: Path, database_url: str, storage: Path) -> Path:
    write_mails(tmp_path / "Maildir", [report(1), report(2)])
    config = tmp_path / "config.toml"
    config.write_text(
        f'[office]\naddresses = ["xtxgov@126.com"]\n'
        f'[mailbox]\ntype = "maildir"\npath = "Maildir"\n'
        f'[database]\nurl = "{database_url}"\n'
        f'[storage]\ndir = "{storage}"\n[roster]\nfile = "{ROSTER}"\n',
        encoding="utf-8",
    )
    return config


def _fail_at_second_mail(monkeypatch: pytest.MonkeyPatch, disk: Ext4Disk) -> None:
    """The disk fails once the second mail's raw copy is stored, before its attachments:
    the first mail is prepared (and, depending on how far the pipeline got, recorded), the
    second is in hand. The raw copies are stored in the recorder's worker processes: the
    count is kept in a file they share."""
    from intake.store import AttachmentStore

    original = AttachmentStore.put_raw
    counter = disk.mountpoint.parent / f"{disk.device}.calls"

    def put_raw(self: AttachmentStore, raw: bytes, **kwargs):  # type: ignore[no-untyped-def]
        stored = original(self, raw, **kwargs)
        with open(counter, "ab") as fh:
            fh.write(b"x")
        if counter.stat().st_size == 2:
            disk.fail()
        return stored

    monkeypatch.setattr(AttachmentStore, "put_raw", put_raw)


def _counts(app: App) -> tuple[int, int]:
    with app.db.session() as s:
        messages = int(s.scalar(select(func.count()).select_from(Message)) or 0)
        checkpoint = s.scalar(select(Checkpoint.last_uid)) or 0
    return messages, int(checkpoint)


def _assert_whole(app: App, storage: Path, subjects: list[str]) -> None:
    """Each message recorded once, with both photos, every file on the disk as stored."""
    with app.db.session() as s:
        messages = s.scalars(select(Message).order_by(Message.uid)).all()
        assert sorted(m.subject for m in messages) == sorted(subjects)  # each once
        for msg in messages:
            assert msg.decision == "matched", (msg.subject, msg.reasons)
            assert msg.from_addr.endswith(".xtx@example.com")
            assert (storage / msg.raw_path).is_file()
            files = s.scalars(select(Attachment).where(Attachment.message_id == msg.id)).all()
            assert sorted(a.filename for a in files) == ["活动1.jpg", "活动2.jpg"]
            for att in files:
                assert att.relpath is not None
                data = (storage / att.relpath).read_bytes()
                assert hashlib.sha256(data).hexdigest() == att.sha256


def test_the_store_turning_read_only_mid_poll_keeps_nothing_half_recorded(
    tmp_path: Path, sqlite_url: str, disk_factory: Callable[[str], Ext4Disk],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    disk = disk_factory("store")
    storage = disk.mountpoint / "data"
    config = _config(tmp_path, sqlite_url, storage)
    app = App.from_path(config)
    clock = FixedClock(datetime(2023, 5, 16, 4, 0, tzinfo=UTC))
    try:
        jobs = Jobs(app, clock)
        _fail_at_second_mail(monkeypatch, disk)
        with pytest.raises(JobFailed) as failed:
            jobs.poll()
        assert disk.read_only
        assert str(failed.value).startswith("could not record mail uid ")
        assert " of maildir:" in str(failed.value)
        assert "Read-only file system" in str(failed.value)
        assert "\n" not in str(failed.value)
        # Nothing half-recorded: the first mail whole with the checkpoint on it, or (when
        # its files were not yet synced as the disk failed: they are lost) neither mail.
        before = _counts(app)
        assert before in ((0, 0), (1, 1))
        assert Watch(app.db, app.config, app.roster, clock).health().failures == 1
        with pytest.raises(JobFailed, match="Read-only file system"):
            jobs.poll()  # still read-only: fails again, counts again, keeps nothing
        assert _counts(app) == before
        assert Watch(app.db, app.config, app.roster, clock).health().failures == 2

        monkeypatch.undo()
        disk.repair()  # writable again
        assert not disk.read_only
        assert jobs.poll() is True
        assert _counts(app) == (2, 2)
        _assert_whole(app, storage, ["河口镇5月主题日活动图片", "县林业局5月主题日活动图片"])
        assert Watch(app.db, app.config, app.roster, clock).health().failures == 0
        assert jobs.poll() is False  # once: nothing left to record
        assert _counts(app) == (2, 2)
    finally:
        app.close()


def test_the_database_disk_turning_read_only_mid_poll_keeps_nothing_half_recorded(
    tmp_path: Path, disk_factory: Callable[[str], Ext4Disk], monkeypatch: pytest.MonkeyPatch
) -> None:
    disk = disk_factory("db")
    storage = tmp_path / "data"
    config = _config(tmp_path, f"sqlite:///{disk.mountpoint}/report-intake.sqlite3", storage)
    app = App.from_path(config)
    clock = FixedClock(datetime(2023, 5, 16, 4, 0, tzinfo=UTC))
    try:
        jobs = Jobs(app, clock)
        _fail_at_second_mail(monkeypatch, disk)
        with pytest.raises(JobFailed) as failed:
            jobs.poll()
        assert disk.read_only
        message = str(failed.value)
        assert message.startswith("could not record mail uid "), message
        assert " of maildir:" in message, message
        assert "\n" not in message
        # The failure cannot be counted in a read-only database (the service's status
        # line and the heartbeat's /fail ping still say it); the poll keeps nothing.
    finally:
        app.close()
    monkeypatch.undo()
    disk.repair()
    app = App.from_path(config)
    try:
        # the first mail if it was committed before the disk failed, else nothing
        assert _counts(app) in ((0, 0), (1, 1))
        jobs = Jobs(app, clock)
        assert jobs.poll() is True
        assert _counts(app) == (2, 2)
        _assert_whole(app, storage, ["河口镇5月主题日活动图片", "县林业局5月主题日活动图片"])
        assert jobs.poll() is False
    finally:
        app.close()


def test_poll_on_a_read_only_store_is_one_line(
    tmp_path: Path, sqlite_url: str, disk_factory: Callable[[str], Ext4Disk]
) -> None:
    disk = disk_factory("store")
    storage = disk.mountpoint / "data"
    config = _config(tmp_path, sqlite_url, storage)
    app = App.from_path(config)
    app.store  # noqa: B018  (the store exists before the disk fails)
    app.close()
    disk.fail()
    done = subprocess.run(
        [sys.executable, "-m", "tracker.cli", "--config", str(config), "poll", "--once"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("report-intake: error: could not record mail uid 1 of maildir:")
    assert "Read-only file system" in lines[0]
