"""The outbox: every mail we send is queued once under a unique key, then delivered.

- `enqueue` inserts if the key is absent (INSERT ... ON CONFLICT DO NOTHING on SQLite and
  PostgreSQL): the key ("reminder:12:before:2", "receipt:40", "digest:2023-W21:ab12…")
  is what makes a mail go out once, across restarts and concurrent workers.
- `deliver_pending` claims one row at a time with a conditional UPDATE
  (pending -> sending, checked by rowcount), so two workers never send one row. While a
  row is "sending", `next_attempt_at` is its lease: a worker that crashed mid-send leaves
  the row "sending" until the lease runs out, then it goes back to pending and is sent
  again with the same Message-ID (set at enqueue), so a duplicate is recognisable.
- Temporary failures retry with exponential backoff; after `max_attempts` (or a permanent
  failure) the row is "failed" with the last error. A reminder whose slot has received a
  report meanwhile is "cancelled" instead of sent.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tracker.clock import Clock
from tracker.config import SmtpConfig
from tracker.db import Database
from tracker.models import Message, Outbox, Submission
from tracker.outgoing.mailer import SmtpMailer, TransportError

log = logging.getLogger(__name__)

STATES = ("pending", "sending", "sent", "failed", "cancelled")
MAX_ATTEMPTS = 8
BACKOFF_BASE = timedelta(minutes=2)
BACKOFF_MAX = timedelta(hours=6)
SENDING_LEASE = timedelta(minutes=15)


class Mailer(Protocol):
    @property
    def sender(self) -> str: ...

    def send(self, mime_bytes: bytes, sender: str, recipients: Sequence[str]) -> None: ...


@dataclass
class DeliveryReport:
    sent: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    cancelled: list[int] = field(default_factory=list)
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
    }
    dialect = session.get_bind().dialect.name
    if dialect in ("sqlite", "postgresql"):
        ins = (sqlite.insert if dialect == "sqlite" else postgresql.insert)(Outbox)
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
    """Rows left "sending" by a crashed worker whose lease ran out go back to pending."""
    with db.session() as s:
        result = s.execute(
            update(Outbox)
            .where(Outbox.state == "sending", Outbox.next_attempt_at <= _utc(now))
            .values(state="pending", last_error="interrupted while sending; will resend")
        )
        return int(result.rowcount)  # type: ignore[attr-defined]


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


def _still_wanted(s: Session, row: Outbox) -> bool:
    """A reminder is void once its slot has a matched report."""
    if row.kind != "reminder" or row.slot_id is None:
        return True
    got = s.scalar(
        select(Submission.id)
        .join(Message, Message.id == Submission.message_id)
        .where(Submission.slot_id == row.slot_id, Message.decision == "matched")
        .limit(1)
    )
    return got is None


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
            if not _still_wanted(s, row):
                row.state = "cancelled"
                row.last_error = "report received before sending"
                report.cancelled.append(row_id)
                continue
            mime, recipients, attempts = row.mime, list(row.recipients), row.attempts
        try:
            mailer.send(mime, mailer.sender, recipients)
        except Exception as exc:
            if isinstance(exc, TransportError):
                err, permanent, stop = exc.message, exc.permanent, exc.stop_batch
            else:  # a bug or an unexpected library error: keep the row, say what it was
                log.exception("outbox: unexpected error sending #%s", row_id)
                err, permanent, stop = f"{exc.__class__.__name__}: {exc}", False, False
            report.errors.append(f"#{row_id}: {err}")
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
