"""kill -9 of the sending process at the instant the SMTP server takes a mail: the mail is
never sent twice on its own. Killed before DATA it is provably unsent and goes out after
the lease; killed after the server took it, it becomes "uncertain" (可能已发出), shown in
`outbox` and the digest, and goes out again only when staff run `outbox resend ID`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select

from tests.mail_helpers import make_env
from tests.smtp_server import SmtpServer, smtp_factory_fixture, smtp_server_fixture  # noqa: F401
from tracker.cli import main
from tracker.clock import FixedClock
from tracker.models import Outbox
from tracker.outgoing.digest import make_digest
from tracker.outgoing.emails import Rendered, build_message
from tracker.outgoing.mailer import SmtpMailer
from tracker.outgoing.outbox import deliver_pending, enqueue

ROOT = Path(__file__).resolve().parent.parent


def _queue(env: object, n: int) -> list[int]:
    now = datetime.now(UTC)
    ids = []
    with env.db.session() as s:  # type: ignore[attr-defined]
        for i in range(n):
            msg = build_message(
                env.config,  # type: ignore[attr-defined]
                to=[f"unit{i}@example.com"],
                rendered=Rendered(f"提醒 {i}", f"正文 {i}\n", f"<p>正文 {i}</p>"),
            )
            assert enqueue(s, key=f"crash:{i}", kind="test", recipients=[f"unit{i}@example.com"],
                           message=msg, now=now)  # fmt: skip
        ids = list(s.scalars(select(Outbox.id).order_by(Outbox.id)))
    return ids


def _deliver_and_die(config: Path, server: SmtpServer, hook: str) -> None:
    """`outbox --deliver` in a child process that the server kills with SIGKILL on its
    first RCPT (before DATA) or its first message (after taking it)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tracker.cli", "--config", str(config), "outbox", "--deliver"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    fired = []

    def kill() -> None:
        if not fired:
            fired.append(True)
            os.kill(proc.pid, signal.SIGKILL)
            time.sleep(0.2)

    setattr(server.handler, hook, kill)
    try:
        assert proc.wait(timeout=120) == -signal.SIGKILL
    finally:
        setattr(server.handler, hook, None)


def _states(env: object) -> dict[int, str]:
    with env.db.session() as s:  # type: ignore[attr-defined]
        return {r.id: r.state for r in s.scalars(select(Outbox))}


def test_killed_after_the_server_took_it_is_never_resent_on_its_own(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    env = make_env(tmp_path, smtp_server.port)
    first, second = _queue(env, 2)
    _deliver_and_die(env.config.path, smtp_server, "on_data")
    assert len(smtp_server.received) == 1
    assert _states(env) == {first: "delivering", second: "pending"}

    later = FixedClock(datetime.now(UTC) + timedelta(minutes=16))  # the lease ran out
    report = deliver_pending(env.db, SmtpMailer(env.config.smtp), later)
    assert report.sent == [second] and report.reclaimed == 0
    assert _states(env) == {first: "uncertain", second: "sent"}
    for _ in range(3):  # no later pass resends it
        later.advance(timedelta(hours=6))
        assert deliver_pending(env.db, SmtpMailer(env.config.smtp), later).sent == []
    assert len(smtp_server.received) == 2

    runner = CliRunner()
    listed = runner.invoke(main, ["--config", str(env.config.path), "outbox", "--json",
                                  "--state", "uncertain"])  # fmt: skip
    [row] = [json.loads(line) for line in listed.stdout.splitlines()]
    assert row["id"] == first and "可能已发出" in row["last_error"]
    with env.db.session() as s:
        digest = make_digest(s, env.config, env.roster, date(2023, 5, 22)).message
    text = digest.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "可能已发出的邮件（1）" in text and f"#{first} " in text

    done = runner.invoke(main, ["--config", str(env.config.path), "outbox", "resend", str(second)])
    assert done.exit_code == 2 and "only uncertain or failed mail is resent" in done.stderr
    done = runner.invoke(main, ["--config", str(env.config.path), "outbox", "resend", str(first)])
    assert done.exit_code == 0, done.output
    assert (
        done.stdout.strip()
        == f"outbox #{first}: uncertain -> pending; it goes out with the next delivery"
    )
    assert deliver_pending(env.db, SmtpMailer(env.config.smtp), later).sent == [first]
    assert [r.message["Subject"] for r in smtp_server.received] == ["提醒 0", "提醒 1", "提醒 0"]


def test_killed_before_data_is_sent_once_after_the_lease(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    env = make_env(tmp_path, smtp_server.port)
    [only] = _queue(env, 1)
    _deliver_and_die(env.config.path, smtp_server, "on_rcpt")
    assert smtp_server.received == []
    assert _states(env) == {only: "sending"}
    later = FixedClock(datetime.now(UTC) + timedelta(minutes=16))
    report = deliver_pending(env.db, SmtpMailer(env.config.smtp), later)
    assert report.reclaimed == 1 and report.sent == [only]
    assert len(smtp_server.received) == 1
