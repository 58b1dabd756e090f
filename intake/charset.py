"""Charset repair for Chinese mail.

Mail from Chinese clients is often mislabelled: GBK bytes declared as gb2312, raw 8-bit
headers with no encoded-word at all, encoded-words split in the middle of a multibyte
character, Big5 from traditional-Chinese clients. Everything here turns bytes into text
without raising; when nothing fits, the text keeps U+FFFD where bytes were lost.
"""

from __future__ import annotations

import binascii
import codecs
import re

import charset_normalizer

__all__ = ["canonical_charset", "decode_bytes", "decode_header_value"]

# Labels that in practice mean "some GB encoding": GB18030 is a superset of all of them,
# so decoding with it never loses a character GBK-only clients (Windows, Foxmail) wrote.
_GB_LABELS = frozenset(
    {
        "gb2312",
        "gb_2312",
        "gb_2312-80",
        "gb2312-80",
        "gb2312-1980",
        "csgb2312",
        "gbk",
        "x-gbk",
        "cp936",
        "ms936",
        "windows-936",
        "936",
        "euc-cn",
        "euccn",
        "x-euc-cn",
        "csiso58gb231280",
        "chinese",
        "iso-ir-58",
        "gb18030",
        "gb-18030",
    }
)
# Big5-HKSCS is a superset of Big5 with the characters Hong Kong and Taiwan clients add.
_BIG5_LABELS = frozenset(
    {"big5", "big-5", "big5-hkscs", "big5hkscs", "cn-big5", "x-big5", "csbig5", "x-x-big5"}
)
_UTF8_LABELS = frozenset({"utf8", "utf-8", "unicode-1-1-utf-8", "x-unicode20utf8"})
# Codecs Python knows that are not character sets a mail may legitimately declare.
_REFUSED = frozenset(
    {
        "undefined",
        "unknown-8bit",
        "x-unknown",
        "unicode_escape",
        "raw_unicode_escape",
        "unicode_internal",
        "idna",
        "punycode",
        "mbcs",
        "oem",
    }
)
# Single-byte labels under which valid UTF-8 is far more likely a mislabel than real text.
_SINGLE_BYTE_WESTERN = frozenset({"iso8859-1", "cp1252", "iso8859-15"})

# How much of a large body charset detection looks at.
_DETECT_SAMPLE = 64 * 1024


def canonical_charset(label: str | None) -> str | None:
    """Return the label to decode with, or None for a missing or unknown label.

    gb2312/gbk/x-gbk/cp936/euc-cn -> gb18030, big5 -> big5hkscs, utf8 -> utf-8; other
    labels Python knows come back lower-cased. RFC 2231 language suffixes (``gb2312*zh``)
    and quotes are dropped.
    """
    if not label:
        return None
    name = label.strip().strip("\"'").strip().lower()
    name = name.split("*", 1)[0].strip()
    if not name or len(name) > 40:
        return None
    if name in _GB_LABELS:
        return "gb18030"
    if name in _BIG5_LABELS:
        return "big5hkscs"
    if name in _UTF8_LABELS:
        return "utf-8"
    if name in _REFUSED:
        return None
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError):
        return None
    if not getattr(info, "_is_text_encoding", True) or info.name in _REFUSED:
        return None
    return name


def _strict(data: bytes, encoding: str, *, allow_cut: bool = False) -> str | None:
    """Decode strictly; with ``allow_cut``, a character cut off at the very end (a
    truncated mail) becomes U+FFFD instead of failing the whole decode."""
    try:
        return data.decode(encoding)
    except LookupError:
        return None
    except UnicodeDecodeError as exc:
        if not allow_cut or exc.end < len(data) or len(data) - exc.start > 3:
            return None
        try:
            return data[: exc.start].decode(encoding) + "\ufffd"
        except UnicodeDecodeError:
            return None


def _is_han(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf"


# Punctuation Chinese text uses in either script; anything else outside ASCII that a
# decode produces (kana, Cyrillic, box drawing, private use) is a sign of the wrong codec.
_CJK_PUNCT = frozenset("，。：；！？、（）《》〈〉“”‘’—…·「」『』【】　～％＃＠＆")


def _plausibility(text: str, encoding: str, lead_range: tuple[int, int]) -> float:
    """Share of non-ASCII characters that are common in text written in ``encoding``.

    Real GBK text is almost entirely GB2312 level 1/2 Han (lead byte B0-F7) plus CJK
    punctuation; Big5 bytes read as GBK scatter over kana, Cyrillic, symbols and rare
    extension rows, and GB bytes read as Big5 miss Big5's common level 1 (lead A4-C6).
    """
    low, high = lead_range
    total = common = 0
    for ch in text:
        if ch.isascii():
            continue
        total += 1
        if ch in _CJK_PUNCT or "\uff01" <= ch <= "\uff5e":
            common += 1
        elif _is_han(ch):
            try:
                encoded = ch.encode(encoding)
            except UnicodeEncodeError:
                continue
            if len(encoded) == 2 and low <= encoded[0] <= high:
                common += 1
    return common / total if total else 0.0


def _gb_score(text: str) -> float:
    return _plausibility(text, "gb2312", (0xB0, 0xF7))


def _gb_or_big5(data: bytes) -> str | None:
    """Decode undeclared 8-bit CJK bytes: GB18030 unless Big5 reads clearly better."""
    as_gb = _strict(data, "gb18030", allow_cut=True)
    if as_gb is None:
        return None
    as_big5 = _strict(data, "big5hkscs")
    if as_big5 is not None:
        gb_score = _gb_score(as_gb)
        big5_score = _plausibility(as_big5, "big5", (0xA4, 0xC6))
        if big5_score >= 0.8 and big5_score - gb_score > 0.25:
            return as_big5
    return as_gb


def _detect(data: bytes) -> str | None:
    sample = data[:_DETECT_SAMPLE]
    try:
        best = charset_normalizer.from_bytes(sample).best()
    except Exception:  # the detector is a heuristic; never let it break decoding
        return None
    if best is None or not best.encoding:
        return None
    encoding = canonical_charset(best.encoding) or best.encoding
    try:
        return data.decode(encoding, "replace")
    except LookupError:
        return None


def decode_bytes(data: bytes, declared: str | None = None) -> str:
    """Decode ``data``: declared charset strictly, then UTF-8, then GB18030, then detection.

    Never raises; the last resort is UTF-8 with U+FFFD for what cannot be read.
    """
    if not data:
        return ""
    charset = canonical_charset(declared)
    if charset is not None:
        text = _strict(data, charset, allow_cut=charset in ("utf-8", "gb18030"))
        if text is not None:
            name = codecs.lookup(charset).name
            if name in _SINGLE_BYTE_WESTERN and not data.isascii():
                # Latin-1 accepts any byte: valid UTF-8 or GB text under it is a mislabel.
                better = _strict(data, "utf-8")
                if better is None:
                    gb = _strict(data, "gb18030")
                    if gb is not None and _gb_score(gb) > 0.9:
                        better = gb
                return better if better is not None else text
            return text.removeprefix("\ufeff") if name.startswith("utf") else text
    if data.isascii():
        return data.decode("ascii")
    text = _strict(data, "utf-8-sig", allow_cut=True)
    if text is not None:
        return text
    text = _gb_or_big5(data)
    if text is not None:
        return text
    text = _detect(data)
    if text is not None:
        return text
    utf8 = data.decode("utf-8", "replace")
    gb = data.decode("gb18030", "replace")
    # A truncated or damaged GB text loses a character or two under gb18030, everything
    # under utf-8: keep whichever lost less.
    return gb if gb.count("\ufffd") < utf8.count("\ufffd") else utf8


# --- headers ------------------------------------------------------------------------

_ENCODED_WORD = re.compile(r"=\?([^?\s]{1,60})\?([bBqQ])\?([^?\s]*?)\?=")
_FOLD = re.compile(r"\r?\n(?=[ \t])|\r(?=[ \t])")
_LINE_BREAKS = re.compile(r"[\r\n\x00]+")
_B64_JUNK = re.compile(rb"[^A-Za-z0-9+/]")


def _b64decode(text: str) -> bytes | None:
    cleaned = _B64_JUNK.sub(b"", text.encode("ascii", "ignore"))
    if len(cleaned) % 4 == 1:
        cleaned = cleaned[:-1]  # a dangling sextet carries no whole byte
    cleaned += b"=" * (-len(cleaned) % 4)
    try:
        return binascii.a2b_base64(cleaned)
    except (binascii.Error, ValueError):
        return None


def _qdecode(text: str) -> bytes:
    raw = text.encode("ascii", "surrogateescape").replace(b"_", b" ")
    return binascii.a2b_qp(raw)


def _raw_to_bytes(text: str) -> bytes:
    """Bytes of a header fragment: surrogate escapes back to their bytes, text as UTF-8."""
    return text.encode("utf-8", "surrogateescape")


def _decode_raw(text: str) -> str:
    if text.isascii():
        return text
    return decode_bytes(_raw_to_bytes(text))


class _Word:
    __slots__ = ("charset", "data", "encoding", "text")

    def __init__(self, charset: str, encoding: str, text: str) -> None:
        self.charset = charset
        self.encoding = encoding
        self.text = text
        self.data = b""


def _decode_run(words: list[_Word]) -> str:
    """Decode adjacent encoded-words of one charset as a single byte string.

    Splitters cut words in the middle of a multibyte character (and some even in the
    middle of a base64 quantum), so the bytes are joined before the charset is applied.
    """
    if all(w.encoding == "b" for w in words) and any(
        len(w.text.rstrip("=")) % 4 and not w.text.endswith("=") for w in words[:-1]
    ):
        data = _b64decode("".join(w.text for w in words)) or b""
    else:
        chunks: list[bytes] = []
        for w in words:
            decoded = _b64decode(w.text) if w.encoding == "b" else _qdecode(w.text)
            chunks.append(decoded or b"")
        data = b"".join(chunks)
    return decode_bytes(data, words[0].charset)


def decode_header_value(value: str | bytes | None) -> str:
    """Decode a header value as mail clients really write it.

    RFC 2047 encoded-words anywhere (also inside quotes, as Outlook and Foxmail put them),
    adjacent words merged before decoding, charset labels canonicalised; raw 8-bit text
    (surrogate-escaped str from the compat32 policy, or bytes) read as UTF-8 or GB18030.
    Folding and line breaks are removed. Never raises.
    """
    if value is None:
        return ""
    text = value.decode("ascii", "surrogateescape") if isinstance(value, bytes) else str(value)
    text = _FOLD.sub("", text)
    out: list[str] = []
    run: list[_Word] = []
    pos = 0

    def flush_run() -> None:
        if run:
            out.append(_decode_run(run))
            run.clear()

    for match in _ENCODED_WORD.finditer(text):
        between = text[pos : match.start()]
        charset, encoding, payload = match.group(1), match.group(2).lower(), match.group(3)
        word = _Word(canonical_charset(charset) or "", encoding, payload)
        if between.strip(" \t"):
            flush_run()
            out.append(_decode_raw(between))
        elif run and run[-1].charset != word.charset:
            flush_run()  # whitespace between encoded-words is dropped (RFC 2047 6.2)
        elif not run:
            out.append(between)
        run.append(word)
        pos = match.end()
    flush_run()
    out.append(_decode_raw(text[pos:]))
    return _LINE_BREAKS.sub("", "".join(out)).strip()
