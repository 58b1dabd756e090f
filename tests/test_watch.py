"""The service watches itself: one alert mail to staff after N failed polls, one when it
recovers, none again after a restart; a quiet campaign month is announced once."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.dovecot import DovecotMailbox
from tests.mail_helpers import STAFF, make_env, record_report
from tests.service_helpers import report_mail, service_config
from tests.smtp_server import SmtpServer, smtp_factory_fixture, smtp_server_fixture  # noqa: F401
from tracker.app import App
from tracker.clock import SHANGHAI, Clock, FixedClock
from tracker.jobs import JobFailed, Jobs
from tracker.models import Outbox, ServiceState
from tracker.outgoing.mailer import SmtpMailer
from tracker.outgoing.outbox import deliver_pending
from tracker.watch import POLL_STATE, Watch


def clock_at(y: int, m: int, d: int, hh: int = 10) -> FixedClock:
    return FixedClock(datetime(y, m, d, hh, 0, tzinfo=SHANGHAI))


def deliver(env: object, smtp: SmtpServer, clock: FixedClock) -> None:
    deliver_pending(env.db, SmtpMailer(env.config.smtp), clock)  # type: ignore[attr-defined]


def alerts(env: object) -> list[Outbox]:
    with env.db.session() as s:  # type: ignore[attr-defined]
        return list(s.scalars(select(Outbox).where(Outbox.kind == "alert").order_by(Outbox.id)))


def test_alert_after_n_failures_once_and_recovery_once(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    env = make_env(tmp_path, smtp_server.port, extra="[watch]\nfailures_before_alert = 3\n")
    clock = clock_at(2023, 5, 20, 8)
    watch = Watch(env.db, env.config, env.roster, clock)
    error = "imap login failed for xtxgov@126.com@imap.126.com:993: NO [AUTHENTICATIONFAILED]"
    assert watch.poll_failed(error) is False
    clock.advance(timedelta(minutes=5))
    assert watch.poll_failed(error) is False
    clock.advance(timedelta(minutes=10))
    assert watch.poll_failed(error) is True  # the third in a row
    assert watch.health().failures == 3
    deliver(env, smtp_server, clock)
    [down] = smtp_server.messages()
    assert "收件失败" in str(down["Subject"]) and "3次" in str(down["Subject"])
    assert down["To"] == STAFF[0]
    body = down.get_body(("plain",)).get_content()
    assert "AUTHENTICATIONFAILED" in body and "2023-05-20 08:00" in body

    # more failures, and a restart (new database handle): no second alert
    env = env.reopen()
    watch = Watch(env.db, env.config, env.roster, clock)
    for _ in range(5):
        assert watch.poll_failed(error) is False
    assert len(alerts(env)) == 1

    clock.advance(timedelta(hours=2))
    assert watch.poll_succeeded(recorded=4) is True
    assert watch.poll_succeeded(recorded=0) is False  # only once
    deliver(env, smtp_server, clock)
    up = smtp_server.messages()[-1]
    assert "恢复" in str(up["Subject"])
    text = up.get_body(("plain",)).get_content()
    assert "2023-05-20 10:15" in text and "共4封" in text
    assert len(smtp_server.received) == 2
    assert watch.health().failures == 0

    # a new streak alerts again (a new outage is new news)
    for _ in range(3):
        watch.poll_failed("imap connection failed: Connection refused")
    assert len(alerts(env)) == 3


def test_a_short_hiccup_sends_nothing_and_secrets_stay_out(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    env = make_env(
        tmp_path,
        smtp_server.port,
        extra="[watch]\nfailures_before_alert = 2\n",
        smtp_extra='username = "xtxgov@126.com"\npassword = "AUTHCODE-9876"',
    )
    watch = Watch(env.db, env.config, env.roster, clock_at(2023, 5, 20))
    assert watch.poll_failed("timeout") is False
    assert watch.poll_succeeded() is False
    assert watch.poll_failed("login refused with AUTHCODE-9876") is False  # count restarted
    assert watch.poll_failed("login refused with AUTHCODE-9876") is True
    with env.db.session() as s:
        state = s.get(ServiceState, POLL_STATE)
        assert state is not None and "AUTHCODE-9876" not in str(state.value)
        [row] = alerts(env)
        assert b"AUTHCODE-9876" not in row.mime


def test_quiet_campaign_month_alerts_once_and_announces_mail_again(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    env = make_env(tmp_path, smtp_server.port, extra="[watch]\nquiet_days = 7\n")
    clock = clock_at(2023, 5, 5)
    watch = Watch(env.db, env.config, env.roster, clock)
    record_report(
        env,
        units=["县林业局"],
        period="2023-05",
        received_at=clock.now(),
        from_addr="lyj.xtx@example.com",
        subject="县林业局5月主题日",
    )
    # recorded_at of the helper's row is its received_at: 5 May; quiet from then on
    clock.advance(timedelta(days=6))
    assert watch.check_quiet() is False
    clock.advance(timedelta(days=1))
    assert watch.check_quiet() is True
    assert watch.check_quiet() is False  # once
    clock.advance(timedelta(days=3))
    assert watch.check_quiet() is False
    deliver(env, smtp_server, clock)
    [quiet] = smtp_server.messages()
    assert "连续7天未收到邮件" in str(quiet["Subject"])
    assert "2023年5月" in quiet.get_body(("plain",)).get_content()

    record_report(
        env,
        units=["排头乡"],
        period="2023-05",
        received_at=clock.now() + timedelta(minutes=1),
        from_addr="ptx.xtx@example.com",
        subject="排头乡5月主题日",
    )
    clock.advance(timedelta(hours=1))
    assert watch.check_quiet() is True
    deliver(env, smtp_server, clock)
    assert "重新收到邮件" in str(smtp_server.messages()[-1]["Subject"])


def test_no_quiet_alert_outside_campaign_months(tmp_path: Path, smtp_server: SmtpServer) -> None:
    env = make_env(tmp_path, smtp_server.port)
    periods = env.roster.periods()
    assert "2023-01" not in periods
    watch = Watch(env.db, env.config, env.roster, clock_at(2023, 1, 28))
    assert watch.check_quiet() is False
    first = datetime.combine(datetime(2023, 5, 1).date(), time(9), tzinfo=SHANGHAI)
    watch = Watch(env.db, env.config, env.roster, FixedClock(first + timedelta(days=10)))
    assert watch.check_quiet() is True  # nothing at all since 1 May


def test_poll_job_ticks_on_real_dovecot_alert_and_recover(
    tmp_path: Path, dovecot: DovecotMailbox, smtp_server: SmtpServer
) -> None:
    """The daemon's poll job, one tick at a time: a wrong authorisation code fails three
    polls (one alert mail), the right one recovers (one recovery mail, mail caught up)."""
    dovecot.append(report_mail("县林业局5月政务公开主题日活动"))
    config = service_config(
        tmp_path,
        dovecot,
        smtp_server.port,
        password="wrong-code",
        watch="failures_before_alert = 3",
        receipts="max_age_days = 3650",  # the sample mail is from May 2023: still answered
    )
    app = App.from_path(config)
    jobs = Jobs(app, Clock(app.config.timezone))
    for _ in range(3):
        with pytest.raises(JobFailed, match="login"):
            jobs.poll()
    assert jobs.outbox() is True
    assert str(smtp_server.messages()[0]["Subject"]).startswith("【系统告警】")
    app.close()

    (tmp_path / "imap-password").write_text(dovecot.password)
    app = App.from_path(config)
    jobs = Jobs(app, Clock(app.config.timezone))
    assert jobs.poll() is True  # recorded the waiting mail
    assert jobs.poll() is False  # nothing new
    assert jobs.outbox() is True  # the recovery mail and the receipt
    subjects = [str(m["Subject"]) for m in smtp_server.messages()]
    assert sum(s.startswith("已收到") for s in subjects) == 1
    assert sum(s.startswith("【系统告警】") for s in subjects) == 1
    assert sum(s.startswith("【系统恢复】") for s in subjects) == 1
    assert jobs.status.last_poll is not None and jobs.status.line().startswith("last poll ")
    app.close()
