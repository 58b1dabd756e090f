"""China's places, for telling the office's own bodies from every other place's.

`tracker/data/divisions.tsv` lists the provinces, prefecture-level and county-level divisions
(built by `scripts/build_divisions.py` from the National Bureau of Statistics' codes). Any of
those places other than the office's own and its parent is another body's place, also when
written without its level character (湘乡林业局 for 湘乡市林业局): `others` gives them as
`Jurisdiction.neighbours` takes them. The whole country, not the parent's places alone: a
county can border another prefecture or province, and mail from anywhere can reach the
mailbox.

Left out of `others`: a place whose name without its level is an ordinary word people write
right before a unit's name (`tracker/data/place-words.txt`: 公安交警大队, 会同县林业局 for
"together with"); with its level (X县林业局) it is still another body's, as every place is.

The file is read once per process, on first use; `others` is cached per jurisdiction.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

from intake.places import Jurisdiction

__all__ = ["Divisions", "divisions", "known", "neighbours", "others", "problems"]

DATA = Path(__file__).parent / "data"
DIVISIONS = DATA / "divisions.tsv"
PLACE_WORDS = DATA / "place-words.txt"


@dataclass(frozen=True)
class Divisions:
    provinces: tuple[str, ...]
    prefectures: tuple[str, ...]  # prefecture-level: 市, 州, 地区, 盟; municipalities too
    counties: tuple[str, ...]  # county-level: 县, 市, 区, 旗, 自治县 ...
    parents: dict[str, frozenset[str]]  # county-level name -> the prefectures it is under
    words: frozenset[str]  # place forms that are ordinary words (see the module docstring)

    @property
    def places(self) -> tuple[str, ...]:
        """Prefecture-level and county-level names, each once."""
        return tuple(dict.fromkeys((*self.prefectures, *self.counties)))


def _lines(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.strip() and not line.startswith("#")]


@cache
def divisions() -> Divisions:
    """The gazetteer, read on first use."""
    provinces: dict[str, None] = {}
    prefectures: dict[str, None] = {}
    counties: dict[str, None] = {}
    parents: dict[str, set[str]] = {}
    for line in _lines(DIVISIONS):
        province, prefecture, names = [*line.split("\t"), "", ""][:3]
        provinces[province] = None
        if prefecture != "-":
            prefectures[prefecture] = None
        for name in names.split():
            counties[name] = None
            if prefecture != "-":
                parents.setdefault(name, set()).add(prefecture)
    words = frozenset(w for line in _lines(PLACE_WORDS) for w in line.split())
    return Divisions(
        tuple(provinces),
        tuple(prefectures),
        tuple(counties),
        {k: frozenset(v) for k, v in parents.items()},
        words,
    )


def known(name: str) -> bool:
    """Whether `name` is a prefecture-level or county-level place of the gazetteer."""
    d = divisions()
    return name in d.parents or name in d.prefectures or name in d.counties


@lru_cache(maxsize=16)
def others(jurisdiction: str, parent: str = "") -> tuple[str, ...]:
    """Every prefecture-level and county-level place but `jurisdiction` and `parent`, full
    names (湘乡市, 长沙县, 岳塘区), less those whose bare name is an ordinary word."""
    d = divisions()
    words = d.words
    mine = {jurisdiction, parent}

    def is_word(name: str) -> bool:  # the cheap test first: few names hold a word at all
        return any(w in name for w in words) and any(p in words for p in Jurisdiction(name).places)

    return tuple(name for name in d.places if name not in mine and not is_word(name))


@lru_cache(maxsize=16)
def neighbours(jurisdiction: str, parent: str, listed: tuple[str, ...] = ()) -> tuple[str, ...]:
    """A roster's neighbours: the places it lists (`[campaign] neighbours`), then, when it
    names its own place, every other place of the gazetteer (`others`)."""
    if not jurisdiction:
        return listed
    return tuple(dict.fromkeys((*listed, *others(jurisdiction, parent))))


def problems(jurisdiction: str, parent: str) -> list[str]:
    """What the gazetteer says about a roster's places: one line for each key whose place
    it does not know (a typo, a place renamed or created after the gazetteer's edition), or
    a parent the jurisdiction is not under."""
    out = []
    d = divisions()
    if jurisdiction and not known(jurisdiction):
        out.append(
            f"[campaign] jurisdiction: {jurisdiction} is not in the gazetteer of China's "
            "places (a typo, or a new name?): only [campaign] neighbours then names the "
            "places around it"
        )
    if parent and not known(parent) and parent not in d.provinces:
        out.append(
            f"[campaign] parent: {parent} is not in the gazetteer of China's places (a typo, "
            "or a new name?)"
        )
    elif jurisdiction in d.parents and parent and parent not in d.parents[jurisdiction]:
        under = "、".join(sorted(d.parents[jurisdiction]))
        out.append(
            f"[campaign] parent: the gazetteer has {jurisdiction} under {under}, not {parent}"
        )
    return out
