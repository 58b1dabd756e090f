"""`report-intake check-config`: one line per step, exit 0 only when all pass; a wrong
password, an unreachable host, a bad roster: one clear line, no traceback, no secret."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.dovecot import DovecotMailbox
from tests.service_helpers import cli_command, service_config
from tests.smtp_server import SmtpServer, free_port, smtp_factory_fixture  # noqa: F401

SMTP_LOGIN = ("xtxgov@126.com", "smtp-AUTHCODE-1")


def check(config: Path) -> tuple[int, list[str], str]:
    out = subprocess.run(
        cli_command(config, "check-config"), capture_output=True, text=True, timeout=60
    )
    return out.returncode, out.stdout.splitlines(), out.stderr


def smtp_extra(password: str) -> str:
    return f'username = "{SMTP_LOGIN[0]}"\npassword = "{password}"'


def test_good_config_passes_every_step(
    tmp_path: Path, dovecot: DovecotMailbox, smtp_factory: object
) -> None:
    smtp: SmtpServer = smtp_factory(login=SMTP_LOGIN)  # type: ignore[operator]
    config = service_config(tmp_path, dovecot, smtp.port, smtp_extra=smtp_extra(SMTP_LOGIN[1]))
    dovecot.append(b"From: a@example.com\r\nSubject: x\r\n\r\nhello\r\n")
    code, lines, err = check(config)
    assert code == 0, (lines, err)
    assert [line.split(" ", 1)[0] for line in lines] == [
        "config", "roster", "database", "storage", "imap", "smtp",
    ]  # fmt: skip
    assert all(" ok: " in line for line in lines), lines
    assert lines[0] == f"config ok: {config.resolve()}"
    assert lines[1].startswith("roster ok: 47 units")
    imap = lines[4]
    assert f"{dovecot.user} at 127.0.0.1:{dovecot.port}" in imap
    assert imap.endswith("INBOX has 1 messages")
    assert "ID sent" in imap and dovecot.id_log()  # the ID command went out before SELECT
    assert "logged in as xtxgov@126.com" in lines[5]
    assert dovecot.password not in "\n".join(lines) + err
    assert SMTP_LOGIN[1] not in "\n".join(lines) + err


def test_wrong_imap_password_is_one_clear_line(
    tmp_path: Path, dovecot: DovecotMailbox, smtp_factory: object
) -> None:
    smtp: SmtpServer = smtp_factory(login=SMTP_LOGIN)  # type: ignore[operator]
    config = service_config(
        tmp_path,
        dovecot,
        smtp.port,
        password="not-the-code-42",
        smtp_extra=smtp_extra("bad-smtp-77"),
    )
    code, lines, err = check(config)
    assert code == 1
    [imap] = [line for line in lines if line.startswith("imap")]
    assert imap.startswith("imap FAILED: imap login failed for ")
    [smtp_line] = [line for line in lines if line.startswith("smtp")]
    assert smtp_line.startswith("smtp FAILED: ") and "refused" in smtp_line
    everything = "\n".join(lines) + err
    assert "Traceback" not in everything
    assert "not-the-code-42" not in everything and "bad-smtp-77" not in everything
    assert all(" ok: " in line for line in lines if line.split(" ", 1)[0] not in ("imap", "smtp"))


def test_unreachable_host_and_bad_roster(tmp_path: Path, dovecot: DovecotMailbox) -> None:
    roster = tmp_path / "roster.toml"
    roster.write_text('[campaign]\nname = "x"\n[[unit]]\nname = "县林业局"\nmonths = ["2023-13"]\n')
    config = service_config(tmp_path, dovecot, None, imap_port=free_port(), roster=roster)
    code, lines, err = check(config)
    assert code == 1
    by_step = {line.split(" ", 1)[0]: line for line in lines}
    assert by_step["roster"].startswith("roster FAILED: ") and "2023-13" in by_step["roster"]
    assert by_step["imap"].startswith("imap FAILED: imap connection failed for ")
    assert "refused" in by_step["imap"].lower()
    assert by_step["smtp"].startswith("smtp ok: not configured")
    assert "Traceback" not in err
    assert len(lines) == 6


def test_broken_config_stops_at_the_first_line(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[mailbox]\nhost = "imap.126.com"\n')
    code, lines, err = check(config)
    assert code == 1
    assert lines == ["config FAILED: [roster] file: missing (the roster of units, a TOML file)"]
    assert "Traceback" not in err


def test_a_roster_without_a_parent_is_a_warning(tmp_path: Path) -> None:
    from tests.mail_helpers import EXAMPLE_ROSTER, write_config
    from tracker.check import check_all

    text = EXAMPLE_ROSTER.read_text(encoding="utf-8")
    roster = tmp_path / "roster.toml"
    roster.write_text(
        text.replace('parent = "湘潭市"\n', ""),
        encoding="utf-8",
    )
    lines = [s.line for s in check_all(write_config(tmp_path, smtp_port=1, roster=roster))]
    roster_lines = [line for line in lines if line.startswith("roster ")]
    assert roster_lines[0].startswith("roster ok: 47 units")
    assert any("WARNING" in x and "parent is not set" in x for x in roster_lines)
    good = [s.line for s in check_all(write_config(tmp_path / "g", smtp_port=1))]
    assert not any(x.startswith("roster WARNING") for x in good)
