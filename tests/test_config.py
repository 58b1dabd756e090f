"""The config is validated once at the edge: every mistake is one line naming the key."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest

from tracker.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


MAILDIR = '[mailbox]\ntype = "maildir"\npath = "Maildir"\n[roster]\nfile = "roster.toml"\n'


def test_it_reads_the_example_config_with_its_documented_defaults(tmp_path: Path) -> None:
    secret = tmp_path / "imap-password"
    secret.write_text("AUTHCODE123\n")
    smtp_secret = tmp_path / "smtp-password"
    smtp_secret.write_text("SMTPCODE\n")
    secret.chmod(0o600)  # secret files others can read are refused
    smtp_secret.chmod(0o600)
    text = (ROOT / "config.example.toml").read_text(encoding="utf-8")
    text = text.replace("/etc/report-intake/imap-password", str(secret))
    text = text.replace("/etc/report-intake/smtp-password", str(smtp_secret))
    cfg = load_config(write(tmp_path, text))
    assert cfg.mailbox.host == "imap.126.com" and cfg.mailbox.port == 993
    assert cfg.mailbox.password == "AUTHCODE123"
    assert cfg.smtp.password == "SMTPCODE" and cfg.smtp.sender == "xtxgov@126.com"
    assert cfg.schedule.reminders_at == time(9, 0)
    assert cfg.reminders.days_before == (7, 2)
    assert cfg.roster_file == tmp_path / "roster.toml"
    assert cfg.database_url == f"sqlite:///{tmp_path / 'data' / 'report-intake.sqlite3'}"
    assert "xtxgov@126.com" in cfg.own_addresses
    assert str(cfg.timezone) == "Asia/Shanghai"
    assert "AUTHCODE123" not in repr(cfg)


def test_it_resolves_relative_paths_against_the_config_file(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, MAILDIR))
    assert cfg.mailbox.path == tmp_path / "Maildir"
    assert cfg.storage_dir == tmp_path / "data"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[mailbox]\ntype = "pop3"\n[roster]\nfile = "r"\n',
            '[mailbox] type: must be "imap" | "maildir", not \'pop3\'',
        ),
        (
            '[mailbox]\nhost = "x"\nusername = "u"\npassword = "p"\nport = 99999\n[roster]\nfile=\'r\'\n',
            "[mailbox] port: must be between 1 and 65535, not 99999",
        ),
        (
            '[mailbox]\nhost = "x"\nusername = "u"\npassword = "p"\nport = "993"\n[roster]\nfile=\'r\'\n',
            "[mailbox] port: must be a whole number, not '993'",
        ),
        (
            '[mailbox]\nhost = "x"\nusername = "u"\n[roster]\nfile=\'r\'\n',
            "[mailbox] password: missing",
        ),
        (MAILDIR + "[mailbox2]\n", "[mailbox2]: unknown table"),
        (
            MAILDIR.replace('path = "Maildir"', 'path = "M"\nfolders = 1'),
            "[mailbox] folders: unknown key",
        ),
        ('[mailbox]\ntype = "maildir"\npath = "M"\n', "[roster] file: missing"),
        (
            MAILDIR + '[schedule]\nreminders_at = "25:00"\n',
            "[schedule] reminders_at: must be a time of day",
        ),
        (MAILDIR + '[schedule]\ndigest_weekday = "monday"\n', "[schedule] digest_weekday: must be"),
        (
            MAILDIR + '[office]\ntimezone = "Mars/Olympus"\n',
            "[office] timezone: unknown time zone 'Mars/Olympus'",
        ),
        (
            MAILDIR + '[digest]\nrecipients = ["not-an-address"]\n',
            "[digest] recipients: 'not-an-address' is not an email address",
        ),
        (
            MAILDIR + '[database]\nurl = "mysql://x"\n',
            "[database] url: must start with sqlite:/// or postgresql://",
        ),
        (MAILDIR + '[smtp]\nhost = "smtp.126.com"\n', "[smtp] from: missing"),
        (
            MAILDIR + '[reminders]\ndays_before = [7, "x"]\n',
            "[reminders] days_before: must list whole numbers",
        ),
        ("[mailbox\n", "config file"),
    ],
)
def test_it_names_the_bad_key_in_one_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text))
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_it_reads_passwords_from_a_file_or_a_systemd_credential(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = '[mailbox]\nhost = "h"\nusername = "u@126.com"\n[roster]\nfile = "r"\n'
    (tmp_path / "creds").mkdir()
    (tmp_path / "creds" / "imap-password").write_text("FROMCRED\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path / "creds"))
    assert load_config(write(tmp_path, base)).mailbox.password == "FROMCRED"
    missing = base.replace("[roster]", 'password_file = "nope"\n[roster]')
    with pytest.raises(ConfigError, match=r"\[mailbox\] password_file: cannot read"):
        load_config(write(tmp_path, missing))


def test_it_says_when_the_config_file_is_missing(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")
