"""A board workspace for the web tests: the sample Maildir plus a hostile mail, polled once
into SQLite with a clerk and a viewer; each test gets its own copy (copying is much faster
than polling again)."""

from __future__ import annotations

import mailbox
import re
import shutil
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from flask.testing import FlaskClient

import tracker.users
from tracker.cli import main
from tracker.samples import write_maildir

# argon2 with its production cost takes ~0.3 s a login on the CI machine; the board tests log
# in dozens of times, so they hash with the cheapest argon2id parameters (same code path).
tracker.users._hasher = tracker.users.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)

ROSTER = Path(__file__).resolve().parent.parent / "tracker" / "data" / "roster.example.toml"
PASSWORDS = {"clerk": "clerk-password-1", "viewer": "viewer-password-1"}
HOSTILE_SUBJECT = '<script>alert("x")</script>活动照片'


def hostile_mail() -> bytes:
    """A mail that tries to run script in the board: in its subject, sender name, HTML body
    and file names, with an HTML file and an SVG image attached."""
    m = EmailMessage()
    m["From"] = '"<img src=x onerror=alert(1)>" <evil@example.net>'
    m["To"] = "xtxgov@126.com"
    m["Subject"] = HOSTILE_SUBJECT
    m["Date"] = "Wed, 10 May 2023 10:00:00 +0800"
    m["Message-ID"] = "<hostile@example.net>"
    m.set_content("正文第一行 <b>不是粗体</b>\n<script>alert(2)</script>")
    m.add_alternative(
        "<html><body><p>HTML正文</p><script>alert(3)</script><img src=x onerror=alert(4)></body></html>",
        subtype="html",
    )
    m.add_attachment(
        b"<html><script>alert(5)</script></html>",
        maintype="text",
        subtype="html",
        filename='"><script>alert(6)</script>.html',
    )
    m.add_attachment(
        b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(7)"/>',
        maintype="image",
        subtype="svg+xml",
        filename="pic.svg",
    )
    return bytes(m)


def make_workspace(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    write_maildir(root / "Maildir")
    box = mailbox.Maildir(str(root / "Maildir"))
    box.add(hostile_mail())
    shutil.copyfile(ROSTER, root / "roster.toml")
    config = root / "config.toml"
    config.write_text(
        '[office]\naddresses = ["xtxgov@126.com"]\n'
        '[mailbox]\ntype = "maildir"\npath = "Maildir"\n'
        '[storage]\ndir = "data"\n[roster]\nfile = "roster.toml"\n',
        encoding="utf-8",
    )
    run(config, "poll", "--once")
    for name, password in PASSWORDS.items():
        run(config, "user", "add", name, "--role", name, "--password-stdin", input=password + "\n")
    return config


def run(config: Path, *args: str, input: str | None = None) -> str:
    result = CliRunner().invoke(main, ["--config", str(config), *args], input=input)
    assert result.exit_code == 0, (result.output, result.stderr if result.stderr_bytes else "")
    return result.stdout


def csrf_of(html: bytes) -> str:
    m = re.search(rb'name="csrf_token" value="([^"]+)"', html)
    assert m, "no csrf_token in the page"
    return m.group(1).decode()


class Client:
    """The board's test client with a login and the CSRF token at hand."""

    def __init__(self, client: FlaskClient) -> None:
        self.c = client
        self.token = ""

    def get(self, path: str, **kw: Any) -> Any:
        return self.c.get(path, **kw)

    def login(self, name: str, password: str | None = None) -> Any:
        page = self.c.get("/login")
        self.token = csrf_of(page.data)
        r = self.c.post(
            "/login",
            data={
                "username": name,
                "password": password or PASSWORDS[name],
                "csrf_token": self.token,
            },
        )
        if r.status_code == 302:
            self.token = csrf_of(self.c.get("/").data)
        return r

    def post(self, path: str, data: dict[str, Any] | None = None, csrf: bool = True) -> Any:
        form = dict(data or {})
        if csrf:
            form["csrf_token"] = self.token
        return self.c.post(path, data=form)
