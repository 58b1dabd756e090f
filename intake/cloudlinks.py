"""Cloud links ("超大附件") that NetEase and QQ mail put in the body instead of attachments.

Only links on an allow-list of provider hosts, with the providers' download paths, are
taken; every other URL is ignored. Nothing is fetched: the name, size and expiry are read
from what the provider wrote around the link (``(80.96M, 2024年08月22日 17:33 到期)``,
``文件大小：12.5M``, the NetEase anchor's ``filename``/``filesize``/``expiretime``
attributes, or the link's ``title=`` query). Bodies must be decoded first (quoted-printable
breaks URLs); :func:`intake.parsing.parse_message` does that.
"""

from __future__ import annotations

import contextlib
import html as html_lib
import re
import urllib.parse
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from intake.text import parse_html, strip_controls
from intake.urls import canonical_url

__all__ = ["CloudLink", "find_cloud_links"]

SHANGHAI = ZoneInfo("Asia/Shanghai")

PROVIDER_NETEASE = "netease"
PROVIDER_QQ = "qq"

# Hosts (and their sub-domains) whose links are taken.
_NETEASE_HOSTS = ("mail.163.com", "mail.126.com", "mail.yeah.net", "mail.188.com", "fs.163.com")
_NETEASE_EXACT = ("dashi.163.com",)
_QQ_HOSTS = ("mail.qq.com", "exmail.qq.com")
_NETEASE_PATHS = ("/large-attachment-download", "/cloud-attachment-download")
_QQ_PATHS = ("/ftn/download", "/cgi-bin/ftnexs_download")

# Link texts that are buttons, not file names.
_NOT_A_NAME = re.compile(
    r"^(?:下载|预览|查看|进入下载页面|点击下载|download|preview)?[:：]?$", re.I
)
_URL = re.compile(r"https?://[A-Za-z0-9\-._~:/?#\[\]@!$&'*+,;=%]+")
_SIZE = r"(?P<num>\d{1,12}(?:\.\d{1,6})?)\s{0,5}(?P<unit>[KMGT]i?B?|B|字节|bytes?)"
_EXPIRY = (
    r"(?P<exp>\d{4}\s{0,5}年\s{0,5}\d{1,2}\s{0,5}月\s{0,5}\d{1,2}\s{0,5}日"
    r"(?:\s{0,5}\d{1,2}\s{0,5}[:：]\s{0,5}\d{2})?|无限期|永久|永不过期)"
)
# "(80.96M, 2024年08月22日 17:33 到期)"; the file name before it is found by `_name_before`.
# Every repetition is bounded: the patterns run over text a stranger wrote.
_PAREN = re.compile(
    r"[(（]\s{0,20}"
    + _SIZE
    + r"\s{0,20}[,，]\s{0,20}"
    + _EXPIRY
    + r"\s{0,20}(?:到期)?\s{0,20}[)）]",
    re.I,
)
_NAME_STOP = frozenset('\n()（）<>"')
MAX_NAME = 300
# What one body may hold that is read for links (a 1 MB body is read in well under a second).
MAX_BODY_CHARS = 2 * 1024 * 1024
_SIZE_LABEL = re.compile(r"(?:文件)?大小\s{0,20}[：:]\s{0,20}" + _SIZE, re.I)
_EXPIRY_LABEL = re.compile(r"(?:到期|过期|有效期至?)(?:时间)?\s{0,20}[：:]\s{0,20}" + _EXPIRY)
_UNITS = {"": 1, "B": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


@dataclass(frozen=True)
class CloudLink:
    provider: str  # "netease" | "qq"
    url: str
    name: str
    size_bytes: int | None
    expires_at: datetime | None


def provider_of(url: str) -> str | None:
    """The provider whose 超大附件 download link ``url`` is, or None.

    ``url`` is read as a browser reads it (:func:`intake.urls.canonical_url`): a ``\\``,
    a control, a percent-escape or a user name in the host is refused, not trusted.
    """
    canonical = canonical_url(url)
    if canonical is None:
        return None
    parts = urllib.parse.urlsplit(canonical)
    host = (parts.hostname or "").lower().rstrip(".")
    path = parts.path.lower()

    def on(hosts: tuple[str, ...]) -> bool:
        return any(host == h or host.endswith("." + h) for h in hosts)

    if on(_NETEASE_HOSTS) or host in _NETEASE_EXACT:
        query = urllib.parse.parse_qs(parts.query)
        huge = "X-NETEASE-HUGE-ATTACHMENT" in query.get("p", [])
        if huge or any(p in path for p in _NETEASE_PATHS):
            return PROVIDER_NETEASE
        return None
    if on(_QQ_HOSTS) and any(path.startswith(p) for p in _QQ_PATHS):
        return PROVIDER_QQ
    return None


def _file_key(url: str, provider: str) -> str:
    """What identifies one file: NetEase's ``file``, QQ's ``k``/``key``; else the URL."""
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    names = ("file",) if provider == PROVIDER_NETEASE else ("k", "key")
    for name in names:
        if query.get(name) and query[name][0].strip():
            return f"{provider}:{query[name][0].strip()}"
    return url


def _size_bytes(num: str, unit: str) -> int | None:
    unit = unit.strip().upper()
    if unit == "B" or unit == "字节" or unit.startswith("BYTE"):
        factor = 1
    else:
        factor = _UNITS.get(unit[:1], 0)
    try:
        return round(float(num) * factor) if factor else None
    except ValueError:
        return None


def _expiry(text: str) -> datetime | None:
    digits = re.findall(r"\d+", text)
    if len(digits) < 3:
        return None  # 无限期 / 永久: no expiry
    year, month, day = (int(d) for d in digits[:3])
    hour, minute = (int(digits[3]), int(digits[4])) if len(digits) >= 5 else (23, 59)
    try:
        return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)
    except ValueError:
        return None


@dataclass
class _Found:
    url: str
    provider: str
    key: str = ""
    name: str = ""
    size: int | None = None
    expires: datetime | None = None


# --- a body as a stream of text and links ---------------------------------------------


@dataclass
class _Link:
    url: str
    text: str
    attrs: dict[str, str]
    titles: list[str]


_Token = str | _Link


class _Tokens:
    """Text and links in document order; text pieces are joined once, at the end."""

    def __init__(self) -> None:
        self.tokens: list[_Token] = []
        self._text: list[str] = []

    def text(self, data: str) -> None:
        if data:
            self._text.append(data)

    def link(self, link: _Link) -> None:
        self._flush()
        self.tokens.append(link)

    def _flush(self) -> None:
        if self._text:
            self.tokens.append("".join(self._text))
            self._text = []

    def done(self) -> list[_Token]:
        self._flush()
        return self.tokens


_BLOCK = frozenset({"br", "p", "div", "tr", "li", "table", "td"})
_VOID = frozenset({"br", "img", "meta", "hr", "input"})


def _tokens_of_text(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    text = text[:MAX_BODY_CHARS]
    for match in _URL.finditer(text):
        url = match.group(0).rstrip(".,;:!?'")
        tokens.append(text[pos : match.start()])
        tokens.append(_Link(url, "", {}, []))
        pos = match.start() + len(url)
    tokens.append(text[pos:])
    return tokens


def _tokens_of_html(markup: str) -> list[_Token]:
    """HTML -> text and links in document order, with the attributes that carry metadata.

    libxml2 (lxml) reads the markup: linear in its length whatever a stranger wrote.
    """
    from lxml import etree

    root = parse_html(markup[:MAX_BODY_CHARS])
    if root is None:
        return []
    out = _Tokens()
    titles: list[str] = []  # title attributes of the open elements
    link: _Link | None = None
    link_element = None
    for event, element in etree.iterwalk(root, events=("start", "end")):
        tag = element.tag.lower() if isinstance(element.tag, str) else ""
        if event == "start":
            if tag in _BLOCK:
                out.text("\n")
            values = {str(k).lower(): str(v or "") for k, v in element.attrib.items()}
            if tag == "a" and values.get("href", "").strip():
                link = _Link(values["href"].strip(), "", values, [t for t in titles if t])
                link_element = element
                out.link(link)
            titles.append(values.get("title", "") if tag != "a" else "")
            if element.text:
                if link is not None:
                    link.text += element.text
                out.text(element.text)
            continue
        titles.pop()
        if element is link_element:
            link, link_element = None, None
        elif tag in _BLOCK and tag not in _VOID:
            out.text("\n")
        if element.tail:
            if link is not None:
                link.text += element.tail
            out.text(element.tail)
    # Bare URLs in the HTML's text (QQ writes "进入下载页面：http://...").
    tokens: list[_Token] = []
    for token in out.done():
        if isinstance(token, str):
            tokens.extend(_tokens_of_text(token))
        else:
            tokens.append(token)
    return tokens


# --- reading the metadata around each link --------------------------------------------


def _from_attrs(found: _Found, link: _Link) -> None:
    attrs = link.attrs
    if not found.name and attrs.get("filename", "").strip():
        found.name = attrs["filename"].strip()
    if found.size is None and attrs.get("filesize", "").strip().isdigit():
        found.size = int(attrs["filesize"])
    stamp = attrs.get("expiretime", "").strip()
    if found.expires is None and stamp.isdigit() and len(stamp) >= 10:
        seconds = int(stamp) / (1000 if len(stamp) >= 13 else 1)
        with contextlib.suppress(OverflowError, OSError, ValueError):
            found.expires = datetime.fromtimestamp(seconds, tz=SHANGHAI)
    label = " ".join(link.text.split())
    if not found.name and label and not _NOT_A_NAME.match(label) and not _URL.match(label):
        found.name = label
    for title in link.titles:
        _from_text(found, title, name_from_first_line=True)


def _name_before(text: str, end: int) -> str:
    """The file name written just before ``text[end]`` ("照片.zip (80M, ...)"): the rest of
    its line after the last bracket or quote, at most ``MAX_NAME`` characters back."""
    pos = end
    floor = max(0, end - MAX_NAME - 64)
    while pos > floor and text[pos - 1].isspace():
        pos -= 1
    stop = pos
    floor = max(0, stop - MAX_NAME)
    while pos > floor and text[pos - 1] not in _NAME_STOP:
        pos -= 1
    return text[pos:stop].lstrip().lstrip("：:").strip()


def _from_text(found: _Found, text: str, *, name_from_first_line: bool = False) -> bool:
    """Fill what ``text`` tells about the file; True when it held a size or an expiry."""
    hit = False
    paren = _PAREN.search(text)
    if paren:
        hit = True
        if found.size is None:
            found.size = _size_bytes(paren["num"], paren["unit"])
        if found.expires is None:
            found.expires = _expiry(paren["exp"])
        name = _name_before(text, paren.start())
        if not found.name and name and not _NOT_A_NAME.match(name):
            found.name = name
    size = _SIZE_LABEL.search(text)
    if size:
        hit = True
        if found.size is None:
            found.size = _size_bytes(size["num"], size["unit"])
    expiry = _EXPIRY_LABEL.search(text)
    if expiry:
        hit = True
        if found.expires is None:
            found.expires = _expiry(expiry["exp"])
    if name_from_first_line and not found.name and (size or expiry):
        first = text.strip().splitlines()[0].strip() if text.strip() else ""
        if first and not _SIZE_LABEL.search(first) and not _EXPIRY_LABEL.search(first):
            found.name = first
    return hit


def _name_from_url(url: str) -> str:
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    for key in ("title", "fname", "filename", "name"):
        if query.get(key):
            return query[key][0].strip()
    return ""


def _scan(tokens: list[_Token]) -> list[_Found]:
    # Group consecutive links to the same file (icon, name, "下载" button).
    groups: list[tuple[int, int, _Found, list[_Link]]] = []
    for index, token in enumerate(tokens):
        if isinstance(token, str):
            continue
        url = canonical_url(html_lib.unescape(token.url))
        provider = provider_of(url) if url else None
        if url is None or provider is None:
            continue
        key = _file_key(url, provider)
        if groups and groups[-1][2].key == key:
            start, _, found, links = groups[-1]
            links.append(token)
            groups[-1] = (start, index, found, links)
        else:
            groups.append((index, index, _Found(url, provider, key), [token]))
    if not groups:
        return []

    def text_between(start: int, end: int) -> str:
        return "".join(t for t in tokens[start:end] if isinstance(t, str))

    # Providers write the details either after the link (NetEase: name link, then
    # "(80.96M, ... 到期)") or before it (QQ text: "name (128.03M, ... 到期)进入下载页面：URL").
    # The text before the first link tells which layout this body uses.
    first_start = groups[0][0]
    probe = _Found("", "")
    before_layout = _from_text(probe, text_between(0, first_start))
    results: list[_Found] = []
    for number, (start, end, found, links) in enumerate(groups):
        for link in links:
            _from_attrs(found, link)
        # Text inside the group (between duplicate links) belongs to this file.
        _from_text(found, text_between(start, end))
        if before_layout:
            previous_end = groups[number - 1][1] + 1 if number else 0
            _from_text(found, text_between(previous_end, start))
        else:
            next_start = groups[number + 1][0] if number + 1 < len(groups) else len(tokens)
            _from_text(found, text_between(end + 1, next_start))
        if not found.name:
            found.name = _name_from_url(found.url)
        results.append(found)
    return results


def find_cloud_links(text: str, html: str) -> list[CloudLink]:
    """Cloud attachments named in a mail's decoded plain-text and HTML bodies.

    One entry per file (NetEase's ``file=``, QQ's ``k=``, else the URL), in order of
    appearance (HTML first); what one body lacks (say the HTML has the size, the text the
    name) is filled from the other. URLs are the canonical form (:mod:`intake.urls`);
    names hold no control or bidi characters. The classifier, the matcher and the recorder
    all ask about the same mail: the last answers are kept.
    """
    return list(_find_cloud_links(text, html))


@lru_cache(maxsize=4)
def _find_cloud_links(text: str, html: str) -> tuple[CloudLink, ...]:
    found: dict[str, _Found] = {}
    for tokens in (_tokens_of_html(html) if html else [], _tokens_of_text(text) if text else []):
        for item in _scan(tokens):
            known = found.get(item.key)
            if known is None:
                found[item.key] = item
                continue
            known.name = known.name or item.name
            known.size = known.size if known.size is not None else item.size
            known.expires = known.expires if known.expires is not None else item.expires
    return tuple(
        CloudLink(
            item.provider,
            item.url,
            " ".join(strip_controls(item.name).split())[:MAX_NAME],
            item.size,
            item.expires,
        )
        for item in found.values()
    )
