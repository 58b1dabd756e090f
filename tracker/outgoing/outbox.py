"""The outbox: every mail we send is queued once under a unique key, then delivered.

- `enqueue` inserts if the key is absent (INSERT ... ON CONFLICT DO NOTHING on SQLite and
  PostgreSQL): the key ("reminder:12:before:2", "receipt:40", "digest:2023-W21:ab12…")
  is what makes a mail go out once, across restarts and concurrent workers.
- `deliver_pending` claims one row at a time with a conditional UPDATE
  (pending -> sending, checked by rowcount), so two workers never send one row. While a
  row is "sending" or "delivering", `next_attempt_at` is its lease.
- Nothing is sent twice. Right before the SMTP DATA command the row is committed as
  "delivering". A row a crash left "sending" provably never reached DATA: once its lease
  runs out it goes back to pending and is sent. A row left "delivering" (or whose
  connection broke during DATA) may have been accepted by the server: it becomes
  "uncertain" (可能已发出), is shown to staff (`outbox`, the digest) and is never resent on
  its own; `outbox resend ID` sends it again when staff have checked it did not arrive.
- Temporary failures retry with exponential backoff; after `max_attempts` (or a permanent
  failure) the row is "failed" with the last error. A reminder whose slot has received a
  report meanwhile is "cancelled" instead of sent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any, Protocol

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tracker.clock import Clock
from tracker.config import SmtpConfig
from tracker.db import Database
from tracker.models import Message, Outbox, Submission
from tracker.outgoing.mailer import SmtpMailer, TransportError

log = logging.getLogger(__name__)

STATES = ("pending", "sending", "delivering", "sent", "uncertain", "failed", "cancelled")
UNCERTAIN_NOTE = (
    "可能已发出：发送中断于服务器接收阶段，未自动重发；确认对方未收到后可用 outbox resend 重发"
)
MAX_ATTEMPTS = 8
BACKOFF_BASE = timedelta(minutes=2)
BACKOFF_MAX = timedelta(hours=6)
SENDING_LEASE = timedelta(minutes=15)


class Mailer(Protocol):
    @property
    def sender(self) -> str: ...

    def send(
        self,
        mime_bytes: bytes,
        sender: str,
        recipients: Sequence[str],
        *,
        before_data: Callable[[], None] | None = None,
    ) -> None: ...


@dataclass
class DeliveryReport:
    sent: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    cancelled: list[int] = field(default_factory=list)
    uncertain: list[int] = field(default_factory=list)
    reclaimed: int = 0
    errors: list[str] = field(default_factory=list)
    stopped: str | None = None  # why the batch stopped early (SMTP down, login refused)

    @property
    def undelivered(self) -> int:
        return len(self.retrying) + len(self.failed)

    def summary(self) -> str:
        parts = [f"{len(self.sent)} sent"]
        if self.retrying:
            parts.append(f"{len(self.retrying)} to retry")
        if self.failed:
            parts.append(f"{len(self.failed)} failed")
        if self.cancelled:
            parts.append(f"{len(self.cancelled)} cancelled")
        if self.uncertain:
            parts.append(f"{len(self.uncertain)} uncertain (maybe sent; not resent)")
        if self.reclaimed:
            parts.append(f"{self.reclaimed} reclaimed after a crash")
        return ", ".join(parts)


def _utc(dt: datetime) -> datetime:
    return dt.astimezone(UTC)


def message_domain(sender: str) -> str:
    return sender.rsplit("@", 1)[-1] if "@" in sender else "report-intake.invalid"


def enqueue(
    session: Session,
    *,
    key: str,
    kind: str,
    recipients: Sequence[str],
    message: EmailMessage,
    now: datetime,
    related_message_id: int | None = None,
    slot_id: int | None = None,
) -> bool:
    """Queue `message` for `recipients` under `key`; False when the key is already queued."""
    if not recipients:
        raise ValueError("enqueue: no recipients")
    if message["Message-ID"] is None:
        sender = str(message["From"].addresses[0].addr_spec) if message["From"] else ""
        message["Message-ID"] = make_msgid(idstring="ri", domain=message_domain(sender))
    if message["Date"] is None:
        message["Date"] = format_datetime(now)
    mime = message.as_bytes(policy=policy.SMTP)
    values: dict[str, Any] = {
        "key": key,
        "kind": kind,
        "recipients": list(dict.fromkeys(r.lower() for r in recipients)),
        "subject": str(message["Subject"] or ""),
        "mime": mime,
        "state": "pending",
        "attempts": 0,
        "next_attempt_at": _utc(now),
        "created_at": _utc(now),
        "related_message_id": related_message_id,
        "slot_id": slot_id,
        "message_id": str(message["Message-ID"]).strip()[:998],
    }
    dialect = session.get_bind().dialect.name
    if dialect in ("sqlite", "postgresql"):
        # the dialect's own INSERT, imported for the one in use (PostgreSQL's is large)
        if dialect == "sqlite":
            from sqlalchemy.dialects import sqlite as dialect_module
        else:
            from sqlalchemy.dialects import postgresql as dialect_module  # type: ignore[no-redef]
        ins = dialect_module.insert(Outbox)
        stmt = (
            ins.values(**values).on_conflict_do_nothing(index_elements=["key"]).returning(Outbox.id)
        )
        # RETURNING, not rowcount: drivers disagree on rowcount for DO NOTHING
        return session.execute(stmt).first() is not None
    try:
        with session.begin_nested():
            session.add(Outbox(**values))
        return True
    except IntegrityError:
        return False


def is_queued(session: Session, key: str) -> bool:
    return session.scalar(select(Outbox.id).where(Outbox.key == key)) is not None


def backoff(attempts: int) -> timedelta:
    """Wait before attempt `attempts + 1`: 2, 4, 8 ... minutes, at most 6 hours."""
    delay = BACKOFF_BASE * (2 ** max(0, attempts - 1))
    return min(delay, BACKOFF_MAX)


def reclaim_stuck(db: Database, now: datetime) -> int:
    """Rows a crashed worker left in flight, once their lease ran out: "sending" (DATA
    never started: provably not delivered) go back to pending; "delivering" (the server
    may have accepted it) become "uncertain" and wait for staff."""
    with db.session() as s:
        result = s.execute(
            update(Outbox)
            .where(Outbox.state == "sending", Outbox.next_attempt_at <= _utc(now))
            .values(state="pending", last_error="interrupted before sending; will send")
        )
        uncertain = s.execute(
            update(Outbox)
            .where(Outbox.state == "delivering", Outbox.next_attempt_at <= _utc(now))
            .values(state="uncertain", last_error=UNCERTAIN_NOTE)
        )
        if uncertain.rowcount:  # type: ignore[attr-defined]
            log.warning(
                "outbox: %d mail(s) interrupted during delivery marked uncertain, not resent",
                uncertain.rowcount,  # type: ignore[attr-defined]
            )
        return int(result.rowcount)  # type: ignore[attr-defined]


def _entering_data(db: Database, row_id: int) -> None:
    """Committed before the DATA command: from here a crash means "maybe sent"."""
    with db.session() as s:
        s.execute(
            update(Outbox)
            .where(Outbox.id == row_id, Outbox.state == "sending")
            .values(state="delivering")
        )


def resend(db: Database, row_id: int, now: datetime) -> str:
    """Staff asked to send row `row_id` again (it is "uncertain" or "failed"); returns its
    previous state. Raises LookupError / ValueError with a one-line reason."""
    with db.session() as s:
        row = s.get(Outbox, row_id)
        if row is None:
            raise LookupError(f"outbox #{row_id}: no such mail")
        if row.state not in ("uncertain", "failed"):
            raise ValueError(
                f"outbox #{row_id} is {row.state}: only uncertain or failed mail is resent"
            )
        previous = row.state
        row.state, row.next_attempt_at = "pending", _utc(now)
        row.last_error = f"resend requested by staff (was {previous})"
        return previous


def _claim(db: Database, row_id: int, now: datetime, lease: timedelta) -> bool:
    with db.session() as s:
        result = s.execute(
            update(Outbox)
            .where(
                Outbox.id == row_id,
                Outbox.state == "pending",
                Outbox.next_attempt_at <= _utc(now),
            )
            .values(
                state="sending",
                attempts=Outbox.attempts + 1,
                next_attempt_at=_utc(now + lease),
            )
        )
        return result.rowcount == 1  # type: ignore[attr-defined]


def _void_reason(s: Session, row: Outbox) -> str | None:
    """None while the mail is still wanted, else why it is void: a reminder once its slot
    has a matched report, a receipt once staff decided its mail is not a report (a stranger
    who wrote a unit's name gets no receipt after staff ignore the mail)."""
    if row.kind == "receipt" and row.related_message_id is not None:
        decision = s.scalar(select(Message.decision).where(Message.id == row.related_message_id))
        return "staff decided the mail is not a report" if decision == "ignored" else None
    if row.kind != "reminder" or row.slot_id is None:
        return None
    got = s.scalar(
        select(Submission.id)
        .join(Message, Message.id == Submission.message_id)
        .where(Submission.slot_id == row.slot_id, Message.decision == "matched")
        .limit(1)
    )
    return None if got is None else "report received before sending"


def deliver_pending(
    db: Database,
    mailer: Mailer,
    clock: Clock,
    limit: int = 100,
    *,
    max_attempts: int = MAX_ATTEMPTS,
    lease: timedelta = SENDING_LEASE,
    kinds: Collection[str] | None = None,
) -> DeliveryReport:
    """Send what is due in the outbox (of `kinds`, default all), oldest first; never
    raises for SMTP trouble."""
    report = DeliveryReport()
    now = clock.now()
    report.reclaimed = reclaim_stuck(db, now)
    due = select(Outbox.id).where(Outbox.state == "pending", Outbox.next_attempt_at <= _utc(now))
    if kinds is not None:
        due = due.where(Outbox.kind.in_(list(kinds)))
    with db.session() as s:
        ids = list(s.scalars(due.order_by(Outbox.next_attempt_at, Outbox.id).limit(limit)))
    for row_id in ids:
        if not _claim(db, row_id, now, lease):
            continue  # another worker has it
        with db.session() as s:
            row = s.get(Outbox, row_id)
            assert row is not None
            void = _void_reason(s, row)
            if void:
                row.state = "cancelled"
                row.last_error = void
                report.cancelled.append(row_id)
                continue
            mime, recipients, attempts = row.mime, list(row.recipients), row.attempts
        in_data = False

        def before_data(row_id: int = row_id) -> None:
            nonlocal in_data
            _entering_data(db, row_id)
            in_data = True

        try:
            mailer.send(mime, mailer.sender, recipients, before_data=before_data)
        except Exception as exc:
            if isinstance(exc, TransportError):
                err, permanent, stop = exc.message, exc.permanent, exc.stop_batch
                answered = exc.answered
            else:  # a bug or an unexpected library error: keep the row, say what it was
                log.exception("outbox: unexpected error sending #%s", row_id)
                err, permanent, stop = f"{exc.__class__.__name__}: {exc}", False, False
                answered = False
            report.errors.append(f"#{row_id}: {err}")
            if in_data and not answered:
                # lost during DATA: the server may have taken it; never resend on our own
                _mark_uncertain(db, row_id, err, report)
            else:
                _after_failure(db, row_id, err, permanent, attempts, max_attempts, now, report)
            if stop:
                report.stopped = err
                break
            continue
        with db.session() as s:
            s.execute(
                update(Outbox)
                .where(Outbox.id == row_id)
                .values(state="sent", sent_at=_utc(clock.now()), last_error=None)
            )
        report.sent.append(row_id)
    return report


def _mark_uncertain(db: Database, row_id: int, err: str, report: DeliveryReport) -> None:
    with db.session() as s:
        s.execute(
            update(Outbox)
            .where(Outbox.id == row_id)
            .values(state="uncertain", last_error=f"{UNCERTAIN_NOTE}（{err[:500]}）")
        )
    report.uncertain.append(row_id)
    log.warning("outbox #%s: interrupted during delivery (%s); marked uncertain", row_id, err)


def _after_failure(
    db: Database,
    row_id: int,
    err: str,
    permanent: bool,
    attempts: int,
    max_attempts: int,
    now: datetime,
    report: DeliveryReport,
) -> None:
    give_up = permanent or attempts >= max_attempts
    with db.session() as s:
        if give_up:
            values: dict[str, Any] = {"state": "failed", "last_error": err[:2000]}
            report.failed.append(row_id)
        else:
            values = {
                "state": "pending",
                "last_error": err[:2000],
                "next_attempt_at": _utc(now + backoff(attempts)),
            }
            report.retrying.append(row_id)
        s.execute(update(Outbox).where(Outbox.id == row_id).values(**values))
    log.warning("outbox #%s: %s (%s)", row_id, err, "gave up" if give_up else "will retry")


def deliver_now(
    db: Database,
    smtp: SmtpConfig,
    clock: Clock,
    mailer: Mailer | None = None,
    *,
    kinds: Collection[str] | None = None,
) -> DeliveryReport:
    """Deliver the outbox (rows of `kinds`, default all) through `mailer`, or through one
    SMTP connection to `smtp`."""
    if mailer is not None:
        return deliver_pending(db, mailer, clock, kinds=kinds)
    with SmtpMailer(smtp) as m:
        return deliver_pending(db, m, clock, kinds=kinds)


def waiting(db: Database, kinds: Collection[str] | None = None) -> int:
    """How many rows (of `kinds`) are still pending: queued for later or to retry."""
    q = select(func.count()).select_from(Outbox).where(Outbox.state == "pending")
    if kinds is not None:
        q = q.where(Outbox.kind.in_(list(kinds)))
    with db.session() as s:
        return int(s.scalar(q) or 0)


def delivery_line(db: Database, report: DeliveryReport, kinds: Collection[str]) -> str | None:
    """One line for a command that just tried to send (`poll`, `assign`): what was sent and
    how many still wait, with the SMTP error when the batch stopped. None if nothing to say."""
    left = waiting(db, kinds)
    if not (report.sent or report.errors or report.cancelled or report.uncertain or left):
        return None
    line = report.summary()
    if left:
        line += f"; {left} waiting (the service sends them)"
    if report.stopped:
        line += f"; SMTP stopped: {report.stopped}"
    elif report.errors:
        line += f"; last error: {report.errors[-1]}"
    return line


@dataclass(frozen=True)
class OutboxRow:
    id: int
    key: str
    kind: str
    state: str
    recipients: tuple[str, ...]
    subject: str
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    sent_at: datetime | None
    last_error: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "key": self.key,
            "kind": self.kind,
            "state": self.state,
            "recipients": list(self.recipients),
            "subject": self.subject,
            "attempts": self.attempts,
            "next_attempt_at": self.next_attempt_at.isoformat(),
            "created_at": self.created_at.isoformat(),
            "sent_at": self.sent_at.isoformat() if self.sent_at else None,
            "last_error": self.last_error,
        }


def list_outbox(session: Session, *, state: str | None = None) -> list[OutboxRow]:
    q = select(Outbox).order_by(Outbox.id)
    if state:
        q = q.where(Outbox.state == state)
    return [
        OutboxRow(
            r.id,
            r.key,
            r.kind,
            r.state,
            tuple(r.recipients),
            r.subject,
            r.attempts,
            r.next_attempt_at,
            r.created_at,
            r.sent_at,
            r.last_error,
        )
        for r in session.scalars(q)
    ]
