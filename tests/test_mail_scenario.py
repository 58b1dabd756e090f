"""The May 2023 scenario end to end, through a real SMTP server and a real SQLite file."""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path

from tests.mail_helpers import DIGEST_TO, at, jpeg_bytes, make_env, record_report
from tests.smtp_server import SmtpServer, smtp_factory_fixture, smtp_server_fixture  # noqa: F401
from tracker.clock import SHANGHAI, FixedClock
from tracker.outgoing.digest import send_digest
from tracker.outgoing.mailer import SmtpMailer
from tracker.outgoing.reminders import send_reminders

MAY_UNITS = {
    "河口镇": "hkz.xtx@example.com",
    "排头乡": "ptx.xtx@example.com",
    "县消防救援大队": "xfjydd.xtx@example.com",
}


def test_may_2023_reminders_and_digest(tmp_path: Path, smtp_server: SmtpServer) -> None:
    env = make_env(tmp_path, smtp_server.port)
    record_report(
        env,
        units=["县林业局"],
        period="2023-05",
        received_at=at(2023, 5, 15, 9, 30),
        from_addr="lyj.xtx@example.com",
        from_name="县林业局办公室",
        subject="县林业局5月政务公开主题日活动情况",
        images=[jpeg_bytes((200, 40, 40)), jpeg_bytes((40, 160, 60))],
    )
    clock = FixedClock(datetime.combine(date(2023, 5, 22), time(9, 0), tzinfo=SHANGHAI))
    mailer = SmtpMailer(env.config.smtp)

    report = send_reminders(env.db, env.roster, env.config, clock, mailer=mailer)
    assert report.delivery is not None and report.delivery.undelivered == 0
    got = smtp_server.received
    assert len(got) == 3
    by_unit = {}
    for r in got:
        msg = r.message
        assert r.mail_from == "xtxgov@126.com"
        to = [a.addr_spec for a in msg["To"].addresses]
        assert msg["Cc"] is None  # staff are copied on overdue notices only
        assert set(r.rcpt_tos) == set(to)
        body = msg.get_body(("plain",)).get_content()
        unit = next(u for u in MAY_UNITS if u in str(msg["Subject"]))
        by_unit[unit] = to
        assert "2023年5月25日" in body
        assert msg["Auto-Submitted"] == "auto-generated"
        assert msg["From"].addresses[0].display_name == "湘潭县政务公开办"
    assert by_unit == {u: [a] for u, a in MAY_UNITS.items()}
    assert not any("lyj.xtx@example.com" in r.rcpt_tos for r in got)

    again = send_reminders(env.db, env.roster, env.config, clock, mailer=mailer)
    assert again.queued == [] and again.planned == []
    assert len(smtp_server.received) == 3

    smtp_server.clear()
    dig = send_digest(env.db, env.config, env.roster, clock, mailer=mailer)
    assert dig.queued and dig.reports == 1 and dig.images == 1
    [r] = smtp_server.received
    assert set(r.rcpt_tos) == set(DIGEST_TO)
    msg = r.message
    html_part = msg.get_body(("html",))
    html = html_part.get_content()
    images = [p for p in msg.walk() if p.get_content_type() == "image/jpeg"]
    assert len(images) == 1
    cid = images[0]["Content-ID"].strip("<>")
    assert f'src="cid:{cid}"' in html
    assert "县林业局" in html and "河口镇" in html
    assert msg.get_body(("plain",)).get_content().count("县林业局") >= 1
    assert msg.get_content_type() == "multipart/alternative"

    # once a week: a second run the same week queues nothing new
    smtp_server.clear()
    dig2 = send_digest(env.db, env.config, env.roster, clock, mailer=mailer)
    assert dig2.already_sent and not dig2.queued
    assert smtp_server.received == []
