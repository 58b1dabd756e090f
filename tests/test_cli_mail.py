"""The mail commands through click: remind, digest, outbox."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from tests.mail_helpers import at, jpeg_bytes, make_env, record_report, write_config
from tests.smtp_server import SmtpServer, smtp_factory_fixture, smtp_server_fixture  # noqa: F401
from tracker.cli import main


def run(config: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--config", str(config), *args], catch_exceptions=False)
    return result.exit_code, result.output


def test_remind_dry_run_then_send_then_nothing(tmp_path: Path, smtp_server: SmtpServer) -> None:
    env = make_env(tmp_path, smtp_server.port)
    record_report(
        env, units=["县林业局"], period="2023-05", received_at=at(2023, 5, 15),
        from_addr="lyj.xtx@example.com", subject="县林业局5月活动",
    )  # fmt: skip
    env.db.dispose()
    cfg = env.config.path
    code, out = run(cfg, "remind", "--as-of", "2023-05-22", "--dry-run")
    assert code == 0, out
    assert out.count("would send: ") == 3 and "县林业局" not in out
    assert "河口镇 2023-05 before:7 -> hkz.xtx@example.com\n" in out
    assert smtp_server.received == []
    code, out = run(cfg, "remind", "--as-of", "2023-05-22")
    assert code == 0, out
    assert out.count("queued: ") == 3 and "outbox: 3 sent" in out
    assert len(smtp_server.received) == 3
    code, out = run(cfg, "remind", "--as-of", "2023-05-22")
    assert code == 0 and "0 reminder(s) queued" in out
    assert len(smtp_server.received) == 3
    code, out = run(cfg, "outbox", "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["state"] for r in rows] == ["sent"] * 3
    assert all(r["key"].startswith("reminder:") and ":before:7:" in r["key"] for r in rows)
    code, out = run(cfg, "remind", "--as-of", "2023-05-21")
    assert code == 0 and "not a working day" in out


def test_remind_reports_an_smtp_outage(tmp_path: Path, smtp_server: SmtpServer) -> None:
    env = make_env(tmp_path, smtp_server.port)
    env.db.dispose()
    smtp_server.fail_next(100)
    code, out = run(env.config.path, "remind", "--as-of", "2023-05-22")
    assert code == 1
    assert "to retry" in out and "451" in out
    code, out = run(env.config.path, "outbox")
    assert code == 0 and "pending" in out


def test_digest_dry_run_out_file_and_send(tmp_path: Path, smtp_server: SmtpServer) -> None:
    env = make_env(tmp_path, smtp_server.port)
    record_report(
        env, units=["县林业局"], period="2023-05", received_at=at(2023, 5, 19),
        from_addr="lyj.xtx@example.com", subject="县林业局5月活动", images=[jpeg_bytes((10, 90, 200))],
    )  # fmt: skip
    env.db.dispose()
    cfg = env.config.path
    html = tmp_path / "digest.html"
    code, out = run(cfg, "digest", "--as-of", "2023-05-22", "--dry-run", "--out", str(html))
    assert code == 0, out
    assert "1 new report(s), 1 contact sheet(s)" in out and "dry run" in out
    page = html.read_text(encoding="utf-8")
    assert "data:image/jpeg;base64," in page and "cid:" not in page
    assert smtp_server.received == []
    code, out = run(cfg, "digest", "--as-of", "2023-05-22", "--to", "me@xtx.gov.cn")
    assert code == 0, out
    assert [r.rcpt_tos for r in smtp_server.received] == [("me@xtx.gov.cn",)]
    code, out = run(cfg, "digest", "--as-of", "2023-05-22")
    assert code == 0 and len(smtp_server.received) == 2
    code, out = run(cfg, "digest", "--as-of", "2023-05-23")
    assert "already queued this week" in out and len(smtp_server.received) == 2


def test_send_without_smtp_is_a_clear_error(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, smtp_port=25)
    text = cfg.read_text(encoding="utf-8")
    start, end = text.index("[smtp]"), text.index("[database]")
    cfg.write_text(text[:start] + text[end:], encoding="utf-8")
    result = CliRunner().invoke(main, ["--config", str(cfg), "remind", "--as-of", "2023-05-22"])
    assert result.exit_code == 2
    assert "[smtp] is not configured" in result.output
    assert "Traceback" not in result.output


def _without_smtp_or_recipients(tmp_path: Path) -> Path:
    cfg = write_config(tmp_path, smtp_port=25)
    text = cfg.read_text(encoding="utf-8")
    start, end = text.index("[smtp]"), text.index("[database]")
    text = text[:start] + text[end:]
    text = text.replace('staff = ["clerk@xtx.gov.cn"]', "staff = []")
    start = text.index("[digest]")
    cfg.write_text(text[:start], encoding="utf-8")
    return cfg


def test_digest_dry_run_needs_no_smtp_and_no_recipients(tmp_path: Path) -> None:
    cfg = _without_smtp_or_recipients(tmp_path)
    html = tmp_path / "preview.html"
    result = CliRunner().invoke(
        main,
        ["--config", str(cfg), "digest", "--as-of", "2023-05-22", "--dry-run", "--out", str(html)],
    )
    assert result.exit_code == 0, result.output
    assert "to: (nobody" in result.output and "dry run: nothing sent" in result.output
    page = html.read_text(encoding="utf-8")
    assert "报送周报" in page and "河口镇" in page
    # with an address to preview for, but still no [smtp] from
    result = CliRunner().invoke(
        main,
        [
            "--config",
            str(cfg),
            "digest",
            "--as-of",
            "2023-05-22",
            "--dry-run",
            "--to",
            "me@xtx.gov.cn",
        ],
    )
    assert result.exit_code == 0, result.output


def test_every_mail_command_without_smtp_fails_in_one_line(tmp_path: Path) -> None:
    cfg = _without_smtp_or_recipients(tmp_path)
    for args in (
        ["remind", "--as-of", "2023-05-22"],
        ["digest", "--as-of", "2023-05-22"],
        ["digest", "--as-of", "2023-05-22", "--to", "me@xtx.gov.cn"],
        ["outbox", "--deliver"],
    ):
        result = CliRunner().invoke(main, ["--config", str(cfg), *args])
        assert result.exit_code == 2, (args, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit), args
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("report-intake: error:"), (args, lines)
        assert "[smtp]" in lines[0] or "recipients" in lines[0], (args, lines)
    # the commands that only preview or take mail in work without it
    for args in (["remind", "--as-of", "2023-05-22", "--dry-run"], ["poll", "--once"]):
        result = CliRunner().invoke(main, ["--config", str(cfg), *args])
        assert result.exit_code == 0, (args, result.output)


def test_building_mail_without_a_sender_is_one_clear_error(tmp_path: Path) -> None:
    import pytest

    from tracker.config import load_config
    from tracker.outgoing.emails import MailConfigError, Rendered, build_message

    config = load_config(_without_smtp_or_recipients(tmp_path))
    with pytest.raises(MailConfigError, match=r"^\[smtp\] from: missing"):
        build_message(config, to=["a@example.com"], rendered=Rendered("s", "t", "<p>t</p>"))


def test_the_digest_names_the_liaison_of_each_overdue_unit(tmp_path: Path) -> None:
    from sqlalchemy import select

    from tracker.models import Liaison, Unit

    env = make_env(tmp_path, 2525)
    mid = record_report(
        env, units=["县发改局"], period="2023-04", received_at=at(2023, 4, 3),
        from_addr="fgj.xtx@example.com", subject="县发改局联络员信息表", kind="liaison",
        decision="ignored",
    )  # fmt: skip
    with env.db.session() as s:
        unit = s.scalars(select(Unit).where(Unit.name == "县发改局")).one()
        fields = {"姓名": "王小明", "手机": "13800001234", "办公电话": "0731-5700000"}
        s.add(Liaison(unit_id=unit.id, message_id=mid, fields=fields, created_at=at(2023, 4, 3)))
    env.db.dispose()
    html = tmp_path / "digest.html"
    code, out = run(
        env.config.path, "digest", "--as-of", "2023-05-22", "--dry-run", "--out", str(html)
    )
    assert code == 0, out
    page = html.read_text(encoding="utf-8")
    row = page[page.index("往月逾期未报送") :]
    row = row[row.index("县发改局") : row.index("</tr>", row.index("县发改局"))]
    assert "联络员 王小明 13800001234" in row


def test_poll_says_how_many_receipts_wait_when_smtp_is_down(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    from tracker.samples import write_maildir

    cfg = write_config(
        tmp_path, smtp_port=smtp_server.port, extra="[receipts]\nmax_age_days = 3650\n"
    )
    write_maildir(tmp_path / "Maildir")
    smtp_server.fail_next(100)
    code, out = run(cfg, "poll", "--once")
    assert code == 0, out
    code, rows = run(cfg, "outbox", "--json")
    queued = [json.loads(line) for line in rows.splitlines()]
    pending = [r for r in queued if r["state"] == "pending"]
    assert len(pending) >= 3, queued  # several receipts were queued ...
    line = next(x for x in out.splitlines() if x.startswith("receipts: "))
    # ... and the line says so, with the server's answer, not "1 waiting to retry"
    assert f"{len(pending)} waiting" in line and "451" in line, line
    assert "0 sent" in line
