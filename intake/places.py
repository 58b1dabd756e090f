"""The office's own place and the place above it, as plain data for the matcher.

A roster names its jurisdiction (a county 县, a county-level city 市, a district 区, a banner
旗) and its parent (the prefecture-level city 市 or autonomous prefecture 州 above it). The
matcher derives every place rule from these two names, so no place name lives in code:

- the own level character (县, 市 or 区) is how the office's own units are written
  (县林业局 in a county, 市林业局 in a county-level city, 区林业局 in a district);
- the parent's bodies carry the parent's level (市林业局 in a county or a district, the full
  parent name in a county-level city, whose bare 市 is its own);
- any other level character or another place name before a unit's name is another body;
- the neighbours (`neighbours`: every other place, which the tracker gives from its
  gazetteer, and those the roster lists) are other bodies also when written without their
  level character (Y公安分局 for Y区公安分局), as the parent is (Z林业局 for Z市林业局).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["LEVELS", "Jurisdiction", "fold_lookalikes"]

# The level characters that end an administrative place name, from the province down.
LEVELS = ("省", "州", "市", "区", "县", "旗")
# Characters people type for one another in place names (homophones that look alike).
_LOOKALIKES = str.maketrans({"谭": "潭", "覃": "潭", "譚": "潭"})
# Level names longer than one character, and 盟 (a prefecture in Inner Mongolia): what a
# place name ends with besides LEVELS.
_LONG_ENDINGS = ("地区", "林区", "特区", "矿区", "新区", "盟")
_AUTONOMOUS = re.compile(r"^(.{2,}?)(?:[\u4e00-\u9fff]{1,6}族)+自治$")


def fold_lookalikes(text: str) -> str:
    """`text` with look-alike characters of place names folded to one."""
    return text.translate(_LOOKALIKES)


def _level(name: str) -> str:
    return name[-1] if name and name[-1] in LEVELS else ""


def _places(name: str) -> tuple[str, ...]:
    """The place forms of a full name: X县 -> (X,); XY瑶族自治县 -> (XY瑶族自治, XY); the
    two-character endings (XY地区, XY林区, XY新区 ...) and 盟 go as a whole (XY)."""
    if name.endswith(_LONG_ENDINGS):
        ending = next(e for e in _LONG_ENDINGS if name.endswith(e))
    else:
        ending = _level(name)
    if not ending or len(name) < len(ending) + 2:
        return ()
    place = name[: -len(ending)]
    short = _AUTONOMOUS.match(place) if place.endswith("自治") else None
    return (place, short.group(1)) if short else (place,)


@dataclass(frozen=True)
class Jurisdiction:
    """The office's place (`name`, e.g. X县) and the place above it (`parent`, e.g. Y市).

    `level` is the own level character; it is read from `name`, and given only when the name
    is unknown (an older roster: then it is what the roster's own unit names start with).
    """

    name: str = ""
    parent: str = ""
    level: str = ""
    neighbours: tuple[str, ...] = ()  # other places (Y区, Z市), full names

    def __post_init__(self) -> None:
        if self.name and not self.level:
            object.__setattr__(self, "level", _level(self.name))
        if not self.level:
            object.__setattr__(self, "level", "县")

    @property
    def places(self) -> tuple[str, ...]:
        """The own place without its level (X for X县), longest first."""
        return _places(self.name)

    @property
    def parent_level(self) -> str:
        return _level(self.parent)

    @property
    def parent_places(self) -> tuple[str, ...]:
        return _places(self.parent)

    @property
    def neighbour_places(self) -> tuple[str, ...]:
        """The neighbours without their level (Y for Y区), longest first; a form that is the
        own place or the parent's is left out (it names them, not a neighbour)."""
        mine = {*self.places, *self.parent_places}
        found = {p for n in self.neighbours for p in _places(n) if len(p) >= 2} - mine
        return tuple(sorted(found, key=lambda p: (-len(p), p)))

    @property
    def word(self) -> str:
        """How a clerk says "this place" in a reason: 本县, 本市, 本区."""
        return "本" + self.level

    def kind_label(self, kind: str) -> str:
        """How the notice groups a unit of `kind`: 乡镇, or the departments by the own
        level (县直单位, 市直单位, 区直单位)."""
        return "乡镇" if kind == "township" else f"{self.level}直单位"

    def prefixes(self) -> tuple[str, ...]:
        """What a roster name may start with that names this place or its parent, longest
        first: the full names, then the bare level characters (县林业局, 市生态环境局县分局)."""
        full = sorted({p for p in (self.name, self.parent) if p}, key=lambda p: (-len(p), p))
        bare = [c for c in (self.level, self.parent_level) if c]
        return tuple(dict.fromkeys([*full, *bare]))

    def place_names(self) -> tuple[str, ...]:
        """The full names and the places of both, longest first (X县, Y市, X, Y)."""
        found = {self.name, self.parent, *self.places, *self.parent_places} - {""}
        return tuple(sorted(found, key=lambda p: (-len(p), p)))

    def place_words(self) -> tuple[str, ...]:
        """Place names and level characters: never distinctive in a unit's name."""
        return tuple(
            dict.fromkeys(
                [*self.places, *self.parent_places, self.level, self.parent_level, *LEVELS]
            )
        )

    def ends_with_own(self, before: str) -> bool:
        """Whether `before` (the text up to a level character) ends with the own place."""
        return _ends_with(before, self.places)

    def ends_with_parent(self, before: str) -> bool:
        return _ends_with(before, self.parent_places)


def _ends_with(text: str, places: Iterable[str]) -> bool:
    folded = text.translate(_LOOKALIKES)
    return any(p and folded.endswith(p.translate(_LOOKALIKES)) for p in places)
