#!/usr/bin/env python3
"""The fault harness: `report-intake run` killed with SIGKILL, many times, from outside.

Not part of the test suite (it takes minutes). Run it from the repository with the
project's environment (it needs Dovecot, and PostgreSQL for that half):

    .venv/bin/python scripts/fault_harness.py --kills 40 --db both

For each database (SQLite, PostgreSQL) it starts a real Dovecot mailbox and a real SMTP
server (aiosmtpd), appends report mails (two photos each, from the units' own addresses)
a few at a time, and runs the service against them. Each round starts `report-intake run`
and kills it with SIGKILL, in one of four ways chosen at random:

- `random`: at a random moment (0.3 to 5 s after start: during start-up, a poll, the
  recording of a mail, a delivery);
- `rcpt`: when the SMTP server takes a recipient (before DATA);
- `data`: when the server has taken a mail, before its 250 reaches the service;
- `after-250`: a few milliseconds after the server answered 250.

After the last kill the service runs until every mail is recorded and the outbox is
quiet, then stops on SIGTERM; rows a kill left `sending` are delivered once their lease
ran out (the clock moved 16 minutes ahead in-process, as `tests/test_outbox_crash.py`).
Then it checks, and exits 1 if any check fails:

1. every mail appended is recorded exactly once (by Message-ID, one row each);
2. none is half-recorded: its raw copy and every attachment file a row names are on the
   disk with the recorded SHA-256;
3. no outgoing mail reached the SMTP server twice (counted by Message-ID at the server),
   and every `sent` row reached it;
4. every row a kill left in doubt is `uncertain` (可能已发出) and was not resent on its own;
   nothing is left `sending`/`delivering`;
5. the service's log has no traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import random
import re
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from tests.dovecot import DovecotMailbox, DovecotServer  # noqa: E402
from tests.service_helpers import Service, service_config  # noqa: E402
from tests.smtp_server import SmtpServer  # noqa: E402
from tracker.app import App  # noqa: E402
from tracker.clock import FixedClock  # noqa: E402
from tracker.models import Attachment, Message, Outbox  # noqa: E402
from tracker.samples import photo  # noqa: E402

MODES = ("random", "rcpt", "data", "after-250")
EXAMPLE_ROSTER = ROOT / "tracker" / "data" / "roster.example.toml"


def log(text: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {text}", flush=True)


def this_years_roster(path: Path) -> list[tuple[str, str, str]]:
    """The example roster moved to this year (the service runs on the real clock);
    returns (unit, address, period) for each unit."""
    year = str(datetime.now(UTC).year)
    text = EXAMPLE_ROSTER.read_text(encoding="utf-8").replace("2023", year)
    path.write_text(text, encoding="utf-8")
    units = []
    for block in text.split("[[unit]]")[1:]:
        name = re.search(r'^name = "([^"]+)"', block, re.M)
        email = re.search(r'^emails = \["([^"]+)"', block, re.M)
        month = re.search(r'^months = \["([^"]+)"', block, re.M)
        if name and email and month:
            units.append((name.group(1), email.group(1), month.group(1)))
    return units


def report(n: int, unit: str, address: str, period: str) -> tuple[str, bytes]:
    msg = EmailMessage()
    msg["From"] = f"{unit} <{address}>"
    msg["To"] = "xtxgov@126.com"
    msg["Subject"] = f"{unit}{int(period[5:])}月政务公开主题日活动图片（{n}）"
    msg["Date"] = datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
    mid = make_msgid(f"harness{n}", "example.com")
    msg["Message-ID"] = mid
    msg.set_content(f"我单位开展了政务公开主题日活动，现报送活动图片{n}。")
    for i in range(2):
        msg.add_attachment(photo(1000 + 2 * n + i, (480, 360)), maintype="image",
                           subtype="jpeg", filename=f"活动{i + 1}.jpg")  # fmt: skip
    return mid, msg.as_bytes()


def postgres_url() -> str:
    """A fresh database on the local cluster, made as the tests' fixture makes one."""
    import subprocess

    import psycopg

    from tests.conftest import PG_PASSWORD, PG_USER, _as_postgres, _pg_version

    version = _pg_version()
    status = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True).stdout
    line = next(row for row in status.splitlines() if row.split()[:2] == [version, "main"])
    port = line.split()[2]
    if "online" not in line:
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", str(version), "main",
                        "start"], check=True, capture_output=True)  # fmt: skip
    _as_postgres(
        f"DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{PG_USER}') THEN "
        f"CREATE ROLE {PG_USER} LOGIN SUPERUSER PASSWORD '{PG_PASSWORD}'; END IF; END$$;"
    )
    admin = f"postgresql://{PG_USER}:{PG_PASSWORD}@127.0.0.1:{port}"
    name = f"ri_harness_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{admin}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{admin}/{name}"


def drop_database(url: str) -> None:
    import psycopg

    admin, name = url.rsplit("/", 1)
    with psycopg.connect(f"{admin}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Killer:
    """Arms the SMTP server's hooks to SIGKILL the service at one instant."""

    def __init__(self, smtp: SmtpServer) -> None:
        self.smtp = smtp
        self.pid: int | None = None
        self.fired = threading.Event()

    def _kill(self) -> None:
        if self.pid is not None and not self.fired.is_set():
            self.fired.set()
            os.kill(self.pid, signal.SIGKILL)
            time.sleep(0.2)  # the service is gone before the server answers

    def arm(self, mode: str, pid: int) -> None:
        self.pid, self.fired = pid, threading.Event()
        h = self.smtp.handler
        h.on_rcpt = h.on_data = None
        if mode == "rcpt":
            h.on_rcpt = self._kill
        elif mode == "data":
            h.on_data = self._kill
        elif mode == "after-250":

            def later() -> None:
                delay = random.uniform(0.001, 0.05)
                threading.Timer(delay, self._kill_quietly).start()

            h.on_data = later

    def _kill_quietly(self) -> None:
        if self.pid is not None and not self.fired.is_set():
            self.fired.set()
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)

    def disarm(self) -> None:
        self.smtp.handler.on_rcpt = self.smtp.handler.on_data = None


def run_one(kind: str, kills: int, seed: int, server: DovecotServer, keep: bool) -> bool:
    rnd = random.Random(seed)
    random.seed(seed)
    work = Path(tempfile.mkdtemp(prefix=f"ri-harness-{kind}-"))
    units = this_years_roster(work / "roster.toml")
    box: DovecotMailbox = server.new_mailbox()
    smtp = SmtpServer()
    smtp.start()
    config = service_config(
        work,
        box,
        smtp.port,
        roster=work / "roster.toml",
        schedule="poll_interval = 10\noutbox_interval = 5\n",
        receipts="max_per_sender_per_day = 100\nmax_per_hour = 10000\n",
    )
    if kind == "postgresql":
        text = config.read_text().replace(
            f'url = "sqlite:///{work / "db.sqlite3"}"', f'url = "{postgres_url()}"'
        )
        config.write_text(text)
    text = config.read_text().replace('level = "DEBUG"', 'level = "INFO"')
    config.write_text(text)
    killer = Killer(smtp)
    appended: list[str] = []
    modes: Counter[str] = Counter()
    logs: list[str] = []
    n = 0
    started = time.monotonic()
    log(f"{kind}: workspace {work}, {kills} kills, seed {seed}")
    for round_no in range(kills):
        for _ in range(rnd.randint(1, 3)):  # new mail keeps arriving
            unit, address, period = units[n % len(units)]
            mid, raw = report(n, unit, address, period)
            box.append(raw)
            appended.append(mid)
            n += 1
        mode = rnd.choice(MODES)
        service = Service(config, work)
        killer.arm(mode, service.proc.pid)
        if mode == "random":
            time.sleep(rnd.uniform(0.3, 5.0))
            if service.proc.poll() is None:
                os.kill(service.proc.pid, signal.SIGKILL)
        else:
            # wait for the instant; if no mail goes out in time, kill at random instead
            if not killer.fired.wait(timeout=20):
                mode = "random (no mail went out)"
                if service.proc.poll() is None:
                    os.kill(service.proc.pid, signal.SIGKILL)
        code = service.proc.wait(timeout=30)
        killer.disarm()
        service.stop()
        logs.append(service.log())
        modes[mode] += 1
        if code != -signal.SIGKILL:
            log(f"{kind}: round {round_no + 1}: service ended by itself ({code})")
        if (round_no + 1) % 10 == 0:
            log(f"{kind}: {round_no + 1} kills, {len(appended)} mails appended")

    # the last run: until everything is recorded and nothing waits to be sent
    service = Service(config, work)
    app = App.from_path(config)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            with app.db.session() as s:
                recorded = len(s.scalars(select(Message.id)).all())
                # rows a kill left in flight wait for their lease (checked below)
                busy = s.scalars(select(Outbox.id).where(Outbox.state == "pending")).all()
            if recorded >= len(appended) and not busy:
                break
            time.sleep(1)
        time.sleep(3)
        code, _ = service.terminate(timeout=30)
        service.stop()
        logs.append(service.log())
        # rows a kill left `sending` before DATA: sent once their lease ran out
        from tracker.outgoing.mailer import SmtpMailer
        from tracker.outgoing.outbox import deliver_pending

        later = FixedClock(datetime.now(UTC) + timedelta(minutes=16))
        drained = deliver_pending(app.db, SmtpMailer(app.config.smtp), later)
        ok = check(kind, app, appended, smtp, logs, drained.reclaimed)
    finally:
        app.close()
        smtp.stop()
    log(
        f"{kind}: {kills} kills ({', '.join(f'{m} {c}' for m, c in sorted(modes.items()))}), "
        f"{len(appended)} mails, {time.monotonic() - started:.0f} s: {'PASS' if ok else 'FAIL'}"
    )
    if not keep and ok:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
        if kind == "postgresql":
            drop_database(app.config.database_url)
    return ok


def check(
    kind: str, app: App, appended: list[str], smtp: SmtpServer, logs: list[str], reclaimed: int
) -> bool:
    problems: list[str] = []
    store = app.store
    with app.db.session() as s:
        messages = s.scalars(select(Message)).all()
        ids = Counter(m.message_id for m in messages)
        missing = [mid for mid in appended if ids[mid] == 0]
        doubled = [mid for mid, c in ids.items() if c > 1]
        if missing:
            problems.append(f"{len(missing)} mail(s) not recorded: {missing[:5]}")
        if doubled:
            problems.append(f"{len(doubled)} mail(s) recorded twice: {doubled[:5]}")
        files = 0
        for m in messages:
            raw = store.root / m.raw_path
            if not raw.is_file() or hashlib.sha256(raw.read_bytes()).hexdigest() != m.raw_sha256:
                problems.append(f"message {m.id}: raw copy missing or wrong")
            for a in s.scalars(select(Attachment).where(Attachment.message_id == m.id)):
                if a.relpath is None:
                    continue
                files += 1
                path = store.root / a.relpath
                if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != a.sha256:
                    problems.append(f"message {m.id}: file {a.filename} missing or wrong")
        rows = s.scalars(select(Outbox)).all()
        at_server = Counter(r.message["Message-ID"] for r in smtp.received)
        twice = [mid for mid, c in at_server.items() if c > 1]
        if twice:
            problems.append(f"{len(twice)} mail(s) reached the SMTP server twice: {twice[:5]}")
        states = Counter(r.state for r in rows)
        for r in rows:
            got = at_server.get(r.message_id or "", 0)
            if r.state == "sent" and got != 1:
                problems.append(f"outbox #{r.id} sent but reached the server {got} times")
            if r.state in ("sending", "delivering"):
                problems.append(f"outbox #{r.id} left {r.state}")
        uncertain = [r for r in rows if r.state == "uncertain"]
        uncertain_arrived = sum(1 for r in uncertain if at_server.get(r.message_id or "", 0))
        matched = sum(1 for m in messages if m.decision == "matched")
    temp = len(list(store.root.rglob(".tmp-*.part")))  # swept at a start an hour later
    tracebacks = sum(text.count("Traceback") for text in logs)
    if tracebacks:
        problems.append(f"{tracebacks} traceback(s) in the service's log")
    log(
        f"{kind}: {len(messages)} messages recorded ({matched} matched), {files} files, "
        f"outbox {dict(states)}, {len(smtp.received)} mails at the server; "
        f"{len(uncertain)} uncertain ({uncertain_arrived} had in fact arrived, none resent); "
        f"{reclaimed} left before DATA sent after the lease; {temp} temp file(s) of "
        "interrupted writes"
    )
    for p in problems:
        log(f"{kind}: PROBLEM: {p}")
    return not problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=40, help="kills per database (40)")
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--seed", type=int, default=None, help="random seed (printed)")
    parser.add_argument("--keep", action="store_true", help="keep the workspaces")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1_000_000)
    kinds = ("sqlite", "postgresql") if args.db == "both" else (args.db,)
    server = DovecotServer()
    server.start()
    try:
        results = [run_one(kind, args.kills, seed, server, args.keep) for kind in kinds]
    finally:
        server.stop()
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
