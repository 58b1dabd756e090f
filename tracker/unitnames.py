"""A unit name as staff type it (in a form or on the command line), resolved to the roster.

Uses the matcher's own name logic (`intake.matching.build_index` and `find_units`): the
canonical name, roster aliases, traditional characters (`intake.text.normalize`), the county
prefix left out or added (林业局, 湘潭县林业局), the abbreviations officialdom uses (县市场
监管局), and a short part of one unit's name alone (河口 for 河口镇, 消防 for 县消防救援大队).
A name that resolves to no unit, or to more than one, is never guessed: the caller gets
close names to suggest instead.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import lru_cache

from intake.matching import UnitRef, build_index, find_units
from intake.text import normalize
from tracker.roster import Roster

_SEPARATORS = re.compile(r"[、,，;；\s]+")
_CHINESE = re.compile(r"^[\u4e00-\u9fff]+$")


@dataclass(frozen=True)
class Resolved:
    name: str | None  # the canonical unit, or None
    suggestions: tuple[str, ...] = ()  # close canonical names when `name` is None


@lru_cache(maxsize=8)
def roster_refs(roster: Roster) -> tuple[UnitRef, ...]:
    """The roster's units as matcher data (one tuple per roster, so its index is cached)."""
    return roster.unit_refs()


def split_names(values: Sequence[str]) -> list[str]:
    """Unit names from form fields or options: each may hold several (县卫健局、县民政局)."""
    out: list[str] = []
    for value in values:
        out.extend(p for p in _SEPARATORS.split(value or "") if p)
    return list(dict.fromkeys(out))


def resolve_unit(query: str, units: Sequence[UnitRef]) -> Resolved:
    wanted = normalize(query).replace(" ", "")
    if not wanted:
        return Resolved(None)
    index = build_index(units)
    for unit in units:
        if query.strip() == unit.name:
            return Resolved(unit.name)
    if wanted in index.forms:
        return Resolved(index.forms[wanted])
    hits = [h for h in find_units(wanted, index) if not h.outside]
    named = {h.unit for h in hits}
    covered = sum(h.end - h.start for h in hits)
    if len(named) == 1 and covered * 2 >= len(wanted):
        return Resolved(named.pop())
    part = _part_of_one(wanted, units)
    if part is not None:
        return Resolved(part)
    return Resolved(None, suggest(wanted, units, index.forms, named))


def _part_of_one(wanted: str, units: Sequence[UnitRef]) -> str | None:
    """The one unit whose name or an alias holds `wanted` (already normalised, at least two
    Chinese characters): 河口 for 河口镇, 消防 for 县消防救援大队. None when no unit or several
    do (湘潭, 局): those are never guessed."""
    if len(wanted) < 2 or not _CHINESE.match(wanted):
        return None
    holders = {
        u.name
        for u in units
        for raw in (u.name, *u.aliases)
        if wanted in normalize(raw).replace(" ", "")
    }
    return holders.pop() if len(holders) == 1 else None


def suggest(
    wanted: str, units: Sequence[UnitRef], forms: dict[str, str], named: Collection[str] = ()
) -> tuple[str, ...]:
    """Up to five canonical names close to `wanted` (already normalised)."""
    order = {u.name: i for i, u in enumerate(units)}
    found: list[str] = sorted(named, key=lambda n: order.get(n, 0))
    for form, unit in forms.items():
        if wanted in form or (len(form) >= 2 and form in wanted):
            found.append(unit)
    for form in difflib.get_close_matches(wanted, list(forms), n=5, cutoff=0.5):
        found.append(forms[form])
    return tuple(dict.fromkeys(found))[:5]
