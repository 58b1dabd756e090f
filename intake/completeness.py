"""Does a report hold what the notice asks for: activity photos (活动图片) and a write-up (信息)?

Pure functions on plain data; nothing here touches a database. The recorder calls
`assess_mail` once per mail and stores the two numbers it needs (photos, write-up), and
`completeness(photos, writeup)` turns them into the answer everybody shows.

- A **photo** is a decoded image that looks like a photograph: not a GIF, at least
  `MIN_PHOTO_SIDE` pixels on its short side and `MIN_PHOTO_LONG_SIDE` on its long side,
  not a banner (aspect ratio at most `MAX_ASPECT`), and not a small inline picture (the
  logos and signature images mail clients embed: inline with a Content-ID and under
  `MAX_INLINE_LOGO_BYTES`, or named like logo/签名/signature). Photos embedded in a docx
  write-up count too, by the same size rules on the embedded image's bytes.
- A **write-up** is a docx/doc/wps/pdf with some real text (`MIN_DOC_CHARS`), or a mail
  body with at least `MIN_BODY_CHARS` characters of its own text (quoted replies and
  signatures cut off). A document that cannot be read at all still counts (a document was
  sent; staff see the note); one with almost no text does not.

Text is read from docx (python-docx), doc/wps (`intake.worddoc`, olefile) and pdf (pypdf)
under a size cap and a page cap, each document under a time limit (`DOC_SECONDS`, all of a
mail's documents `READ_SECONDS`) that also cuts a single slow page short: a SIGALRM timer
where the reader runs on the main thread (the bounded analysis child, the command line),
else a check between pages. A document past its limit is a reason for staff
(`Reading.problems`), and the recorder sends the mail to review with it.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import signal
import threading
import time
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from intake.archives import UnsafeArchive, read_member, zip_problem

log = logging.getLogger(__name__)

MIN_PHOTO_SIDE = 300
MIN_PHOTO_LONG_SIDE = 480
MAX_ASPECT = 3.5
MAX_INLINE_LOGO_BYTES = 40 * 1024
MIN_EMBEDDED_PHOTO_BYTES = 30 * 1024
MIN_DOC_CHARS = 30
MIN_BODY_CHARS = 60
MAX_DOC_BYTES = 30 * 1024 * 1024
MAX_PDF_PAGES = 10
MAX_KEPT_TEXT = 20_000
DOC_SECONDS = 5.0  # one document
READ_SECONDS = 20.0  # all the documents of one mail
PDF_SECONDS = DOC_SECONDS
RETRY_SECONDS = 0.1  # a time limit's signal repeats this often until it is heeded

WRITEUP_EXTENSIONS = (".docx", ".doc", ".wps", ".pdf")
BODY_WRITEUP = "正文"
LOGO_HINTS = ("logo", "签名", "signature", "sign", "banner", "icon", "qrcode", "二维码")

MISSING_LABELS = {"photos": "活动图片", "writeup": "文字材料（信息）"}


@dataclass(frozen=True)
class Completeness:
    complete: bool
    missing: tuple[str, ...]  # "photos", "writeup"
    photos: int = 0
    writeup: str = ""  # a file name, "正文" (the mail body), or "" for none

    @property
    def missing_text(self) -> str:
        """The missing items in Chinese, joined: "活动图片、文字材料（信息）"."""
        return "、".join(MISSING_LABELS[m] for m in self.missing)

    def as_json(self) -> dict[str, object]:
        return {
            "complete": self.complete,
            "missing": list(self.missing),
            "photos": self.photos,
            "writeup": self.writeup,
        }


def completeness(photos: int, writeup: str | None) -> Completeness:
    """The plain answer: complete when there is at least one photo and a write-up."""
    missing = []
    if photos <= 0:
        missing.append("photos")
    if not writeup:
        missing.append("writeup")
    return Completeness(not missing, tuple(missing), max(photos, 0), writeup or "")


@dataclass(frozen=True)
class ImageFacts:
    """What the store learnt of one attachment (None width/height when not an image)."""

    filename: str
    content_type: str
    size: int
    width: int | None
    height: int | None
    decoded: bool  # the store decoded it and made a thumbnail
    inline: bool = False
    content_id: str | None = None


def is_real_photo(f: ImageFacts) -> bool:
    """A photograph of the event, not a logo, a signature image or a tiny inline picture."""
    if not f.decoded or not f.width or not f.height:
        return False
    if f.content_type == "image/gif":
        return False
    short, long = sorted((f.width, f.height))
    if short < MIN_PHOTO_SIDE or long < MIN_PHOTO_LONG_SIDE or long > short * MAX_ASPECT:
        return False
    name = (f.filename or "").lower()
    small = f.size < MAX_INLINE_LOGO_BYTES
    if small and (f.content_id or f.inline):
        return False
    return not (small and any(h in name for h in LOGO_HINTS))


@dataclass(frozen=True)
class DocFacts:
    """What reading one document gave."""

    chars: int  # characters of text found (CJK and letters/digits)
    embedded_photos: int = 0
    error: str | None = None
    text: str = ""  # the first MAX_KEPT_TEXT characters read
    timed_out: bool = False


@dataclass
class Assessment:
    photos: int = 0
    writeup: str = ""
    notes: list[str] = field(default_factory=list)  # for staff, simplified Chinese
    days: list[tuple[int, int]] = field(default_factory=list)  # (month, day) in the text


_DAY = re.compile(r"(\d{1,2})\s?月\s?(\d{1,2})\s?[日号]", re.ASCII)


def day_mentions(text: str) -> list[tuple[int, int]]:
    """(month, day) pairs written as "5月12日" / "５月１２号" in a text, in order."""
    folded = unicodedata.normalize("NFKC", text[:MAX_KEPT_TEXT])
    out = []
    for m in _DAY.finditer(folded):
        month, day = int(m.group(1)), int(m.group(2))
        if 1 <= month <= 12 and 1 <= day <= 31:
            out.append((month, day))
    return out


def text_chars(text: str) -> int:
    """Characters that carry meaning: CJK ideographs, letters and digits."""
    return sum(1 for ch in text if ch.isalnum())


def _ext(name: str) -> str:
    dot = name.rfind(".")
    return name[dot:].lower() if dot >= 0 else ""


def writeup_kind(filename: str, content_type: str) -> str | None:
    """ ".docx" / ".doc" / ".wps" / ".pdf" when the file is a document of those kinds."""
    ext = _ext(filename or "")
    if ext in WRITEUP_EXTENSIONS:
        return ext
    return {
        "application/pdf": ".pdf",
        "application/msword": ".doc",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
        "application/kswps": ".wps",
        "application/vnd.ms-works": ".wps",
    }.get(content_type)


class ReadTimeout(BaseException):
    """A document's time limit ran out (a BaseException: readers' own `except Exception`
    must not swallow it)."""


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise `ReadTimeout` in the block after `seconds`, even in the middle of one long
    call into a pure-Python reader. Only on the main thread and when no other interval
    timer runs; elsewhere the block is not interrupted (readers check between pages).

    The timer fires again every `RETRY_SECONDS` until the block is left: an exception
    raised while Python runs a finaliser or weakref callback is printed and dropped, so
    one signal alone could be lost and leave the reader running."""
    usable = (
        hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
        and signal.getitimer(signal.ITIMER_REAL)[0] == 0
    )
    if not usable:
        yield
        return
    left = [False]  # set first thing on the way out: a late signal is then a no-op

    def expire(signum: int, frame: object) -> None:
        if not left[0]:
            raise ReadTimeout

    try:
        previous = signal.signal(signal.SIGALRM, expire)
        signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.001), RETRY_SECONDS)
    except (OSError, ValueError):  # a system call filter that refuses timers
        yield
        return
    try:
        yield
    finally:
        left[0] = True
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _load_reader(kind: str) -> None:
    """Import the reader of `kind` before its time limit starts: under load an import alone
    can use the limit up, and a limit that fires inside an import leaves it half done."""
    if kind == "pdf":
        import pypdf  # noqa: F401
    else:
        import docx.document
        import docx.oxml  # noqa: F401


def _timed_out(seconds: float) -> DocFacts:
    shown = f"{round(seconds, 1):g}"
    return DocFacts(0, error=f"读取超时（超过 {shown} 秒），未能确认其内容", timed_out=True)


def read_docx(payload: bytes, *, seconds: float | None = None) -> DocFacts:
    """Text and embedded photos of a docx, with a cap on its unpacked size."""
    limit = DOC_SECONDS if seconds is None else seconds
    _load_reader("docx")
    try:
        with time_limit(limit):
            return _read_docx(payload)
    except ReadTimeout:
        return _timed_out(limit)


def _read_docx(payload: bytes) -> DocFacts:
    if len(payload) > MAX_DOC_BYTES:
        return DocFacts(0, error="文档过大，未读取")
    try:
        with zipfile.ZipFile(io.BytesIO(payload)) as zf:
            infos = zf.infolist()
            embedded = sum(
                1
                for i in infos
                if i.filename.startswith("word/media/")
                and _ext(i.filename) in (".jpg", ".jpeg", ".png", ".heic", ".webp", ".bmp")
                and i.file_size >= MIN_EMBEDDED_PHOTO_BYTES
            )
            try:
                # the two parts read, each inflated up to its cap (the others never are)
                document = _main_document(zf)
            except UnsafeArchive as exc:
                return DocFacts(0, error=str(exc))
            except Exception:
                document = None
        if document is None:  # an unusual package: python-docx reads it whole, once the
            problem = zip_problem(payload)  # whole archive is known to be safe
            if problem is not None:
                return DocFacts(0, error=problem)
            import docx

            document = docx.Document(io.BytesIO(payload))
        joined = _docx_text(document)
        return DocFacts(text_chars(joined), embedded, text=joined[:MAX_KEPT_TEXT])
    except Exception as exc:  # untrusted bytes: any reader error
        log.info("docx unreadable: %s", exc)
        return DocFacts(0, error="文档无法读取")


_OFFICE_DOCUMENT = (
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"
)


def _main_document(zf: zipfile.ZipFile) -> Any:
    """The docx's main document part alone, as python-docx would read it: parsing the
    whole package (styles, numbering, fonts, theme) costs twenty times as much, and
    checking every member of it for a zip bomb (`zip_problem`) two thirds of the read."""
    from docx.document import Document
    from docx.oxml import parse_xml

    rels = parse_xml(read_member(zf, "_rels/.rels"))
    targets = [r.get("Target") for r in rels if r.get("Type") == _OFFICE_DOCUMENT]
    if len(targets) != 1 or not targets[0]:
        raise ValueError("no single main document part")
    element = parse_xml(read_member(zf, targets[0].lstrip("/")))
    return Document(element, None)  # type: ignore[arg-type]  # no package: text only


def _docx_text(document: Any) -> str:
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            parts.extend(cell.text for cell in row.cells)
    return "\n".join(parts)


def read_pdf(payload: bytes, *, seconds: float | None = None) -> DocFacts:
    """Text of a pdf's first pages; stops once enough text is found or time runs out
    (also inside one page: `time_limit`)."""
    limit = PDF_SECONDS if seconds is None else seconds
    _load_reader("pdf")
    try:
        with time_limit(limit):
            return _read_pdf(payload, limit)
    except ReadTimeout:
        return _timed_out(limit)


def _read_pdf(payload: bytes, seconds: float) -> DocFacts:
    if len(payload) > MAX_DOC_BYTES:
        return DocFacts(0, error="文档过大，未读取")
    deadline = time.monotonic() + seconds
    try:
        import pypdf

        reader = pypdf.PdfReader(io.BytesIO(payload))
        chars, kept = 0, []
        for i, page in enumerate(reader.pages):
            if i >= MAX_PDF_PAGES:
                break
            if time.monotonic() > deadline:
                if chars < MIN_DOC_CHARS:
                    return _timed_out(seconds)
                break
            page_text = page.extract_text() or ""
            chars += text_chars(page_text)
            kept.append(page_text[:MAX_KEPT_TEXT])
            if chars >= MIN_DOC_CHARS * 10:
                break
        return DocFacts(chars, text="\n".join(kept)[:MAX_KEPT_TEXT])
    except Exception as exc:  # untrusted bytes: any reader error
        log.info("pdf unreadable: %s", exc)
        return DocFacts(0, error="PDF无法读取")


def read_doc(payload: bytes, *, seconds: float | None = None) -> DocFacts:
    """Text of a legacy Word .doc or a WPS Office .wps (`intake.worddoc`); a docx saved
    under a .doc name is read as the docx it is."""
    limit = DOC_SECONDS if seconds is None else seconds
    if payload.startswith(b"PK\x03\x04"):
        return read_docx(payload, seconds=limit)
    if len(payload) > MAX_DOC_BYTES:
        return DocFacts(0, error="文档过大，未读取")
    from intake.worddoc import NotWordDocument, word_text

    try:
        with time_limit(limit):
            text = word_text(payload)
    except ReadTimeout:
        return _timed_out(limit)
    except NotWordDocument:
        return DocFacts(0, error="不是可识别的Word/WPS文档，未读取")
    except Exception as exc:  # untrusted bytes: any reader error
        log.info("doc unreadable: %s", exc)
        return DocFacts(0, error="文档无法读取")
    return DocFacts(text_chars(text), text=text[:MAX_KEPT_TEXT])


READERS = {".docx": read_docx, ".doc": read_doc, ".wps": read_doc, ".pdf": read_pdf}


def read_document(kind: str, payload: bytes, *, seconds: float | None = None) -> DocFacts:
    """Read a document of `kind` (".docx" / ".doc" / ".wps" / ".pdf")."""
    return READERS[kind](payload, seconds=seconds)


QUOTE_MARKERS = (
    "原始邮件",
    "original message",
    "发件人:",
    "发件人：",
    "from:",
    "-----",
    "———",
    "___",
    "在 ",
)


def own_body_text(text: str) -> str:
    """The sender's own words: lines up to the first quote header or quoted line, without
    the signature after "-- "; linear in the text."""
    kept: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        low = stripped.lower()
        if stripped.startswith(">") or stripped == "--":
            break
        if any(low.startswith(m) for m in QUOTE_MARKERS) or (
            low.endswith(("写道：", "写道:", "wrote:")) and len(low) < 200
        ):
            break
        kept.append(stripped)
    return "\n".join(kept)


def body_is_writeup(text: str, html: str = "") -> bool:
    """A body with enough of the sender's own words to be the write-up itself."""
    if not text.strip() and html:
        text = _html_text(html)
    body = own_body_text(text)
    return text_chars(body) >= MIN_BODY_CHARS


@dataclass(frozen=True)
class Reading:
    """What reading a mail's documents and body gave; made in the bounded analysis child
    (`read_mail`), so a document that stalls a reader cannot stall the intake."""

    docs: tuple[DocFacts | None, ...]  # per attachment, in the mail's order
    body_writeup: bool
    body_days: tuple[tuple[int, int], ...]
    problems: tuple[str, ...] = ()  # for staff: documents that ran out of time


class _Part(Protocol):
    @property
    def filename(self) -> str: ...
    @property
    def content_type(self) -> str: ...
    @property
    def payload(self) -> bytes: ...


def read_mail(
    attachments: Sequence[_Part], text: str, html: str, *, seconds: float | None = None
) -> Reading:
    """Read the docx/doc/wps/pdf attachments and the body of a mail
    (`intake.parsing.ParsedMail`), each document within `DOC_SECONDS` and all of them
    within `seconds` (`READ_SECONDS`)."""
    budget = READ_SECONDS if seconds is None else seconds
    deadline = time.monotonic() + budget
    docs: list[DocFacts | None] = []
    problems: list[str] = []
    for att in attachments:
        kind = writeup_kind(att.filename, att.content_type)
        if kind is None:
            docs.append(None)
            continue
        left = deadline - time.monotonic()
        name = att.filename or f"附件{kind}"
        if left <= 0:
            error = f"未读取（邮件中的文档读取总时间超过 {budget:g} 秒）"
            facts = DocFacts(0, error=error, timed_out=True)
        else:
            facts = read_document(kind, att.payload, seconds=min(DOC_SECONDS, left))
        if facts.timed_out:
            problems.append(f"附件“{name}”{facts.error}，请人工查看")
        docs.append(facts)
    body = text if text.strip() else _html_text(html)
    return Reading(
        tuple(docs),
        body_is_writeup(text, html),
        tuple(day_mentions(own_body_text(body))),
        tuple(problems),
    )


@dataclass(frozen=True)
class FileForCheck:
    """One attachment with what the store learnt of it and its bytes."""

    facts: ImageFacts
    payload: bytes


def assess(
    files: Sequence[FileForCheck], body_text: str, html: str = "", reading: Reading | None = None
) -> Assessment:
    """Count photos and find the write-up of one mail (`reading`: documents and body
    already read, else they are read here)."""
    out = Assessment()
    doc_candidates: list[str] = []
    for i, f in enumerate(files):
        if is_real_photo(f.facts):
            out.photos += 1
            continue
        kind = writeup_kind(f.facts.filename, f.facts.content_type)
        if kind is None:
            continue
        name = f.facts.filename or f"附件{kind}"
        known = reading.docs[i] if reading and i < len(reading.docs) else None
        facts = known if known is not None else read_document(kind, f.payload)
        out.photos += facts.embedded_photos
        out.days.extend(day_mentions(facts.text))
        if facts.error:
            out.notes.append(f"{name}：{facts.error}")
            doc_candidates.append(name)  # benefit of the doubt: a document was sent
        elif facts.chars >= MIN_DOC_CHARS:
            if not out.writeup:
                out.writeup = name
        else:
            out.notes.append(f"{name}：文档中几乎没有文字")
    if not out.writeup and doc_candidates:
        out.writeup = doc_candidates[0]
    if reading is not None:
        if not out.writeup and reading.body_writeup:
            out.writeup = BODY_WRITEUP
        out.days[:0] = list(reading.body_days)
        return out
    if not out.writeup and body_is_writeup(body_text, html):
        out.writeup = BODY_WRITEUP
    out.days[:0] = day_mentions(own_body_text(body_text or _html_text(html)))
    return out


def _html_text(html: str) -> str:
    if not html:
        return ""
    from intake.text import html_to_text

    return html_to_text(html)


def photo_facts_count(facts: Iterable[ImageFacts]) -> int:
    return sum(1 for f in facts if is_real_photo(f))
