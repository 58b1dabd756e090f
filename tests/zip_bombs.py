"""Zip bombs for tests: a real .docx or .xlsx whose one XML part inflates to hundreds of MB.

Building the bomb costs milliseconds: one chunk is deflated once after a full flush (which
resets the compressor, so every later copy deflates to the same bytes) and the copies are
concatenated; the zip around it is written by hand.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

MB = 1024 * 1024


def _deflate_repeated(prefix: bytes, chunk: bytes, copies: int, suffix: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = c.compress(prefix) + c.flush(zlib.Z_FULL_FLUSH)
    body = c.compress(chunk) + c.flush(zlib.Z_FULL_FLUSH)
    tail = c.compress(suffix) + c.flush()
    return head + body * copies + tail


def _crc_repeated(prefix: bytes, chunk: bytes, copies: int, suffix: bytes) -> int:
    crc = zlib.crc32(prefix)
    for _ in range(copies):
        crc = zlib.crc32(chunk, crc)
    return zlib.crc32(suffix, crc)


def _write_zip(members: list[tuple[str, bytes, int, int]]) -> bytes:
    """(name, raw deflate data, crc, inflated size) -> zip bytes."""
    out = io.BytesIO()
    central = []
    for name, data, crc, size in members:
        offset = out.tell()
        encoded = name.encode()
        out.write(
            struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, 0x21, crc, len(data), size,
                        len(encoded), 0)
        )  # fmt: skip
        out.write(encoded)
        out.write(data)
        central.append(
            struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 8, 0, 0x21, crc, len(data),
                        size, len(encoded), 0, 0, 0, 0, 0, offset) + encoded
        )  # fmt: skip
    start = out.tell()
    for entry in central:
        out.write(entry)
    size = out.tell() - start
    out.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(central), len(central), size,
                          start, 0))  # fmt: skip
    return out.getvalue()


def _bomb(
    base: bytes, part: str, prefix: bytes, chunk: bytes, inflated: int, suffix: bytes
) -> bytes:
    copies = max(1, inflated // len(chunk))
    members = []
    with zipfile.ZipFile(io.BytesIO(base)) as zf:
        for info in zf.infolist():
            if info.filename == part:
                data = _deflate_repeated(prefix, chunk, copies, suffix)
                crc = _crc_repeated(prefix, chunk, copies, suffix)
                size = len(prefix) + len(chunk) * copies + len(suffix)
            else:
                raw = zf.read(info)
                c = zlib.compressobj(6, zlib.DEFLATED, -15)
                data, crc, size = c.compress(raw) + c.flush(), zlib.crc32(raw), len(raw)
            members.append((info.filename, data, crc, size))
    return _write_zip(members)


def docx_bomb(inflated: int = 512 * MB) -> bytes:
    """A liaison-form-looking .docx whose document.xml holds `inflated` bytes of paragraphs."""
    import docx

    document = docx.Document()
    document.add_paragraph("联络员信息表")
    buf = io.BytesIO()
    document.save(buf)
    ns = b'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    prefix = (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<w:document ' + ns + b"><w:body>"
    )
    chunk = "<w:p><w:r><w:t>姓名：张三 电子邮箱：a@b.test</w:t></w:r></w:p>".encode() * 2000
    suffix = b"</w:body></w:document>"
    return _bomb(buf.getvalue(), "word/document.xml", prefix, chunk, inflated, suffix)


def xlsx_bomb(inflated: int = 1024 * MB) -> bytes:
    """An .xlsx whose one cell (the one beside 电子邮箱) is `inflated` bytes long."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["姓名", "张三"])
    sheet.append(["电子邮箱", "PLACEHOLDER"])
    buf = io.BytesIO()
    book.save(buf)
    sheet_xml = zipfile.ZipFile(buf).read("xl/worksheets/sheet1.xml")
    prefix, _, suffix = sheet_xml.partition(b"PLACEHOLDER")
    return _bomb(buf.getvalue(), "xl/worksheets/sheet1.xml", prefix, b"a" * MB, inflated, suffix)
