"""One intake pass: fetch new mail, record each message exactly once, then mark it.

For every fetched mail, in one transaction: the raw copy (content-addressed on disk), the
parsed message, its match, its attachments, its submissions and the mailbox checkpoint.
Only after that commits is the mail flagged (or moved) on the server. A mail that breaks the
parser or the matcher is recorded raw and put in review; the pass goes on.
"""

from __future__ import annotations

import functools
import logging
import os
import queue
import threading
import traceback
import types
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from hashlib import sha256
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from intake.cloudlinks import CloudLink, find_cloud_links
from intake.completeness import Reading, read_mail
from intake.mailbox import FetchedMail, MailboxError, MailSource
from intake.matching import MatchResult, UnitRef, build_index, match, read_liaison_fields
from intake.parsing import (
    MAX_PARTS,
    TOO_MANY_PARTS,
    ParsedMail,
    UnparseableMail,
    parse_message,
)
from intake.places import Jurisdiction
from intake.store import AttachmentStore, StoredFile, _register_heif
from tracker.addressbook import CONFIRMED, forget_learnt_from, learn
from tracker.bounded import run_bounded
from tracker.clock import Clock
from tracker.db import Database
from tracker.evidence import (
    PhotoAssessment,
    assess_files,
    check_photos,
    store_assessment,
    with_reading_problems,
)
from tracker.models import (
    Attachment,
    Checkpoint,
    Liaison,
    Message,
    MessageUnit,
    Submission,
    Unit,
    UnitAddress,
)
from tracker.roster import Roster
from tracker.senders import check_new_sender
from tracker.slots import campaign_for, slot_for
from tracker.threads import resolve_thread
from tracker.workers import BoundedWorker

log = logging.getLogger(__name__)

KEPT_HEADERS = (
    "auto-submitted",
    "precedence",
    "list-id",
    "list-unsubscribe",
    "x-autoreply",
    "x-autorespond",
    "x-auto-response-suppress",
    "x-loop",
    "return-path",
    "reply-to",
    "in-reply-to",
    "references",
)

OnRecorded = Callable[[Session, Message], None]


class RecordingFailed(MailboxError):
    """Storage or the database failed while a mail was being recorded; nothing of it was
    kept. Handled as a mailbox error: one line, the poll fails and counts towards the
    staff alert ([watch] failures_before_alert), and the mail is taken again next time."""


def _cannot_record(uid: int, key: str, why: BaseException | str) -> RecordingFailed:
    """The poll's one line for a mail it could not record."""
    text = why if isinstance(why, str) else _one_line(why)
    return RecordingFailed(f"could not record mail uid {uid} of {key}: {text}")


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, SQLAlchemyError):
        orig = getattr(exc, "orig", None)
        text = str(orig) if orig is not None else type(exc).__name__
    elif isinstance(exc, OSError) and exc.strerror:
        where = f" ({exc.filename})" if exc.filename else ""
        text = f"{exc.strerror}{where}"
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(text.split())[:300]


@dataclass(frozen=True)
class Analysis:
    """What intake makes of one raw mail, before anything is written."""

    parsed: ParsedMail | None
    result: MatchResult
    error: str | None = None
    received_at: datetime | None = None
    reading: Reading | None = None  # documents and body read for completeness


DATE_SKEW = timedelta(days=1)


def date_skew_reason(sent: datetime | None, arrived: datetime) -> str | None:
    """A reason for staff when the sender's Date header is far from the arrival time.

    A report counts from its arrival (IMAP INTERNALDATE, Maildir delivery time), never from
    its Date header, which the sender writes: a backdated Date must not make a late report
    on time. Normally the two are seconds apart; when they are not, staff are told."""
    if sent is None:
        return None
    gap = sent - arrived
    if abs(gap) <= DATE_SKEW:
        return None
    days = abs(gap).total_seconds() / 86400
    amount = f"{days:.0f}天" if days >= 1.5 else f"{abs(gap).total_seconds() / 3600:.0f}小时"
    side = "早" if gap < timedelta(0) else "晚"
    return f"邮件头日期（Date）比实际到达时间{side}{amount}：按到达时间计"


@dataclass
class RecordedMessage:
    id: int
    from_addr: str
    subject: str
    decision: str
    units: tuple[str, ...]
    period: str | None
    attachments: int


@dataclass
class PollReport:
    source: str
    fetched: int = 0
    duplicates: int = 0
    recorded: list[RecordedMessage] = field(default_factory=list)
    marked: int = 0
    uidvalidity_changed: bool = False
    interrupted: bool = False

    @property
    def new(self) -> int:
        return len(self.recorded)

    @property
    def in_review(self) -> int:
        return sum(1 for r in self.recorded if r.decision == "review")


# A report for a month this long before it arrived is more likely a wrong year (2023 for
# 2024) than a report a year late: staff decide, the matcher does not.
STALE_MONTHS = 6


def stale_period_reason(result: MatchResult, received_at: datetime) -> str | None:
    """A reason for review when a matched report is for a month long before its arrival."""
    if result.decision != "matched" or result.kind != "report" or not result.period:
        return None
    try:
        year, month = int(result.period[:4]), int(result.period[5:7])
    except ValueError:
        return None
    behind = (received_at.year - year) * 12 + (received_at.month - month)
    if behind <= STALE_MONTHS:
        return None
    return (
        f"所报月份（{year}年{month}月）比收信时间早 {behind} 个月，可能写错了年份，请核实后指定月份"
    )


def analyse(
    raw: bytes,
    units: Sequence[UnitRef],
    *,
    received_at: datetime,
    own_addresses: Sequence[str] = (),
    jurisdiction: Jurisdiction | None = None,
) -> Analysis:
    """Parse and match one raw mail. Never raises: failures become review with a reason.

    `received_at` is when the mail arrived: it decides the period inference and on-time
    or late; a Date header far from it adds a reason (see `date_skew_reason`).
    """
    unreadable = _review("邮件无法解析，已保留原件，请人工查看")
    try:
        parsed = parse_message(raw)
    except UnparseableMail as exc:
        return Analysis(None, unreadable, f"unparseable: {exc}", received_at)
    except Exception as exc:  # a parser bug must not lose the mail
        log.exception("parser failed on a mail; it is kept raw and sent to review")
        return Analysis(None, unreadable, _describe(exc), received_at)
    try:
        result = match(
            parsed,
            units,
            received_at=received_at,
            own_addresses=own_addresses,
            jurisdiction=jurisdiction,
        )
    except Exception as exc:
        log.exception("matcher failed on a mail; it is kept and sent to review")
        return Analysis(parsed, _review("自动识别出错，请人工查看"), _describe(exc), received_at)
    skew = date_skew_reason(parsed.date, received_at)
    if skew is not None:
        result = replace(result, reasons=(*result.reasons, skew))
    stale = stale_period_reason(result, received_at)
    if stale is not None:
        result = replace(result, decision="review", reasons=(*result.reasons, stale))
    if any(e.startswith(TOO_MANY_PARTS) for e in parsed.errors):
        cut = f"邮件分段过多（超过 {MAX_PARTS} 个），只读取了前 {MAX_PARTS} 个，已保留原件，请人工查看"
        result = replace(result, decision="review", reasons=(*result.reasons, cut))
    try:
        reading = read_mail(parsed.attachments, parsed.text, parsed.html)
    except Exception:  # a reader bug: the recorder reads again, in-process
        log.exception("reading the documents of a mail failed")
        reading = None
    return Analysis(parsed, result, None, received_at, reading)


def analyse_bounded(
    raw: bytes,
    units: Sequence[UnitRef],
    *,
    received_at: datetime,
    own_addresses: Sequence[str] = (),
    seconds: float = 60.0,
    memory_bytes: int | None = None,
    jurisdiction: Jurisdiction | None = None,
) -> Analysis:
    """`analyse` in a child process under a time (and memory) budget.

    Past the budget, or when the child dies, the mail is kept raw and sent to review with
    the reason; nothing the mail holds can stall or exhaust the intake itself.
    """

    def work() -> Analysis:
        analysis = analyse(
            raw,
            units,
            received_at=received_at,
            own_addresses=own_addresses,
            jurisdiction=jurisdiction,
        )
        if analysis.parsed is None:
            return analysis
        # mappingproxy does not pickle: the headers travel as a dict
        headers = dict(analysis.parsed.headers)
        return replace(analysis, parsed=replace(analysis.parsed, headers=headers))

    outcome = run_bounded(work, seconds=seconds, memory_bytes=memory_bytes)
    if outcome.value is not None:
        analysis = outcome.value
        if analysis.parsed is not None:
            headers = types.MappingProxyType(dict(analysis.parsed.headers))
            analysis = replace(analysis, parsed=replace(analysis.parsed, headers=headers))
        return analysis
    if outcome.timed_out:
        reason = f"邮件分析超时（超过 {seconds:g} 秒），已保留原件，请人工查看"
    else:
        reason = "邮件分析超出资源限制，已保留原件，请人工查看"
    log.warning("mail kept raw and sent to review: %s", outcome.failure)
    return Analysis(None, _review(reason), outcome.failure, received_at)


def _review(reason: str) -> MatchResult:
    return MatchResult(
        kind="other", decision="review", units=(), period=None, confidence=0.0, reasons=(reason,)
    )


def _describe(exc: BaseException) -> str:
    tb = traceback.extract_tb(exc.__traceback__)
    where = f" at {tb[-1].filename.rsplit('/', 1)[-1]}:{tb[-1].lineno}" if tb else ""
    return f"{type(exc).__name__}: {exc}{where}"[:2000]


@dataclass
class _Prepared:
    """One fetched mail made ready to record: its files written (synced later, once per
    batch), its analysis done. Nothing is in the database yet."""

    uid: int
    digest: str
    internal_date: datetime | None
    duplicate: bool = False  # already recorded: only the checkpoint moves
    too_large: bool = False
    size: int = 0
    raw: bytes = b""  # kept only when preparing failed (the bare record needs it)
    raw_path: str = ""
    raw_size: int = 0
    analysis: Analysis | None = None
    files: tuple[Attachment, ...] = ()  # rows for the stored files, not yet added
    assessment: PhotoAssessment | None = None  # real photos and write-up
    links: tuple[CloudLink, ...] = ()
    error: str | None = None  # preparing failed: the mail is recorded bare, for review
    storage_error: str | None = None  # the store refused a write: the poll fails


GROUP = 10  # mails recorded together when the next one is not ready yet (one sync each)


class _Prefetch:
    """Fetches ahead of the recorder in a thread and starts preparing each mail at once
    (`start` gives its future). At most `ahead` of them wait to be recorded, and the mails
    started but not yet prepared hold at most `ahead_bytes` (or one mail, however large):
    preparing keeps going while the recorder syncs and commits, in bounded memory.

    The source is used under `lock` (one connection serves fetching and marking). A fetch
    failure is raised where the recorder takes the next mail, after the mails before it."""

    def __init__(
        self,
        mails: Iterator[FetchedMail],
        start: Callable[[FetchedMail], Future[_Prepared]],
        lock: threading.Lock,
        ahead: int,
        ahead_bytes: int = 1 << 62,
    ) -> None:
        self._mails = mails
        self._start = start
        self._lock = lock
        self._ahead_bytes = ahead_bytes
        self._in_flight = 0  # bytes of mail started and not yet prepared
        self._flight = threading.Condition()
        self._queue: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=max(1, ahead))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="intake-fetch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                with self._lock:
                    mail = next(self._mails, None)
                if mail is None:
                    break
                size = len(mail.raw)
                if not self._take(size):
                    break
                future = self._start(mail)
                future.add_done_callback(functools.partial(self._release, size))
                self._put(("mail", future))
        except BaseException as exc:
            self._put(("error", exc))
            return
        finally:
            close = getattr(self._mails, "close", None)
            if close is not None:
                with self._lock, suppress(Exception):
                    close()
        self._put(("end", None))

    def _take(self, size: int) -> bool:
        """Wait until `size` more bytes may be in flight (always, when none are)."""
        with self._flight:
            while self._in_flight and self._in_flight + size > self._ahead_bytes:
                if self._stop.is_set():
                    return False
                self._flight.wait(0.1)
            self._in_flight += size
        return True

    def _release(self, size: int, _done: object = None) -> None:
        with self._flight:
            self._in_flight -= size
            self._flight.notify_all()

    def _put(self, item: tuple[str, Any]) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def __iter__(self) -> Iterator[Future[_Prepared]]:
        while True:
            kind, value = self._queue.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


class Recorder:
    """Records mail from a source into the database and the store.

    A pass is a bounded pipeline: a thread fetches a few mails ahead; `workers` threads
    prepare them, each through one forked worker process that lives for the pass
    (tracker.workers: raw copy, parse, match, documents read, attachments and thumbnails
    written but not yet synced, photos assessed) under the per-mail time budget and the
    memory cap; the calling thread records them in the order of their UIDs. Once per
    group the store is synced, then the group's rows are committed (one transaction, a
    savepoint per mail), then, a batch at a time, marked on the server. So a row only ever names durable
    files, and a mail is marked only once it is recorded; a crash anywhere leaves mail
    that is recorded once on the next pass. `workers=0` prepares in the calling thread
    (still in a bounded worker process).
    """

    def __init__(
        self,
        db: Database,
        store: AttachmentStore,
        roster: Roster,
        clock: Clock,
        *,
        own_addresses: Sequence[str] = (),
        batch_size: int = 50,
        max_message_bytes: int = 60 * 1024 * 1024,
        analysis_seconds: float = 60.0,
        analysis_memory_bytes: int | None = 1024 * 1024 * 1024,
        on_recorded: OnRecorded | None = None,
        should_stop: Callable[[], bool] = lambda: False,
        new_sender: str = "count",
        workers: int | None = None,
        fetch_ahead: int = 16,
        fetch_ahead_bytes: int = 24 * 1024 * 1024,
    ) -> None:
        self.db = db
        self.store = store
        self.roster = roster
        self.clock = clock
        self.own_addresses = tuple(a.lower() for a in own_addresses)
        self.batch_size = batch_size
        self.max_message_bytes = max_message_bytes
        self.analysis_seconds = analysis_seconds
        self.analysis_memory_bytes = analysis_memory_bytes
        self.on_recorded = on_recorded
        self.should_stop = should_stop
        self.new_sender = new_sender  # [matching] new_sender: "count" | "review"
        self.workers = min(2, os.cpu_count() or 1) if workers is None else max(0, workers)
        self.fetch_ahead = fetch_ahead
        self.fetch_ahead_bytes = fetch_ahead_bytes
        self._source_lock = threading.Lock()
        self._local = threading.local()  # each preparing thread's worker process
        self._workers: list[BoundedWorker] = []
        self._workers_lock = threading.Lock()
        self._warm_units: Sequence[UnitRef] | None = None  # what _warm_up last filled

    # -- the pass ---------------------------------------------------------------------

    def poll_once(self, source: MailSource) -> PollReport:
        """One pass over `source`. Storage or database trouble anywhere in it (the
        checkpoint, a mail, the marks) is a `RecordingFailed`: one line, counted like a
        mailbox error, nothing half-recorded."""
        try:
            return self._poll_once(source)
        except (OSError, SQLAlchemyError) as exc:
            raise RecordingFailed(f"intake from {source.key} failed: {_one_line(exc)}") from exc

    def _poll_once(self, source: MailSource) -> PollReport:
        report = PollReport(source=source.key)
        source.open()
        prefetch: _Prefetch | None = None
        pool: ThreadPoolExecutor | None = None
        try:
            uidvalidity = source.uidvalidity()
            last_uid = self._checkpoint(source.key, uidvalidity, report)
            report.marked += self._mark_pending(source, uidvalidity)
            units = self.unit_refs()
            fetched_mails = source.fetch_since(
                last_uid, batch=self.batch_size, max_bytes=self.max_message_bytes
            )
            key = source.key
            items: Iterable[Future[_Prepared] | _Prepared]
            if self.workers:
                pool = ThreadPoolExecutor(self.workers, thread_name_prefix="intake-prepare")
                started = pool

                def start(fetched: FetchedMail) -> Future[_Prepared]:
                    return started.submit(self._prepare, fetched, key, uidvalidity, units)

                prefetch = _Prefetch(
                    iter(fetched_mails),
                    start,
                    self._source_lock,
                    self.fetch_ahead,
                    self.fetch_ahead_bytes,
                )
                items = prefetch
            else:
                items = (self._prepare(f, key, uidvalidity, units) for f in fetched_mails)
            self._record_in_order(source, uidvalidity, items, report)
        finally:
            if prefetch is not None:
                prefetch.close()
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
            self._close_workers()
            source.close()
        return report

    def _record_in_order(
        self,
        source: MailSource,
        uidvalidity: int,
        items: Iterable[Future[_Prepared] | _Prepared],
        report: PollReport,
    ) -> None:
        """Record prepared mails in UID order, a group at a time: the group's files synced
        once, then its rows committed (one transaction, a savepoint per mail), then, a batch at a time,
        marked on the server. A group is recorded when the next mail is not ready yet (so
        recording overlaps preparing) or when it is a whole batch."""
        ready: list[_Prepared] = []
        marks: list[tuple[int, int]] = []
        group = max(1, min(self.batch_size, GROUP))
        try:
            for item in items:
                report.fetched += 1
                waiting = isinstance(item, Future) and not item.done()
                if ready and ((waiting and len(ready) >= group) or len(ready) >= self.batch_size):
                    self._record_group(source, uidvalidity, ready, report, marks)
                    ready = []
                    if report.interrupted:
                        return
                ready.append(_result(item))
                if self.should_stop():
                    report.interrupted = True
                    break
        except RecordingFailed:
            raise
        except MailboxError:
            # The mailbox failed mid-pass: what was fetched is recorded (in order; not
            # marked: the next pass marks it), then the failure goes up.
            self._record_group(source, uidvalidity, ready, report, None)
            raise
        self._record_group(source, uidvalidity, ready, report, marks)
        report.marked += self._mark(source, marks)

    def _record_group(
        self,
        source: MailSource,
        uidvalidity: int,
        ready: Sequence[_Prepared],
        report: PollReport,
        marks: list[tuple[int, int]] | None,
    ) -> None:
        """Sync the group's files, then record its mails in order in one transaction (each
        mail in its own savepoint, so one mail's failure undoes that mail alone): one
        commit for the group, not one per mail. Every whole batch is then marked."""
        if not ready:
            return
        new = [p for p in ready if not p.duplicate]
        if new:
            try:
                self.store.sync()
            except OSError as exc:  # the files may be lost: none of the group is recorded
                raise _cannot_record(new[0].uid, source.key, exc) from exc
        failure: RecordingFailed | None = None
        try:
            done, failure = self._commit_group(source, uidvalidity, ready, report, marks)
            for prepared, recorded in done:
                if recorded is None:
                    report.duplicates += 1
                else:
                    report.recorded.append(recorded)
                    if marks is not None:
                        marks.append((recorded.id, prepared.uid))
        finally:
            # What is recorded is marked a batch at a time (the rest at the end, or now
            # when the pass stops or fails).
            if marks is not None:
                while len(marks) >= self.batch_size:
                    report.marked += self._mark(source, marks[: self.batch_size])
                    del marks[: self.batch_size]
        if failure is not None:
            raise failure
        if report.interrupted and marks:
            report.marked += self._mark(source, marks)
            marks.clear()

    def _commit_group(
        self,
        source: MailSource,
        uidvalidity: int,
        ready: Sequence[_Prepared],
        report: PollReport,
        marks: list[tuple[int, int]] | None,
    ) -> tuple[list[tuple[_Prepared, RecordedMessage | None]], RecordingFailed | None]:
        """The group's mails in one transaction, committed: each mail with what became of
        it (None: recorded before), up to a stop or the first mail that failed (returned:
        what came before it is kept). Raises when none of the group could be kept."""
        done: list[tuple[_Prepared, RecordedMessage | None]] = []
        failure: RecordingFailed | None = None
        try:
            with self.db.session() as s:
                _write_transaction(s)
                for prepared in ready:
                    if marks is not None and not report.interrupted and self.should_stop():
                        # Stop after the mail in hand: the rest is neither recorded nor
                        # marked; the next pass takes it in (its files are already there).
                        report.interrupted = True
                        break
                    try:
                        done.append((prepared, self._commit(prepared, source.key, uidvalidity, s)))
                    except RecordingFailed as exc:
                        failure = exc
                        break
                    finally:
                        # each mail starts from an empty identity map, as in a session of
                        # its own (rows deleted by one mail's statements may see their ids
                        # used again by the next)
                        s.expunge_all()
                if failure is not None and done and not _sqlite_transaction_open(s):
                    # The error ended the whole transaction, not only the mail's savepoint
                    # (SQLite does on a full disk or database, an I/O error, no memory;
                    # PostgreSQL keeps it): the mails before it went with it, the COMMIT
                    # would commit nothing. None of the group is recorded or marked.
                    raise _cannot_record(
                        ready[0].uid, source.key, _first_error(failure)
                    ) from failure
        except (OSError, SQLAlchemyError) as exc:
            # The group's commit failed: none of it is recorded, the checkpoint stays.
            raise _cannot_record(ready[0].uid, source.key, exc) from exc
        return done, failure

    def unit_refs(self) -> tuple[UnitRef, ...]:
        """The roster as plain data, with the addresses confirmed since (by staff).
        Learnt addresses (automatically matched reports, liaison forms) are not evidence
        for matching: anyone can send those, and one wrong match must not spread."""
        with self.db.session() as s:
            rows = s.execute(
                select(Unit.name, UnitAddress.address)
                .join(UnitAddress.unit)
                .where(UnitAddress.status == CONFIRMED)
            ).all()
        extra: dict[str, list[str]] = {}
        for name, address in rows:
            extra.setdefault(name, []).append(address)
        return self.roster.unit_refs(extra)

    def _checkpoint(self, key: str, uidvalidity: int, report: PollReport) -> int:
        with self.db.session() as s:
            cp = s.scalar(select(Checkpoint).where(Checkpoint.source == key))
            if cp is None:
                s.add(
                    Checkpoint(source=key, uidvalidity=uidvalidity, last_uid=0, updated_at=_now())
                )
                return 0
            if cp.uidvalidity != uidvalidity:
                log.warning(
                    "UIDVALIDITY of %s changed from %s to %s: rescanning; mail already "
                    "recorded is recognised by its content and not recorded again",
                    key,
                    cp.uidvalidity,
                    uidvalidity,
                )
                report.uidvalidity_changed = True
                cp.uidvalidity, cp.last_uid, cp.updated_at = uidvalidity, 0, _now()
                return 0
            return cp.last_uid

    # -- one mail ---------------------------------------------------------------------

    def record(
        self, fetched: FetchedMail, key: str, uidvalidity: int, units: Sequence[UnitRef]
    ) -> RecordedMessage | None:
        """Record one fetched mail; None if it was already recorded (only the checkpoint moves)."""
        try:
            prepared = self._prepare(fetched, key, uidvalidity, units)
        finally:
            self._close_workers()
        if not prepared.duplicate and prepared.storage_error is None:
            try:
                self.store.sync()
            except OSError as exc:
                raise _cannot_record(fetched.uid, key, exc) from exc
        try:
            with self.db.session() as s:
                _write_transaction(s)
                return self._commit(prepared, key, uidvalidity, s)
        except (OSError, SQLAlchemyError) as exc:
            raise _cannot_record(fetched.uid, key, exc) from exc

    def _exists(self, digest: str, s: Session | None = None) -> bool:
        if s is not None:  # in the group's transaction: its own rows count
            return s.scalar(select(Message.id).where(Message.raw_sha256 == digest)) is not None
        with self.db.session() as own:
            return self._exists(digest, own)

    def _prepare(
        self, fetched: FetchedMail, key: str, uidvalidity: int, units: Sequence[UnitRef]
    ) -> _Prepared:
        """Everything but writing the database: recognising a mail already recorded, raw copy, analysis, attachments and thumbnails,
        photo checks, cloud links. Runs on a worker thread, the work itself in that
        thread's worker process under the analysis budget (tracker.workers): past it, or
        when the process dies, the mail is kept raw for review with the reason. Never
        raises: a refused write comes back as `storage_error`, anything else as `error`."""
        digest = _digest(fetched, key, uidvalidity)
        try:
            if self._exists(digest):
                return _Prepared(fetched.uid, digest, fetched.internal_date, duplicate=True)
        except SQLAlchemyError as exc:
            return _Prepared(fetched.uid, digest, None, storage_error=_one_line(exc))
        prepared = _Prepared(
            fetched.uid,
            digest,
            fetched.internal_date,
            too_large=fetched.too_large,
            size=fetched.size or 0,
        )
        if fetched.too_large:
            return prepared
        received_at = fetched.internal_date or self.clock.now()
        try:
            outcome = self._worker(units).run((prepared, fetched.raw, received_at))
            if outcome.value is not None:
                return _with_mapping_headers(outcome.value)
            if outcome.timed_out:
                reason = (
                    f"邮件分析超时（超过 {self.analysis_seconds:g} 秒），已保留原件，请人工查看"
                )
            else:
                reason = "邮件分析超出资源限制，已保留原件，请人工查看"
            log.warning("mail uid %s kept raw and sent to review: %s", fetched.uid, outcome.failure)
            stored_raw = self.store.put_raw(fetched.raw, sync=False)
            prepared.raw_path, prepared.raw_size = stored_raw.relpath, stored_raw.size
            prepared.analysis = Analysis(None, _review(reason), outcome.failure, received_at)
        except OSError as exc:
            prepared.storage_error = _one_line(exc)
        except Exception as exc:
            log.exception("could not prepare mail uid %s in full; keeping it raw", fetched.uid)
            prepared.raw, prepared.error = fetched.raw, _describe(exc)
        return prepared

    def _worker(self, units: Sequence[UnitRef]) -> BoundedWorker:
        """This thread's worker process for this pass (forked on first use)."""
        worker: BoundedWorker | None = getattr(self._local, "worker", None)
        if worker is None:
            with self._workers_lock:
                # once, before the first fork, and only when a mail came: a pass that
                # finds nothing new sets up nothing
                if self._warm_units is not units:
                    _warm_up(units, self.roster.jurisdiction)
                    self._warm_units = units
            worker = BoundedWorker(
                functools.partial(self._prepare_request, units),
                seconds=self.analysis_seconds,
                memory_bytes=self.analysis_memory_bytes,
            )
            self._local.worker = worker
            with self._workers_lock:
                self._workers.append(worker)
        return worker

    def _prepare_request(
        self, units: Sequence[UnitRef], request: tuple[_Prepared, bytes, datetime]
    ) -> _Prepared:
        prepared, raw, received_at = request
        try:
            return self._prepare_files(prepared, raw, units, received_at)
        except OSError as exc:  # the store refused a write (a full disk): not the mail's fault
            prepared.storage_error = _one_line(exc)
            return prepared

    def _close_workers(self) -> None:
        with self._workers_lock:
            workers, self._workers = self._workers, []
        for worker in workers:
            worker.close()
        self._local = threading.local()

    def _prepare_files(
        self, prepared: _Prepared, raw: bytes, units: Sequence[UnitRef], received_at: datetime
    ) -> _Prepared:
        """In the worker process: the raw copy, the analysis and the files."""
        stored_raw = self.store.put_raw(raw, sync=False)
        prepared.raw_path, prepared.raw_size = stored_raw.relpath, stored_raw.size
        analysis = analyse(
            raw,
            units,
            received_at=received_at,
            own_addresses=self.own_addresses,
            jurisdiction=self.roster.jurisdiction,
        )
        parsed = analysis.parsed
        if parsed is not None:
            prepared.files = tuple(
                _file_row(att.filename, self.store.put(att, sync=False))
                for att in parsed.attachments
            )
            prepared.assessment = assess_files(prepared.files, parsed, analysis.reading)
            prepared.links = tuple(find_cloud_links(parsed.text, parsed.html))
        prepared.analysis = packed(analysis)
        return prepared

    def _commit(
        self, prepared: _Prepared, key: str, uidvalidity: int, s: Session
    ) -> RecordedMessage | None:
        """Record one prepared mail in the group's transaction `s`, in a savepoint of its
        own: None when it was already recorded (only the checkpoint moves)."""
        if prepared.duplicate:
            self._advance_only(s, prepared, key, uidvalidity)
            return None
        if prepared.storage_error is not None:
            # The store refused a write (a full or read-only disk): nothing of the mail is
            # recorded, the checkpoint stays, the poll fails in one line, and the next
            # poll with room records it whole.
            raise _cannot_record(prepared.uid, key, prepared.storage_error)
        if prepared.error is None:
            try:
                with s.begin_nested():
                    return self._record_prepared(s, prepared, key, uidvalidity)
            except Exception as exc:
                if isinstance(exc, IntegrityError) and self._exists(prepared.digest, s):
                    # recorded a moment ago (another poller, or the same mail twice)
                    self._advance_only(s, prepared, key, uidvalidity)
                    return None
                if isinstance(exc, (OSError, SQLAlchemyError)):
                    # Storage or database trouble: the mail's savepoint is rolled back,
                    # the checkpoint stays, the poll fails in one line.
                    raise _cannot_record(prepared.uid, key, exc) from exc
                log.exception(
                    "could not record mail uid %s of %s in full; keeping it raw",
                    prepared.uid,
                    key,
                )
                prepared.error = _describe(exc)
        try:
            with s.begin_nested():
                return self._record_bare(s, prepared, key, uidvalidity, prepared.error)
        except (OSError, SQLAlchemyError) as exc:
            raise _cannot_record(prepared.uid, key, exc) from exc

    def _advance_only(self, s: Session, prepared: _Prepared, key: str, uidvalidity: int) -> None:
        """Move the checkpoint past a mail recorded before, in a savepoint: its release
        flushes the change, which clearing the identity map after the mail would drop."""
        try:
            with s.begin_nested():
                self._advance(s, key, uidvalidity, prepared.uid)
        except (OSError, SQLAlchemyError) as exc:
            raise _cannot_record(prepared.uid, key, exc) from exc

    def _record_prepared(
        self, s: Session, prepared: _Prepared, key: str, uidvalidity: int
    ) -> RecordedMessage:
        now = self.clock.now()
        received_at = prepared.internal_date or now
        if prepared.too_large:
            size = prepared.size
            mb = size / (1024 * 1024)
            analysis = Analysis(
                None,
                _review(f"邮件过大（{mb:.0f} MB），未下载，请在邮箱中查看"),
                f"message of {size} bytes is over the size cap; not downloaded",
            )
            raw_path, raw_size = "", size
        else:
            assert prepared.analysis is not None
            analysis = prepared.analysis
            raw_path, raw_size = prepared.raw_path, prepared.raw_size
        parsed, result = analysis.parsed, analysis.result
        received_at = analysis.received_at or received_at
        msg = Message(
            raw_sha256=prepared.digest,
            raw_path=raw_path,
            raw_size=raw_size,
            source=key,
            uidvalidity=uidvalidity,
            uid=prepared.uid,
            message_id=(parsed.message_id if parsed else None),
            from_addr=(parsed.from_addr if parsed else ""),
            from_name=(parsed.from_name if parsed else "")[:500],
            subject=(parsed.subject if parsed else ""),
            sent_at=(parsed.date if parsed else None),
            received_at=received_at,
            recorded_at=now,
            kind=result.kind,
            decision=result.decision,
            period=result.period,
            confidence=result.confidence,
            reasons=list(result.reasons),
            parse_error=analysis.error
            or ("; ".join(parsed.errors)[:4000] if parsed and parsed.errors else None),
            headers=_kept_headers(parsed),
        )
        s.add(msg)
        s.flush()
        self._add_attachments(s, msg, prepared)
        if parsed is not None and prepared.assessment is not None:
            store_assessment(s, msg, prepared.files, prepared.assessment)
        result = resolve_thread(s, msg, parsed, result)  # a reply to our own mail
        result = with_reading_problems(result, analysis.reading)
        result, msg.new_sender = check_new_sender(s, result, msg.from_addr, self.new_sender)
        apply_match(s, msg, result, self.roster, now, parsed, fresh=True)
        check_photos(
            s,
            msg,
            lambda r: apply_match(s, msg, r, self.roster, now, parsed),
            self.roster.campaign,
        )
        self._advance(s, key, uidvalidity, prepared.uid)
        if self.on_recorded is not None:
            self.on_recorded(s, msg)
        return _summary(msg, result, files=len(prepared.files))

    def _record_bare(
        self, s: Session, prepared: _Prepared, key: str, uidvalidity: int, error: str | None
    ) -> RecordedMessage:
        """Last resort when recording in full failed: keep the raw copy, send it to review."""
        raw_path = prepared.raw_path
        if not raw_path and prepared.raw:
            raw_path = self.store.put_raw(prepared.raw).relpath  # synced at once
        result = _review("邮件处理出错，已保留原件，请人工查看")
        now = self.clock.now()
        msg = Message(
            raw_sha256=prepared.digest,
            raw_path=raw_path,
            raw_size=prepared.raw_size or len(prepared.raw),
            source=key,
            uidvalidity=uidvalidity,
            uid=prepared.uid,
            received_at=prepared.internal_date or now,
            recorded_at=now,
            kind="other",
            decision="review",
            reasons=list(result.reasons),
            parse_error=error,
            headers={},
        )
        s.add(msg)
        s.flush()
        self._advance(s, key, uidvalidity, prepared.uid)
        return _summary(msg, result)

    def _add_attachments(self, s: Session, msg: Message, prepared: _Prepared) -> None:
        for row in prepared.files:
            row.message_id = msg.id
            s.add(row)
        for link in prepared.links:
            s.add(
                Attachment(
                    message_id=msg.id,
                    kind="link",
                    filename=link.name[:1000],
                    safe_name=link.name[:255],
                    content_type="application/octet-stream",
                    size=link.size_bytes,
                    url=link.url,
                    provider=link.provider,
                    expires_at=link.expires_at,
                )
            )
        s.flush()

    def _advance(self, s: Session, key: str, uidvalidity: int, uid: int) -> None:
        cp = s.scalar(select(Checkpoint).where(Checkpoint.source == key))
        if cp is None:
            s.add(Checkpoint(source=key, uidvalidity=uidvalidity, last_uid=uid, updated_at=_now()))
        elif cp.uidvalidity == uidvalidity and uid > cp.last_uid:
            cp.last_uid, cp.updated_at = uid, _now()

    # -- marking on the server --------------------------------------------------------

    def _mark(self, source: MailSource, pending: list[tuple[int, int]]) -> int:
        if not pending:
            return 0
        try:
            with self._source_lock:  # the fetch thread uses the same connection
                source.mark_recorded([uid for _, uid in pending])
        except MailboxError as exc:
            log.warning("could not mark %d recorded mail(s) on the server: %s", len(pending), exc)
            return 0
        with self.db.session() as s:
            for msg_id, _ in pending:
                msg = s.get(Message, msg_id)
                if msg is not None:
                    msg.marked_at = _now()
        return len(pending)

    def _mark_pending(self, source: MailSource, uidvalidity: int) -> int:
        """Mark mail recorded before a crash but never marked on the server."""
        with self.db.session() as s:
            rows = s.execute(
                select(Message.id, Message.uid).where(
                    Message.source == source.key,
                    Message.uidvalidity == uidvalidity,
                    Message.marked_at.is_(None),
                )
            ).all()
        return self._mark(source, [(mid, uid) for mid, uid in rows])


def _sqlite_transaction_open(s: Session) -> bool | None:
    """Whether SQLite itself holds `s`'s transaction open (None on other databases)."""
    conn = s.connection()
    if conn.dialect.name != "sqlite":
        return None
    return bool(conn.connection.dbapi_connection.in_transaction)  # type: ignore[union-attr]


def _write_transaction(s: Session) -> None:
    """Open `s`'s transaction for writing now. On SQLite the driver would begin it only
    at the first write, so a savepoint opened first would be the transaction itself and
    its release a commit of each mail; BEGIN IMMEDIATE also takes the write lock at once
    (waiting up to the busy timeout), never failing midway on a reader's snapshot."""
    if _sqlite_transaction_open(s) is False:
        s.connection().exec_driver_sql("BEGIN IMMEDIATE")


def _first_error(exc: BaseException) -> BaseException:
    """The error that started `exc`'s chain (a failed savepoint rollback's own error,
    "no such savepoint", says nothing of why)."""
    seen = {id(exc)}
    while True:
        nxt = exc.__cause__ or exc.__context__
        if nxt is None or id(nxt) in seen:
            return exc
        seen.add(id(nxt))
        exc = nxt


def _file_row(filename: str, stored: StoredFile) -> Attachment:
    return Attachment(
        kind="file",
        filename=filename[:1000],
        safe_name=stored.safe_name,
        content_type=stored.content_type,
        size=stored.size,
        sha256=stored.sha256,
        relpath=stored.relpath,
        is_image=stored.is_image,
        width=stored.width,
        height=stored.height,
        thumb_relpath=stored.thumb_relpath,
        error=stored.error,
        phash=stored.phash,
    )


def packed(analysis: Analysis) -> Analysis:
    """An analysis made ready to leave a worker process: the attachments' bytes left
    behind (they are stored; a liaison form keeps them, read when it is recorded), the
    headers as a plain dict (a mappingproxy does not pickle)."""
    parsed = analysis.parsed
    if parsed is None:
        return analysis
    if analysis.result.kind != "liaison":
        parsed = replace(
            parsed, attachments=tuple(replace(a, payload=b"") for a in parsed.attachments)
        )
    return replace(analysis, parsed=replace(parsed, headers=dict(parsed.headers)))


def unpacked(analysis: Analysis) -> Analysis:
    """A `packed` analysis back in this process: its headers read-only again."""
    parsed = analysis.parsed
    if parsed is None:
        return analysis
    headers = types.MappingProxyType(dict(parsed.headers))
    return replace(analysis, parsed=replace(parsed, headers=headers))


def _with_mapping_headers(prepared: _Prepared) -> _Prepared:
    if prepared.analysis is not None:
        prepared.analysis = unpacked(prepared.analysis)
    return prepared


def _warm_up(units: Sequence[UnitRef], jurisdiction: Jurisdiction | None) -> None:
    """Fill, in this process, what analysing a mail would otherwise set up in each
    worker process again (lazy imports, the matcher's index, the converters)."""
    build_index(units, jurisdiction)
    _register_heif()
    sample = (
        b"From: a@example.com\r\nSubject: =?utf-8?b?5rWL6K+V?=\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
        b"Content-Type: text/html; charset=gb2312\r\n\r\n<p>x</p>\r\n--b\r\n"
        b"Content-Type: text/plain\r\n\r\n\xb2\xe2\xca\xd4\r\n--b--\r\n"
    )
    with suppress(Exception):
        analysis = analyse(sample, units, received_at=datetime.now(UTC), jurisdiction=jurisdiction)
        if analysis.parsed is not None:
            find_cloud_links(analysis.parsed.text, analysis.parsed.html)


def _digest(fetched: FetchedMail, key: str, uidvalidity: int) -> str:
    if fetched.too_large:
        return sha256(f"too-large:{key}:{uidvalidity}:{fetched.uid}".encode()).hexdigest()
    return sha256(fetched.raw).hexdigest()


def _result(item: Future[_Prepared] | _Prepared) -> _Prepared:
    return item.result() if isinstance(item, Future) else item


# -- applying a match to the database ------------------------------------------------------


def apply_match(
    s: Session,
    msg: Message,
    result: MatchResult,
    roster: Roster,
    now: datetime,
    parsed: ParsedMail | None = None,
    *,
    fresh: bool = False,
) -> None:
    """Write a match onto a message: its units, its submissions, its liaison registration.

    Addresses an earlier decision on this message taught are dropped first (see
    tracker.addressbook), then the ones this decision teaches are learnt. `fresh`: the
    message was created in this transaction and has no match yet (nothing to drop)."""
    msg.kind, msg.decision, msg.period = result.kind, result.decision, result.period
    msg.confidence, msg.reasons = result.confidence, list(result.reasons)
    if not fresh:
        forget_learnt_from(s, msg)
        for link in list(msg.units):
            s.delete(link)
        for sub in list(msg.submissions):
            s.delete(sub)
        s.flush()
    units = []
    for name in result.units:
        unit = s.scalar(select(Unit).where(Unit.name == name))
        if unit is not None:
            units.append(unit)
            s.add(MessageUnit(message_id=msg.id, unit_id=unit.id))
    if result.decision != "matched":
        s.flush()
        s.expire(msg, ["units", "submissions"])
        return
    if result.kind == "report" and result.period:
        text = msg.subject + "\n" + (parsed.text if parsed is not None else "")
        chosen = [campaign_for(roster, u.name, result.period, text) for u in units]
        problems = [why for key, why in chosen if key is None]
        if problems:  # no campaign, or several, fit: staff decide
            msg.decision, msg.confidence = "review", min(msg.confidence, 0.3)
            msg.reasons = list(dict.fromkeys([*msg.reasons, *problems]))
            s.flush()
            s.expire(msg, ["units", "submissions"])
            return
        for unit, (key, _) in zip(units, chosen, strict=True):
            slot = slot_for(s, unit, result.period, roster, key or "")
            s.add(Submission(message_id=msg.id, slot_id=slot.id, created_at=now))
        if len(units) == 1 and msg.from_addr:
            learn(s, units[0], msg.from_addr, "report", now, message_id=msg.id)
    elif result.kind == "liaison" and units:
        unit = units[0]
        fields = read_liaison_fields(parsed) if parsed is not None else {}
        s.add(Liaison(unit_id=unit.id, message_id=msg.id, fields=fields, created_at=now))
        if msg.from_addr:
            learn(s, unit, msg.from_addr, "liaison", now, message_id=msg.id)
        email = (fields.get("电子邮箱") or "").strip()
        if email:
            learn(s, unit, email, "liaison", now, message_id=msg.id)
    s.flush()
    s.expire(msg, ["units", "submissions"])


def _kept_headers(parsed: ParsedMail | None) -> dict[str, str]:
    if parsed is None:
        return {}
    out = {k: parsed.headers[k][:1000] for k in KEPT_HEADERS if k in parsed.headers}
    if parsed.return_path is not None:
        out["return-path"] = parsed.return_path
    return out


def _summary(msg: Message, result: MatchResult, files: int | None = None) -> RecordedMessage:
    return RecordedMessage(
        id=msg.id,
        from_addr=msg.from_addr,
        subject=msg.subject,
        decision=msg.decision,
        units=tuple(result.units),
        period=msg.period,
        attachments=(
            files if files is not None else sum(1 for a in msg.attachments if a.kind == "file")
        ),
    )


def _now() -> datetime:
    return datetime.now(UTC)


def raw_file(storage_dir: Path, msg: Message) -> Path | None:
    return (storage_dir / msg.raw_path) if msg.raw_path else None
