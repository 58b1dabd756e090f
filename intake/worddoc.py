"""Text of legacy Word (.doc, Word 97-2003) and WPS Office (.wps) documents.

Both are OLE compound files (read with `olefile`) holding a ``WordDocument`` stream: the
text sits in pieces that the piece table (the CLX in the ``0Table``/``1Table`` stream,
found through the FIB) lists, each either UTF-16LE or, "compressed", one cp1252 byte per
character. WPS Office writes .wps in the same format. When there is no usable piece
table (an older WPS, a damaged file), the UTF-16LE runs of CJK and Latin text in the
``WordDocument`` stream are taken instead.

Untrusted bytes: every length read from the file is checked against the stream, at most
`MAX_CHARS` characters are decoded, and nothing loops more than the number of pieces the
table declares (itself capped). Callers run this in the bounded analysis child.
"""

from __future__ import annotations

import io
import struct

__all__ = ["MAX_CHARS", "NotWordDocument", "word_text"]

MAX_CHARS = 200_000  # characters decoded at most (a write-up is a page or two)
MAX_PIECES = 100_000
SCAN_BYTES = 4 * 1024 * 1024  # the fallback reads this much of the stream at most
WORD_IDENT = 0xA5EC
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


class NotWordDocument(ValueError):
    """Not an OLE file with a Word text stream."""


def word_text(payload: bytes, *, max_chars: int = MAX_CHARS) -> str:
    """The text of a .doc/.wps (paragraph marks as newlines); raises NotWordDocument."""
    if not payload.startswith(OLE_MAGIC):
        raise NotWordDocument("not an OLE compound file")
    import olefile

    with olefile.OleFileIO(io.BytesIO(payload)) as ole:
        if not ole.exists("WordDocument"):
            raise NotWordDocument("no WordDocument stream")
        word = ole.openstream("WordDocument").read()
        text = None
        if len(word) >= 0x1AA and struct.unpack_from("<H", word, 0)[0] == WORD_IDENT:
            flags = struct.unpack_from("<H", word, 0x0A)[0]
            table_name = "1Table" if flags & 0x0200 else "0Table"
            if ole.exists(table_name):
                table = ole.openstream(table_name).read()
                text = _piece_text(word, table, max_chars)
        if text is None:
            text = _utf16_runs(word, max_chars)
    return _clean(text)


def _piece_text(word: bytes, table: bytes, max_chars: int) -> str | None:
    """Text through the piece table; None when the table cannot be read."""
    fc_clx, lcb_clx = struct.unpack_from("<II", word, 0x01A2)
    if lcb_clx == 0 or fc_clx + lcb_clx > len(table):
        return None
    clx = table[fc_clx : fc_clx + lcb_clx]
    pos = 0
    while pos < len(clx) and clx[pos] == 0x01:  # Prc: grpprl of formatting, skipped
        if pos + 3 > len(clx):
            return None
        pos += 3 + struct.unpack_from("<H", clx, pos + 1)[0]
    if pos + 5 > len(clx) or clx[pos] != 0x02:
        return None
    lcb = struct.unpack_from("<I", clx, pos + 1)[0]
    plc = clx[pos + 5 : pos + 5 + lcb]
    if lcb != len(plc) or (lcb - 4) % 12:
        return None
    n = (lcb - 4) // 12
    if n <= 0 or n > MAX_PIECES:
        return None
    cps = struct.unpack_from(f"<{n + 1}I", plc, 0)
    out: list[str] = []
    left = max_chars
    for i in range(n):
        if left <= 0:
            break
        count = cps[i + 1] - cps[i]
        if count <= 0:
            continue
        count = min(count, left)
        fc = struct.unpack_from("<I", plc, 4 * (n + 1) + 8 * i + 2)[0]
        if fc & 0x40000000:  # compressed: one byte per character
            start = (fc & ~0x40000000) // 2
            chunk = word[start : start + count]
            out.append(chunk.decode("cp1252", errors="replace"))
        else:
            chunk = word[fc : fc + 2 * count]
            out.append(chunk.decode("utf-16-le", errors="replace"))
        left -= count
    return "".join(out)


def _wanted(code: int) -> bool:
    return (
        0x20 <= code < 0x7F
        or code in (0x0D, 0x0A, 0x09)
        or 0x3000 <= code <= 0x303F  # CJK punctuation
        or 0x4E00 <= code <= 0x9FFF  # CJK ideographs
        or 0xFF00 <= code <= 0xFFEF  # full-width forms
    )


def _utf16_runs(data: bytes, max_chars: int, min_run: int = 4) -> str:
    """Runs of at least `min_run` wanted UTF-16LE characters, one pass over the bytes."""
    data = data[:SCAN_BYTES]
    runs: list[str] = []
    total = 0
    for offset in (0, 1):
        run: list[str] = []
        for i in range(offset, len(data) - 1, 2):
            code = data[i] | (data[i + 1] << 8)
            if _wanted(code):
                run.append(chr(code))
                continue
            if len(run) >= min_run and any(not ch.isascii() for ch in run):
                runs.append("".join(run))
                total += len(run)
                if total >= max_chars:
                    return "\n".join(runs)[:max_chars]
            run = []
        if len(run) >= min_run and any(not ch.isascii() for ch in run):
            runs.append("".join(run))
        if runs:
            break  # the aligned pass found text: the odd one would read garbage
    return "\n".join(runs)[:max_chars]


def _clean(text: str) -> str:
    """Word's paragraph and cell marks as newlines; field codes and other control
    characters dropped."""
    table = {0x0D: "\n", 0x07: "\n", 0x0B: "\n", 0x0C: "\n", 0x1E: "-", 0x1F: ""}
    out = text.translate(table)
    return "".join(ch for ch in out if ch in "\n\t" or ch >= " ")
