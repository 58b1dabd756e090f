"""Raw mail bytes in, ``ParsedMail`` out, whatever the sender's client did.

The MIME tree comes from the standard library's ``email`` package with the compat32
policy, which keeps raw 8-bit header bytes as surrogate escapes instead of replacing them;
every header, parameter and body is then decoded here with :mod:`intake.charset`.
mail-parser (``mailparser``) reads the Date header: its RFC 5322 date parser handles the
obsolete forms and reports what it could not read, and this module adds the forms Chinese
clients write on top (no zone, ISO dates, bare "CST").

Only :class:`UnparseableMail` is ever raised, and only when nothing at all can be read.
"""

from __future__ import annotations

import binascii
import email
import email.utils
import os
import quopri
import re
import types
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email.message import Message

from mailparser.dates import parse_mail_date

from intake.addresses import BadAddress, check_address
from intake.charset import canonical_charset, decode_bytes, decode_header_value
from intake.text import strip_controls

__all__ = ["MailAttachment", "ParsedMail", "UnparseableMail", "parse_message"]

# China Standard Time: what a Date header without a zone means for this mailbox.
CHINA_TZ = timezone(timedelta(hours=8))

# Raw header values longer than this are cut before decoding (a 1 MB Subject must not
# cost seconds of decoding); decoded display values are cut again to this length.
MAX_RAW_HEADER = 16 * 1024
MAX_DECODED_HEADER = 2000
MAX_HEADERS = 1000
MAX_DEPTH = 40
# A report holds a few photos and a document; a mail of thousands of parts is built to make
# storing them slow. Past this many parts the rest is not read (the raw copy keeps them) and
# the error below sends the mail to review.
MAX_PARTS = 500
TOO_MANY_PARTS = "too many parts"


class UnparseableMail(ValueError):
    """Nothing in the bytes can be read as mail: no header, no text."""


@dataclass(frozen=True)
class MailAttachment:
    filename: str  # decoded, as the sender wrote it ("" when none)
    content_type: str  # lower-case "image/jpeg"
    payload: bytes
    content_id: str | None = None
    inline: bool = False


@dataclass(frozen=True)
class ParsedMail:
    message_id: str | None  # as in the header, with <>
    from_addr: str  # lower-case address, "" when none
    from_name: str  # decoded display name
    to: tuple[str, ...]
    cc: tuple[str, ...]
    subject: str  # decoded
    date: datetime | None  # aware, from the Date header
    text: str  # plain-text body (decoded), "" if none
    html: str  # html body (decoded), "" if none
    attachments: tuple[MailAttachment, ...]
    headers: Mapping[str, str]  # lower-case name -> decoded value (first occurrence)
    in_reply_to: str | None
    references: tuple[str, ...]
    content_type: str  # top-level, lower-case, e.g. "multipart/report"
    report_type: str | None  # multipart/report's report-type parameter
    return_path: str | None  # None when absent, "" for the null sender <>
    errors: tuple[str, ...]  # defects and repairs, readable English


# --- raw header access ---------------------------------------------------------------


def _raw_items(msg: Message) -> list[tuple[str, str]]:
    """Header (name, raw value) pairs; raw 8-bit bytes stay surrogate-escaped."""
    return [(str(name), str(value)) for name, value in msg.raw_items()]


def _raw_header(msg: Message, name: str) -> str | None:
    wanted = name.lower()
    for key, value in _raw_items(msg):
        if key.lower() == wanted:
            return value
    return None


def _clip_raw(value: str) -> str:
    if len(value) <= MAX_RAW_HEADER:
        return value
    cut = value.rfind(" ", MAX_RAW_HEADER - 200, MAX_RAW_HEADER)
    return value[: cut if cut > 0 else MAX_RAW_HEADER]


def _decode_capped(name: str, value: str, errors: list[str]) -> str:
    clipped = _clip_raw(value)
    text = decode_header_value(clipped)
    if len(clipped) < len(value) or len(text) > MAX_DECODED_HEADER:
        text = text[:MAX_DECODED_HEADER]
        errors.append(
            f"{name} header of {len(value)} characters truncated to {len(text)} characters"
        )
    return strip_controls(text)


# --- MIME parameters (RFC 2045 / RFC 2231) ----------------------------------------


def _is_escaped_byte(ch: str) -> bool:
    return "\udc80" <= ch <= "\udcff"


def _unquote(value: str) -> str:
    """Strip a quoted-string's quotes and escapes.

    A backslash right after a raw 8-bit byte is the second byte of a GBK/Big5 character
    (Big5 許 is B3 5C), not an escape.
    """
    value = value.strip()
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        value = value[1:-1]
    else:
        return value
    out: list[str] = []
    i = 0
    while i < len(value):
        ch = value[i]
        if ch == "\\" and i + 1 < len(value) and not (i and _is_escaped_byte(value[i - 1])):
            out.append(value[i + 1])
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _split_params(value: str) -> list[str]:
    parts: list[str] = []
    buf: list[str] = []
    in_quotes = False
    i = 0
    while i < len(value):
        ch = value[i]
        if in_quotes:
            if ch == "\\" and i + 1 < len(value) and not (i and _is_escaped_byte(value[i - 1])):
                buf.append(value[i : i + 2])
                i += 2
                continue
            if ch == '"':
                in_quotes = False
        elif ch == '"':
            in_quotes = True
        elif ch == ";":
            parts.append("".join(buf))
            buf = []
            i += 1
            continue
        buf.append(ch)
        i += 1
    parts.append("".join(buf))
    return parts


_PARAM_NAME = re.compile(r"^([^*]+?)(?:\*(\d{1,3}))?(\*)?$")


def _rfc2231_bytes(value: str) -> bytes:
    return urllib.parse.unquote_to_bytes(value.encode("utf-8", "surrogateescape"))


def _parse_params(raw: str | None) -> tuple[str, dict[str, str]]:
    """Split a Content-Type/Content-Disposition value into its token and decoded params.

    RFC 2231 continuations are joined as bytes before their (canonicalised, possibly
    wrong) charset is applied; plain values go through :func:`decode_header_value`, which
    also takes RFC 2047 words inside quotes and raw GBK or UTF-8 bytes.
    """
    if raw is None:
        return "", {}
    raw = _clip_raw(re.sub(r"\r?\n[ \t]*", " ", raw))
    pieces = _split_params(raw)
    token = pieces[0].strip().strip('"').lower()
    grouped: dict[str, list[tuple[int, bool, str]]] = {}
    order: list[str] = []
    for piece in pieces[1:]:
        name, sep, value = piece.partition("=")
        if not sep:
            continue
        match = _PARAM_NAME.match(name.strip().lower())
        if not match:
            continue
        base, index, extended = match.group(1).strip(), match.group(2), match.group(3)
        if base not in grouped:
            grouped[base] = []
            order.append(base)
        grouped[base].append((int(index) if index else -1, bool(extended), value.strip()))
    params: dict[str, str] = {}
    for base in order:
        segments = sorted(grouped[base], key=lambda seg: seg[0])
        if any(seg[0] >= 0 for seg in segments) and any(seg[0] < 0 for seg in segments):
            # Both a plain and a continued value: keep the continued one.
            segments = [seg for seg in segments if seg[0] >= 0]
        if not any(extended for _, extended, _ in segments) and len(segments) == 1:
            params[base] = decode_header_value(_unquote(segments[0][2]))
            continue
        charset: str | None = None
        chunks: list[bytes] = []
        for position, (_, extended, value) in enumerate(segments):
            value = _unquote(value)
            if extended:
                if position == 0 and value.count("'") >= 2:
                    charset, _lang, value = value.split("'", 2)
                chunks.append(_rfc2231_bytes(value))
            else:
                chunks.append(value.encode("utf-8", "surrogateescape"))
        data = b"".join(chunks)
        text = decode_bytes(data, charset or None)
        if "=?" in text:
            text = decode_header_value(text)
        params[base] = text
    return token, params


# --- addresses ------------------------------------------------------------------------

_ANGLE_ADDR = re.compile(r"^(?P<name>.*?)<\s*(?P<addr>[^<>\s]*@[^<>\s]*)\s*>[^<>@]*$", re.S)
_BARE_ADDR = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+")


def _parse_from(raw: str) -> tuple[str, str]:
    """(lower-case address, decoded display name) of a From header value."""
    value = re.sub(r"\r?\n[ \t]*", " ", _clip_raw(raw)).strip()
    match = _ANGLE_ADDR.match(value)
    if match:
        name = _unquote(match.group("name").strip())
        return match.group("addr").strip().lower(), _display(name)
    pairs = email.utils.getaddresses([value])
    for name, addr in pairs:
        if "@" in addr:
            return addr.strip().lower(), _display(name)
    bare = _BARE_ADDR.search(value)
    if bare:
        return bare.group(0).lower(), ""
    return "", _display(value)


def _display(value: str) -> str:
    """A decoded display name: no control or bidi characters, at most MAX_DECODED_HEADER."""
    return strip_controls(decode_header_value(value)[:MAX_DECODED_HEADER]).strip()


def _parse_address_list(raw: str | None) -> tuple[str, ...]:
    if not raw:
        return ()
    value = re.sub(r"\r?\n[ \t]*", " ", raw[: 4 * MAX_RAW_HEADER])
    found: list[str] = []
    for _name, addr in email.utils.getaddresses([value]):
        addr = addr.strip().lower()
        if "@" in addr and addr not in found:
            found.append(addr)
    if not found:
        for match in _BARE_ADDR.finditer(value):
            addr = match.group(0).lower()
            if addr not in found:
                found.append(addr)
    return tuple(found)


# --- dates ------------------------------------------------------------------------------

_ISO_DATE = re.compile(
    r"(?P<y>\d{4})\s*[-/.年]\s*(?P<mo>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})\s*日?"
    r"(?:[T\s]*(?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2}))?)?"
    r"\s*(?P<z>Z|[+-]\d{2}:?\d{2})?",
    re.ASCII,
)


_ZONE_AFTER_TIME = re.compile(
    r"\d{1,2}:\d{2}(?::\d{2})?\s*(?:(?P<num>[+-]\d{2}:?\d{2})|(?P<name>[A-Za-z]{1,5})\b)?",
    re.ASCII,
)
_ZONE_NAMES = {"UT": 0, "UTC": 0, "GMT": 0, "Z": 0, "EST": -300, "EDT": -240, "PST": -480}


def _zone_offset(value: str) -> int | None:
    """Minutes east of UTC named after the time of day, or None when no zone is given."""
    match = _ZONE_AFTER_TIME.search(value)
    if match is None:
        return None
    if match["num"]:
        digits = match["num"].replace(":", "")
        minutes = int(digits[1:3]) * 60 + int(digits[3:5])
        return -minutes if digits[0] == "-" else minutes
    if match["name"]:
        return _ZONE_NAMES.get(match["name"].upper())
    return None


def _parse_date(raw: str | None, errors: list[str]) -> datetime | None:
    if raw is None:
        errors.append("no Date header")
        return None
    value = re.sub(r"\s+", " ", decode_header_value(_clip_raw(raw))).strip()
    if not value:
        errors.append("empty Date header")
        return None
    # Chinese clients write "CST" for China Standard Time, not US Central.
    value = re.sub(r"(?<=\d) (?:CST|China Standard Time|Beijing)$", " +0800", value)
    result = parse_mail_date(value)
    if result.value is not None:
        try:
            hours = float(result.timezone)
        except (TypeError, ValueError):
            hours = 0.0
        return result.value.astimezone(timezone(timedelta(minutes=round(hours * 60))))
    parsed = email.utils.parsedate_tz(value)
    if parsed is not None:
        try:
            naive = datetime(*parsed[:6])
        except (ValueError, OverflowError):
            naive = None
        if naive is not None:
            offset = _zone_offset(value)
            if offset is None:
                errors.append(f"Date header has no usable time zone, assumed +08:00: {value[:80]}")
                return naive.replace(tzinfo=CHINA_TZ)
            return naive.replace(tzinfo=timezone(timedelta(minutes=offset)))
    match = _ISO_DATE.search(value)
    if match:
        try:
            naive = datetime(
                int(match["y"]),
                int(match["mo"]),
                int(match["d"]),
                int(match["h"] or 0),
                int(match["mi"] or 0),
                int(match["s"] or 0),
            )
        except ValueError:
            naive = None
        if naive is not None:
            zone = match["z"]
            if zone is None:
                errors.append(f"Date header is not RFC 5322, read as +08:00: {value[:80]}")
                return naive.replace(tzinfo=CHINA_TZ)
            if zone == "Z":
                return naive.replace(tzinfo=UTC)
            digits = zone.replace(":", "")
            offset = int(digits[1:3]) * 60 + int(digits[3:5])
            sign = -1 if digits[0] == "-" else 1
            return naive.replace(tzinfo=timezone(timedelta(minutes=sign * offset)))
    errors.append(f"unreadable Date header: {value[:80]}")
    return None


# --- bodies and attachments ---------------------------------------------------------

_META_CHARSET = re.compile(
    rb"<meta[^>]{0,200}?charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]{2,40})", re.I
)
_FORWARD_LABELS = (("from", "发件人"), ("date", "发送时间"), ("to", "收件人"), ("cc", "抄送"))


def _describe_defect(defect: object) -> str:
    doc = (type(defect).__doc__ or "").strip().splitlines()
    detail = doc[0].rstrip(".") if doc else "MIME defect"
    return f"{detail} ({type(defect).__name__})"


@dataclass
class _Collector:
    texts: list[str] = field(default_factory=list)
    htmls: list[str] = field(default_factory=list)
    attachments: list[MailAttachment] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    parts: int = 0


def _serialise(msg: Message) -> bytes:
    try:
        return msg.as_bytes()
    except Exception:
        try:
            return msg.as_string().encode("utf-8", "surrogateescape")
        except Exception:
            return b""


def _leaf_payload(part: Message, where: str, out: _Collector) -> bytes:
    cte = str(part.get("content-transfer-encoding", "")).strip().lower()
    raw = part.get_payload()
    if cte == "base64" and isinstance(raw, str):
        return _base64_payload(raw, where, out)
    try:
        data = part.get_payload(decode=True)
    except Exception as exc:  # stdlib decoders on hostile input
        out.errors.append(f"{where}: payload could not be decoded ({type(exc).__name__})")
        return b""
    if isinstance(data, bytes):
        return data
    if isinstance(raw, str):
        return raw.encode("utf-8", "surrogateescape")
    return b""


_B64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
_B64_SPACE = b" \t\r\n\v\f"


def _base64_payload(text: str, where: str, out: _Collector) -> bytes:
    """A base64 body decoded. Well-formed payloads (nearly all) cost two byte-level scans
    in C and the decode; only a payload they find at fault goes through the repair."""
    if text.isascii():
        data = text.encode("ascii")
        compact = data.translate(None, _B64_SPACE)
        if compact.translate(None, _B64_ALPHABET):
            out.errors.append(f"{where}: invalid characters in base64 skipped")
        elif len(compact) % 4:
            out.errors.append(f"{where}: base64 is truncated, decoded what was there")
        else:
            try:
                return binascii.a2b_base64(data)
            except binascii.Error:
                pass  # padding in the middle, say: the lenient reading below
        return _lenient_b64(data)
    out.errors.append(f"{where}: invalid characters in base64 skipped")
    return _lenient_b64(text.encode("ascii", "ignore"))


def _lenient_b64(data: bytes | str) -> bytes:
    """Base64 as far as it can be read: junk skipped, a cut-off last quantum dropped."""
    if isinstance(data, str):
        data = data.encode("ascii", "ignore")
    try:
        return binascii.a2b_base64(data)
    except binascii.Error:
        pass
    cleaned = re.sub(rb"[^A-Za-z0-9+/]", b"", data)
    cleaned = cleaned[: len(cleaned) - len(cleaned) % 4]
    try:
        return binascii.a2b_base64(cleaned)
    except binascii.Error:
        return b""


def _guess_boundary(body: str) -> str | None:
    counts: dict[str, int] = {}
    for line in body.splitlines():
        match = re.match(r"^--([0-9A-Za-z'()+_,./:=? -]{0,69}[0-9A-Za-z'()+_,./:=?-])\s*$", line)
        if match:
            token = match.group(1)
            if token.endswith("--"):
                token = token[:-2]
            counts[token] = counts.get(token, 0) + 1
    if not counts:
        return None
    token, seen = max(counts.items(), key=lambda item: item[1])
    return token if seen >= 2 or len(counts) == 1 else None


def _repair_multipart(part: Message, where: str, out: _Collector) -> Message | None:
    """Re-read a multipart whose boundary is missing or wrong with the one its body uses."""
    try:
        data = part.get_payload(decode=True)
    except Exception:
        return None
    if not isinstance(data, bytes):
        return None
    body = data.decode("ascii", "surrogateescape")
    boundary = _guess_boundary(body)
    if boundary is None:
        return None
    rebuilt = f'Content-Type: {part.get_content_type()}; boundary="{boundary}"\n\n'.encode() + data
    try:
        repaired = email.message_from_bytes(rebuilt)
    except Exception:
        return None
    if not repaired.is_multipart():
        return None
    out.errors.append(f"{where}: boundary missing or wrong, read with boundary {boundary!r}")
    return repaired


def _forward_block(inner: Message) -> str:
    lines = ["---------- 转发邮件 ----------"]
    for name, label in _FORWARD_LABELS:
        raw = _raw_header(inner, name)
        if raw is not None:
            lines.append(f"{label}: {decode_header_value(_clip_raw(raw))[:MAX_DECODED_HEADER]}")
    subject = _raw_header(inner, "subject")
    if subject is not None:
        lines.append(f"主题: {decode_header_value(_clip_raw(subject))[:MAX_DECODED_HEADER]}")
    return "\n".join(lines)


def _text_of(data: bytes, params: Mapping[str, str], html: bool) -> str:
    declared = params.get("charset")
    if not canonical_charset(declared) and html:
        meta = _META_CHARSET.search(data[:4096])
        if meta:
            declared = meta.group(1).decode("ascii")
    text = decode_bytes(data, declared)
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _forwarded_message(part: Message, where: str, out: _Collector) -> Message | None:
    """The mail inside a message/rfc822 part, also when a client base64-encoded it."""
    cte = str(part.get("content-transfer-encoding", "")).strip().lower()
    payload = part.get_payload()
    first = payload[0] if isinstance(payload, list) and payload else None
    if cte in ("base64", "quoted-printable"):
        # The stdlib parsed the encoded text as a headerless message: decode its body.
        if isinstance(first, Message):
            body = first.get_payload(decode=True)
            encoded = body.decode("ascii", "replace") if isinstance(body, bytes) else ""
        else:
            encoded = payload if isinstance(payload, str) else ""
        if cte == "base64":
            data = _lenient_b64(encoded)
        else:
            data = quopri.decodestring(encoded.encode("ascii", "replace"))
        if not data.strip():
            return None
        out.errors.append(f"{where}: {cte}-encoded forwarded message read after decoding")
        return email.message_from_bytes(data)
    if isinstance(first, Message):
        return first
    data = _leaf_payload(part, where, out)
    return email.message_from_bytes(data) if data.strip() else None


def _walk(part: Message, out: _Collector, depth: int, in_report: bool, path: str) -> None:
    ctype = part.get_content_type()
    maintype = ctype.split("/", 1)[0]
    where = f"part {path} ({ctype})"
    for defect in part.defects:
        out.errors.append(f"{where}: {_describe_defect(defect)}")
    if depth > MAX_DEPTH:
        out.errors.append(f"{where}: nested deeper than {MAX_DEPTH} levels, not read")
        return
    out.parts += 1
    if out.parts > MAX_PARTS:
        if out.parts == MAX_PARTS + 1:
            out.errors.append(f"{TOO_MANY_PARTS}: more than {MAX_PARTS}, the rest not read")
        return
    disposition, dparams = _parse_params(_raw_header(part, "content-disposition"))
    _, cparams = _parse_params(_raw_header(part, "content-type"))
    filename = strip_controls(dparams.get("filename") or cparams.get("name") or "")

    if ctype == "message/rfc822" and not in_report:
        inner = _forwarded_message(part, where, out)
        if inner is not None:
            out.texts.append(_forward_block(inner))
            _walk(inner, out, depth + 1, in_report, f"{path}.1")
        return

    if part.is_multipart():
        children = part.get_payload()
        if maintype == "multipart" and isinstance(children, list):
            report = in_report or ctype == "multipart/report"
            for index, child in enumerate(children, 1):
                if isinstance(child, Message):
                    _walk(child, out, depth + 1, report, f"{path}.{index}")
            return
        # message/* parts the stdlib parsed into sub-messages (delivery-status, rfc822
        # inside a report): keep them whole, as the bounce's evidence.
        data = (
            b"".join(_serialise(child) for child in children if isinstance(child, Message))
            if isinstance(children, list)
            else b""
        )
        out.attachments.append(MailAttachment(filename, ctype, data))
        return

    if maintype == "multipart":
        repaired = _repair_multipart(part, where, out)
        if repaired is not None:
            _walk(repaired, out, depth + 1, in_report, path)
            return
        out.errors.append(f"{where}: multipart without readable parts, read as text")
        ctype = "text/plain"

    data = _leaf_payload(part, where, out)
    is_body_type = ctype in ("text/plain", "text/html")
    if is_body_type and disposition != "attachment" and not filename:
        text = _text_of(data, cparams, html=ctype == "text/html")
        if text.strip():
            (out.htmls if ctype == "text/html" else out.texts).append(text)
        return
    if not data and not filename:
        return
    content_id = _raw_header(part, "content-id")
    cid = content_id.strip().strip("<>").strip() if content_id else None
    inline = disposition == "inline" or (not disposition and bool(cid))
    out.attachments.append(MailAttachment(filename, ctype, data, cid or None, inline))


# --- the whole message ----------------------------------------------------------------

_HEADER_START = re.compile(rb"^(?:From [^\r\n]*\r?\n)?[!-9;-~]{1,200}[ \t]*:")


def _looks_binary(data: bytes) -> bool:
    sample = data[: 64 * 1024]
    if b"\x00" in sample:
        return True
    controls = sum(1 for byte in sample if byte < 0x20 and byte not in b"\t\r\n\f")
    if controls > len(sample) // 50:
        return True
    text = decode_bytes(sample[: len(sample) - 4] if len(sample) > 8 else sample)
    return text.count("\ufffd") > max(2, len(text) // 100)


def _without_headers(raw: bytes) -> ParsedMail:
    """A blob with no header: keep it as text if it is text, else give up."""
    if _looks_binary(raw):
        raise UnparseableMail("no mail header and no readable text")
    text = decode_bytes(raw).replace("\r\n", "\n").replace("\r", "\n")
    return _empty(text=text, errors=("no mail header found; the whole input read as text",))


def _empty(*, text: str, errors: tuple[str, ...]) -> ParsedMail:
    return ParsedMail(
        message_id=None,
        from_addr="",
        from_name="",
        to=(),
        cc=(),
        subject="",
        date=None,
        text=text,
        html="",
        attachments=(),
        headers=types.MappingProxyType({}),
        in_reply_to=None,
        references=(),
        content_type="text/plain",
        report_type=None,
        return_path=None,
        errors=errors,
    )


def _message_id(raw: str | None) -> str | None:
    if raw is None:
        return None
    value = re.sub(r"\s+", "", decode_header_value(_clip_raw(raw)))
    match = re.search(r"<[^<>]*>", value)
    if match:
        return match.group(0)[:998]
    return value[:998] or None


_REFERENCE = re.compile(r"<[!-;=?A-~]{1,250}@[!-;=?A-~]{1,250}>")


def _references(raw: str | None) -> tuple[str, ...]:
    if not raw:
        return ()
    value = _clip_raw(raw)
    # Only well-formed message ids (<local@domain>): anything else in the header is noise
    # at best and header injection at worst when the value is echoed into a reply.
    found = _REFERENCE.findall(value)
    unique: list[str] = []
    for item in found:
        if item not in unique:
            unique.append(item)
    return tuple(unique)


def _return_path(raw: str | None) -> str | None:
    if raw is None:
        return None
    value = re.sub(r"\s+", "", raw).strip()
    match = re.search(r"<([^<>]*)>", value)
    address = match.group(1) if match else value
    return address.strip().lower()


def _header_map(items: Iterable[tuple[str, str]], errors: list[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for count, (name, value) in enumerate(items, 1):
        if count > MAX_HEADERS:
            errors.append(f"more than {MAX_HEADERS} header fields; the rest not decoded")
            break
        key = name.strip().lower()
        if key and key not in headers:
            headers[key] = _decode_capped(key, value, errors)
    return headers


# The stdlib's parser reads a mail line by line in Python: for a mail of photos that is
# most of the work (15,000 lines of base64 a megabyte). A long run of lines that are all
# base64 after a blank line can hold no boundary (those start with "--") and no header
# (those need a colon), so it is handed to the parser as one line, a token, and put back
# in the payload the parser made of it: the message is the one the stdlib would make.
_B64_BODY = _B64_ALPHABET + b"\r\n"
_BIG_BLOCK = 4096
_TOKEN = re.compile(r"Rixb([0-9a-f]{32})n([0-9]{1,9})z\r\n")


def _message_from_bytes(data: bytes) -> Message:
    """``email.message_from_bytes(data)``, without the line-by-line walk over long base64
    bodies. Falls back to the plain parse unless every token is put back."""
    segments = data.split(b"\n--")
    nonce = os.urandom(16).hex()
    blocks: list[str] = []
    for index, segment in enumerate(segments):
        if len(segment) < _BIG_BLOCK:
            continue
        start = min(
            (at + len(sep) for sep in (b"\n\n", b"\n\r\n") if (at := segment.find(sep)) >= 0),
            default=-1,
        )
        end = segment.rfind(b"\n") + 1
        if start < 0 or end - start < _BIG_BLOCK:
            continue
        block = segment[start:end]
        if block.translate(None, _B64_BODY):
            continue  # not only base64 lines: left to the parser
        token = f"Rixb{nonce}n{len(blocks)}z\r\n".encode("ascii")
        blocks.append(block.decode("ascii"))
        segments[index] = segment[:start] + token + segment[end:]
    if not blocks:
        return email.message_from_bytes(data)
    msg = email.message_from_bytes(b"\n--".join(segments))
    if _put_back(msg, nonce, blocks) != len(blocks):
        return email.message_from_bytes(data)  # a token went astray: the plain way
    return msg


def _put_back(msg: Message, nonce: str, blocks: list[str]) -> int:
    """Replace the tokens in every payload, preamble and epilogue; how many were found."""
    found = 0

    def block(match: re.Match[str]) -> str:
        nonlocal found
        number = int(match.group(2))
        if match.group(1) != nonce or number >= len(blocks):
            return match.group(0)
        found += 1
        return blocks[number]

    def fill(text: str | None) -> str | None:
        if text is not None and nonce in text:
            return _TOKEN.sub(block, text)
        return text

    try:
        for part in msg.walk():
            payload = getattr(part, "_payload", None)  # as parsed (get_payload decodes 8-bit)
            if isinstance(payload, str) and nonce in payload:
                part.set_payload(_TOKEN.sub(block, payload))
            part.preamble = fill(part.preamble)
            part.epilogue = fill(part.epilogue)
    except RecursionError:
        return -1
    return found


def parse_message(raw: bytes) -> ParsedMail:
    """Parse one raw mail. Never raises for bad MIME; see :class:`UnparseableMail`."""
    if not raw or not raw.strip():
        raise UnparseableMail("empty input")
    start = raw.lstrip(b"\r\n")
    if not _HEADER_START.match(start[:1024]):
        return _without_headers(raw)
    try:
        msg = _message_from_bytes(start)
    except RecursionError:
        return _without_headers_or_fail(raw, "MIME nesting too deep to parse")
    except Exception as exc:  # the stdlib parser is lenient; this is a last resort
        return _without_headers_or_fail(raw, f"MIME parser failed ({type(exc).__name__})")

    errors: list[str] = []
    if len(start) != len(raw):
        errors.append("blank lines before the header skipped")
    items = _raw_items(msg)
    headers = _header_map(items, errors)

    subject_raw = _raw_header(msg, "subject")
    if subject_raw is None:
        subject = ""
    elif "subject" in headers:
        subject = headers["subject"]
    else:  # beyond MAX_HEADERS
        subject = _decode_capped("subject", subject_raw, errors)

    from_raw = _raw_header(msg, "from")
    if from_raw is None:
        errors.append("no From header")
        from_addr, from_name = "", ""
    else:
        from_addr, from_name = _parse_from(from_raw)
        if not from_addr:
            errors.append("no address in From header")
        else:
            try:
                from_addr = check_address(from_addr)
            except BadAddress as exc:
                errors.append(f"From address refused ({exc}): {from_addr[:80]!r}")
                from_addr = ""

    message_id = _message_id(_raw_header(msg, "message-id"))
    if message_id is None:
        errors.append("no Message-ID header")

    out = _Collector(errors=errors)
    try:
        _walk(msg, out, 0, False, "1")
    except RecursionError:
        errors.append("MIME nesting too deep; the rest of the message not read")

    content_type = msg.get_content_type()
    report_type = None
    if content_type == "multipart/report":
        _, params = _parse_params(_raw_header(msg, "content-type"))
        report_type = params.get("report-type", "").strip().lower() or None

    date = _parse_date(_raw_header(msg, "date"), errors)
    return ParsedMail(
        message_id=message_id,
        from_addr=from_addr,
        from_name=from_name,
        to=_parse_address_list(_raw_header(msg, "to")),
        cc=_parse_address_list(_raw_header(msg, "cc")),
        subject=subject,
        date=date,
        text="\n\n".join(out.texts),
        html="\n".join(out.htmls),
        attachments=tuple(out.attachments),
        headers=types.MappingProxyType(headers),
        in_reply_to=_message_id(_raw_header(msg, "in-reply-to")),
        references=_references(_raw_header(msg, "references")),
        content_type=content_type,
        report_type=report_type,
        return_path=_return_path(_raw_header(msg, "return-path")),
        errors=tuple(dict.fromkeys(errors)),
    )


def _without_headers_or_fail(raw: bytes, reason: str) -> ParsedMail:
    mail = _without_headers(raw)
    return _empty(text=mail.text, errors=(reason, *mail.errors))
