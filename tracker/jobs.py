"""The daemon's jobs: each does one unit of work and returns whether it found work.

A job raises :class:`JobFailed` (or a known error: mailbox, SMTP) when its resource is
down; the daemon logs that as one line and pushes the job's next attempt forward with
:func:`backoff_delay`. Nothing here knows about threads or the scheduler, so a test can
call one tick: ``Jobs(app, ...).poll()``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from intake.mailbox import MailboxError
from tracker.app import App
from tracker.clock import Clock
from tracker.heartbeat import ping
from tracker.hooks import receipt_hook
from tracker.models import Message
from tracker.recording import PollReport
from tracker.watch import Watch

log = logging.getLogger(__name__)

JOB_NAMES = ("poll", "outbox", "reminders", "digest")
BACKOFF_CAP = 30 * 60.0


class JobFailed(Exception):
    """A job could not do its work now (resource down); the message is one line."""


def backoff_delay(failures: int, base: float, cap: float = BACKOFF_CAP) -> float:
    """Seconds before the next attempt after `failures` failures in a row: base, 2x, 4x ...
    at most `cap` (and never less than `base`)."""
    if failures <= 0:
        return base
    return float(max(base, min(cap, base * 2 ** (failures - 1))))


@dataclass
class JobHealth:
    name: str
    failures: int = 0
    last_error: str | None = None
    last_ok: datetime | None = None
    running_since: float | None = None  # time.monotonic() while running


@dataclass
class LastPoll:
    at: datetime
    new: int
    in_review: int


@dataclass
class Status:
    """What the service is doing, for the systemd STATUS line."""

    jobs: dict[str, JobHealth] = field(
        default_factory=lambda: {name: JobHealth(name) for name in JOB_NAMES}
    )
    last_poll: LastPoll | None = None
    review_queue: int = 0
    idle: str = ""  # "", "idle", "polling only"
    lock: threading.Lock = field(default_factory=threading.Lock)

    def line(self) -> str:
        with self.lock:
            if self.last_poll is None:
                parts = ["no poll yet"]
            else:
                lp = self.last_poll
                parts = [f"last poll {lp.at:%H:%M}, {lp.new} new, {self.review_queue} in review"]
            if self.idle:
                parts.append(self.idle)
            for job in self.jobs.values():
                if job.failures:
                    parts.append(f"{job.name} failing x{job.failures}: {job.last_error or ''}")
        return "; ".join(parts)


class Jobs:
    """The units of work of `report-intake run`."""

    def __init__(
        self,
        app: App,
        clock: Clock,
        *,
        should_stop: Callable[[], bool] = lambda: False,
        on_mail_queued: Callable[[], None] = lambda: None,
        status: Status | None = None,
    ) -> None:
        self.app = app
        self.clock = clock
        self.should_stop = should_stop
        self.on_mail_queued = on_mail_queued
        self.status = status or Status()
        self.watch = Watch(app.db, app.config, app.roster, clock)

    # -- poll ----------------------------------------------------------------------------
    def poll(self) -> bool:
        """One intake pass; True when it recorded something. Raises JobFailed when the
        mailbox cannot be read (counted by the watch)."""
        app = self.app
        hook = receipt_hook(app, self.clock)
        recorder = app.recorder(self.clock, on_recorded=hook, should_stop=self.should_stop)
        beat = app.config.watch.heartbeat_url
        try:
            report = recorder.poll_once(app.source())
        except MailboxError as exc:  # also RecordingFailed: storage or database trouble
            ping(beat, ok=False)
            try:
                if self.watch.poll_failed(str(exc)):
                    self.on_mail_queued()
            except SQLAlchemyError as db_exc:  # the database itself may be what failed
                log.warning("could not count the failed poll: %s", type(db_exc).__name__)
            raise JobFailed(str(exc)) from None
        except Exception:
            ping(beat, ok=False)
            raise
        ping(beat, ok=True)
        self._after_poll(report)
        return report.new > 0

    def _after_poll(self, report: PollReport) -> None:
        queued = self.watch.poll_succeeded(report.new)
        queued = self.watch.check_quiet() or queued
        if report.new:
            log.info(
                "recorded %d new mail(s) (%d in review) from %s",
                report.new,
                report.in_review,
                report.source,
            )
            if app_sends_receipts(self.app):
                queued = True
        with self.app.db.session() as s:
            review = s.scalar(
                select(func.count()).select_from(Message).where(Message.decision == "review")
            )
        from tracker.pollstate import note_poll

        note_poll(self.app.db, self.clock.now(), report.new, report.in_review)
        with self.status.lock:
            self.status.last_poll = LastPoll(self.clock.now(), report.new, report.in_review)
            self.status.review_queue = int(review or 0)
        if queued:
            self.on_mail_queued()

    # -- outgoing mail ---------------------------------------------------------------------
    def outbox(self) -> bool:
        """Deliver what is due; True when something was sent. Raises JobFailed when SMTP
        is down (the rows stay queued with their own retry times)."""
        config = self.app.config
        if not config.smtp.configured:
            return False
        from tracker.outgoing.outbox import deliver_now

        report = deliver_now(self.app.db, config.smtp, self.clock)
        if report.sent:
            log.info("outbox: %s", report.summary())
        if report.stopped:
            raise JobFailed(f"SMTP: {report.stopped}")
        return bool(report.sent)

    def reminders(self) -> bool:
        """Queue (and try to deliver) today's reminders; True when any was queued."""
        config = self.app.config
        if not (config.smtp.configured and config.reminders.enabled):
            return False
        from tracker.outgoing.reminders import send_reminders

        # SMTP trouble is the outbox job's to report and retry: queued rows wait there
        report = send_reminders(self.app.db, self.app.roster, config, self.clock)
        return bool(report.queued)

    def digest(self) -> bool:
        """Queue (and deliver) this week's digest; True when it was queued now."""
        config = self.app.config
        if not (config.smtp.configured and (config.digest.recipients or config.staff)):
            return False
        from tracker.outgoing.digest import send_digest

        overdue = max(config.reminders.overdue_after, default=0)
        active = self.app.roster.active(self.clock.today(), overdue)
        if not active:
            return False  # no campaign running: no digest
        roster = self.app.roster.only(p.campaign.key for p in active)
        report = send_digest(self.app.db, config, roster, self.clock)
        return bool(report.queued)


def app_sends_receipts(app: App) -> bool:
    return app.config.receipts.enabled and app.config.smtp.configured
