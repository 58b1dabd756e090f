"""Chinese text normalisation for matching.

The original text is always kept by the caller; these functions make a copy that is
easy to compare: full-width forms folded (NFKC), traditional characters turned into
simplified ones (OpenCC t2s), lower case, runs of white space folded to one space.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Any

__all__ = [
    "html_to_text",
    "normalize",
    "normalize_lines",
    "parse_html",
    "split_quoted",
    "strip_controls",
    "strip_reply_prefixes",
    "to_simplified",
]

# Enclosed and parenthesised numbers (①, ⑴, ⒈, ❶, ㉑ ...): NFKC turns them into plain digits,
# which would invent months ("①5月" -> "15月"). They carry no meaning for matching: drop them.
_ENCLOSED_NUMBERS = re.compile("[\u2460-\u24ff\u2776-\u2793\u3251-\u325f\u32b1-\u32bf]")
_SPACES = re.compile(r"\s+")

# Reply and forward markers at the start of a subject, in the forms mail clients write them,
# possibly repeated ("回复：转发：Re: ..."), with ASCII or full-width colons, or in brackets.
_REPLY_PREFIX = re.compile(
    r"^\s*(?:"
    r"(?:回复|答复|回覆|答覆|转发|轉發|转寄|轉寄|re|fw|fwd|aw|wg|sv|vs|tr)\s*(?:\[\d+\])?\s*[:：]"
    r"|[\[【(（]\s*(?:回复|转发|轉發|回覆|fw|fwd|re)\s*[\]】)）]"
    r")\s*",
    re.IGNORECASE,
)


@lru_cache(maxsize=1)
def _converter() -> Any:
    """The OpenCC traditional-to-simplified converter, created once on first use."""
    import opencc

    return opencc.OpenCC("t2s")


def to_simplified(s: str) -> str:
    """Traditional Chinese to simplified (OpenCC t2s); other text unchanged."""
    if not s or s.isascii():
        return s
    return str(_converter().convert(s))


def normalize(s: str) -> str:
    """Fold a string for matching: NFKC, traditional -> simplified, lower case, spaces folded.

    Enclosed numbers (①②) are removed first so that NFKC cannot turn them into digits.
    """
    if not s:
        return ""
    s = _ENCLOSED_NUMBERS.sub(" ", s)
    s = unicodedata.normalize("NFKC", s)
    s = to_simplified(s)
    return _SPACES.sub(" ", s.lower()).strip()


def normalize_lines(s: str) -> str:
    """`normalize` line by line, keeping line breaks (quotes and signatures need them)."""
    return "\n".join(normalize(line) for line in s.splitlines())


def strip_reply_prefixes(subject: str) -> str:
    """Remove leading reply/forward markers (回复：, 转发：, 答复:, Re:, Fw:, Fwd:, 回覆：, 轉發：)."""
    previous = None
    s = subject
    while previous != s:
        previous = s
        s = _REPLY_PREFIX.sub("", s, count=1)
    return s.strip()


# What each stage reads at most: enough for any honest mail, small enough that a hostile
# body cannot make the analysis slow (every step below is linear in what it reads).
MAX_HTML_CHARS = 2 * 1024 * 1024
MAX_LINE_CHARS = 4096

_DROP_TAGS = frozenset({"script", "style", "head", "title", "template", "noscript"})
_BREAK_TAGS = frozenset(
    {"br", "p", "div", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table", "hr"}
)
_CELL_TAGS = frozenset({"td", "th"})


def parse_html(markup: str) -> Any:
    """The root element of an HTML body read by libxml2 (lxml), or None when it holds none.

    libxml2 reads any tag soup in linear time, without a regular expression; comments and
    processing instructions are dropped, nothing is fetched, and at most
    ``MAX_HTML_CHARS`` characters are read.
    """
    from lxml import etree

    markup = markup[:MAX_HTML_CHARS].replace("\x00", "\ufffd")
    if not markup.strip():
        return None
    parser = etree.HTMLParser(
        recover=True, no_network=True, remove_comments=True, remove_pis=True, huge_tree=False
    )
    try:
        return etree.fromstring(markup, parser)
    except (etree.LxmlError, ValueError):
        return None


def html_to_text(markup: str) -> str:
    """Visible text of an HTML body: scripts/styles dropped, block ends as new lines."""
    from lxml import etree

    root = parse_html(markup) if markup else None
    if root is None:
        return ""
    parts: list[str] = []
    dropped = 0  # depth inside a dropped element (script, style, head, title)
    for event, element in etree.iterwalk(root, events=("start", "end")):
        tag = element.tag.lower() if isinstance(element.tag, str) else ""
        if event == "start":
            if tag in _DROP_TAGS:
                dropped += 1
            elif not dropped:
                if tag in ("br", "hr"):
                    parts.append("\n")
                if element.text:
                    parts.append(element.text)
            continue
        if tag in _DROP_TAGS:
            dropped -= 1
        elif not dropped:
            if tag in _BREAK_TAGS and tag not in ("br", "hr"):
                parts.append("\n")
            elif tag in _CELL_TAGS:
                parts.append(" ")
        if not dropped and element.tail:
            parts.append(element.tail)
    text = "".join(parts).replace("\xa0", " ")
    lines = (line.strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line)


# Where the quoted original starts in a reply or a forward, as Chinese and Western clients
# write it: separator lines, "在 ... 写道：", "On ... wrote:", or an Outlook header block
# (a 发件人/From line followed by a 发送时间/Date/主题 ... line). Each pattern is matched at
# the start of one line (of at most MAX_LINE_CHARS characters), so reading a body is linear.
_QUOTE_LINE = re.compile(
    r"(?:"
    r"-{2,}\s{0,20}(?:原始邮件|原始郵件|original message|replied message|forwarded message|"
    r"回复的原邮件|转发邮件信息|转发的邮件|轉發郵件|邮件原文|原邮件)\s{0,20}-{2}"
    r"|_{5}"
    r"|begin forwarded message"
    r"|在[^\n]{0,60}写道\s{0,20}[:：]"
    r"|on\s[^\n]{0,80}wrote\s{0,20}:"
    r")",
    re.IGNORECASE,
)
_QUOTE_FROM = re.compile(r"(?:发件人|寄件者|寄件人|from)\s{0,20}[:：]", re.IGNORECASE)
_QUOTE_NEXT = re.compile(
    r"(?:发送时间|发送日期|日期|时间|寄件日期|sent|date|to|收件人|收件者|抄送|cc|主题|主旨|subject)"
    r"\s{0,20}[:：]",
    re.IGNORECASE,
)


def _quote_start(lines: list[str]) -> int | None:
    """Index of the line where the quoted original starts, or None."""
    for index, line in enumerate(lines):
        head = line[:MAX_LINE_CHARS].lstrip()
        if not head:
            continue
        if _QUOTE_LINE.match(head):
            return index
        if _QUOTE_FROM.match(head):
            after = index + 1
            while after < len(lines) and not lines[after].strip():
                after += 1
            following = lines[after][:MAX_LINE_CHARS].lstrip() if after < len(lines) else ""
            if _QUOTE_NEXT.match(following):
                return index
    return None


def split_quoted(body: str) -> tuple[str, str]:
    """Split a plain-text body into (the sender's own text, the quoted original).

    Lines starting with ">" are quoted wherever they stand; the first quote marker
    (原始邮件 separator, "写道：", an Outlook 发件人/发送时间 block ...) starts the quoted part.
    """
    if not body:
        return "", ""
    lines = body.splitlines()
    start = _quote_start(lines)
    own = lines if start is None else lines[:start]
    quoted = "" if start is None else "\n".join(lines[start:])
    own_lines: list[str] = []
    quoted_lines: list[str] = []
    for line in own:
        (quoted_lines if line.lstrip().startswith(">") else own_lines).append(line)
    if quoted_lines:
        quoted = "\n".join(quoted_lines) + ("\n" + quoted if quoted else "")
    return "\n".join(own_lines).strip(), quoted.strip()


# Characters that must never reach storage or a terminal: C0 controls but tab and line
# breaks, DEL, C1 controls (ESC and CSI sequences start there), and the bidirectional
# formatting characters (an RLO can make "exe.jpg" read "gpj.exe").
_CONTROLS = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)
_LINE_BREAKS = re.compile("[\t\n\r\u2028\u2029]+")


def strip_controls(s: str, *, one_line: bool = True) -> str:
    """``s`` without control and bidi formatting characters.

    With ``one_line`` (subjects, names, file names) tabs and line breaks become one space;
    otherwise they are kept.
    """
    if not s:
        return s
    s = _CONTROLS.sub("", s)
    return _LINE_BREAKS.sub(" ", s) if one_line else s
