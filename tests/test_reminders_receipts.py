"""Reminder stages on Chinese working days, catch-up, once-only; receipts and their guards;
templates overridden from a folder; header injection."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path

from sqlalchemy import select

from tests.mail_helpers import at, make_env, record_report
from tests.smtp_server import SmtpServer, smtp_factory_fixture, smtp_server_fixture  # noqa: F401
from tracker.clock import SHANGHAI, FixedClock
from tracker.config import RemindersConfig
from tracker.models import Message, Outbox, Slot, Unit, UnitAddress
from tracker.outgoing.emails import Rendered, build_message, reminder_message
from tracker.outgoing.mailer import SmtpMailer
from tracker.outgoing.outbox import deliver_pending
from tracker.outgoing.receipts import queue_receipt
from tracker.outgoing.reminders import (
    current_stage,
    plan_reminders,
    send_reminders,
    stage_day,
    stages,
)


def clock_on(day: date, hh: int = 9) -> FixedClock:
    return FixedClock(datetime.combine(day, time(hh, 0), tzinfo=SHANGHAI))


# --- stage days --------------------------------------------------------------------------


def test_stage_days_follow_the_official_calendar() -> None:
    st = {s.name: s for s in stages(RemindersConfig())}
    # May 2023: 1-3 May are Labour Day holidays: month_start moves forward to the 4th
    assert stage_day(st["month_start"], "2023-05", date(2023, 5, 25), True) == date(2023, 5, 4)
    # June 2023: due Sunday 25th (a swapped working day); before:2 = 23rd is the Dragon
    # Boat holiday (22-24) -> back to Wed 21st; before:7 = Sun 18th -> back to Fri 16th
    due = date(2023, 6, 25)
    assert stage_day(st["before:2"], "2023-06", due, True) == date(2023, 6, 21)
    assert stage_day(st["before:7"], "2023-06", due, True) == date(2023, 6, 16)
    assert stage_day(st["overdue:1"], "2023-06", due, True) == date(2023, 6, 26)
    # October 2023: 1 Oct is National Day; the next working day is Saturday 7th (swapped)
    assert stage_day(st["month_start"], "2023-10", date(2023, 10, 25), True) == date(2023, 10, 7)
    # with working_days_only off, the nominal days
    assert stage_day(st["before:2"], "2023-06", due, False) == date(2023, 6, 23)


def test_catch_up_sends_only_the_latest_useful_stage() -> None:
    st = stages(RemindersConfig())
    due = date(2023, 5, 25)
    pick = lambda d: c[0].name if (c := current_stage(st, "2023-05", due, d, True)) else None  # noqa: E731
    assert pick(date(2023, 4, 28)) is None
    assert pick(date(2023, 5, 4)) == "month_start"
    assert pick(date(2023, 5, 17)) == "month_start"
    assert pick(date(2023, 5, 18)) == "before:7"
    assert pick(date(2023, 5, 24)) == "before:2"  # before:7 missed: only before:2
    assert pick(date(2023, 5, 26)) == "overdue:1"
    assert pick(date(2023, 6, 1)) == "overdue:7"
    assert pick(date(2023, 7, 1)) is None  # long past: no stale mail
    only_before = stages(RemindersConfig(month_start=False, overdue_after=()))
    assert current_stage(only_before, "2023-05", due, date(2023, 5, 26), True) is None


# --- sending -----------------------------------------------------------------------------


def test_reminders_once_per_stage_across_restarts(tmp_path: Path, smtp_server: SmtpServer) -> None:
    env = make_env(tmp_path, smtp_server.port)
    mailer = SmtpMailer(env.config.smtp)
    r1 = send_reminders(env.db, env.roster, env.config, clock_on(date(2023, 5, 4)), mailer=mailer)
    may_units = {"河口镇", "排头乡", "县林业局", "县消防救援大队"}
    may = [p for p in r1.queued if p.period == "2023-05"]
    assert {p.unit for p in may} == may_units
    assert {p.stage for p in may} == {"month_start"}
    # April's units are overdue: 2 May (overdue:7) was a holiday, so it is the 4th
    april = [p for p in r1.queued if p.period == "2023-04"]
    assert april and {p.stage for p in april} == {"overdue:7"}
    assert all(p.cc for p in april) and not any(p.cc for p in may)  # staff see overdue only
    assert len(smtp_server.received) == len(r1.queued)
    subjects = [str(m["Subject"]) for m in smtp_server.messages()]
    assert sum("2023年5月" in s and "【提醒】" in s for s in subjects) == 4
    # restart on a new handle, same day: nothing more
    env = env.reopen()
    r2 = send_reminders(
        env.db, env.roster, env.config, clock_on(date(2023, 5, 4), 15), mailer=mailer
    )
    assert r2.queued == [] and len(smtp_server.received) == len(r1.queued)
    # a report from 县林业局, then down until the 24th: before:2 only, not to 县林业局
    record_report(
        env, units=["县林业局"], period="2023-05", received_at=at(2023, 5, 10),
        from_addr="lyj.xtx@example.com", subject="县林业局五月份活动",
    )  # fmt: skip
    smtp_server.clear()
    r3 = send_reminders(env.db, env.roster, env.config, clock_on(date(2023, 5, 24)), mailer=mailer)
    assert {(p.unit, p.stage) for p in r3.queued if p.period == "2023-05"} == {
        ("河口镇", "before:2"), ("排头乡", "before:2"), ("县消防救援大队", "before:2"),
    }  # fmt: skip
    bodies = [m.get_body(("plain",)).get_content() for m in smtp_server.messages()]
    assert sum("明日截止" in b for b in bodies) == 3  # due on the 25th, sent the 24th
    with env.db.session() as s:
        keys = set(s.scalars(select(Outbox.key)))
    assert not any(k.endswith(":before:7") for k in keys)


def test_quiet_states_holidays_and_no_address(tmp_path: Path, smtp_server: SmtpServer) -> None:
    env = make_env(tmp_path, smtp_server.port)
    with env.db.session() as s:
        excused = s.scalars(select(Slot).join(Unit).where(Unit.name == "排头乡")).one()
        excused.excused = True
        hk = s.scalars(select(Unit).where(Unit.name == "河口镇")).one()
        for a in s.scalars(select(UnitAddress).where(UnitAddress.unit_id == hk.id)):
            s.delete(a)
    record_report(
        env, units=["县消防救援大队"], period="2023-05", received_at=at(2023, 5, 30),
        from_addr="xfjydd.xtx@example.com", subject="消防救援大队5月活动（补报）",
    )  # fmt: skip
    mailer = SmtpMailer(env.config.smtp)
    # a Sunday: nothing at all
    sunday = send_reminders(
        env.db, env.roster, env.config, clock_on(date(2023, 5, 28)), mailer=mailer
    )
    assert sunday.holiday and sunday.queued == []
    # overdue:7 falls on Thu 1 June; 县消防救援大队 is late (received), 排头乡 excused
    rep = send_reminders(env.db, env.roster, env.config, clock_on(date(2023, 6, 1)), mailer=mailer)
    may = [p for p in rep.queued if p.period == "2023-05"]
    assert {(p.unit, p.stage) for p in may} == {("县林业局", "overdue:7")}
    assert [p.unit for p in rep.no_address] == ["河口镇"]
    got = [m for m in smtp_server.messages() if "2023年5月" in str(m["Subject"])]
    assert len(got) == 1 and "逾期" in str(got[0]["Subject"])
    # once an address is known, the unit is reminded (the stage was not spent)
    with env.db.session() as s:
        hk = s.scalars(select(Unit).where(Unit.name == "河口镇")).one()
        s.add(
            UnitAddress(
                unit_id=hk.id,
                address="hk.liaison@163.com",
                source="liaison",
                created_at=at(2023, 6, 1),
            )
        )
    rep2 = send_reminders(
        env.db, env.roster, env.config, clock_on(date(2023, 6, 1), 15), mailer=mailer
    )
    assert [(p.unit, p.to) for p in rep2.queued] == [("河口镇", ("hk.liaison@163.com",))]
    assert rep2.queued[0].stage == "overdue:7"


def test_dry_run_writes_nothing(tmp_path: Path, smtp_server: SmtpServer) -> None:
    env = make_env(tmp_path, smtp_server.port)
    rep = send_reminders(env.db, env.roster, env.config, clock_on(date(2023, 5, 22)), dry_run=True)
    assert len(rep.queued) == 4 and rep.delivery is None
    with env.db.session() as s:
        assert s.query(Outbox).count() == 0
        assert len(plan_reminders(s, env.roster, env.config, date(2023, 5, 22))) == 4
    assert smtp_server.received == []


# --- receipts ----------------------------------------------------------------------------


def _receipt_for(env, msg_id: int, clock: FixedClock) -> bool:  # type: ignore[no-untyped-def]
    with env.db.session() as s:
        msg = s.get(Message, msg_id)
        return queue_receipt(s, msg, env.config, clock)


def test_receipt_is_a_threaded_auto_reply(tmp_path: Path, smtp_server: SmtpServer) -> None:
    env = make_env(tmp_path, smtp_server.port)
    mid = record_report(
        env, units=["河口镇"], period="2023-05", received_at=at(2023, 5, 20, 16),
        from_addr="HKZ.xtx@example.com", subject="河口镇5月政务公开主题日活动",
        message_id="<abc123@163.com>", headers={"references": "<first@163.com>"},
        images=[b"\xff\xd8fake"],
        links=[{"filename": "活动视频.mp4", "url": "https://mail.163.com/large-attachment-download/index.html?p=X&file=1",
                "provider": "netease", "expires_at": at(2023, 6, 3)}],
    )  # fmt: skip
    clock = clock_on(date(2023, 5, 20), 16)
    assert _receipt_for(env, mid, clock) is True
    assert _receipt_for(env, mid, clock) is False  # key receipt:<id>: once
    deliver_pending(env.db, SmtpMailer(env.config.smtp), clock)
    [r] = smtp_server.received
    msg = r.message
    assert r.rcpt_tos == ("hkz.xtx@example.com",)
    # the unit, month and 登记编号; never the incoming subject (it could carry anything)
    assert str(msg["Subject"]) == "已收到：河口镇2023年5月活动情况报送（登记编号 BS2023-0001）"
    texts = [msg.get_body((k,)).get_content() for k in ("plain", "html")]
    assert not any("5月政务公开主题日活动" in t for t in texts)
    assert msg["In-Reply-To"] == "<abc123@163.com>"
    assert str(msg["References"]).split() == ["<first@163.com>", "<abc123@163.com>"]
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["X-Auto-Response-Suppress"] == "All"
    body = msg.get_body(("plain",)).get_content()
    for text in ("河口镇", "2023年5月", "按时报送", "活动照片1.jpg", "活动视频.mp4", "2023-06-03"):
        assert text in body, text
    assert "登记编号：BS2023-0001" in body and "可直接回复本邮件补报或更正" in body
    # nothing downloads the cloud link: the receipt promises nothing it does not do
    assert "已登记链接，请在有效期前确认可下载" in body and "我们会在到期前下载" not in body
    assert "请勿" not in body and "请勿" not in msg.get_body(("html",)).get_content()


def test_receipt_guards(tmp_path: Path, smtp_server: SmtpServer) -> None:
    env = make_env(tmp_path, smtp_server.port)
    clock = clock_on(date(2023, 5, 20), 16)

    def rec(**kw: object) -> int:
        base: dict[str, object] = dict(
            units=["河口镇"], period="2023-05", received_at=at(2023, 5, 20, 15),
            from_addr="hkz.xtx@example.com", subject="河口镇5月活动",
        )  # fmt: skip
        base.update(kw)
        return record_report(env, **base)  # type: ignore[arg-type]

    assert not _receipt_for(env, rec(headers={"auto-submitted": "auto-replied"}), clock)
    assert not _receipt_for(env, rec(headers={"precedence": "bulk"}), clock)
    assert not _receipt_for(env, rec(headers={"list-id": "<news.example.com>"}), clock)
    assert not _receipt_for(env, rec(headers={"return-path": ""}), clock)
    assert not _receipt_for(env, rec(subject="自动回复：河口镇5月活动"), clock)
    assert not _receipt_for(env, rec(from_addr="xtxgov@126.com"), clock)
    assert not _receipt_for(env, rec(from_addr="mailer-daemon@126.com"), clock)
    assert not _receipt_for(env, rec(decision="review"), clock)
    # at most 3 a day per sender
    assert [_receipt_for(env, rec(), clock) for _ in range(4)] == [True, True, True, False]
    clock.advance(timedelta(days=1))
    assert _receipt_for(env, rec(), clock)


def test_late_report_receipt_says_late(tmp_path: Path, smtp_server: SmtpServer) -> None:
    env = make_env(tmp_path, smtp_server.port)
    mid = record_report(
        env, units=["排头乡"], period="2023-05", received_at=at(2023, 5, 27),
        from_addr="ptx.xtx@example.com", subject="",
    )  # fmt: skip
    clock = clock_on(date(2023, 5, 27))
    assert _receipt_for(env, mid, clock)
    deliver_pending(env.db, SmtpMailer(env.config.smtp), clock)
    msg = smtp_server.messages()[0]
    assert str(msg["Subject"]) == "已收到：排头乡2023年5月活动情况报送（登记编号 BS2023-0001）"
    assert "逾期报送" in msg.get_body(("plain",)).get_content()


# --- templates and headers ---------------------------------------------------------------


def test_templates_overridden_from_a_folder(tmp_path: Path, smtp_server: SmtpServer) -> None:
    tdir = tmp_path / "my-templates"
    tdir.mkdir()
    (tdir / "reminder_before.subject.txt").write_text(
        "请{{ unit }}尽快报送（自定义）\n", encoding="utf-8"
    )
    env = make_env(tmp_path, smtp_server.port, extra=f'\n[templates]\ndir = "{tdir}"\n')
    assert env.config.templates_dir == tdir
    send_reminders(
        env.db,
        env.roster,
        env.config,
        clock_on(date(2023, 5, 22)),
        mailer=SmtpMailer(env.config.smtp),
    )
    subjects = sorted(str(m["Subject"]) for m in smtp_server.messages())
    assert "请河口镇尽快报送（自定义）" in subjects
    # the body still comes from the packaged template
    assert all("截止日期" in m.get_body(("plain",)).get_content() for m in smtp_server.messages())


def test_no_header_injection(tmp_path: Path, smtp_server: SmtpServer) -> None:
    env = make_env(tmp_path, smtp_server.port)
    evil = "河口镇\r\nBcc: evil@attacker.example\r\nX-Evil: 1"
    msg = reminder_message(
        env.config,
        stage_kind="before",
        to=["hkz.xtx@example.com"],
        cc=[],
        ctx={
            "unit": evil, "period": "2023-05", "due": date(2023, 5, 25), "days_left": 3,
            "days_overdue": 0, "campaign_name": "x", "office": "", "mailbox": "xtxgov@126.com",
            "contact": "", "sender_name": "s", "sender": "xtxgov@126.com", "campaign": None,
        },
    )  # fmt: skip
    head = msg.as_bytes().split(b"\n\n", 1)[0]
    assert b"\nBcc:" not in head and b"\nX-Evil" not in head and head.count(b"\nSubject:") == 1
    built = build_message(
        env.config,
        to=["a@example.com"],
        rendered=Rendered("主题\r\nBcc: evil@attacker.example", "t", "<p>t</p>"),
        headers={"In-Reply-To": "<x@y>\r\nBcc: evil@attacker.example"},
    )
    with env.db.session() as s:
        from tracker.outgoing.outbox import enqueue

        enqueue(
            s, key="t", kind="test", recipients=["a@example.com"], message=built, now=at(2023, 5, 1)
        )
    deliver_pending(env.db, SmtpMailer(env.config.smtp), clock_on(date(2023, 5, 1), 12))
    [r] = smtp_server.received
    assert r.rcpt_tos == ("a@example.com",)
    assert r.message["Bcc"] is None
    assert "\n" not in str(r.message["Subject"]) and "Bcc" in str(r.message["Subject"])


def test_from_name_is_encoded(tmp_path: Path, smtp_server: SmtpServer) -> None:
    env = make_env(tmp_path, smtp_server.port)
    msg = build_message(
        env.config, to=["a@example.com"], rendered=Rendered("中文主题", "正文", "<p>正文</p>")
    )
    raw = msg.as_bytes()
    raw.decode("ascii")  # 7-bit clean on the wire
    assert b"=?utf-8?" in raw
    assert msg["From"].addresses[0].display_name == "湘潭县政务公开办"


def test_alert_mails_render(tmp_path: Path, smtp_server: SmtpServer) -> None:
    from tracker.outgoing.emails import alert_message

    env = make_env(tmp_path, smtp_server.port)
    ctx = {
        "source": "imap://xtxgov@126.com/INBOX", "since": "2023-05-20 08:00", "failures": 3,
        "last_error": "LOGIN failed", "sender_name": "报送系统", "recovered_at": "2023-05-20 10:00",
    }  # fmt: skip
    down = alert_message(env.config, to=["clerk@xtx.gov.cn"], recovered=False, ctx=ctx)
    up = alert_message(env.config, to=["clerk@xtx.gov.cn"], recovered=True, ctx=ctx)
    assert "收件失败" in str(down["Subject"]) and "3次" in str(down["Subject"])
    assert "LOGIN failed" in down.get_body(("plain",)).get_content()
    assert "LOGIN failed" in down.get_body(("html",)).get_content()
    assert "恢复" in str(up["Subject"])
    assert "2023-05-20 10:00" in up.get_body(("plain",)).get_content()


def test_due_day_says_today_and_the_day_before_tomorrow(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    env = make_env(tmp_path, smtp_server.port, extra="[reminders]\ndays_before = [7, 1, 0]\n")
    mailer = SmtpMailer(env.config.smtp)
    send_reminders(env.db, env.roster, env.config, clock_on(date(2023, 5, 24)), mailer=mailer)
    may = [m for m in smtp_server.messages() if "2023年5月" in str(m["Subject"])]
    assert len(may) == 4
    for m in may:
        assert "明日截止" in str(m["Subject"]), m["Subject"]
        for part in ("plain", "html"):
            body = m.get_body((part,)).get_content()
            assert "明日截止" in body and "还有" not in body
            assert "可直接回复本邮件补报或更正" in body and "请勿" not in body
    smtp_server.clear()
    send_reminders(env.db, env.roster, env.config, clock_on(date(2023, 5, 25)), mailer=mailer)
    may = [m for m in smtp_server.messages() if "2023年5月" in str(m["Subject"])]
    assert len(may) == 4
    for m in may:
        assert "今日截止" in str(m["Subject"]) and "0天" not in str(m["Subject"])
        body = m.get_body(("plain",)).get_content()
        assert "今日截止" in body and "还有0天" not in body


def test_a_late_start_on_the_due_day_says_today(tmp_path: Path, smtp_server: SmtpServer) -> None:
    """Down from the 23rd: on the 25th the catch-up sends before:2, worded for the day."""
    env = make_env(tmp_path, smtp_server.port)
    mailer = SmtpMailer(env.config.smtp)
    rep = send_reminders(env.db, env.roster, env.config, clock_on(date(2023, 5, 25)), mailer=mailer)
    assert {p.stage for p in rep.queued if p.period == "2023-05"} == {"before:2"}
    for m in smtp_server.messages():
        if "2023年5月" in str(m["Subject"]):
            assert "今日截止" in m.get_body(("plain",)).get_content()


def test_reminders_name_the_campaigns_own_activity(tmp_path: Path, smtp_server: SmtpServer) -> None:
    from tests.mail_helpers import EXAMPLE_ROSTER
    from tracker.outgoing.emails import activity_of

    assert activity_of("2024年政务公开主题日") == "政务公开主题日"
    assert activity_of("政务信息报送") == "政务信息报送"
    assert activity_of("2024年") == "2024年"
    roster = tmp_path / "roster.toml"
    text = EXAMPLE_ROSTER.read_text(encoding="utf-8")
    roster.write_text(text.replace('name = "2023年政务公开主题日"', 'name = "2023年政务信息报送"'))
    env = make_env(tmp_path, smtp_server.port, roster=roster)
    mailer = SmtpMailer(env.config.smtp)
    for day in (date(2023, 5, 4), date(2023, 5, 24), date(2023, 5, 29)):
        send_reminders(env.db, env.roster, env.config, clock_on(day), mailer=mailer)
    sent = smtp_server.messages()
    subjects = {str(m["Subject"])[:4] for m in sent}
    assert {"【提醒】", "【催报】"} <= subjects, subjects
    for m in sent:
        for part in ("plain", "html"):
            body = m.get_body((part,)).get_content()
            assert "政务信息报送" in body and "主题日" not in body, body[:200]
