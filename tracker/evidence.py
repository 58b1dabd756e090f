"""What each report holds, stored at recording time: real photos, the write-up, and for
every photo a perceptual hash and its EXIF capture date.

`assess_files` runs where a mail is analysed (the worker process, for `poll` and `rematch`) and
`store_assessment` writes it in the recorder's transaction;
`message_completeness` and `slot_completeness` read the stored result for status, the
digest, receipts and the workbook, in one query for any number of slots.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from intake.completeness import (
    WRITEUP_EXTENSIONS,
    Completeness,
    FileForCheck,
    ImageFacts,
    Reading,
    assess,
    completeness,
    is_real_photo,
)
from intake.matching import MatchResult
from intake.parsing import ParsedMail
from tracker.models import Attachment, Message, PhotoBand
from tracker.photo_index import MAX_BITS, band_condition, index_photos, near
from tracker.roster import Campaign
from tracker.slots import SlotStatus

log = logging.getLogger(__name__)

MAX_HASH_PIXELS = 64_000_000


@dataclass(frozen=True)
class PhotoFacts:
    phash: str | None
    taken_on: date | None


def _facts(att: Attachment, inline: bool, content_id: str | None) -> ImageFacts:
    return ImageFacts(
        filename=att.filename or att.safe_name,
        content_type=att.content_type,
        size=att.size or 0,
        width=att.width,
        height=att.height,
        decoded=bool(att.is_image and not att.error),
        inline=inline,
        content_id=content_id,
    )


def photo_facts(payload: bytes, phash: str | None = None) -> PhotoFacts:
    """dHash (16 hex digits, see intake.store.photo_dhash) and EXIF capture date of an
    image; Nones when unreadable. A `phash` already taken (by the store, from the
    thumbnail's decode) saves decoding the photo again: only its header is read."""
    from intake.store import _pillow_pixel_limit, _register_heif, photo_dhash

    _register_heif()
    try:
        with _pillow_pixel_limit(MAX_HASH_PIXELS):  # Pillow's bomb check runs on open
            im = Image.open(io.BytesIO(payload))
        with im:
            taken = _exif_date(im)
            if phash is None:
                phash = photo_dhash(im)
    except Exception as exc:  # untrusted bytes
        log.info("photo not hashable: %s", exc)
        return PhotoFacts(None, None)
    return PhotoFacts(phash, taken)


def _exif_date(im: Image.Image) -> date | None:
    try:
        exif = im.getexif()
        value = exif.get_ifd(0x8769).get(36867) or exif.get(306)  # DateTimeOriginal, DateTime
    except Exception:
        return None
    if not isinstance(value, str):
        return None
    try:
        return datetime.strptime(value.strip()[:10], "%Y:%m:%d").date()
    except ValueError:
        return None


def hamming(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


@dataclass(frozen=True)
class PhotoAssessment:
    """What `assess_files` found: per stored file (in order) whether it is a real photo,
    its dHash and capture date; the message's photo count, write-up and day mentions."""

    files: tuple[tuple[bool, str | None, date | None], ...]
    photos: int
    writeup: str
    days: tuple[tuple[int, int], ...] = ()


def assess_files(
    stored: Sequence[Attachment], parsed: ParsedMail, reading: Reading | None = None
) -> PhotoAssessment:
    """The CPU part of the assessment. It reads only its arguments (no session), so the
    recorder runs it in its bounded worker process; `stored` may be rows not yet added."""
    files: list[FileForCheck] = []
    per_file: list[tuple[bool, str | None, date | None]] = []
    for att, part in zip(stored, parsed.attachments, strict=False):
        facts = _facts(att, part.inline, part.content_id)
        files.append(FileForCheck(facts, part.payload))
        if is_real_photo(facts):
            pf = photo_facts(part.payload, att.phash)
            per_file.append((True, pf.phash, pf.taken_on))
        else:
            per_file.append((False, None, None))
    result = assess(files, parsed.text, parsed.html, reading)
    return PhotoAssessment(tuple(per_file), result.photos, result.writeup, tuple(result.days))


def apply_assessment(msg: Message, stored: Sequence[Attachment], result: PhotoAssessment) -> None:
    for att, (photo, phash, taken_on) in zip(stored, result.files, strict=False):
        att.photo, att.phash, att.taken_on = photo, phash, taken_on
    msg.photos, msg.writeup = result.photos, result.writeup
    taken = [a.taken_on for a in stored if a.taken_on is not None]
    msg.activity_on = activity_date(msg.period, list(result.days), taken)


def stored_files(s: Session, message_id: int) -> list[Attachment]:
    """A message's stored files, in the order they were recorded."""
    return list(
        s.scalars(
            select(Attachment)
            .where(Attachment.message_id == message_id, Attachment.kind == "file")
            .order_by(Attachment.id)
        )
    )


def store_assessment(
    s: Session, msg: Message, stored: Sequence[Attachment], result: PhotoAssessment
) -> None:
    """Write a message's photo assessment, and keep the reused-photo index in step."""
    apply_assessment(msg, stored, result)
    s.flush()
    index_photos(s, stored)  # the reused-photo index (photo_band)
    s.flush()


def with_reading_problems(result: MatchResult, reading: Reading | None) -> MatchResult:
    """A mail with a document that ran out of time (`Reading.problems`) waits for staff
    with the reason: what it holds was not read, so it is not counted unseen."""
    if reading is None or not reading.problems or result.decision == "ignored":
        return result
    reasons = (*result.reasons, *(p for p in reading.problems if p not in result.reasons))
    return replace(result, decision="review", reasons=reasons)


def activity_date(
    period: str | None, days: Sequence[tuple[int, int]], taken: Sequence[date]
) -> date | None:
    """The day of the event: the first date in the text within the reported month, else
    the capture date most of the photos share within that month; None when unknown."""
    if not period:
        return None
    year, month = int(period[:4]), int(period[5:7])
    for m, d in days:
        if m == month:
            try:
                return date(year, m, d)
            except ValueError:
                continue
    in_month = [t for t in taken if (t.year, t.month) == (year, month)]
    if not in_month:
        return None
    return max(sorted(set(in_month)), key=in_month.count)


def _fallback(msg: Message) -> Completeness:
    """For messages recorded before assessment existed: from the stored attachment rows."""
    files = [a for a in msg.attachments if a.kind == "file"]
    photos = sum(1 for a in files if is_real_photo(_facts(a, False, None)))
    writeup = next(
        (
            a.safe_name or a.filename
            for a in files
            if any(
                (a.safe_name or a.filename or "").lower().endswith(e) for e in WRITEUP_EXTENSIONS
            )
        ),
        "",
    )
    return completeness(photos, writeup)


def message_completeness(msg: Message) -> Completeness:
    """What one message holds (needs `msg.attachments` only for unassessed messages)."""
    if msg.photos is None or msg.writeup is None:
        return _fallback(msg)
    return completeness(msg.photos, msg.writeup)


def combine(parts: Iterable[Completeness]) -> Completeness:
    """Several mails counted for one slot: photos add up, any write-up will do."""
    photos, writeup = 0, ""
    for c in parts:
        photos += c.photos
        writeup = writeup or c.writeup
    return completeness(photos, writeup)


def completeness_by_message(s: Session, ids: Sequence[int]) -> dict[int, Completeness]:
    """Completeness of many messages in one query (attachments loaded only when needed)."""
    out: dict[int, Completeness] = {}
    wanted = sorted(set(ids))
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        rows = s.execute(
            select(Message.id, Message.photos, Message.writeup).where(Message.id.in_(chunk))
        ).all()
        old = []
        for mid, photos, writeup in rows:
            if photos is None or writeup is None:
                old.append(mid)
            else:
                out[mid] = completeness(photos, writeup)
        if old:
            for msg in s.scalars(
                select(Message)
                .where(Message.id.in_(old))
                .options(selectinload(Message.attachments))
            ):
                out[msg.id] = _fallback(msg)
    return out


def slot_completeness(s: Session, rows: Sequence[SlotStatus]) -> dict[int, Completeness]:
    """Completeness of each slot row from its counted mail; a slot with nothing counted
    misses both photos and write-up."""
    by_msg = completeness_by_message(s, [sub.message_id for r in rows for sub in r.submissions])
    return {
        r.slot_id: combine(
            by_msg[sub.message_id] for sub in r.submissions if sub.message_id in by_msg
        )
        for r in rows
    }


def report_completeness(s: Session, message_id: int) -> Completeness:
    """What the slots a message counts for now hold, with every matched mail counted for
    them (photos sent in one mail and the write-up in the next make a complete report).
    With several slots (a joint report) the first incomplete one answers."""
    from tracker.models import Submission

    slot_ids = list(
        s.scalars(select(Submission.slot_id).where(Submission.message_id == message_id))
    )
    if not slot_ids:
        return completeness_by_message(s, [message_id]).get(message_id, completeness(0, ""))
    pairs = s.execute(
        select(Submission.slot_id, Submission.message_id)
        .join(Message, Message.id == Submission.message_id)
        .where(Submission.slot_id.in_(slot_ids), Message.decision == "matched")
    ).all()
    by_msg = completeness_by_message(s, [mid for _, mid in pairs] + [message_id])
    per_slot = [
        combine(by_msg[mid] for sid, mid in pairs if sid == slot_id and mid in by_msg)
        for slot_id in slot_ids
    ]
    return next((c for c in per_slot if not c.complete), per_slot[0])


def completeness_line(c: Completeness) -> str:
    """One line in Chinese for units and staff: what is there, or what is still to send."""
    if c.complete:
        writeup = "邮件正文" if c.writeup == "正文" else c.writeup
        return f"材料齐全（活动图片 {c.photos} 张，文字材料：{writeup}）"
    return f"尚缺{c.missing_text}，请补充发送"


# -- reused photos and capture dates -----------------------------------------------------------

REUSE_BITS = 4  # dHash bits that may differ between a photo and its re-saved copy
assert REUSE_BITS <= MAX_BITS  # the band index finds every photo this close
FAR_DAYS = 31  # a capture date this far outside the reported month is worth a word
# A dHash with fewer than this many bits set (or unset) says little about the picture: a
# flat or smoothly shaded image (a plain colour, a blank page) hashes to all zeros or all
# ones, and two different such images would "match". They are not compared.
PLAIN_BITS = 8


def telling(phash: int) -> bool:
    """Whether a 64-bit dHash has enough detail to tell one photo from another."""
    return PLAIN_BITS <= phash.bit_count() <= 64 - PLAIN_BITS


def _month_label(period: str) -> str:
    return f"{int(period[:4])}年{int(period[5:7])}月"


def photo_flags(
    s: Session, msg: Message, campaign: Campaign | None = None
) -> tuple[list[str], list[str]]:
    """(reuse reasons, capture-date reasons) for a message's photos.

    A photo whose dHash is within `REUSE_BITS` of a photo already counted (a matched
    message's) for another unit or another month is a reuse. One query; the candidates
    come from the band index (`tracker.photo_index`), not from reading every hash.
    """
    from tracker.models import Slot, Submission, Unit

    mine = [
        a
        for a in s.scalars(select(Attachment).where(Attachment.message_id == msg.id))
        if a.photo and a.phash
    ]
    if not mine:
        return [], []
    own: set[tuple[int, str]] = {
        (u, p)
        for u, p in s.execute(
            select(Slot.unit_id, Slot.period)
            .join(Submission, Submission.slot_id == Slot.id)
            .where(Submission.message_id == msg.id)
        )
    }
    if not own:
        units = [mu.unit_id for mu in msg.units]
        own = {(u, msg.period or "") for u in units}
    reuse: dict[tuple[str, str], int] = {}
    hashes = [h for a in mine if a.phash and telling(h := int(a.phash, 16))]
    # candidates by index (tracker.photo_index): only photos sharing a band of a hash
    if hashes:
        others = s.execute(
            select(Attachment.phash, Attachment.message_id, Slot.unit_id, Slot.period, Unit.name)
            .join(PhotoBand, PhotoBand.attachment_id == Attachment.id)
            .join(Submission, Submission.message_id == Attachment.message_id)
            .join(Slot, Slot.id == Submission.slot_id)
            .join(Unit, Unit.id == Slot.unit_id)
            .join(Message, Message.id == Attachment.message_id)
            .where(
                band_condition(hashes),
                Attachment.photo.is_(True),
                Attachment.message_id != msg.id,
                Message.decision == "matched",
            )
            .order_by(Attachment.message_id)
        )
        for phash, other_id, unit_id, period, name in others:
            if (unit_id, period) in own or not phash:
                continue
            value = int(phash, 16)
            if any(near(value, h, REUSE_BITS) for h in hashes):
                reuse.setdefault((name, period), other_id)
    from tracker.references import reference

    reasons = [
        f"与{name}{_month_label(period)}报送的照片相同（{reference(other, campaign)}）"
        for (name, period), other in reuse.items()
    ]
    dates = []
    if msg.period:
        year, month = int(msg.period[:4]), int(msg.period[5:7])
        first = date(year, month, 1)
        last = date(year + (month == 12), month % 12 + 1, 1)
        far = sorted(
            {
                a.taken_on
                for a in mine
                if a.taken_on
                and ((first - a.taken_on).days > FAR_DAYS or (a.taken_on - last).days >= FAR_DAYS)
            }
        )
        if far:
            shown = "、".join(d.isoformat() for d in far[:3]) + ("等" if len(far) > 3 else "")
            dates.append(f"照片拍摄日期{shown}，与报送的{_month_label(msg.period)}相差较远")
    return reasons, dates


def check_photos(s: Session, msg: Message, apply: Any, campaign: Campaign | None = None) -> None:
    """After matching: a report reusing another unit's or month's photos goes to review
    with the reason (not silently counted); a far capture date is added to the reasons.
    `apply(result)` re-applies a match (tracker.recording.apply_match bound to the rest)."""
    if msg.kind != "report" or msg.decision == "ignored" or msg.decided_by == "staff":
        return
    reuse, dates = photo_flags(s, msg, campaign)
    if not reuse and not dates:
        return
    reasons = [*reuse, *dates, *(r for r in msg.reasons or [] if r not in reuse + dates)]
    decision = "review" if reuse else msg.decision
    units = tuple(mu.unit.name for mu in msg.units)
    apply(
        MatchResult(
            kind=msg.kind,
            decision=decision,
            units=units,
            period=msg.period,
            confidence=min(msg.confidence, 0.5) if reuse else msg.confidence,
            reasons=tuple(reasons),
        )
    )
