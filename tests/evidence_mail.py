"""Report mails with real photos, logos, docx and pdf write-ups, for the completeness,
reused-photo and export tests; and a workspace config to poll them from a Maildir."""

from __future__ import annotations

import email
import email.utils
import io
import mailbox
import os
import random
from datetime import datetime
from email import encoders
from email.header import Header
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, make_msgid
from pathlib import Path
from zoneinfo import ZoneInfo

from PIL import Image

from tracker.samples import photo

SHANGHAI = ZoneInfo("Asia/Shanghai")
ROSTER = Path(__file__).resolve().parent.parent / "tracker" / "data" / "roster.example.toml"

WRITEUP_TEXT = (
    "5月12日上午，我局在办公楼前开展政务公开主题日活动，局党组书记出席并讲话，"
    "现场发放政务公开宣传资料三百余份，解答群众咨询四十余人次，并组织群众参观政务公开栏。"
)


def when(y: int, m: int, d: int, hh: int = 10) -> datetime:
    return datetime(y, m, d, hh, 0, tzinfo=SHANGHAI)


def exif_photo(seed: int, taken: str | None = None, size: tuple[int, int] = (1200, 800)) -> bytes:
    """A made-up event photo (tracker.samples.photo) with an EXIF DateTimeOriginal."""
    if taken is None:
        return photo(seed, size)
    im = Image.open(io.BytesIO(photo(seed, size)))
    exif = Image.Exif()
    exif[306] = taken
    exif.get_ifd(0x8769)[36867] = taken
    out = io.BytesIO()
    im.save(out, "JPEG", quality=80, exif=exif)
    return out.getvalue()


def logo_png() -> bytes:
    """An e-mail signature logo: small, wide, inline."""
    out = io.BytesIO()
    Image.new("RGB", (200, 60), (200, 20, 20)).save(out, "PNG")
    return out.getvalue()


def docx_bytes(text: str = WRITEUP_TEXT) -> bytes:
    import docx

    document = docx.Document()
    document.add_heading("政务公开主题日活动信息", 1)
    document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def pdf_bytes(
    text: str = "Tanxi township held its Government Openness Day on 12 May 2023.",
) -> bytes:
    """A one-page pdf with a line of text (Helvetica), written by hand."""
    return _one_page_pdf(f"BT /F1 12 Tf 40 700 Td ({text}) Tj ET".encode("latin-1"))


def slow_pdf(operators: int = 200_000) -> bytes:
    """A one-page pdf whose page is one huge content stream (`operators` text-showing
    operators, Flate-compressed to a few kB): pypdf needs about a minute per 200 000 of
    them to extract its text, all inside a single page."""
    import zlib

    ops = b"BT /F1 12 Tf 1 0 0 1 40 700 Tm (a) Tj ET\n" * operators
    return _one_page_pdf(zlib.compress(ops, 9), b" /Filter /FlateDecode")


def _one_page_pdf(stream: bytes, filters: bytes = b"") -> bytes:
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length %d%s >>\nstream\n" % (len(stream), filters) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % i + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for off in offsets:
        out.write(b"%010d 00000 n \n" % off)
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    )
    return out.getvalue()


def report(
    subject: str,
    sender: str,
    sent: datetime,
    *,
    body: str = "附件是我单位活动材料，请查收。",
    photos: list[tuple[str, bytes]] = (),  # type: ignore[assignment]
    files: list[tuple[str, str, bytes]] = (),  # type: ignore[assignment]
    logo: bool = False,
) -> bytes:
    """A report mail: a body, photos (name, bytes), files (name, type, bytes), and an
    inline signature logo when asked."""
    msg = MIMEMultipart("related" if logo else "mixed")
    msg["From"] = sender
    msg["To"] = "xtxgov@126.com"
    msg["Subject"] = Header(subject, "utf-8").encode()
    msg["Date"] = format_datetime(sent)
    msg["Message-ID"] = make_msgid(domain="example.com")
    msg.attach(MIMEText(body, "plain", "utf-8"))
    for name, data in photos:
        _attach(msg, data, "image/jpeg", name)
    for name, ctype, data in files:
        _attach(msg, data, ctype, name)
    if logo:
        part = MIMEBase("image", "png")
        part.set_payload(logo_png())
        encoders.encode_base64(part)
        part.add_header("Content-ID", "<logo@example.com>")
        part.add_header("Content-Disposition", "inline", filename="image001.png")
        msg.attach(part)
    return msg.as_bytes()


def _attach(msg: MIMEMultipart, data: bytes, ctype: str, filename: str) -> None:
    main, sub = ctype.split("/")
    part = MIMEBase(main, sub)
    part.set_payload(data)
    encoders.encode_base64(part)
    part.add_header("Content-Disposition", "attachment", filename=("utf-8", "", filename))
    msg.attach(part)


DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def write_mails(maildir: Path, mails: list[bytes]) -> None:
    """Deliver `mails`, each at the time its Date header says (arrival decides its month)."""
    box = mailbox.Maildir(str(maildir), create=True)
    for raw in mails:
        key = box.add(raw)
        sent = email.message_from_bytes(raw)["Date"]
        if sent:
            ts = email.utils.parsedate_to_datetime(str(sent)).timestamp()
            os.utime(maildir / "new" / key, (ts, ts))
    box.close()


def workspace(tmp_path: Path, database_url: str, mails: list[bytes]) -> Path:
    """A Maildir holding `mails` and a config pointing at it; returns the config path."""
    write_mails(tmp_path / "Maildir", mails)
    config = tmp_path / "config.toml"
    config.write_text(
        f'[office]\naddresses = ["xtxgov@126.com"]\n'
        f'[mailbox]\ntype = "maildir"\npath = "Maildir"\n'
        f'[database]\nurl = "{database_url}"\n'
        f'[storage]\ndir = "data"\n[roster]\nfile = "{ROSTER}"\n',
        encoding="utf-8",
    )
    return config


def noise_photo(seed: int, size: tuple[int, int] = (1024, 768)) -> bytes:
    """A photo-sized JPEG of random blocks (distinct perceptual hash per seed)."""
    rnd = random.Random(seed)
    small = Image.new("RGB", (16, 12))
    small.putdata(
        [(rnd.randrange(256), rnd.randrange(256), rnd.randrange(256)) for _ in range(192)]
    )
    out = io.BytesIO()
    small.resize(size, Image.Resampling.BILINEAR).save(out, "JPEG", quality=85)
    return out.getvalue()
