"""Chinese text normalisation for matching.

The original text is always kept by the caller; these functions make a copy that is
easy to compare: full-width forms folded (NFKC), traditional characters turned into
simplified ones (OpenCC t2s), lower case, runs of white space folded to one space.
"""

from __future__ import annotations

import html
import re
import unicodedata
from functools import lru_cache
from typing import Any

__all__ = [
    "html_to_text",
    "normalize",
    "normalize_lines",
    "split_quoted",
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


_DROP_BLOCKS = re.compile(
    r"<(script|style|head|title)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL
)
_BREAKS = re.compile(
    r"<\s*(?:br|/p|/div|/tr|/li|/h\d|/blockquote|/table|hr)\b[^>]*>", re.IGNORECASE
)
_CELLS = re.compile(r"<\s*/t[dh]\s*>", re.IGNORECASE)
_TAGS = re.compile(r"<[^>]*>", re.DOTALL)
_COMMENTS = re.compile(r"<!--.*?-->", re.DOTALL)


def html_to_text(markup: str) -> str:
    """Visible text of an HTML body: scripts/styles dropped, block ends as new lines."""
    if not markup:
        return ""
    s = _COMMENTS.sub("", markup)
    s = _DROP_BLOCKS.sub("", s)
    s = _BREAKS.sub("\n", s)
    s = _CELLS.sub(" ", s)
    s = _TAGS.sub("", s)
    s = html.unescape(s).replace("\xa0", " ")
    lines = (line.strip() for line in s.splitlines())
    return "\n".join(line for line in lines if line)


# Where the quoted original starts in a reply or a forward, as Chinese and Western clients
# write it: separator lines, "在 ... 写道：", "On ... wrote:", or an Outlook header block.
_QUOTE_START = re.compile(
    r"^\s*(?:"
    r"-{2,}\s*(?:原始邮件|原始郵件|original message|replied message|forwarded message|"
    r"回复的原邮件|转发邮件信息|转发的邮件|轉發郵件|邮件原文|原邮件)\s*-{2,}"
    r"|_{5,}"
    r"|begin forwarded message:?"
    r"|在\s*.{0,60}写道\s*[:：]"
    r"|on\s.{0,80}wrote\s*:"
    r"|(?:发件人|寄件者|寄件人|from)\s*[:：].*\n\s*"
    r"(?:发送时间|发送日期|日期|时间|寄件日期|sent|date|to|收件人|收件者|抄送|cc|主题|主旨|subject)\s*[:：]"
    r")",
    re.IGNORECASE | re.MULTILINE,
)


def split_quoted(body: str) -> tuple[str, str]:
    """Split a plain-text body into (the sender's own text, the quoted original).

    Lines starting with ">" are quoted wherever they stand; the first quote marker
    (原始邮件 separator, "写道：", an Outlook 发件人/发送时间 block ...) starts the quoted part.
    """
    if not body:
        return "", ""
    found = _QUOTE_START.search(body)
    own, quoted = (body[: found.start()], body[found.start() :]) if found else (body, "")
    own_lines: list[str] = []
    quoted_lines: list[str] = []
    for line in own.splitlines():
        (quoted_lines if line.lstrip().startswith(">") else own_lines).append(line)
    if quoted_lines:
        quoted = "\n".join(quoted_lines) + ("\n" + quoted if quoted else "")
    return "\n".join(own_lines).strip(), quoted.strip()
