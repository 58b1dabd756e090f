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
from dataclasses import dataclass, replace
from datetime import datetime
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

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
_SIZE = r"(?P<num>\d+(?:\.\d+)?)\s*(?P<unit>[KMGT]i?B?|B|字节|bytes?)"
_EXPIRY = r"(?P<exp>\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日(?:\s*\d{1,2}\s*[:：]\s*\d{2})?|无限期|永久|永不过期)"
# "(80.96M, 2024年08月22日 17:33 到期)", optionally preceded by the file name.
_PAREN = re.compile(
    r"(?P<name>[^\s()（）<>\"：:][^\n()（）<>\"]*?)?\s*[(（]\s*"
    + _SIZE
    + r"\s*[,，]\s*"
    + _EXPIRY
    + r"\s*(?:到期)?\s*[)）]",
    re.I,
)
_SIZE_LABEL = re.compile(r"(?:文件)?大小\s*[：:]\s*" + _SIZE, re.I)
_EXPIRY_LABEL = re.compile(r"(?:到期|过期|有效期至?)(?:时间)?\s*[：:]\s*" + _EXPIRY)
_UNITS = {"": 1, "B": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


@dataclass(frozen=True)
class CloudLink:
    provider: str  # "netease" | "qq"
    url: str
    name: str
    size_bytes: int | None
    expires_at: datetime | None


def provider_of(url: str) -> str | None:
    """The provider whose 超大附件 download link ``url`` is, or None."""
    try:
        parts = urllib.parse.urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or "@" in parts.netloc:
        return None
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


class _Tokenizer(HTMLParser):
    """HTML -> text and links in document order, with the attributes that carry metadata."""

    _BLOCK = frozenset({"br", "p", "div", "tr", "li", "table", "td"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tokens: list[_Token] = []
        self._open: list[tuple[str, str]] = []  # (tag, title attribute)
        self._link: _Link | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k.lower(): (v or "") for k, v in attrs}
        if tag in self._BLOCK:
            self._text("\n")
        if tag == "a" and values.get("href"):
            self._link = _Link(
                values["href"].strip(),
                "",
                values,
                [t for _, t in self._open if t],
            )
            self.tokens.append(self._link)
            return
        if tag not in ("br", "img", "meta", "hr", "input"):
            self._open.append((tag, values.get("title", "")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._link = None
            return
        for index in range(len(self._open) - 1, -1, -1):
            if self._open[index][0] == tag:
                del self._open[index:]
                break
        if tag in self._BLOCK:
            self._text("\n")

    def handle_data(self, data: str) -> None:
        if self._link is not None:
            self._link.text += data
        self._text(data)

    def _text(self, data: str) -> None:
        if self.tokens and isinstance(self.tokens[-1], str):
            self.tokens[-1] += data
        else:
            self.tokens.append(data)


def _tokens_of_text(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    for match in _URL.finditer(text):
        url = match.group(0).rstrip(".,;:!?'")
        tokens.append(text[pos : match.start()])
        tokens.append(_Link(url, "", {}, []))
        pos = match.start() + len(url)
    tokens.append(text[pos:])
    return tokens


def _tokens_of_html(markup: str) -> list[_Token]:
    parser = _Tokenizer()
    try:
        parser.feed(markup)
        parser.close()
    except Exception:  # HTMLParser is lenient; a hostile body must still not break intake
        return _tokens_of_text(html_lib.unescape(re.sub(r"<[^>]*>", " ", markup)))
    # Bare URLs in the HTML's text (QQ writes "进入下载页面：http://...").
    tokens: list[_Token] = []
    for token in parser.tokens:
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
        name = (paren["name"] or "").strip()
        if not found.name and name and not _NOT_A_NAME.match(name):
            found.name = name.splitlines()[-1].strip()
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
        url = html_lib.unescape(token.url)
        provider = provider_of(url)
        if provider is None:
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

    One entry per file (NetEase's ``file=``, QQ's ``k=``, else the URL), in order of appearance (HTML first); what one body lacks
    (say the HTML has the size, the text the name) is filled from the other.
    """
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
    links = [
        CloudLink(item.provider, item.url, item.name, item.size, item.expires)
        for item in found.values()
    ]
    return [replace(link, name=" ".join(link.name.split())) for link in links]
