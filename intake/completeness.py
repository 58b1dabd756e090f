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
- A **write-up** is a docx/pdf with some real text (`MIN_DOC_CHARS`), a doc/wps file (old
  binary formats: counted by type, their text is not read), or a mail body with at least
  `MIN_BODY_CHARS` characters of its own text (quoted replies and signatures cut off).

Text is read from docx (python-docx) and pdf (pypdf) under a size cap and a page cap, and
the pdf reading stops at a time limit between pages.
"""

from __future__ import annotations

import io
import logging
import re
import time
import unicodedata
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from intake.archives import zip_problem

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
PDF_SECONDS = 5.0

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


def read_docx(payload: bytes) -> DocFacts:
    """Text and embedded photos of a docx, with a cap on its unpacked size."""
    if len(payload) > MAX_DOC_BYTES:
        return DocFacts(0, error="文档过大，未读取")
    try:
        problem = zip_problem(payload)
        if problem is not None:
            return DocFacts(0, error=problem)
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
            joined = _docx_text(_main_document(payload))
        except Exception:  # an unusual package: python-docx reads it whole
            import docx

            joined = _docx_text(docx.Document(io.BytesIO(payload)))
        return DocFacts(text_chars(joined), embedded, text=joined[:MAX_KEPT_TEXT])
    except Exception as exc:  # untrusted bytes: any reader error
        log.info("docx unreadable: %s", exc)
        return DocFacts(0, error="文档无法读取")


_OFFICE_DOCUMENT = (
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"
)


def _main_document(payload: bytes) -> Any:
    """The docx's main document part alone, as python-docx would read it: parsing the
    whole package (styles, numbering, fonts, theme) costs twenty times as much."""
    from docx.document import Document
    from docx.oxml import parse_xml

    with zipfile.ZipFile(io.BytesIO(payload)) as zf:
        rels = parse_xml(zf.read("_rels/.rels"))
        targets = [r.get("Target") for r in rels if r.get("Type") == _OFFICE_DOCUMENT]
        if len(targets) != 1 or not targets[0]:
            raise ValueError("no single main document part")
        element = parse_xml(zf.read(targets[0].lstrip("/")))
    return Document(element, None)  # type: ignore[arg-type]  # no package: text only


def _docx_text(document: Any) -> str:
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            parts.extend(cell.text for cell in row.cells)
    return "\n".join(parts)


def read_pdf(payload: bytes, *, seconds: float = PDF_SECONDS) -> DocFacts:
    """Text of a pdf's first pages; stops once enough text is found or time runs out."""
    if len(payload) > MAX_DOC_BYTES:
        return DocFacts(0, error="文档过大，未读取")
    deadline = time.monotonic() + seconds
    try:
        import pypdf

        reader = pypdf.PdfReader(io.BytesIO(payload))
        chars, kept = 0, []
        for i, page in enumerate(reader.pages):
            if i >= MAX_PDF_PAGES or time.monotonic() > deadline:
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


class _Part(Protocol):
    @property
    def filename(self) -> str: ...
    @property
    def content_type(self) -> str: ...
    @property
    def payload(self) -> bytes: ...


def read_mail(attachments: Sequence[_Part], text: str, html: str) -> Reading:
    """Read the docx/pdf attachments and the body of a mail (`intake.parsing.ParsedMail`)."""
    docs: list[DocFacts | None] = []
    for att in attachments:
        kind = writeup_kind(att.filename, att.content_type)
        if kind == ".docx":
            docs.append(read_docx(att.payload))
        elif kind == ".pdf":
            docs.append(read_pdf(att.payload))
        else:
            docs.append(None)
    body = text if text.strip() else _html_text(html)
    return Reading(
        tuple(docs), body_is_writeup(text, html), tuple(day_mentions(own_body_text(body)))
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
        if kind in (".doc", ".wps"):
            doc_candidates.append(name)
            continue
        known = reading.docs[i] if reading and i < len(reading.docs) else None
        if known is not None:
            facts = known
        else:
            facts = read_docx(f.payload) if kind == ".docx" else read_pdf(f.payload)
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
