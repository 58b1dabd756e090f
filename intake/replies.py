"""What a unit says when it answers our mail: a correction, thanks, or more material.

Pure functions on a parsed mail (no database): `tracker.threads` finds which mail of ours
a reply answers (In-Reply-To / References) and uses these to decide what the reply does.

Only the sender's own text is read (the quoted original is cut off first, see
`intake.text.split_quoted`), and at most `MAX_OWN_TEXT` characters of it, so our own
wording in the quote never reads as the unit's. The patterns are literal alternations
with bounded repeats: nothing can backtrack over the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from intake.classify import body_text, real_attachments
from intake.cloudlinks import find_cloud_links
from intake.parsing import ParsedMail
from intake.text import normalize_lines, split_quoted

MAX_OWN_TEXT = 2000
THANKS_MAX_CHARS = 30

_NUM = r"(1[0-2]|[1-9]|十[一二]?|[一二三四五六七八九])"
_BODIES = r"(?:单位|局|镇|乡|委|办|队|院|所|中心|部|处|站|馆|室|社|会)"
_SELF = r"(?:(?:我们|我)" + _BODIES + r"?|本" + _BODIES + r")"
_UNIT_DISPUTE = re.compile(
    r"不是" + _SELF + r"(?:的|单位)?|非" + _SELF + r"(?:单位)?(?:的|报送)|"
    r"单位(?:名称)?(?:有误|错了|错误|不对|弄错|搞错|写错)|"
    r"(?:发错|报错|登记错|弄错|搞错)了?单位"
)
_PERIOD_TO = re.compile(
    r"(?:应为|应是|应该是|应该为|实为|实际是|实际为|改为|更正为|是在|活动在)\s{0,2}"
    + r"(?:20\d\d\s{0,2}年\s{0,2})?"
    + _NUM
    + r"\s{0,2}月"
)
_PERIOD_NOT = re.compile(r"不是\s{0,2}(?:" + _NUM + r"|本|这个|当)\s{0,2}月")
_PERIOD_WRONG = re.compile(r"月份(?:有误|错了|错误|不对|弄错|搞错|写错)")
_OTHER_DISPUTE = re.compile(r"登记(?:有误|错了|错误|不对)|(?:请|麻烦)(?:帮忙)?(?:更正|修改|改正)")
_THANKS = re.compile(r"收到|谢谢|感谢|好的|已阅|知悉|明白|ok|thanks|thank you")
_CN_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}


@dataclass(frozen=True)
class Dispute:
    """A unit says the registration is wrong."""

    kind: str  # "unit" | "period" | "other"
    text: str  # the sentence it says it in (at most 60 characters)
    month: int | None = None  # the month it says is right ("应为6月" -> 6)


def own_text(mail: ParsedMail) -> str:
    """The sender's own words: the body without the quoted original, normalised."""
    own, _quoted = split_quoted(normalize_lines(body_text(mail)[: MAX_OWN_TEXT * 4]))
    return own[:MAX_OWN_TEXT]


def _month(token: str) -> int | None:
    if token.isdigit():
        value = int(token)
    elif token.startswith("十"):
        value = 10 + _CN_DIGITS.get(token[1:], 0) if len(token) > 1 else 10
    else:
        value = _CN_DIGITS.get(token, 0)
    return value if 1 <= value <= 12 else None


def _sentence(text: str, start: int, end: int) -> str:
    """The sentence around text[start:end], cut at punctuation, at most 60 characters."""
    stops = "。！？!?\n；;"
    left = max(text.rfind(c, 0, start) for c in stops) + 1
    rights = [i for c in stops if (i := text.find(c, end)) != -1]
    right = min(rights) if rights else len(text)
    sentence = text[left:right].strip(" ，,：:")
    if len(sentence) > 60:
        sentence = text[max(left, start - 20) : min(right, end + 20)].strip()
    return sentence[:60]


def find_dispute(text: str) -> Dispute | None:
    """A correction in the unit's own words ("不是我们单位", "应为6月"), or None."""
    if not text:
        return None
    found = _PERIOD_TO.search(text)
    if found:
        return Dispute(
            "period", _sentence(text, found.start(), found.end()), _month(found.group(1))
        )
    for pattern, kind in ((_UNIT_DISPUTE, "unit"), (_PERIOD_NOT, "period")):
        found = pattern.search(text)
        if found:
            return Dispute(kind, _sentence(text, found.start(), found.end()))
    for pattern, kind in ((_PERIOD_WRONG, "period"), (_OTHER_DISPUTE, "other")):
        found = pattern.search(text)
        if found:
            return Dispute(kind, _sentence(text, found.start(), found.end()))
    return None


def has_material(mail: ParsedMail) -> bool:
    """Whether the mail brings files or a cloud link (photos, a write-up) with it."""
    if real_attachments(mail):
        return True
    return bool(find_cloud_links(mail.text, mail.html))


def is_thanks_only(text: str) -> bool:
    """A short acknowledgement ("收到，谢谢") with nothing else to act on."""
    words = "".join(text.split())
    return 0 < len(words) <= THANKS_MAX_CHARS and bool(_THANKS.search(words))
