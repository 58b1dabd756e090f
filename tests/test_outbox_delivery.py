"""Outbox and SMTP delivery against a real aiosmtpd server: once-only keys, claims,
outages, retries with backoff, giving up, crash recovery, restarts, TLS and login."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.mail_helpers import Env, at, make_env, record_report
from tests.smtp_server import (  # noqa: F401
    SmtpServer,
    TlsFiles,
    smtp_factory_fixture,
    smtp_server_fixture,
    tls_files_fixture,
)
from tracker.clock import SHANGHAI, FixedClock
from tracker.config import SmtpConfig
from tracker.models import Outbox
from tracker.outgoing.emails import Rendered, build_message
from tracker.outgoing.mailer import SmtpMailer, TransportError
from tracker.outgoing.outbox import (
    _claim,
    backoff,
    deliver_pending,
    enqueue,
    list_outbox,
    resend,
)


def clock_at(day: date = date(2023, 5, 22), hh: int = 9) -> FixedClock:
    return FixedClock(datetime.combine(day, time(hh, 0), tzinfo=SHANGHAI))


def queue(env: Env, n: int, clock: FixedClock, prefix: str = "test") -> list[str]:
    keys = []
    with env.db.session() as s:
        for i in range(n):
            msg = build_message(
                env.config,
                to=[f"unit{i}@example.com"],
                rendered=Rendered(f"测试邮件 {i}", f"正文 {i}\n", f"<p>正文 {i}</p>"),
            )
            key = f"{prefix}:{i}"
            assert enqueue(
                s,
                key=key,
                kind="test",
                recipients=[f"unit{i}@example.com"],
                message=msg,
                now=clock.now(),
            )
            keys.append(key)
    return keys


def states(env: Env) -> dict[str, str]:
    with env.db.session() as s:
        return {r.key: r.state for r in list_outbox(s)}


def message_ids(server: SmtpServer) -> list[str]:
    return [str(m["Message-ID"]) for m in server.messages()]


def test_enqueue_is_once_per_key(tmp_path: Path, smtp_server: SmtpServer) -> None:
    env = make_env(tmp_path, smtp_server.port)
    clock = clock_at()
    queue(env, 1, clock)
    msg = build_message(
        env.config, to=["x@example.com"], rendered=Rendered("再次", "b", "<p>b</p>")
    )
    with env.db.session() as s:
        assert (
            enqueue(
                s,
                key="test:0",
                kind="test",
                recipients=["x@example.com"],
                message=msg,
                now=clock.now(),
            )
            is False
        )
        assert (
            enqueue(
                s,
                key="test:1",
                kind="test",
                recipients=["x@example.com"],
                message=msg,
                now=clock.now(),
            )
            is True
        )
        assert s.query(Outbox).count() == 2
    # a second handle on the same file (another process) sees the key too
    env2 = env.reopen()
    with env2.db.session() as s:
        assert (
            enqueue(
                s,
                key="test:0",
                kind="test",
                recipients=["x@example.com"],
                message=msg,
                now=clock.now(),
            )
            is False
        )


def test_message_id_is_fixed_at_enqueue(tmp_path: Path, smtp_server: SmtpServer) -> None:
    env = make_env(tmp_path, smtp_server.port)
    clock = clock_at()
    queue(env, 1, clock)
    with env.db.session() as s:
        mime = s.scalars(select(Outbox.mime)).one()
    report = deliver_pending(env.db, SmtpMailer(env.config.smtp), clock)
    assert len(report.sent) == 1
    [received] = smtp_server.received
    assert received.data.replace(b"\r\n", b"\n") == mime.replace(b"\r\n", b"\n")
    assert b"Message-ID: <" in mime and b"@126.com>" in mime


def test_two_workers_never_claim_one_row(tmp_path: Path, smtp_server: SmtpServer) -> None:
    env = make_env(tmp_path, smtp_server.port)
    clock = clock_at()
    queue(env, 1, clock)
    other = env.reopen()
    with env.db.session() as s:
        row_id = s.scalars(select(Outbox.id)).one()
    assert _claim(env.db, row_id, clock.now(), timedelta(minutes=15)) is True
    assert _claim(other.db, row_id, clock.now(), timedelta(minutes=15)) is False
    # the second worker's delivery pass does not send the claimed row
    report = deliver_pending(other.db, SmtpMailer(other.config.smtp), clock)
    assert report.sent == [] and smtp_server.received == []


def test_crash_while_sending_is_resent_after_the_lease(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    env = make_env(tmp_path, smtp_server.port)
    clock = clock_at()
    queue(env, 1, clock)
    with env.db.session() as s:
        row_id = s.scalars(select(Outbox.id)).one()
        mime = s.get(Outbox, row_id).mime  # type: ignore[union-attr]
    # a worker claims it and dies before marking it
    assert _claim(env.db, row_id, clock.now(), timedelta(minutes=15))
    env = env.reopen()
    mailer = SmtpMailer(env.config.smtp)
    assert deliver_pending(env.db, mailer, clock).sent == []
    assert states(env) == {"test:0": "sending"}
    clock.advance(timedelta(minutes=16))
    report = deliver_pending(env.db, mailer, clock)
    assert report.reclaimed == 1 and report.sent == [row_id]
    assert states(env) == {"test:0": "sent"}
    # the resend carries the Message-ID chosen at enqueue: a duplicate would be recognisable
    [got] = smtp_server.messages()
    assert str(got["Message-ID"]).encode() in mime


def test_451_in_the_middle_of_a_batch_retries_with_backoff(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    env = make_env(tmp_path, smtp_server.port)
    clock = clock_at()
    keys = queue(env, 6, clock)
    smtp_server.fail_after(2, 4)
    with SmtpMailer(env.config.smtp) as mailer:
        report = deliver_pending(env.db, mailer, clock)
    assert len(report.sent) == 2 and len(report.retrying) == 4
    assert all("451" in e for e in report.errors)
    st = states(env)
    assert [st[k] for k in keys] == ["sent", "sent", "pending", "pending", "pending", "pending"]
    with env.db.session() as s:
        waiting = s.scalars(select(Outbox).where(Outbox.state == "pending")).all()
        assert {r.attempts for r in waiting} == {1}
        assert {r.next_attempt_at for r in waiting} == {clock.now() + backoff(1)}
        assert all("451" in (r.last_error or "") for r in waiting)
    # nothing is retried before its time
    assert deliver_pending(env.db, SmtpMailer(env.config.smtp), clock).sent == []
    clock.advance(backoff(1))
    report = deliver_pending(env.db, SmtpMailer(env.config.smtp), clock)
    assert len(report.sent) == 4
    assert set(states(env).values()) == {"sent"}
    ids = message_ids(smtp_server)
    assert len(ids) == 6 and len(set(ids)) == 6


def test_outage_and_restart_continue_without_doubling(
    tmp_path: Path, smtp_factory: Callable[..., SmtpServer]
) -> None:
    server = smtp_factory()
    env = make_env(tmp_path, server.port)
    clock = clock_at()
    keys = queue(env, 5, clock)
    server.fail_after(2, 1, "drop")  # the connection drops on the third message
    with SmtpMailer(env.config.smtp) as mailer:
        first = deliver_pending(env.db, mailer, clock, limit=3)
    # the connection broke during DATA: the server may have taken it, so it is not retried
    assert len(first.sent) == 2 and first.retrying == [] and len(first.uncertain) == 1
    assert "connection" in first.errors[0]
    server.stop()  # the server is down for a while
    clock.advance(timedelta(minutes=5))
    with SmtpMailer(env.config.smtp) as mailer:
        down = deliver_pending(env.db, mailer, clock)
    assert down.sent == [] and down.stopped and "cannot connect" in down.stopped
    # the batch stopped at the first row: the others were not even tried
    with env.db.session() as s:
        attempts = {r.key: r.attempts for r in s.scalars(select(Outbox))}
    assert sum(1 for k in keys if attempts[k] == 0) == 1
    assert [k for k in keys if states(env)[k] == "uncertain"] == [keys[2]]
    # restart: a new process with a new database handle, the server is back
    server.start()
    env = env.reopen()
    clock.advance(timedelta(hours=1))
    with SmtpMailer(env.config.smtp) as mailer:
        final = deliver_pending(env.db, mailer, clock)
    assert len(final.sent) == 2
    assert sorted(states(env).values()) == ["sent"] * 4 + ["uncertain"]
    # staff checked that it never arrived and asked for it again
    assert resend(env.db, first.uncertain[0], clock.now()) == "uncertain"
    with SmtpMailer(env.config.smtp) as mailer:
        assert deliver_pending(env.db, mailer, clock).sent == first.uncertain
    assert set(states(env).values()) == {"sent"}
    subjects = sorted(str(m["Subject"]) for m in server.messages())
    assert subjects == [f"测试邮件 {i}" for i in range(5)]


def test_gives_up_after_max_attempts(tmp_path: Path, smtp_server: SmtpServer) -> None:
    env = make_env(tmp_path, smtp_server.port)
    clock = clock_at()
    queue(env, 1, clock)
    smtp_server.fail_next(10)
    mailer = SmtpMailer(env.config.smtp)
    for _ in range(3):
        deliver_pending(env.db, mailer, clock, max_attempts=3)
        clock.advance(timedelta(hours=7))
    with env.db.session() as s:
        row = s.scalars(select(Outbox)).one()
        assert row.state == "failed" and row.attempts == 3 and "451" in (row.last_error or "")
    assert deliver_pending(env.db, mailer, clock).sent == []


def test_permanent_refusal_fails_at_once(tmp_path: Path, smtp_server: SmtpServer) -> None:
    env = make_env(tmp_path, smtp_server.port)
    clock = clock_at()
    queue(env, 2, clock)
    smtp_server.reject("unit0@example.com")
    report = deliver_pending(env.db, SmtpMailer(env.config.smtp), clock)
    assert len(report.failed) == 1 and len(report.sent) == 1
    assert states(env) == {"test:0": "failed", "test:1": "sent"}
    assert "550" in report.errors[0]


def test_reminder_cancelled_when_the_report_arrives_first(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    from tracker.outgoing.reminders import queue_reminders

    env = make_env(tmp_path, smtp_server.port)
    clock = clock_at()
    with env.db.session() as s:
        rep = queue_reminders(s, env.roster, env.config, clock, date(2023, 5, 22))
    assert len(rep.queued) == 4
    record_report(
        env,
        units=["河口镇"],
        period="2023-05",
        received_at=at(2023, 5, 22, 9, 5),
        from_addr="hkz.xtx@example.com",
        subject="河口镇5月活动",
    )
    report = deliver_pending(env.db, SmtpMailer(env.config.smtp), clock)
    assert len(report.sent) == 3 and len(report.cancelled) == 1
    assert not any("hkz.xtx@example.com" in r.rcpt_tos for r in smtp_server.received)


# --- the mailer on its own -----------------------------------------------------------


def smtp_config(server: SmtpServer, **kw: object) -> SmtpConfig:
    base: dict[str, object] = {
        "host": server.host,
        "port": server.port,
        "security": "none",
        "sender": "xtxgov@126.com",
        "timeout": 5.0,
    }
    base.update(kw)
    return SmtpConfig(**base)  # type: ignore[arg-type]


MIME = b"From: xtxgov@126.com\r\nTo: a@example.com\r\nSubject: t\r\n\r\nbody\r\n"


def test_implicit_tls(smtp_factory: Callable[..., SmtpServer], tls_files: TlsFiles) -> None:
    server = smtp_factory(ssl_context=tls_files.server_context())
    mailer = SmtpMailer(smtp_config(server, security="ssl"), ssl_context=tls_files.client_context())
    mailer.send(MIME, "xtxgov@126.com", ["a@example.com"])
    assert [r.rcpt_tos for r in server.received] == [("a@example.com",)]
    # without trusting the certificate: a clear temporary error, no traceback
    with pytest.raises(TransportError) as err:
        SmtpMailer(smtp_config(server, security="ssl")).send(
            MIME, "xtxgov@126.com", ["a@example.com"]
        )
    assert "TLS" in err.value.message and err.value.stop_batch


def test_starttls_with_login(smtp_factory: Callable[..., SmtpServer], tls_files: TlsFiles) -> None:
    server = smtp_factory(
        login=("xtxgov@126.com", "AUTHCODE123"), tls_context=tls_files.server_context()
    )
    cfg = smtp_config(
        server, security="starttls", username="xtxgov@126.com", password="AUTHCODE123"
    )
    SmtpMailer(cfg, ssl_context=tls_files.client_context()).send(
        MIME, "xtxgov@126.com", ["a@example.com"]
    )
    assert len(server.received) == 1


def test_login_refused_never_shows_the_password(smtp_factory: Callable[..., SmtpServer]) -> None:
    server = smtp_factory(login=("xtxgov@126.com", "RIGHTCODE"))
    cfg = smtp_config(server, username="xtxgov@126.com", password="WRONGCODE99")
    with pytest.raises(TransportError) as err:
        SmtpMailer(cfg).send(MIME, "xtxgov@126.com", ["a@example.com"])
    assert "login as xtxgov@126.com refused" in err.value.message
    assert "WRONGCODE99" not in str(err.value) and "WRONGCODE99" not in repr(cfg)
    assert err.value.stop_batch and not err.value.permanent
    assert server.received == []


def test_connection_refused_is_temporary() -> None:
    from tests.smtp_server import free_port

    cfg = SmtpConfig(
        host="127.0.0.1", port=free_port(), security="none", sender="x@126.com", timeout=2.0
    )
    with pytest.raises(TransportError) as err:
        SmtpMailer(cfg).send(MIME, "x@126.com", ["a@example.com"])
    assert not err.value.permanent and err.value.stop_batch
    assert "cannot connect" in err.value.message


def test_5xx_is_permanent_4xx_temporary(smtp_server: SmtpServer) -> None:
    mailer = SmtpMailer(smtp_config(smtp_server))
    smtp_server.fail_next(1, "554 5.7.1 Message rejected as spam")
    with pytest.raises(TransportError) as err:
        mailer.send(MIME, "xtxgov@126.com", ["a@example.com"])
    assert err.value.permanent and "554" in err.value.message
    smtp_server.fail_next(1, "452 4.2.2 Mailbox full")
    with pytest.raises(TransportError) as err:
        mailer.send(MIME, "xtxgov@126.com", ["a@example.com"])
    assert not err.value.permanent
    mailer.send(MIME, "xtxgov@126.com", ["a@example.com"])
    assert len(smtp_server.received) == 1


def test_once_only_on_sqlite_and_postgresql(
    tmp_path: Path, smtp_server: SmtpServer, database_url: str
) -> None:
    from tracker.db import open_database
    from tracker.slots import sync_roster

    env = make_env(tmp_path, smtp_server.port)
    db = open_database(database_url)
    try:
        with db.session() as s:
            sync_roster(s, env.roster)
        env = Env(env.config, env.roster, db)
        clock = clock_at()
        queue(env, 2, clock)
        msg = build_message(
            env.config, to=["x@example.com"], rendered=Rendered("s", "b", "<p>b</p>")
        )
        with db.session() as s:
            assert not enqueue(
                s,
                key="test:1",
                kind="test",
                recipients=["x@example.com"],
                message=msg,
                now=clock.now(),
            )
            row_id = s.scalars(select(Outbox.id).where(Outbox.key == "test:0")).one()
        assert _claim(db, row_id, clock.now(), timedelta(minutes=15))
        assert not _claim(db, row_id, clock.now(), timedelta(minutes=15))
        report = deliver_pending(db, SmtpMailer(env.config.smtp), clock)
        assert len(report.sent) == 1  # the claimed row waits for its lease
        assert len(smtp_server.received) == 1
    finally:
        db.dispose()
