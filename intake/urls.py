"""URLs from mail bodies, read the way a browser reads them (a small WHATWG-style parser).

``urllib.parse`` and a browser disagree on hostile URLs: for
``https://evil.test\\.mail.163.com/x`` urllib reports the host ``evil.test\\.mail.163.com``
(which ends in ``.mail.163.com``), while a browser, which treats ``\\`` as ``/`` in http(s)
URLs, opens ``evil.test``. :func:`canonical_url` parses as the browser does and writes the
URL out again; a URL whose host holds anything but letters, digits, dots and hyphens
(a percent-escape, a control, a non-ASCII or an IDNA-mapped character), or that carries a
user name, is refused. Allow-lists must look at the result, never at the original text.
"""

from __future__ import annotations

import re

__all__ = ["canonical_url"]

MAX_URL = 4096
_DEFAULT_PORTS = {"http": "80", "https": "443"}
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?", re.ASCII)
# What is percent-encoded when written out (WHATWG path / special-query encode sets).
_PATH_ENCODE = frozenset(' "<>`#?{}') | frozenset(chr(c) for c in range(0x20)) | {"\x7f"}
_QUERY_ENCODE = frozenset(" \"#<>'") | frozenset(chr(c) for c in range(0x20)) | {"\x7f"}
_FRAGMENT_ENCODE = frozenset(' "<>`') | frozenset(chr(c) for c in range(0x20)) | {"\x7f"}


def _encode(s: str, unsafe: frozenset[str]) -> str:
    out: list[str] = []
    for ch in s:
        if ch in unsafe or ord(ch) > 0x7E:
            out.extend(f"%{byte:02X}" for byte in ch.encode("utf-8", "surrogatepass"))
        else:
            out.append(ch)
    return "".join(out)


def _valid_host(host: str) -> bool:
    if not host or len(host) > 253:
        return False
    labels = host[:-1].split(".") if host.endswith(".") else host.split(".")
    return all(_LABEL.fullmatch(label) for label in labels) and not labels[-1].isdigit()


def canonical_url(url: str) -> str | None:
    """``url`` (http or https) as a browser would open it, re-serialised; None when refused."""
    if len(url) > MAX_URL:
        return None
    # Leading/trailing C0 controls and spaces go; tabs and newlines anywhere are removed.
    url = url.strip("".join(chr(c) for c in range(0x21)))
    scheme, sep, rest = url.partition(":")
    scheme = scheme.lower()
    if not sep or scheme not in _DEFAULT_PORTS:
        return None
    rest = rest.lstrip("/\\")
    end = len(rest)
    for mark in "/\\?#":
        found = rest.find(mark)
        if found != -1:
            end = min(end, found)
    authority, tail = rest[:end], rest[end:]
    if any(ch <= " " or ch == "\x7f" for ch in authority):
        return None  # a browser would drop a tab or a line break here: refuse, never guess
    if "@" in authority:
        return None  # a user name before the host: never in a provider's link
    host, colon, port = authority.rpartition(":") if ":" in authority else (authority, "", "")
    if colon and port and not port.isdigit():
        return None
    if port and (int(port) > 65535):
        return None
    host = host.lower()
    if not host.isascii() or not _valid_host(host):
        return None
    port = str(int(port)) if port else ""
    if port == _DEFAULT_PORTS[scheme]:
        port = ""
    tail = tail.replace("\t", "").replace("\n", "").replace("\r", "")
    path, hash_mark, fragment = tail.partition("#")
    path, question, query = path.partition("?")
    path = "/" + _encode(path.replace("\\", "/").lstrip("/"), _PATH_ENCODE)
    out = f"{scheme}://{host.rstrip('.')}{':' + port if port else ''}{path}"
    if question:
        out += "?" + _encode(query, _QUERY_ENCODE)
    if hash_mark:
        out += "#" + _encode(fragment, _FRAGMENT_ENCODE)
    return out
