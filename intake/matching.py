"""The matcher: which unit(s) a mail reports for, and for which month.

Evidence for a unit is collected from every place a mail can name it (known sender address,
subject, sender display name, attachment names, the quoted header of a forward, the
signature, the liaison form, the body) and weighed by place: the body names other units
in passing, so units only in the body count little. Names are found as written in the roster
(canonical name and aliases, with the county prefix dropped), as abbreviations officialdom
uses without listing them (县市场监管局 for X县市场监督管理局: the short stem's characters
occur in order in the long one, with the same kind of unit suffix), and by distinctive
stems (昆仑燃气). The place rules come from the roster's jurisdiction and its parent
(`intake.places.Jurisdiction`): a name written right after another jurisdiction (the parent
city's X市林业局, a neighbour's Y区…, a bare 市林业局 where the roster writes 县, Z县…) names
that jurisdiction's body and never counts for the office's own unit. The period is read from the subject, attachment names and body, else inferred
from the unit's schedule and the received date, but only for mail about the theme day; other
documents (年度报告, 工作要点 …) go to review. A confident answer is given only when nothing
disagrees; everything else goes to review, with reasons a clerk can read.
"""

from __future__ import annotations

import bisect
import io
import re
import unicodedata
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from itertools import pairwise
from typing import TYPE_CHECKING, NamedTuple
from zoneinfo import ZoneInfo

from intake.archives import checked_zip
from intake.classify import (
    KIND_LIAISON,
    KIND_OTHER,
    KIND_REPORT,
    Classification,
    body_text,
    classify,
    is_forward,
    real_attachments,
)
from intake.cloudlinks import find_cloud_links
from intake.places import LEVELS, Jurisdiction, fold_lookalikes
from intake.text import (
    normalize,
    normalize_lines,
    split_quoted,
    strip_controls,
    strip_reply_prefixes,
    to_simplified,
)

if TYPE_CHECKING:
    from intake.parsing import ParsedMail

__all__ = [
    "LIAISON_FIELDS",
    "Jurisdiction",
    "MatchResult",
    "MatcherIndex",
    "UnitRef",
    "build_index",
    "find_periods",
    "match",
    "read_liaison_fields",
]

DECISION_MATCHED = "matched"
DECISION_REVIEW = "review"
DECISION_IGNORED = "ignored"

_ZONE = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class UnitRef:
    name: str  # canonical, simplified, as the notice writes it
    kind: str  # "township" | "department"
    aliases: tuple[str, ...]
    emails: tuple[str, ...]  # known sender addresses (roster, liaison, staff)
    months: tuple[str, ...]  # scheduled periods "YYYY-MM"


@dataclass(frozen=True)
class MatchResult:
    kind: str  # report | liaison | other
    decision: str  # matched | review | ignored
    units: tuple[str, ...]  # canonical unit names
    period: str | None  # "YYYY-MM"
    confidence: float  # 0..1
    reasons: tuple[str, ...]  # simplified Chinese, for clerks


# ---------------------------------------------------------------------------------------------
# Roster index


def _prefix_patterns(j: Jurisdiction) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """What a roster name starts with that names the own place or the parent: stripped to get
    the core name (县林业局 -> 林业局), and kept as the jurisdiction the name itself carries
    (县林业局, 市生态环境局县分局); 市场 is no 市."""
    alternatives = "|".join(re.escape(p) for p in j.prefixes())
    guarded = "|".join(re.escape(p) + ("(?!场)" if p == "市" else "") for p in j.prefixes())
    return re.compile(f"^(?:{alternatives})"), re.compile(f"^(?:{guarded})")


# Words that stand before a bare level character without making a place name of it (我县,
# 全县, 会同县司法局, 联合县水利局, X镇、县水利局): after these, 县 is the own county.
_BEFORE_BARE_COUNTY = (
    "我", "全", "本", "该", "各", "在", "由", "与", "和", "及", "同", "向", "对", "至", "到",
    "给", "经", "请", "并", "为", "将", "被", "即", "是", "的", "了", "代", "赴", "去", "来",
    "从", "等", "合", "助", "邀", "加", "陪", "织", "导", "手", "市", "省", "局", "办", "队",
    "司", "社", "委", "府", "、", "年", "月", "日", "号", "份", "度", "期", "周", "天", "前",
    "后", "中", "内", "外", "上", "下", "里", "间", "次", "际", "时", "致", "送", "发", "知",
    "醒", "促", "报", "抄", "持", "办", "表", "括", "如", "谢", "复", "到", "自", "头", "于",
)  # fmt: skip
# Particles that cannot end or start a place name written before 市/区 (关于X市, 在Y区).
_NOT_PLACE = "于在由与和及的、了是向对给经请为将被即我本该各从年月日号份"
_PLACE_CHAR = re.compile(r"[\u4e00-\u9fff]")
_ORG_SUFFIX = re.compile(r"(?:人民政府|党政办公室|党政办|办公室|政府|办事处|(?<=街道)办)$")
# Unit-type suffixes, longest first; 委 (committee, the older name of many bureaus) counts as 局.
_TYPE_SUFFIXES = (
    ("有限公司", "公司"),
    ("分公司", "公司"),
    ("公司", "公司"),
    ("大队", "大队"),
    ("分局", "局"),
    ("局", "局"),
    ("委", "局"),
    ("社", "社"),
    ("办", "办"),
    ("镇", "镇"),
    ("乡", "乡"),
)
_TEXT_SUFFIX = re.compile(r"有限公司|分公司|公司|大队|分局|局|委|社|办")
# Everyday policy words: a 4-character window built from one of these is not distinctive
# enough to name a unit on its own (生态环境 appears in any report about the environment).
_COMMON_WORDS = (
    "生态", "环境", "自然", "资源", "人力", "社会", "保障", "卫生", "健康", "医疗", "城乡",
    "建设", "住房", "交通", "运输", "应急", "管理", "农业", "农村", "综合", "执法", "城市",
    "市场", "监督", "发展", "改革", "文化", "旅游", "广电", "体育", "工业", "信息", "科学",
    "技术", "金融", "工作", "供销", "合作", "教育", "财政", "审计", "民政", "司法", "公安",
    "水利", "商务", "信访", "救援", "有限", "公司", "县", "市", "省", "国网", "分",
)  # fmt: skip
_CJK = re.compile(r"^[\u4e00-\u9fff]+$")

# Weights of the places a unit can be named, and of the way it is named.
_W_ADDRESS = 1.0
_W_LIAISON = 0.9
_W_SUBJECT = 0.9
_W_ATTACHMENT = 0.8
_W_FROM_NAME = 0.8
_W_FORWARD = 0.8
_W_SIGNATURE = 0.75
_W_LEAD = 0.5
_W_BODY = 0.2
_HOW_EXACT = 1.0
_HOW_ABBR = 0.85
_HOW_STEM = 0.75
_STRONG = 0.6


@dataclass(frozen=True)
class _Stem:
    stem: str
    suffix: str
    unit: str


@dataclass
class MatcherIndex:
    """The roster prepared for matching: build once per roster (see `build_index`)."""

    units: tuple[UnitRef, ...]
    by_name: dict[str, UnitRef]
    by_email: dict[str, str]
    forms: dict[str, str]  # normalised name form -> unit
    form_pattern: _Literals | None
    stems: dict[str, list[_Stem]]  # first character -> department stems
    distinctive: dict[str, str]  # 4-character window -> unit
    distinctive_pattern: _Literals | None
    prefixed: dict[str, str] = field(default_factory=dict)  # full-name form -> its jurisdiction
    jurisdiction: Jurisdiction = field(default_factory=Jurisdiction)
    # the neighbours' places without their level (Y of Y区) that no unit's own name holds
    neighbours: tuple[str, ...] = ()
    # the same with look-alikes folded -> as written, and their lengths, longest first: the
    # place ending right before a mention is a few set look-ups, however many places
    neighbour_forms: dict[str, str] = field(default_factory=dict)
    neighbour_lengths: tuple[int, ...] = ()
    # township names with one character (not the last) masked -> (roster order, the
    # name as normalised, as written): a subject's window one character off a name is a
    # few look-ups per window, not a comparison with every township (3,600 in a province)
    close_keys: dict[str, list[tuple[int, str, str]]] = field(default_factory=dict)
    close_lengths: tuple[int, ...] = ()


class _LiteralMatch(NamedTuple):
    text: str
    begin: int
    finish: int

    def group(self) -> str:
        return self.text

    def start(self) -> int:
        return self.begin

    def end(self) -> int:
        return self.finish


class _Literals:
    """Finds any of many literal strings in a text, like ``re.compile("|".join(...))`` with
    the longest alternatives first: leftmost match, the longest one there, no overlaps.
    Hash look-ups per position instead of a regex alternation: building costs nothing
    with 6,000 units (a regex of 20,000 alternatives takes seconds to compile) and the
    index stays plain data that pickles."""

    def __init__(self, keys: Iterable[str]) -> None:
        self.keys = frozenset(k for k in keys if k)
        self.lengths = tuple(sorted({len(k) for k in self.keys}, reverse=True))
        self.first = frozenset(k[0] for k in self.keys)

    def finditer(self, text: str) -> Iterator[_LiteralMatch]:
        keys, lengths, first = self.keys, self.lengths, self.first
        i, n = 0, len(text)
        while i < n:
            if text[i] in first:
                for k in lengths:
                    if i + k <= n and text[i : i + k] in keys:
                        yield _LiteralMatch(text[i : i + k], i, i + k)
                        i += k
                        break
                else:
                    i += 1
            else:
                i += 1


def _split_suffix(name: str) -> tuple[str, str] | None:
    for written, kind in _TYPE_SUFFIXES:
        if name.endswith(written) and len(name) > len(written):
            return name[: -len(written)], kind
    return None


def _name_forms(unit: UnitRef, prefix: re.Pattern[str]) -> set[str]:
    forms: set[str] = set()
    for raw in (unit.name, *unit.aliases):
        name = normalize(raw).replace(" ", "")
        name = re.sub(r"[(（].*?[)）]", "", name)
        if not name:
            continue
        forms.add(name)
        core = prefix.sub("", name)
        if unit.kind == "township":  # X桥镇人民政府, X桥镇党政办, Y街道办事处 -> X桥镇, Y街道
            core = _ORG_SUFFIX.sub("", core)
        if len(core) >= 3:
            forms.add(core)
        if unit.kind == "township" and core[-1:] in ("镇", "乡") and len(core) >= 4:
            forms.add(core[:-1])  # X湖桥镇 -> X湖桥; two-character stems are too common
    return forms


def build_index(units: Sequence[UnitRef], jurisdiction: Jurisdiction | None = None) -> MatcherIndex:
    """The roster index, cached by the identity of `units` (pass the same tuple each time)
    and the jurisdiction; an equal tuple (the next poll's) finds it too. Without a jurisdiction, the own level is what the roster's
    department names start with (县林业局: a county) and no place name is known."""
    key = (id(units), jurisdiction)
    cached = _INDEX_CACHE.get(key)
    if cached is not None and cached[0] is units:
        return cached[1]
    for (_, j), (known, built) in list(_INDEX_CACHE.items()):
        if j == jurisdiction and len(known) == len(units) and known == units:
            index = built  # an equal roster again (the next poll): no rebuild
            break
    else:
        index = _build_index(units, jurisdiction or _guess_jurisdiction(units))
    if len(_INDEX_CACHE) >= 8:
        _INDEX_CACHE.pop(next(iter(_INDEX_CACHE)))
    _INDEX_CACHE[key] = (units, index)
    return index


_INDEX_CACHE: dict[tuple[int, Jurisdiction | None], tuple[Sequence[UnitRef], MatcherIndex]] = {}


def _guess_jurisdiction(units: Sequence[UnitRef]) -> Jurisdiction:
    counts = {level: 0 for level in ("县", "市", "区")}
    for unit in units:
        if unit.kind != "township" and unit.name[:1] in counts:
            counts[unit.name[0]] += 1
    level = max(counts, key=lambda c: counts[c]) if any(counts.values()) else "县"
    return Jurisdiction(level=level)


def _build_index(units: Sequence[UnitRef], j: Jurisdiction) -> MatcherIndex:
    prefix, carried = _prefix_patterns(j)
    common = (*_COMMON_WORDS, *j.place_words())
    full_names = j.place_names()
    owners: dict[str, set[str]] = {}
    for unit in units:
        for form in _name_forms(unit, prefix):
            owners.setdefault(form, set()).add(unit.name)
    forms = {f: next(iter(u)) for f, u in owners.items() if len(u) == 1}
    prefixed: dict[str, str] = {}
    for unit in units:
        for raw in (unit.name, *unit.aliases):
            name = re.sub(r"[(（].*?[)）]", "", normalize(raw).replace(" ", ""))
            found = carried.match(name)
            if found and name in forms:
                prefixed[name] = found.group()

    stems: dict[str, list[_Stem]] = {}
    windows: dict[str, set[str]] = {}
    for unit in units:
        if unit.kind == "township":
            continue
        for form in _name_forms(unit, prefix):
            core = prefix.sub("", form)
            split = _split_suffix(core)
            if split is None:
                continue
            stem, suffix = split
            for place in full_names:  # 国网X县供电公司 -> 国网供电
                stem = stem.replace(place, "")
            if len(stem) >= 2 and _CJK.match(stem):
                stems.setdefault(stem[0], []).append(_Stem(stem, suffix, unit.name))
            for i in range(len(core) - 3):
                window = core[i : i + 4]
                if _CJK.match(window) and not any(w in window for w in common):
                    windows.setdefault(window, set()).add(unit.name)
    distinctive = {w: next(iter(u)) for w, u in windows.items() if len(u) == 1 and w not in forms}

    def alternation(keys: Iterable[str]) -> _Literals | None:
        literals = _Literals(keys)
        return literals if literals.keys else None

    by_email = {}
    for unit in units:
        for address in unit.emails:
            by_email[address.strip().lower()] = unit.name
    neighbours = _free_places(_normalized(j.neighbour_places), owners)
    neighbour_forms = {fold_lookalikes(p): p for p in neighbours}
    close_keys = _close_keys(units)
    return MatcherIndex(
        units=tuple(units),
        by_name={u.name: u for u in units},
        by_email=by_email,
        forms=forms,
        form_pattern=alternation(forms),
        stems=stems,
        distinctive=distinctive,
        distinctive_pattern=alternation(distinctive),
        prefixed=prefixed,
        jurisdiction=j,
        neighbours=neighbours,
        neighbour_forms=neighbour_forms,
        neighbour_lengths=tuple(sorted({len(p) for p in neighbour_forms}, reverse=True)),
        close_keys=close_keys,
        close_lengths=tuple(sorted({len(name) for v in close_keys.values() for _, name, _ in v})),
    )


_MASK = "\0"


def _close_keys(units: Sequence[UnitRef]) -> dict[str, list[tuple[int, str, str]]]:
    townships = [(i, u.name) for i, u in enumerate(units) if u.kind == "township"]
    names = _normalized([n for _, n in townships]) if townships else []
    if len(names) != len(townships):  # two names alike once normalised: one by one
        names = [normalize(n) for _, n in townships]
    keys: dict[str, list[tuple[int, str, str]]] = {}
    for (order, written), name in zip(townships, names, strict=True):
        if len(name) < 3:
            continue
        for k in range(len(name) - 1):  # the last character (镇, 乡, 街道) must be there
            keys.setdefault(name[:k] + _MASK + name[k + 1 :], []).append((order, name, written))
    return keys


def _normalized(names: Sequence[str]) -> list[str]:
    """`normalize` of each name, as the mail's text is (乾 -> 干): in one call, as thousands
    of names one by one cost ten times as much."""
    joined = normalize("|".join(names)).split("|")
    if len(joined) == len(names):
        return list(dict.fromkeys(joined))
    return list(dict.fromkeys(normalize(n) for n in names))


def _free_places(places: Sequence[str], forms: Iterable[str]) -> tuple[str, ...]:
    """The `places` that are part of none of the units' name `forms` (a place in an own
    unit's name is that unit's word, not a marker). The forms are looked up by their
    two-character windows: thousands of places against thousands of forms stay cheap."""
    by_window: dict[str, list[str]] = {}
    for form in forms:
        for i in range(len(form) - 1):
            by_window.setdefault(form[i : i + 2], []).append(form)
    return tuple(p for p in places if not any(p in f for f in by_window.get(p[:2], ())))


# ---------------------------------------------------------------------------------------------
# Finding unit names in text


@dataclass(frozen=True)
class _Hit:
    unit: str
    start: int
    end: int
    how: float  # _HOW_EXACT, _HOW_ABBR or _HOW_STEM
    written: str
    # The mention with the other jurisdiction written before it (X市林业局, Z县林业局): it
    # names a body of that jurisdiction, not the unit. Empty for a mention of the own place.
    outside: str = ""


def _is_subsequence(short: str, long: str) -> bool:
    it = iter(long)
    return all(ch in it for ch in short)


# Mentions read per text at most: an honest mail names a few units a few times.
MAX_HITS = 200


def find_units(text: str, index: MatcherIndex) -> list[_Hit]:
    """Unit names in normalised `text`: exact forms, then abbreviations, then distinctive stems."""
    hits: list[_Hit] = []
    # Covered spans are disjoint: kept sorted, one look-up tells whether a span is free.
    starts: list[int] = []
    ends: list[int] = []

    def cover(start: int, end: int) -> None:
        at = bisect.bisect_left(starts, start)
        starts.insert(at, start)
        ends.insert(at, end)

    def free(start: int, end: int) -> bool:
        at = bisect.bisect_left(starts, end) - 1
        return at < 0 or ends[at] <= start

    if index.form_pattern is not None:
        for lit in index.form_pattern.finditer(text):
            start, end = lit.start(), lit.end()
            hits.append(_Hit(index.forms[lit.group()], start, end, _HOW_EXACT, lit.group()))
            cover(start, end)
            if len(hits) >= MAX_HITS:
                break

    for m in _TEXT_SUFFIX.finditer(text):
        if len(hits) >= MAX_HITS:
            break
        pos = m.start()
        suffix = _split_suffix("x" + m.group())
        kind = suffix[1] if suffix else ""
        found: set[str] = set()
        best = ""
        for k in range(2, 10):
            if pos - k < 0:
                break
            short = text[pos - k : pos]
            if not _CJK.match(short) or not free(pos - k, m.end()):
                break
            for cand in index.stems.get(short[0], ()):
                if cand.suffix == kind and _is_subsequence(short, cand.stem):
                    found.add(cand.unit)
                    best = short
        if len(found) == 1:
            unit = found.pop()
            start = pos - len(best)
            hits.append(_Hit(unit, start, m.end(), _HOW_ABBR, text[start : m.end()]))
            cover(start, m.end())

    if index.distinctive_pattern is not None:
        for lit in index.distinctive_pattern.finditer(text):
            if len(hits) >= MAX_HITS:
                break
            if free(lit.start(), lit.end()):
                unit = index.distinctive[lit.group()]
                hits.append(_Hit(unit, lit.start(), lit.end(), _HOW_STEM, lit.group()))
    hits = [_mark_outside(text, h, index) for h in hits]
    hits.sort(key=lambda h: h.start)
    return hits


def _place_before(text: str, end: int) -> str:
    """The two-character place name ending at `end` (the X of X县), or "" when the text
    before is not one (start of text, punctuation, 我/全/联合 ...)."""
    before = text[max(0, end - 2) : end]
    if len(before) < 2 or not all(_PLACE_CHAR.match(ch) for ch in before):
        return ""
    if before.endswith(_BEFORE_BARE_COUNTY):
        return ""
    return before


def _place_name(before: str) -> str:
    """The place name in the (up to three) characters before 市/区, for the clerk to read."""
    for i in range(len(before) - 1, -1, -1):  # the name starts after the last non-place char
        if not _PLACE_CHAR.match(before[i]) or before[i] in _NOT_PLACE:
            before = before[i + 1 :]
            break
    if len(before) > 2 and before[0] in LEVELS:  # X市 ends there: 荆州市沙市区 -> 沙市
        before = before[1:]
    return "" if before.endswith(tuple(_NOT_PLACE)) else before


def _neighbour_before(before: str, index: MatcherIndex) -> str:
    """The neighbour's place (as the index writes it) that `before` ends with, the longest
    one; "" when none does, or when the own place ends it (X of X县 is the office's)."""
    if not index.neighbour_lengths:
        return ""
    folded = fold_lookalikes(before[-index.neighbour_lengths[0] :])
    for n in index.neighbour_lengths:
        if n <= len(folded):
            place = index.neighbour_forms.get(folded[-n:])
            if place:
                return "" if index.jurisdiction.ends_with_own(folded) else place
    return ""


def _mark_outside(text: str, hit: _Hit, index: MatcherIndex) -> _Hit:
    """Mark a mention written right after another jurisdiction: the parent's X市林业局, a
    neighbour's Y区市场监督管理局 or Z县林业局, a bare 市林业局 where the roster writes 县 or
    区. The roster's own names that carry a place (X县林业局, 市生态环境局县分局) and mentions
    that name the own place themselves (X市生态环境局X县分局) stay the office's own."""
    j = index.jurisdiction
    own = index.prefixed.get(hit.written, "") if hit.how == _HOW_EXACT else ""
    if len(own) > 1:  # the roster writes the place itself
        return hit
    if own:  # 县林业局 as the roster writes it: which 县?
        place = _place_before(text, hit.start)
        before = text[: hit.start]
        if not place:  # a one-character place with its level (Y县 of Y县区): a neighbour's
            place = _neighbour_before(text[: hit.start + len(own)], index)
            if not place:  # a place whose name ends like a word (沙市区, 市中区): another's
                bare = _neighbour_before(before, index)
                place = bare + own if bare else ""
            return replace(hit, outside=place[: -len(own)] + hit.written) if place else hit
        ours = j.ends_with_own if own == j.level else j.ends_with_parent
        # the own place before it, also with the level written twice (X县县林业局)
        if ours(before) or (before.endswith(own) and ours(before[: -len(own)])):
            return hit
        return replace(hit, outside=place + hit.written)
    mark = text[hit.start - 1] if hit.start > 0 else ""
    if mark not in LEVELS:
        # the parent's place written right before, without its level (X供电公司 for the
        # parent's company): the parent's body, unless that place is also the own one
        before = text[: hit.start]
        own_name = any(hit.written.startswith(p) for p in j.places)
        if j.ends_with_parent(before) and not j.ends_with_own(before) and not own_name:
            place = next(p for p in j.parent_places if j.ends_with_parent(before[-len(p) :]))
            return replace(hit, outside=place + hit.written)
        # a neighbour's place without its level (Y公安分局 for Y区公安分局): its body
        place = "" if own_name else _neighbour_before(before, index)
        if place:
            return replace(hit, outside=place + hit.written)
        return hit
    if mark == j.level:  # 县林业局 for a core name: the own place, unless another is written
        place = _place_before(text, hit.start - 1)
        if place and not j.ends_with_own(text[: hit.start - 1]):
            return replace(hit, outside=place + mark + hit.written)
        if not place:  # Y县林业局, a one-character place with its level (Y县区's)
            place = _neighbour_before(text[: hit.start], index)
            return replace(hit, outside=place + hit.written) if place else hit
        return hit
    if j.level in hit.written:  # 市生态环境局县分局 written in another way: the own branch
        return hit
    place = _place_name(text[max(0, hit.start - 4) : hit.start - 1])
    return replace(hit, outside=place + mark + hit.written)


# ---------------------------------------------------------------------------------------------
# Periods

_CN_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
              "八": 8, "九": 9, "两": 2}  # fmt: skip
_MONTH = re.compile(
    r"(?<![0-9])(?P<y>20[0-9]{2})\s*年\s*(?P<m>[0-9]{1,2})\s*月份?(?:\s*(?P<d>[0-9]{1,2})\s*[日号])?"
    r"|(?<![0-9.\-/])(?P<y2>20[0-9]{2})\s*[.\-/]\s*(?P<m2>[0-9]{1,2})(?:\s*[.\-/]\s*(?P<d2>[0-9]{1,2}))?(?![0-9])"
    r"|(?<![0-9.])(?P<m3>[0-9]{1,2})\s*月份?(?:\s*(?P<d3>[0-9]{1,2})\s*[日号])?"
    r"|(?:(?P<cy>[〇零一二三四五六七八九]{4})\s*年\s*)?(?<![一二三四五六七八九十〇零])"
    r"(?P<cm>十[一二]|[一二三四五六七八九十])\s*月份?"
    r"(?:\s*(?P<cd>[一二三]?十[一二三四五六七八九]?|[一二三四五六七八九])\s*[日号])?"
)
_REFERENCE_AFTER = re.compile(
    r"^[^，。,;；]{0,6}?(?:通知|文件|要求|部署|会议|印发|下发|发布|前报送|之前|前上报|截止)"
)
_ACTIVITY_AFTER = re.compile(r"^.{0,8}?(?:主题日|活动|政务公开|开展|举办|宣传|分会)")
_ACTIVITY_BEFORE = re.compile(r"(?:于|在|已于|是)\s*$")


def _cn_number(s: str) -> int:
    if s.startswith("十"):
        return 10 + (_CN_DIGITS[s[1]] if len(s) > 1 else 0)
    if "十" in s:
        tens, _, ones = s.partition("十")
        return _CN_DIGITS[tens] * 10 + (_CN_DIGITS[ones] if ones else 0)
    return _CN_DIGITS[s]


@dataclass(frozen=True)
class _MonthHit:
    year: int | None
    month: int
    day: int | None
    written: str
    score: float


def find_periods(text: str, weight: float) -> list[_MonthHit]:
    """Months written in normalised `text`, with a score: place weight, activity cues."""
    hits = []
    for m in _MONTH.finditer(text):
        g = m.groupdict()
        year: int | None
        day: int | None
        if g["cm"]:
            month = _cn_number(g["cm"])
            year = int("".join(str(_CN_DIGITS[c]) for c in g["cy"])) if g["cy"] else None
            day = _cn_number(g["cd"]) if g["cd"] else None
        else:
            y = g["y"] or g["y2"]
            year = int(y) if y else None
            month = int(g["m"] or g["m2"] or g["m3"])
            d = g["d"] or g["d2"] or g["d3"]
            day = int(d) if d else None
        if not 1 <= month <= 12 or (day is not None and not 1 <= day <= 31):
            continue
        if year is not None and not 2000 <= year <= 2099:
            continue
        after = text[m.end() : m.end() + 12]
        if _REFERENCE_AFTER.match(after):
            continue
        score = weight
        if _ACTIVITY_AFTER.match(after) or _ACTIVITY_BEFORE.search(
            text[max(0, m.start() - 3) : m.start()]
        ):
            score += 2
        if day is not None:
            score += 0.5
        hits.append(_MonthHit(year, month, day, m.group().strip(), score))
    return hits


def _resolve_year(hit: _MonthHit, received: datetime) -> str:
    year = hit.year
    if year is None:
        year = received.year - 1 if hit.month > received.month else received.year
    return f"{year:04d}-{hit.month:02d}"


def _months_between(a: str, b: str) -> int:
    ya, ma = map(int, a.split("-"))
    yb, mb = map(int, b.split("-"))
    return (yb - ya) * 12 + (mb - ma)


# ---------------------------------------------------------------------------------------------
# Reading the mail


@dataclass
class _Places:
    """The texts of a mail, normalised, by where they stand."""

    subject: str = ""
    from_name: str = ""
    attachments: list[str] = field(default_factory=list)
    forward_from_name: str = ""
    forward_from_addr: str = ""
    forward_subject: str = ""
    signature: list[str] = field(default_factory=list)
    lead: str = ""
    body: str = ""  # own text (and a forward's body) without the signature


_HEADER_LINE = re.compile(
    r"^\s*(?:发件人|寄件者|寄件人|from|发送时间|发送日期|寄件日期|日期|时间|date|sent|收件人|收件者|to|"
    r"抄送|副本|cc|主题|主旨|subject)\s*[:：]",
    re.IGNORECASE,
)
# Matched one line at a time (never across lines: `\s*` over a run of blank lines made
# the old multi-line pattern quadratic); the value may stand on the next line.
_FWD_FROM = re.compile(
    r"[ \t]{0,40}(?:发件人|寄件者|寄件人|from)[ \t]{0,20}[:：](.*)", re.IGNORECASE
)
_FWD_SUBJECT = re.compile(r"[ \t]{0,40}(?:主题|主旨|subject)[ \t]{0,20}[:：](.*)", re.IGNORECASE)
_ADDRESS = re.compile(r"[a-z0-9._%+\-]{1,64}@[a-z0-9.\-]{1,253}\.[a-z]{2,63}", re.IGNORECASE)
MAX_HEADER_LINE = 1000


def _quoted_header(quoted: str, pattern: re.Pattern[str]) -> str | None:
    """The value of the first quoted header line `pattern` matches, or None."""
    lines = quoted.splitlines()
    for index, line in enumerate(lines):
        found = pattern.match(line[:MAX_HEADER_LINE])
        if not found:
            continue
        value = found.group(1).strip()
        after = index + 1
        while not value and after < min(len(lines), index + 4):
            value = lines[after][:MAX_HEADER_LINE].strip()
            after += 1
        return value or None
    return None


_DATE_ONLY = re.compile(
    r"^\s*(?:20[0-9]{2}|[〇零一二三四五六七八九]{4})\s*[年.\-/]\s*\S{1,3}\s*[月.\-/]\s*\S{1,3}\s*日?\s*$"
)
_SALUTATION = re.compile(r"^.{0,16}[:：]$|^.{0,10}(?:您好|你好|领导好)[!！,，.。]?$")
_NOT_SIGNATURE = re.compile(r"开展|联合|会同|以及|。|；|、")
_FILE_EXT = re.compile(r"\.[a-z0-9]{1,5}$")


def _read_places(mail: ParsedMail) -> _Places:
    places = _Places()
    places.subject = strip_reply_prefixes(normalize(mail.subject))
    places.from_name = normalize(mail.from_name)
    places.attachments = [
        _FILE_EXT.sub("", normalize(name)) for name in real_attachments(mail) if name
    ]
    body = normalize_lines(body_text(mail))
    own, quoted = split_quoted(body)
    forwarded_body = ""
    if quoted and is_forward(mail):
        line = _quoted_header(quoted, _FWD_FROM)
        if line:
            address = _ADDRESS.search(line)
            places.forward_from_addr = address.group().lower() if address else ""
            places.forward_from_name = _ADDRESS.sub("", line).strip(" \"'<>;；[]【】")
        subject = _quoted_header(quoted, _FWD_SUBJECT)
        if subject:
            places.forward_subject = strip_reply_prefixes(subject)
        forwarded_body = "\n".join(
            line
            for line in quoted.splitlines()
            if not _HEADER_LINE.match(line) and "---" not in line
        ).replace(">", "")

    lines = [line.strip() for line in own.splitlines() if line.strip()]
    if "--" in lines:
        cut = len(lines) - 1 - lines[::-1].index("--")
        signature, lines = lines[cut + 1 :], lines[:cut]
    else:
        signature = []
        while lines and len(signature) < 4:
            last = lines[-1]
            if len(last) > 26 or _NOT_SIGNATURE.search(last):
                break
            signature.insert(0, lines.pop())
    places.signature = [s for s in signature if not _DATE_ONLY.match(s)]
    lines.extend(places.signature)  # short closing lines may still say what was done when
    while lines and _SALUTATION.match(lines[0]):
        lines.pop(0)
    places.lead = lines[0][:60] if lines else ""
    places.body = "\n".join([*lines, forwarded_body]).strip()
    return places


# ---------------------------------------------------------------------------------------------
# Liaison form (annex 5)

LIAISON_FIELDS = (
    "单位名称",
    "姓名",
    "性别",
    "职务",
    "办公电话",
    "手机",
    "传真",
    "QQ号",
    "微信号",
    "电子邮箱",
)
_FIELD_ALIASES = {
    "单位名称": "单位名称", "单位": "单位名称", "姓名": "姓名", "联络员姓名": "姓名",
    "联络员": "姓名", "性别": "性别", "职务": "职务", "职务职级": "职务", "办公电话": "办公电话",
    "座机": "办公电话", "手机": "手机", "手机号": "手机", "手机号码": "手机", "传真": "传真",
    "qq号": "QQ号", "qq": "QQ号", "qq号码": "QQ号", "微信号": "微信号", "微信": "微信号",
    "电子邮箱": "电子邮箱", "邮箱": "电子邮箱", "email": "电子邮箱", "e-mail": "电子邮箱",
}  # fmt: skip
_LABEL_CLEAN = re.compile(r"[\s:：*＊]+")


def _field_label(cell: str) -> str | None:
    return _FIELD_ALIASES.get(_LABEL_CLEAN.sub("", normalize(cell)))


def _fields_from_rows(rows: Iterable[list[str]]) -> dict[str, str]:
    """Pair each label cell with the next non-empty cell of its row that is not a label; a
    row of labels alone (姓名 | 性别 | 职务) takes its values from the row beneath, column by
    column, as forms laid out with a header row are filled in."""
    fields: dict[str, str] = {}
    table = [[c.strip() for c in row] for row in rows]
    for here, below in pairwise(table):
        labels = [(i, _field_label(c)) for i, c in enumerate(here) if c]
        if len(labels) < 2 or any(label is None for _, label in labels):
            continue
        if any(c and _field_label(c) is not None for c in below):
            continue
        for i, label in labels:
            if label and i < len(below) and below[i]:
                fields.setdefault(label, below[i])
    for cells in table:
        for i, cell in enumerate(cells):
            label = _field_label(cell)
            if label is None:
                inline = re.match(r"^\s*([^:：]{1,6})\s*[:：]\s*(.+)$", cell)
                if inline and _field_label(inline.group(1)) and inline.group(2).strip():
                    fields.setdefault(_field_label(inline.group(1)) or "", inline.group(2).strip())
                continue
            for value in cells[i + 1 :]:
                if not value:
                    continue
                if _field_label(value) is None:
                    fields.setdefault(label, value)
                break
    return fields


# How much of a liaison form is read: the form is one small table. The archive itself is
# checked first (intake.archives: no zip bomb reaches openpyxl or python-docx).
MAX_FORM_SHEETS = 5
MAX_FORM_ROWS = 200
MAX_FORM_COLUMNS = 30
MAX_FIELD = 200


def _xlsx_rows(payload: bytes) -> list[list[str]]:
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(checked_zip(payload)), read_only=True, data_only=True)
    try:
        rows = []
        for sheet in book.worksheets[:MAX_FORM_SHEETS]:
            for row in sheet.iter_rows(
                max_row=MAX_FORM_ROWS, max_col=MAX_FORM_COLUMNS, values_only=True
            ):
                rows.append(["" if v is None else _cell_text(v)[:MAX_FIELD] for v in row])
        return rows
    finally:
        book.close()


def _cell_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _docx_rows(payload: bytes) -> list[list[str]]:
    import docx

    document = docx.Document(io.BytesIO(checked_zip(payload)))
    rows: list[list[str]] = []
    for table in document.tables[:MAX_FORM_SHEETS]:
        for row in table.rows[:MAX_FORM_ROWS]:
            cells: list[str] = []
            previous = None
            for cell in row.cells[:MAX_FORM_COLUMNS]:
                if cell._tc is previous:  # a merged cell repeats itself
                    continue
                previous = cell._tc
                cells.append(cell.text[:MAX_FIELD])
            rows.append(cells)
    paragraphs = document.paragraphs[:MAX_FORM_ROWS]
    rows.extend([p.text[:MAX_FIELD]] for p in paragraphs if p.text.strip())
    return rows


_BODY_FIELD = re.compile(
    r"(单位名称|联络员姓名|姓名|性别|职务|办公电话|手机号码|手机号|手机|传真|qq号码|qq号|qq|微信号|微信|电子邮箱|邮箱)"
    r"\s{0,20}[:：]\s{0,20}([^\s,，;；|]{1,200})",
    re.IGNORECASE,
)


def read_liaison_fields(mail: ParsedMail) -> dict[str, str]:
    """The liaison form's fields (单位名称, 姓名, 性别, 职务, 办公电话, 手机, 传真, QQ号, 微信号,
    电子邮箱) from an attached .xlsx or .docx, else from the body text. Empty when none."""
    fields: dict[str, str] = {}
    for att in mail.attachments:
        name = att.filename.lower()
        try:
            if name.endswith(".xlsx") or att.content_type.endswith("spreadsheetml.sheet"):
                rows = _xlsx_rows(att.payload)
            elif name.endswith(".docx") or att.content_type.endswith("wordprocessingml.document"):
                rows = _docx_rows(att.payload)
            else:
                continue
        except Exception:  # a broken office file is just not a form
            continue
        for key, value in _fields_from_rows(rows).items():
            fields.setdefault(key, strip_controls(value)[:MAX_FIELD])
    if not fields:
        text = to_simplified(unicodedata.normalize("NFKC", body_text(mail)))
        for m in _BODY_FIELD.finditer(text):
            label = _field_label(m.group(1))
            if label:
                fields.setdefault(label, strip_controls(m.group(2).strip())[:MAX_FIELD])
    return fields


# ---------------------------------------------------------------------------------------------
# Weighing the evidence


@dataclass
class _Evidence:
    score: float = 0.0
    found: list[tuple[float, str]] = field(default_factory=list)

    def add(self, score: float, reason: str) -> None:
        self.score = max(self.score, score)
        self.found.append((score, reason))

    @property
    def reasons(self) -> list[str]:
        """What named the unit; mentions in the body are left out when stronger places did."""
        strong = [r for s, r in self.found if s >= _STRONG]
        return list(dict.fromkeys(strong or [r for _, r in self.found]))


_JOINT = re.compile(r"联合|共同|联办|携手|一起|一同|联动|合办")
_REPORT_WORDS = re.compile(r"主题日|活动|政务公开|图片|照片|简报|信息报送")
_ACTIVITY_TEXT = re.compile(r"开展|举办|举行|组织了|召开|宣传活动|活动现场")
_SELF_WORDS = ("我局", "我镇", "我乡", "我社", "我办", "我大队", "我公司", "我单位")
# Other documents units send the same office (yearly report, half-year summary, work plan ...):
# not a theme-day report unless it says so.
_OTHER_DOCUMENT = re.compile(
    r"年度报告|年报|年度总结|工作总结|半年总结|上半年|下半年|季度|工作要点|工作计划|工作方案|"
    r"实施方案|自查报告|自查|整改|述职|考核|年鉴"
)
_THEME_DAY = re.compile(r"主题日|活动|分会")
# A subject titled as an official document on another matter (关于…安全生产专项整治工作开展情况的
# 报告): with no theme-day word anywhere in the subject or file names, it is that document,
# even when the unit's own address sends it in its month, with photos.
_FORMAL_TITLE = re.compile(r"关于[^，。,;；]{2,60}的(?:报告|请示|函|汇报|通报)")
# What a subject is made of besides its matter: names of bodies (…局, …镇), dates, and the
# words any mail of files carries. What is left, with no theme-day word anywhere in the
# mail, is another matter (林长制简报, 治安形势分析, 防汛汇报).
_BODY_NAME = re.compile(
    r"[一-鿿]{0,12}?(?:局|镇|乡|街道|办事处|公司|大队|支队|中队|中心|委员会|委|院|馆|所|站|办)"
)
_FILLER = re.compile(
    r"关于|报送|上报|呈报|报告|汇报|材料|资料|信息|图片|照片|相片|附件|请查收|查收|审阅|转发|回复|"
    r"情况|工作|开展|举办|提交|文件|现场|视频|截图|第|期|份|的|和|与|及|我|本单位|单位|请|收|已|送"
)
_NOT_CJK = re.compile(r"[^一-鿿]+")
MIN_MATTER = 2  # CJK characters left that name a matter of their own
_DATE_PREFIX = re.compile(r"[\s0-9年月日号,，、.:：上下午]*")


@dataclass(frozen=True)
class _Outside:
    """A unit's name written after another jurisdiction (X市林业局): a different body."""

    unit: str
    written: str  # with the jurisdiction
    score: float
    county_too: bool  # the same text also names the unit as the own place's


class _Collector:
    def __init__(self, index: MatcherIndex) -> None:
        self.index = index
        self.units: dict[str, _Evidence] = {}
        self.outside: list[_Outside] = []

    def unit(self, name: str) -> _Evidence:
        return self.units.setdefault(name, _Evidence())

    def scan(self, text: str, weight: float, label: str) -> list[str]:
        found = []
        hits = find_units(text, self.index)
        in_county = {h.unit for h in hits if not h.outside}
        for hit in hits:
            if hit.outside:
                county_too = hit.unit in in_county
                self.outside.append(_Outside(hit.unit, hit.outside, weight * hit.how, county_too))
                continue
            how = {_HOW_EXACT: "", _HOW_ABBR: "（简称）", _HOW_STEM: "（字号）"}[hit.how]
            self.unit(hit.unit).add(weight * hit.how, f"{label}的单位名：{hit.written}{how}")
            if hit.unit not in found:
                found.append(hit.unit)
        return found

    def address(self, address: str, weight: float, label: str) -> None:
        unit = self.index.by_email.get(address.lower()) if address else None
        if unit:
            self.unit(unit).add(weight, f"{label}已登记：{address}")


def _outside_reason(outside: Sequence[_Outside], senders: Sequence[str], word: str) -> str:
    """The reason to give for names of other jurisdictions' bodies, or "" when they do not matter:
    with no sender found, any of them; with senders, one in a strong place that names a sender's
    kind of body (X市林业局 beside 县林业局) without naming the own one beside it. `word` is how
    the clerk says "ours" (本县, 本市, 本区)."""
    if senders:
        found = [
            o for o in outside if o.score >= _STRONG and o.unit in senders and not o.county_too
        ]
    else:
        found = sorted(outside, key=lambda o: -o.score)
    if not found:
        return ""
    written = "、".join(dict.fromkeys(o.written for o in found))
    return f"单位名前为其他行政区划：{written}（非{word}单位）"


def _units_named_together(places: _Places, names: Sequence[str], index: MatcherIndex) -> bool:
    """Whether all `names` are named in one place (subject, attachment, lead): a joint report."""
    wanted = set(names)
    texts = [places.subject, places.forward_subject, places.lead, *places.attachments]
    return any(
        wanted <= {h.unit for h in find_units(t, index) if not h.outside} for t in texts if t
    )


def match(
    mail: ParsedMail,
    units: Sequence[UnitRef],
    *,
    received_at: datetime,
    own_addresses: Collection[str] = (),
    jurisdiction: Jurisdiction | None = None,
) -> MatchResult:
    """Classify `mail`, find the unit(s) it reports for and the period, and decide.

    `jurisdiction` is the office's place and its parent (from the roster); without it the
    own level is guessed from the unit names and no place name is known."""
    index = build_index(units, jurisdiction)
    classification = classify(mail, own_addresses)
    if classification.ignored and not classification.spam:
        return MatchResult(
            classification.kind, DECISION_IGNORED, (), None, 1.0, classification.reasons
        )
    return _Matcher(mail, index, classification, received_at, own_addresses).run()


class _Matcher:
    def __init__(
        self,
        mail: ParsedMail,
        index: MatcherIndex,
        classification: Classification,
        received_at: datetime,
        own_addresses: Collection[str],
    ) -> None:
        self.mail = mail
        self.index = index
        self.classification = classification
        if received_at.tzinfo is None:
            received_at = received_at.replace(tzinfo=_ZONE)
        self.received = received_at.astimezone(_ZONE)
        self.places = _read_places(mail)
        self.own = {a.lower() for a in own_addresses}
        self.reasons: list[str] = []

    def run(self) -> MatchResult:
        kind = self.classification.kind
        if self.places.forward_from_addr in self.own:
            self.reasons.append("转发的是本办公室发出的邮件")
            kind = KIND_OTHER
        collector = _Collector(self.index)
        liaison = read_liaison_fields(self.mail) if self._may_be_liaison() else {}
        if kind == KIND_REPORT and self._is_attached_form(liaison):
            kind = KIND_LIAISON
            self.reasons.append("附件为联络员信息表")
        if kind == KIND_LIAISON:
            self.reasons.extend(r for r in self.classification.reasons if r not in self.reasons)
            company = liaison.get("单位名称", "")
            if company:
                collector.scan(normalize(company), _W_LIAISON, "联络员信息表中")
            if liaison.get("电子邮箱"):
                collector.address(liaison["电子邮箱"].strip(), _W_LIAISON, "联络员信息表中的邮箱")

        senders, body_only = self._collect(collector)

        if self.classification.spam:
            if not senders:
                return self._result(
                    KIND_OTHER, DECISION_IGNORED, (), None, 1.0, self.classification.reasons
                )
            self.reasons.extend(self.classification.reasons)
            return self._review(
                KIND_OTHER, tuple(senders), None, "疑似广告或钓鱼邮件，但提到了单位，请人工确认"
            )

        missing = kind == KIND_REPORT and not self._has_report_content()
        if missing and not _REPORT_WORDS.search(self.places.subject + self.places.body):
            kind = KIND_OTHER
        word = self.index.jurisdiction.word
        outside = _outside_reason(collector.outside, senders, word)
        if not senders:
            if outside:
                self.reasons.append(outside)
            if body_only:
                named = "、".join(body_only)
                return self._review(
                    kind, (), None, f"仅在正文中提到单位：{named}，无法确定发件单位"
                )
            if outside:
                return self._review(
                    kind, (), None, f"不是{word}名单中的单位，请人工确认是否与{word}有关"
                )
            self._suggest_close_names()
            return self._review(kind, (), None, "未找到单位名，也无已登记的发件地址")
        if outside:
            evidence = [collector.units[u] for u in senders]
            for e in evidence:
                self.reasons.extend(r for r in e.reasons if r not in self.reasons)
            return self._review(
                kind, tuple(senders), None, outside + "，与其他位置的单位名不一致，请人工确认"
            )

        evidence = [collector.units[u] for u in senders]
        unit_conf = min(e.score for e in evidence)
        for e in evidence:
            self.reasons.extend(r for r in e.reasons if r not in self.reasons)

        if len(senders) > 1:
            together = _units_named_together(self.places, senders, self.index)
            joint_word = _JOINT.search(self.places.subject + self.places.body)
            if not together:
                names = "、".join(senders)
                return self._review(
                    kind, tuple(senders), None, f"不同位置指向不同单位：{names}，无法确定发件单位"
                )
            self.reasons.append(
                "联合开展：" + "、".join(senders) + ("（联合）" if joint_word else "")
            )

        if kind == KIND_LIAISON:
            return self._result(kind, DECISION_MATCHED, tuple(senders), None, unit_conf, ())
        if kind == KIND_OTHER:
            self.reasons.extend(self.classification.reasons)
            return self._review(
                kind, tuple(senders), None, "未见活动报告内容（无附件、无活动描述）"
            )
        if missing:
            return self._review(
                kind, tuple(senders), None, "像是活动报告，但没有附件也没有活动描述，可能漏发附件"
            )

        other_document = self._other_document()
        if other_document:
            return self._review(
                KIND_OTHER,
                tuple(senders),
                None,
                f"邮件是“{other_document}”类文件，不是主题日活动报告，请人工确认",
            )
        period, period_conf, problem = self._period(senders)
        if problem:
            return self._review(kind, tuple(senders), period, problem)
        return self._result(
            kind, DECISION_MATCHED, tuple(senders), period, unit_conf * period_conf, ()
        )

    # -- units --------------------------------------------------------------------------------

    def _collect(self, collector: _Collector) -> tuple[list[str], list[str]]:
        p = self.places
        collector.address(self.mail.from_addr, _W_ADDRESS, "发件人地址")
        collector.scan(p.subject, _W_SUBJECT, "主题中")
        collector.scan(p.from_name, _W_FROM_NAME, "发件人名称中")
        for name in p.attachments:
            collector.scan(name, _W_ATTACHMENT, "附件名中")
        if p.forward_from_addr or p.forward_from_name:
            collector.address(p.forward_from_addr, _W_FORWARD, "转发原邮件的发件人地址")
            collector.scan(p.forward_from_name, _W_FORWARD, "转发原邮件的发件人中")
        if p.forward_subject:
            collector.scan(p.forward_subject, _W_FORWARD, "转发原邮件的主题中")
        for line in p.signature:
            collector.scan(line, _W_SIGNATURE, "落款中")
        lead_units = collector.scan(p.lead, _W_LEAD, "正文开头")
        body_units = collector.scan(p.body, _W_BODY, "正文中")

        strong = [u for u, e in collector.units.items() if e.score >= _STRONG]
        if strong:
            return self._order(strong), []
        # Only the body names units. The one named at the start of the body, and nowhere
        # else contradicted, is the sender when it speaks of itself (我局/我镇).
        others = set(body_units) - set(lead_units)
        if len(lead_units) == 1 and not others and self._opens_with(lead_units[0]):
            unit = lead_units[0]
            collector.unit(unit).add(_STRONG, "正文开头即为本单位的活动描述")
            return [unit], []
        return [], self._order(list(dict.fromkeys(lead_units + body_units)))

    def _opens_with(self, unit: str) -> bool:
        """The body starts with the unit as the sentence's subject ("8月18日，X县Y镇在……")
        and speaks of itself in the unit's own terms (我镇 for a township, 我局 for a bureau)."""
        lead = self.places.lead
        hits = [h for h in find_units(lead, self.index) if h.unit == unit and not h.outside]
        if not hits or not _DATE_PREFIX.fullmatch(lead[: hits[0].start]):
            return False
        name = self.index.by_name[unit].name
        own_words = [w for w in _SELF_WORDS if name.endswith(w[1:]) or w == "我单位"]
        return any(w in self.places.body for w in own_words)

    def _suggest_close_names(self) -> None:
        """A township name in the subject with one character wrong (Y谭镇 for Y潭镇): say which
        units it may be; never match it."""
        subject = self.places.subject
        index = self.index
        found: list[tuple[int, int, str, str]] = []  # roster order, position, window, unit
        for size in index.close_lengths:
            for i in range(len(subject) - size + 1):
                window = subject[i : i + size]
                if not _CJK.match(window) or window in index.forms:
                    continue
                for k in range(size - 1):
                    key = window[:k] + _MASK + window[k + 1 :]
                    for order, name, written in index.close_keys.get(key, ()):
                        if name != window:  # one character off, not the name itself
                            found.append((order, i, window, written))
        close: dict[str, list[str]] = {}
        for _, _, window, written in sorted(found):
            close.setdefault(window, []).append(written)
        for window, names in close.items():
            alike = [n for n in names if fold_lookalikes(window) == fold_lookalikes(n)]
            names = alike or names
            self.reasons.append(
                f"主题中的“{window}”与名单中的单位名相近，可能是：{'、'.join(names)}"
            )

    def _order(self, names: list[str]) -> list[str]:
        order = {u.name: i for i, u in enumerate(self.index.units)}
        return sorted(names, key=lambda n: order.get(n, 1_000_000))

    # -- kind ---------------------------------------------------------------------------------

    def _may_be_liaison(self) -> bool:
        if self.classification.kind == KIND_LIAISON:
            return True
        # A form comes alone; a report carries photos. Opening office files costs time.
        attachments = self.mail.attachments
        return not any(a.content_type.startswith("image/") for a in attachments) and any(
            a.filename.lower().endswith((".xlsx", ".docx")) for a in attachments
        )

    def _is_attached_form(self, fields: dict[str, str]) -> bool:
        """An office file whose tables hold the liaison form's fields (at least name, mobile)."""
        return len(set(fields) & {"姓名", "手机", "职务", "性别", "办公电话"}) >= 3

    def _has_report_content(self) -> bool:
        p = self.places
        if real_attachments(self.mail) or "超大附件" in p.body:
            return True
        if find_cloud_links(self.mail.text, self.mail.html):
            return True
        # No file: the body itself must tell what was done (我局于5月16日开展……).
        return len(p.body) >= 20 and bool(_ACTIVITY_TEXT.search(p.body))

    def _other_document(self) -> str:
        """The kind of another document the subject or a file name says it is (年度报告 ...),
        when neither speaks of the theme-day activity; "" otherwise."""
        p = self.places
        texts = [p.subject, p.forward_subject, *p.attachments]
        if any(_THEME_DAY.search(t) for t in texts):
            return ""
        for text in texts:
            found = _OTHER_DOCUMENT.search(text)
            if found:
                return found.group()
        subject = p.subject.strip()
        if len(subject) <= 80 and (
            _FORMAL_TITLE.fullmatch(subject)
            or (not _THEME_DAY.search(p.body) and _other_matter(subject))
        ):
            return subject
        return ""

    def _about_theme_day(self) -> bool:
        """Whether the mail speaks of the theme-day activity anywhere (subject, body, file names),
        or carries what such a report is made of: photos, or a cloud link to them."""
        p = self.places
        if any(
            _THEME_DAY.search(t) for t in (p.subject, p.forward_subject, p.body, *p.attachments)
        ):
            return True
        if any(a.content_type.startswith("image/") for a in self.mail.attachments):
            return True
        return "超大附件" in p.body or bool(find_cloud_links(self.mail.text, self.mail.html))

    # -- period -------------------------------------------------------------------------------

    def _period(self, senders: list[str]) -> tuple[str | None, float, str | None]:
        p = self.places
        hits: list[tuple[_MonthHit, str]] = []
        for text, weight, label in (
            (p.subject, 3.0, "主题"),
            (p.forward_subject, 3.0, "转发原邮件的主题"),
            *((name, 2.0, "附件名") for name in p.attachments),
            (p.body, 1.0, "正文"),
        ):
            hits.extend((h, label) for h in find_periods(text, weight))
        schedule = sorted({m for s in senders for m in self.index.by_name[s].months})
        if hits:
            best = max(h.score for h, _ in hits)
            top = [(h, label) for h, label in hits if h.score == best]
            periods = {_resolve_year(h, self.received) for h, _ in top}
            if len(periods) > 1:
                written = "、".join(sorted({h.written for h, _ in top}))
                return None, 0.0, f"同时写了几个月份：{written}，无法确定所报月份"
            period = periods.pop()
            hit, label = top[0]
            self.reasons.append(f"{label}中的月份：{hit.written}")
            if hit.year is None:
                self.reasons.append(f"年份按收信时间推断为{period[:4]}年")
            for s in senders:
                months = self.index.by_name[s].months
                if months and period not in months:
                    return (
                        period,
                        0.0,
                        f"所报月份{period}与{s}的排期（{'、'.join(months)}）不一致，"
                        "请人工确认是否调整活动月份",
                    )
            return period, 0.95 if label != "正文" else 0.9, None

        received = f"{self.received.year:04d}-{self.received.month:02d}"
        if not self._about_theme_day():
            return None, 0.0, "未写月份，邮件也未提到主题日活动，不按排期推断，请人工确认"
        due = [m for m in schedule if 0 <= _months_between(m, received) <= 2]
        if due and all(due[-1] in self.index.by_name[s].months for s in senders):
            period = due[-1]
            self.reasons.append(f"未写月份，按排期推断为{period}")
            return period, 0.75, None
        if schedule:
            return (
                None,
                0.0,
                f"未写月份，且收信时间（{received}）不在排期（{'、'.join(schedule)}）之后两个月内",
            )
        return None, 0.0, "未写月份，也无排期可推断"

    # -- results ------------------------------------------------------------------------------

    def _review(
        self, kind: str, units: tuple[str, ...], period: str | None, why: str
    ) -> MatchResult:
        self.reasons.append(why)
        return self._result(kind, DECISION_REVIEW, units, period, 0.3, ())

    def _result(
        self,
        kind: str,
        decision: str,
        units: tuple[str, ...],
        period: str | None,
        confidence: float,
        extra: Iterable[str],
    ) -> MatchResult:
        reasons = tuple(dict.fromkeys([*self.reasons, *extra]))
        return MatchResult(kind, decision, units, period, round(min(1.0, confidence), 3), reasons)


def _other_matter(subject: str) -> str:
    """What a (short, normalised) subject says besides bodies, dates and file words: the
    matter of its own when it is at least MIN_MATTER characters, else ""."""
    rest = _MONTH.sub(" ", subject)
    rest = _BODY_NAME.sub(" ", rest)
    rest = _FILLER.sub("", _NOT_CJK.sub("", rest))
    return rest if len(rest) >= MIN_MATTER else ""
