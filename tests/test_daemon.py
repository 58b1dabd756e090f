"""`report-intake run` as a real process against real Dovecot and aiosmtpd: records mail,
takes it in within seconds over IDLE, recovers from a cut connection, talks to systemd,
stops on SIGTERM with status 0; the unit file's hardening score; logging masks secrets."""

from __future__ import annotations

import contextlib
import io
import logging
import shutil
import sqlite3
import subprocess
import time
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest

from intake.idle import IdleWatcher
from intake.mailbox import ImapSettings
from tests.dovecot import DovecotMailbox
from tests.netease_imap import NeteaseImapServer
from tests.service_helpers import (
    NotifyListener,
    Service,
    cli_command,
    messages_json,
    report_mail,
    service_config,
    wait_for,
)
from tests.smtp_server import (  # noqa: F401
    SmtpServer,
    free_port,
    smtp_factory_fixture,
    smtp_server_fixture,
)
from tracker.app import App
from tracker.daemon import Daemon
from tracker.jobs import backoff_delay
from tracker.logs import JournalFormatter, SecretFilter, setup_service_logging
from tracker.outgoing.outbox import enqueue
from tracker.sdnotify import Notifier

ROOT = Path(__file__).resolve().parent.parent
UNIT = ROOT / "deploy" / "systemd" / "report-intake.service"
# when the test mails arrive (INTERNALDATE): arrival decides their month, not Date:
SENT = datetime(2023, 5, 16, 2, 0, tzinfo=UTC)


def subjects(config: Path) -> list[str]:
    return [m["subject"] for m in messages_json(config)]


def test_run_records_mail_over_idle_recovers_and_stops_on_sigterm(
    tmp_path: Path, dovecot: DovecotMailbox, smtp_server: SmtpServer
) -> None:
    dovecot.append(report_mail("县林业局5月政务公开主题日活动", seed=1), date=SENT)
    # a long poll interval: mail appended later can only come in quickly through IDLE
    config = service_config(
        tmp_path,
        dovecot,
        smtp_server.port,
        schedule="poll_interval = 3600\noutbox_interval = 5",
        receipts="max_age_days = 3650",  # the sample mail is from May 2023: still answered
    )
    notify = NotifyListener()
    svc = Service(config, tmp_path, env={"NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "4000000"})
    try:
        wait_for(lambda: notify.seen("READY", "1"), 20, "READY=1")
        # the mail that was waiting is taken in by the first poll
        wait_for(lambda: "县林业局5月政务公开主题日活动" in subjects(config), 20, "first mail")
        wait_for(lambda: "IDLE connection" in svc.log() or "IMAP IDLE" in svc.log(), 10, "IDLE")
        # a mail arriving while it runs: in within seconds (IDLE), not after an hour
        dovecot.append(
            report_mail("排头乡5月主题日活动报送", "ptx.xtx@example.com", seed=2), date=SENT
        )
        wait_for(lambda: "排头乡5月主题日活动报送" in subjects(config), 10, "mail over IDLE")
        # the receipt for the matched report goes out through the outbox
        wait_for(lambda: len(smtp_server.received) >= 1, 15, "a receipt on the SMTP server")
        # cut every connection under it; the next mail still comes in
        dovecot.kick()
        dovecot.append(report_mail("河口镇5月主题日活动", "hkz.xtx@example.com", seed=3), date=SENT)
        wait_for(lambda: "河口镇5月主题日活动" in subjects(config), 20, "mail after kick")
        # systemd saw a status line and watchdog pings
        wait_for(lambda: notify.seen("WATCHDOG", "1"), 10, "WATCHDOG=1")
        statuses = [m["STATUS"] for m in notify.drain() if "STATUS" in m]
        assert any(s.startswith("last poll ") and " new, " in s for s in statuses), statuses
        code, took = svc.terminate()
        assert code == 0, svc.log()
        assert took < 10
        assert notify.seen("STOPPING", "1")
        log = svc.log()
        assert dovecot.password not in log
        assert "Traceback" not in log, log
        assert len(subjects(config)) == 3  # each recorded once
    finally:
        svc.stop()
        notify.close()


def test_run_keeps_going_when_imap_is_down_and_stops_cleanly(
    tmp_path: Path, dovecot: DovecotMailbox
) -> None:
    config = service_config(tmp_path, dovecot, None, password="wrong-password-123")
    svc = Service(config, tmp_path)
    try:
        wait_for(lambda: "poll failed" in svc.log(), 20, "a poll failure line")
        assert svc.proc.poll() is None  # still running, not crash-looping
        code, took = svc.terminate()
        assert code == 0 and took < 10
        log = svc.log()
        failures = [line for line in log.splitlines() if "poll failed" in line]
        assert len(failures) == 1  # one line, then it backs off (next try after the interval)
        assert "next attempt in" in failures[0] and "login" in failures[0]
        assert "wrong-password-123" not in log
        assert "Traceback" not in log
    finally:
        svc.stop()


def test_backoff_grows_and_is_capped() -> None:
    assert [backoff_delay(n, 60) for n in (1, 2, 3, 4)] == [60, 120, 240, 480]
    assert backoff_delay(20, 60) == 1800
    assert backoff_delay(1, 3600) == 3600  # never sooner than the job's own interval


# --- systemd notify and logging ------------------------------------------------------------


def test_notifier_sends_datagrams_and_reads_the_watchdog() -> None:
    listener = NotifyListener()
    try:
        n = Notifier({"NOTIFY_SOCKET": listener.path, "WATCHDOG_USEC": "30000000"})
        assert n.watchdog_seconds == 15
        assert n.ready("last poll 09:05, 3 new, 2 in review")
        assert n.watchdog()
        assert n.stopping()
        got = listener.drain()
        assert got[0]["READY"] == "1" and got[0]["STATUS"] == "last poll 09:05, 3 new, 2 in review"
        assert got[1] == {"WATCHDOG": "1"}
        assert got[2]["STOPPING"] == "1"
    finally:
        listener.close()
    assert not Notifier({}).send(READY="1")  # outside systemd: nothing, no error
    assert Notifier({"WATCHDOG_USEC": "1000", "WATCHDOG_PID": "1"}).watchdog_seconds is None


def test_log_lines_never_carry_the_secrets() -> None:
    stream = io.StringIO()
    handler = setup_service_logging("INFO", ["s3cret-AUTHCODE", "smtp-code-42"], stream=stream)
    try:
        log = logging.getLogger("tracker.test")
        log.warning("login as %s with %s refused", "xtxgov@126.com", "s3cret-AUTHCODE")
        try:
            raise RuntimeError("smtp said no to smtp-code-42")
        except RuntimeError:
            log.exception("sending failed")
        log.info("nothing secret here")
    finally:
        logging.getLogger().removeHandler(handler)
    out = stream.getvalue()
    assert "s3cret-AUTHCODE" not in out and "smtp-code-42" not in out
    assert out.count("***") == 3  # message, exception line in the traceback, and its text
    assert "login as xtxgov@126.com with *** refused" in out
    assert "nothing secret here" in out


def test_secret_filter_ignores_trivially_short_secrets() -> None:
    f = SecretFilter(["", "ab", "longer-secret"])
    assert f.secrets == ["longer-secret"]
    assert f.mask("x longer-secret y") == "x *** y"


def test_journal_lines_have_a_priority_prefix_and_no_time() -> None:
    stream = io.StringIO()
    handler = setup_service_logging("DEBUG", [], stream=stream, journal=True)
    try:
        logging.getLogger("tracker.x").warning("imap down")
        logging.getLogger("tracker.x").info("recorded 1")
    finally:
        logging.getLogger().removeHandler(handler)
    assert stream.getvalue().splitlines() == ["<4>tracker.x: imap down", "<6>tracker.x: recorded 1"]
    assert isinstance(handler.formatter, JournalFormatter)


# --- the unit file ---------------------------------------------------------------------


def test_unit_file_scores_2_or_better_in_systemd_analyze_security() -> None:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed (apt-get install systemd)")
    result = subprocess.run(
        [tool, "security", "--offline=true", "--no-pager", str(UNIT)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    out = result.stdout + result.stderr
    line = next((x for x in out.splitlines() if "Overall exposure level" in x), None)
    assert line is not None, out
    score = float(line.split("Overall exposure level for", 1)[1].split(":", 1)[1].split()[0])
    assert score <= 2.0, out


def test_unit_file_has_the_service_essentials() -> None:
    text = UNIT.read_text()
    for needle in (
        "Type=notify",
        "WatchdogSec=",
        "Restart=on-failure",
        "StateDirectory=report-intake",
        "ConfigurationDirectory=report-intake",
        "LogsDirectory=report-intake",
        "LoadCredential=imap-password:/etc/report-intake/imap-password",
        "LoadCredential=smtp-password:/etc/report-intake/smtp-password",
        "ExecStart=",
        "StartLimitBurst=",
    ):
        assert needle in text, needle


# --- IDLE in-process ---------------------------------------------------------------------


def test_idle_watcher_falls_back_silently_where_the_server_has_no_idle(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[int] = []
    with NeteaseImapServer() as server:
        settings = ImapSettings(
            host=server.host,
            port=server.port,
            security="none",
            username=server.user,
            password=server.password,
        )
        watcher = IdleWatcher(settings, lambda: calls.append(1))
        with caplog.at_level(logging.INFO, logger="intake.idle"):
            watcher.start()
            wait_for(lambda: not watcher.running, 5, "the watcher to give up on IDLE")
        assert watcher.supported is False
        assert calls == []
        assert server.id_fields  # logged in like ImapSource: ID before SELECT
        assert "IDLE" not in server.commands
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_idle_watcher_wakes_on_new_mail_across_reissues(dovecot: DovecotMailbox) -> None:
    calls: list[float] = []
    settings = ImapSettings(
        host=dovecot.host,
        port=dovecot.port,
        security="none",
        username=dovecot.user,
        password=dovecot.password,
    )
    watcher = IdleWatcher(settings, lambda: calls.append(1), reissue_after=1.0, tick=0.1)
    watcher.start()
    try:
        wait_for(watcher.connected.is_set, 5, "IDLE")
        assert calls == [1]  # a fresh connection wakes the poller once
        time.sleep(1.5)  # at least one DONE/IDLE re-issue
        assert calls == [1]  # re-issuing is not news
        dovecot.append(report_mail("县林业局5月主题日", seed=5), date=SENT)
        wait_for(lambda: len(calls) >= 2, 5, "a wake-up for the new mail")
        assert watcher.supported is True
    finally:
        watcher.stop()
    assert not watcher.running
    idle_sessions = [c for c in dovecot.commands() if "IDLE" in c]
    assert idle_sessions and idle_sessions[0].count("IDLE") >= 2
    assert "ID" in idle_sessions[0] and idle_sessions[0].index("ID") < idle_sessions[0].index(
        "SELECT"
    )


# --- a poisoned job pushes its own next attempt forward ------------------------------------


def test_a_failing_job_is_retried_later_not_in_a_loop(
    tmp_path: Path, dovecot: DovecotMailbox
) -> None:
    config = service_config(
        tmp_path,
        dovecot,
        free_port(),  # nobody listens: SMTP is down
        schedule="outbox_interval = 60\npoll_interval = 120",
    )
    app = App.from_path(config)
    daemon = Daemon(app, notifier=Notifier({}))
    daemon.schedule()

    def queue(key: str) -> None:
        with app.db.session() as s:
            enqueue(
                s,
                key=key,
                kind="alert",
                recipients=["clerk@xtx.gov.cn"],
                message=_mail(),
                now=daemon._now(),
            )

    queue("test:1")
    before = daemon._now()
    assert daemon.run_job("outbox") is False  # no exception escapes
    job = daemon.scheduler.get_job("outbox")
    first = job.next_run_time - before
    assert timedelta(seconds=55) <= first <= timedelta(seconds=65)
    queue("test:2")  # (test:1 waits for its own retry time in the outbox)
    daemon.run_job("outbox")
    second = daemon.scheduler.get_job("outbox").next_run_time - daemon._now()
    assert timedelta(seconds=115) <= second <= timedelta(seconds=125)  # doubled
    health = daemon.status.jobs["outbox"]
    assert health.failures == 2 and "cannot connect" in (health.last_error or "")
    assert "outbox failing x2" in daemon.status.line()
    # the poll job works and says so in the status line
    assert daemon.run_job("poll") is False
    assert daemon.status.line().startswith("last poll ")
    app.close()


def db_count(tmp_path: Path) -> int:
    """Messages recorded so far, read straight from the SQLite file (WAL: no waiting)."""
    path = tmp_path / "db.sqlite3"
    if not path.exists():
        return 0
    with contextlib.closing(sqlite3.connect(path, timeout=5)) as conn:
        try:
            return int(conn.execute("SELECT count(*) FROM message").fetchone()[0])
        except sqlite3.OperationalError:  # not created yet
            return 0


def _mail() -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "xtxgov@126.com"
    msg["To"] = "clerk@xtx.gov.cn"
    msg["Subject"] = "test"
    msg.set_content("test")
    return msg


def test_sigterm_mid_poll_finishes_the_message_in_hand_and_loses_nothing(
    tmp_path: Path, dovecot: DovecotMailbox
) -> None:
    for i in range(40):
        dovecot.append(report_mail(f"县林业局5月主题日活动 第{i}批", seed=100 + i), date=SENT)
    config = service_config(tmp_path, dovecot, None, schedule="idle = false")
    notify = NotifyListener()
    svc = Service(config, tmp_path, env={"NOTIFY_SOCKET": notify.path})
    try:
        # READY comes once the database is open (the roster is synced): then read it
        wait_for(lambda: notify.seen("READY", "1"), 20, "READY=1", 0.05)
        wait_for(lambda: db_count(tmp_path) >= 1, 20, "the first recorded mail", 0.01)
        code, took = svc.terminate()
        assert code == 0 and took < 10, svc.log()
    finally:
        svc.stop()
        notify.close()
    recorded = len(messages_json(config))
    assert 0 < recorded < 40  # stopped mid-poll, after a whole message
    # the rest comes in on the next pass, each exactly once
    out = subprocess.run(cli_command(config, "poll", "--once"), capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    rows = messages_json(config)
    assert len(rows) == 40 and len({r["subject"] for r in rows}) == 40
    assert f"{40 - recorded} recorded" in out.stdout
