"""One intake pass: fetch new mail, record each message exactly once, then mark it.

For every fetched mail, in one transaction: the raw copy (content-addressed on disk), the
parsed message, its match, its attachments, its submissions and the mailbox checkpoint.
Only after that commits is the mail flagged (or moved) on the server. A mail that breaks the
parser or the matcher is recorded raw and put in review; the pass goes on.
"""

from __future__ import annotations

import logging
import traceback
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from hashlib import sha256
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from intake.cloudlinks import find_cloud_links
from intake.completeness import Reading, read_mail
from intake.mailbox import FetchedMail, MailboxError, MailSource
from intake.matching import MatchResult, UnitRef, match, read_liaison_fields
from intake.parsing import ParsedMail, UnparseableMail, parse_message
from intake.places import Jurisdiction
from intake.store import AttachmentStore
from tracker.addressbook import CONFIRMED, forget_learnt_from, learn
from tracker.bounded import run_bounded
from tracker.clock import Clock
from tracker.db import Database
from tracker.evidence import assess_message, check_photos
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


class Recorder:
    """Records mail from a source into the database and the store."""

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
        try:
            uidvalidity = source.uidvalidity()
            last_uid = self._checkpoint(source.key, uidvalidity, report)
            report.marked += self._mark_pending(source, uidvalidity)
            units = self.unit_refs()
            pending_marks: list[tuple[int, int]] = []
            for fetched in source.fetch_since(
                last_uid, batch=self.batch_size, max_bytes=self.max_message_bytes
            ):
                report.fetched += 1
                recorded = self.record(fetched, source.key, uidvalidity, units)
                if recorded is None:
                    report.duplicates += 1
                else:
                    report.recorded.append(recorded)
                    pending_marks.append((recorded.id, fetched.uid))
                if len(pending_marks) >= self.batch_size:
                    report.marked += self._mark(source, pending_marks)
                    pending_marks = []
                if self.should_stop():
                    report.interrupted = True
                    break
            report.marked += self._mark(source, pending_marks)
        finally:
            source.close()
        return report

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
        too_large = fetched.too_large
        if too_large:
            digest = sha256(f"too-large:{key}:{uidvalidity}:{fetched.uid}".encode()).hexdigest()
        else:
            digest = sha256(fetched.raw).hexdigest()
        if self._exists(digest):
            with self.db.session() as s:
                self._advance(s, key, uidvalidity, fetched.uid)
            return None
        try:
            return self._record_new(fetched, key, uidvalidity, units, digest, too_large)
        except Exception as exc:
            if isinstance(exc, IntegrityError) and self._exists(digest):
                return None  # another poller recorded it a moment ago
            if isinstance(exc, (OSError, SQLAlchemyError)):
                # Storage or database trouble (a full or read-only disk, a lost database):
                # the transaction is rolled back, the checkpoint stays, the poll fails in
                # one line, and the next poll with room records this mail whole.
                raise RecordingFailed(
                    f"could not record mail uid {fetched.uid} of {key}: {_one_line(exc)}"
                ) from exc
            log.exception(
                "could not record mail uid %s of %s in full; keeping it raw", fetched.uid, key
            )
            try:
                return self._record_bare(fetched, key, uidvalidity, digest, _describe(exc))
            except (OSError, SQLAlchemyError) as bare_exc:
                raise RecordingFailed(
                    f"could not record mail uid {fetched.uid} of {key}: {_one_line(bare_exc)}"
                ) from bare_exc

    def _exists(self, digest: str) -> bool:
        with self.db.session() as s:
            return s.scalar(select(Message.id).where(Message.raw_sha256 == digest)) is not None

    def _record_new(
        self,
        fetched: FetchedMail,
        key: str,
        uidvalidity: int,
        units: Sequence[UnitRef],
        digest: str,
        too_large: bool,
    ) -> RecordedMessage:
        now = self.clock.now()
        received_at = fetched.internal_date or now
        if too_large:
            size = fetched.size or 0
            mb = size / (1024 * 1024)
            analysis = Analysis(
                None,
                _review(f"邮件过大（{mb:.0f} MB），未下载，请在邮箱中查看"),
                f"message of {size} bytes is over the size cap; not downloaded",
            )
            raw_path, raw_size = "", size
        else:
            stored_raw = self.store.put_raw(fetched.raw)
            raw_path, raw_size = stored_raw.relpath, stored_raw.size
            analysis = analyse_bounded(
                fetched.raw,
                units,
                received_at=received_at,
                own_addresses=self.own_addresses,
                seconds=self.analysis_seconds,
                memory_bytes=self.analysis_memory_bytes,
                jurisdiction=self.roster.jurisdiction,
            )
        parsed, result = analysis.parsed, analysis.result
        received_at = analysis.received_at or received_at
        with self.db.session() as s:
            msg = Message(
                raw_sha256=digest,
                raw_path=raw_path,
                raw_size=raw_size,
                source=key,
                uidvalidity=uidvalidity,
                uid=fetched.uid,
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
            if parsed is not None:
                self._store_attachments(s, msg, parsed)
                assess_message(s, msg, parsed, analysis.reading)
            result = resolve_thread(s, msg, parsed, result)  # a reply to our own mail
            result, msg.new_sender = check_new_sender(s, result, msg.from_addr, self.new_sender)
            apply_match(s, msg, result, self.roster, now, parsed)
            check_photos(
                s,
                msg,
                lambda r: apply_match(s, msg, r, self.roster, now, parsed),
                self.roster.campaign,
            )
            self._advance(s, key, uidvalidity, fetched.uid)
            if self.on_recorded is not None:
                self.on_recorded(s, msg)
            return _summary(msg, result)

    def _record_bare(
        self, fetched: FetchedMail, key: str, uidvalidity: int, digest: str, error: str
    ) -> RecordedMessage:
        """Last resort when recording in full failed: keep the raw copy, send it to review."""
        raw_path = ""
        if fetched.raw:
            raw_path = self.store.put_raw(fetched.raw).relpath
        result = _review("邮件处理出错，已保留原件，请人工查看")
        now = self.clock.now()
        with self.db.session() as s:
            msg = Message(
                raw_sha256=digest,
                raw_path=raw_path,
                raw_size=len(fetched.raw),
                source=key,
                uidvalidity=uidvalidity,
                uid=fetched.uid,
                received_at=fetched.internal_date or now,
                recorded_at=now,
                kind="other",
                decision="review",
                reasons=list(result.reasons),
                parse_error=error,
                headers={},
            )
            s.add(msg)
            s.flush()
            self._advance(s, key, uidvalidity, fetched.uid)
            return _summary(msg, result)

    def _store_attachments(self, s: Session, msg: Message, parsed: ParsedMail) -> None:
        for att in parsed.attachments:
            stored = self.store.put(att)
            s.add(
                Attachment(
                    message_id=msg.id,
                    kind="file",
                    filename=att.filename[:1000],
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
                )
            )
        for link in find_cloud_links(parsed.text, parsed.html):
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


# -- applying a match to the database ------------------------------------------------------


def apply_match(
    s: Session,
    msg: Message,
    result: MatchResult,
    roster: Roster,
    now: datetime,
    parsed: ParsedMail | None = None,
) -> None:
    """Write a match onto a message: its units, its submissions, its liaison registration.

    Addresses an earlier decision on this message taught are dropped first (see
    tracker.addressbook), then the ones this decision teaches are learnt."""
    forget_learnt_from(s, msg)
    msg.kind, msg.decision, msg.period = result.kind, result.decision, result.period
    msg.confidence, msg.reasons = result.confidence, list(result.reasons)
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


def _summary(msg: Message, result: MatchResult) -> RecordedMessage:
    return RecordedMessage(
        id=msg.id,
        from_addr=msg.from_addr,
        subject=msg.subject,
        decision=msg.decision,
        units=tuple(result.units),
        period=msg.period,
        attachments=sum(1 for a in msg.attachments if a.kind == "file"),
    )


def _now() -> datetime:
    return datetime.now(UTC)


def raw_file(storage_dir: Path, msg: Message) -> Path | None:
    return (storage_dir / msg.raw_path) if msg.raw_path else None
