"""Helpers for the service tests: a config on the test Dovecot and aiosmtpd, the daemon as
a real subprocess, a NOTIFY_SOCKET listener, and report mails."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from tests.dovecot import DovecotMailbox
from tracker.samples import photo

ROOT = Path(__file__).resolve().parent.parent
ROSTER = ROOT / "tracker" / "data" / "roster.example.toml"
STAFF = "clerk@xtx.gov.cn"


def service_config(
    tmp_path: Path,
    box: DovecotMailbox,
    smtp_port: int | None,
    *,
    password: str | None = None,
    imap_port: int | None = None,
    schedule: str = "",
    watch: str = "",
    smtp_extra: str = "",
    roster: Path = ROSTER,
    receipts: str = "",
) -> Path:
    """A config for `box` (plain IMAP on loopback) and, with `smtp_port`, aiosmtpd."""
    pw_file = tmp_path / "imap-password"
    pw_file.write_text((password if password is not None else box.password) + "\n")
    pw_file.chmod(0o600)
    smtp = (
        f'[smtp]\nhost = "127.0.0.1"\nport = {smtp_port}\nsecurity = "none"\n'
        f'from = "xtxgov@126.com"\nfrom_name = "湘潭县政务公开办"\ntimeout = 5\n{smtp_extra}\n'
        if smtp_port
        else ""
    )
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[office]
addresses = ["xtxgov@126.com"]
staff = ["{STAFF}"]

[mailbox]
host = "{box.host}"
port = {imap_port or box.port}
security = "none"
username = "{box.user}"
password_file = "{pw_file}"
timeout = 5

{smtp}
[database]
url = "sqlite:///{tmp_path / "db.sqlite3"}"

[storage]
dir = "{tmp_path / "data"}"

[roster]
file = "{roster}"

[schedule]
{schedule}

[watch]
{watch}

[receipts]
{receipts}

[logging]
level = "DEBUG"
""",
        encoding="utf-8",
    )
    return path


def report_mail(subject: str, sender: str = "lyj.xtx@example.com", seed: int = 1) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "xtxgov@126.com"
    msg["Subject"] = subject
    msg["Date"] = "Tue, 16 May 2023 10:00:00 +0800"
    msg.set_content("我局于5月16日开展政务公开主题日活动，现报送活动图片。")
    msg.add_attachment(photo(seed), maintype="image", subtype="jpeg", filename="活动.jpg")
    return msg.as_bytes()


def cli_command(config: Path, *args: str) -> list[str]:
    script = shutil.which("report-intake", path=str(Path(sys.executable).parent))
    if script:
        return [script, "--config", str(config), *args]
    return [
        sys.executable,
        "-c",
        "from tracker.cli import main; main()",
        "--config",
        str(config),
        *args,
    ]


def messages_json(config: Path) -> list[dict[str, Any]]:
    """`report-intake messages --json`, run while the daemon works on the same database."""
    out = subprocess.run(
        cli_command(config, "messages", "--json"), capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, step: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(step)


class NotifyListener:
    """A unix datagram socket standing in for systemd's NOTIFY_SOCKET."""

    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="ri-notify-")  # short: sun_path is 108 bytes
        self.path = os.path.join(self.dir, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.messages: list[dict[str, str]] = []

    def drain(self) -> list[dict[str, str]]:
        while True:
            try:
                data = self.sock.recv(4096)
            except (TimeoutError, BlockingIOError):
                break
            fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
            self.messages.append(fields)
        return self.messages

    def seen(self, key: str, value: str | None = None) -> bool:
        return any(key in m and (value is None or m[key] == value) for m in self.drain())

    def close(self) -> None:
        self.sock.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class Service:
    """`report-intake run` as a child process; stderr kept in a file."""

    def __init__(self, config: Path, tmp_path: Path, env: dict[str, str] | None = None) -> None:
        self.config = config
        self.log_path = tmp_path / "service.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        full_env = {**os.environ, **(env or {})}
        full_env.pop("JOURNAL_STREAM", None)
        full_env.pop("REPORT_INTAKE_CONFIG", None)
        self.proc = subprocess.Popen(
            cli_command(config, "run"), stdout=self._log, stderr=subprocess.STDOUT, env=full_env
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def terminate(self, timeout: float = 10.0) -> tuple[int, float]:
        """SIGTERM; (exit status, seconds it took)."""
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=timeout)
        return code, time.monotonic() - started

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._log.close()
