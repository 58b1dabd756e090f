"""The roster: which units owe which periods, read from a TOML file and validated once."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from intake.matching import UnitRef
from intake.places import LEVELS, Jurisdiction

_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_PLACE = re.compile(r"^[\u4e00-\u9fff]{1,12}[" + "".join(LEVELS) + "]$")
# The office's own place as its name starts (X县政务公开办公室 -> X县), for rosters without
# `jurisdiction`.
_OFFICE_PLACE = re.compile(r"^([\u4e00-\u9fff]{1,6}?[县市区旗])(?=[\u4e00-\u9fff]{4})")
_ADDRESS = re.compile(r"^[^@\s<>\"']+@[^@\s<>\"']+\.[^@\s<>\"']+$")
KINDS = ("township", "department")


class RosterError(Exception):
    """A bad roster: one line naming the unit and key and why."""


@dataclass(frozen=True)
class Campaign:
    name: str
    office: str
    mailbox: str
    deadline_day: int
    contact: str
    jurisdiction: str = ""  # the office's place: X县, X市 (county-level), X区
    parent: str = ""  # the place above it: Y市


@dataclass(frozen=True)
class RosterUnit:
    name: str
    kind: str
    aliases: tuple[str, ...]
    emails: tuple[str, ...]
    months: tuple[str, ...]
    central: bool = False


@dataclass(frozen=True)
class Roster:
    campaign: Campaign
    units: tuple[RosterUnit, ...]

    @property
    def jurisdiction(self) -> Jurisdiction:
        """The office's place and its parent, as the matcher takes them."""
        return Jurisdiction(self.campaign.jurisdiction, self.campaign.parent)

    def unit(self, name: str) -> RosterUnit | None:
        return next((u for u in self.units if u.name == name), None)

    def periods(self) -> list[str]:
        return sorted({m for u in self.units for m in u.months})

    def unit_refs(
        self, extra_emails: Mapping[str, Iterable[str]] | None = None
    ) -> tuple[UnitRef, ...]:
        """The roster as plain data for `intake.matching`, with learnt addresses added."""
        extra = extra_emails or {}
        refs = []
        for u in self.units:
            emails = tuple(dict.fromkeys([*u.emails, *(e.lower() for e in extra.get(u.name, ()))]))
            refs.append(UnitRef(u.name, u.kind, u.aliases, emails, u.months))
        return tuple(refs)


def period_of(value: str) -> tuple[int, int]:
    m = _PERIOD.match(value)
    if not m:
        raise ValueError(f"not a period YYYY-MM: {value!r}")
    return int(m.group(1)), int(m.group(2))


def load_roster(path: str | Path) -> Roster:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RosterError(f"roster {path}: not found") from None
    except UnicodeDecodeError:
        raise RosterError(f"roster {path}: not UTF-8 text") from None
    except OSError as exc:
        raise RosterError(f"roster {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise RosterError(f"roster {path}: {exc}") from None
    return parse_roster(data, f"roster {path}")


def parse_roster(data: Mapping[str, Any], where: str = "roster") -> Roster:
    unknown = sorted(set(data) - {"campaign", "unit"})
    if unknown:
        raise RosterError(
            f"{where}: [{unknown[0]}]: unknown table (expected [campaign] and [[unit]])"
        )
    camp = data.get("campaign", {})
    if not isinstance(camp, Mapping):
        raise RosterError(f"{where}: [campaign] must be a table")
    keys = {"name", "office", "mailbox", "deadline_day", "contact", "jurisdiction", "parent"}
    bad = sorted(set(camp) - keys)
    if bad:
        raise RosterError(f"{where}: [campaign] {bad[0]}: unknown key")
    day = camp.get("deadline_day", 25)
    if isinstance(day, bool) or not isinstance(day, int) or not 1 <= day <= 28:
        raise RosterError(
            f"{where}: [campaign] deadline_day: must be a day from 1 to 28, not {day!r}"
        )
    for key in ("name", "office", "mailbox", "contact", "jurisdiction", "parent"):
        if key in camp and not isinstance(camp[key], str):
            raise RosterError(f"{where}: [campaign] {key}: must be a string")
    for key in ("jurisdiction", "parent"):
        value = camp.get(key, "").strip()
        if value and not _PLACE.match(value):
            raise RosterError(
                f"{where}: [campaign] {key}: {value!r} is not a place name ending in "
                f"{'/'.join(LEVELS)} (e.g. 湘潭县, 韶山市, 雨湖区)"
            )
    jurisdiction = camp.get("jurisdiction", "").strip()
    if not jurisdiction:
        found = _OFFICE_PLACE.match(camp.get("office", ""))
        jurisdiction = found.group(1) if found else ""
    campaign = Campaign(
        name=camp.get("name", "政务公开主题日"),
        office=camp.get("office", ""),
        mailbox=camp.get("mailbox", "").lower(),
        deadline_day=day,
        contact=camp.get("contact", ""),
        jurisdiction=jurisdiction,
        parent=camp.get("parent", "").strip(),
    )
    raw_units = data.get("unit")
    if not isinstance(raw_units, list) or not raw_units:
        raise RosterError(f"{where}: no [[unit]] tables")
    units: list[RosterUnit] = []
    seen: dict[str, str] = {}
    for i, raw in enumerate(raw_units, 1):
        units.append(_unit(raw, f"{where}: unit {i}", seen))
    return Roster(campaign, tuple(units))


def _unit(raw: Any, where: str, seen: dict[str, str]) -> RosterUnit:
    if not isinstance(raw, Mapping):
        raise RosterError(f"{where}: must be a table")
    bad = sorted(set(raw) - {"name", "kind", "aliases", "emails", "months", "central"})
    if bad:
        raise RosterError(f"{where}: {bad[0]}: unknown key")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise RosterError(f"{where}: name: missing")
    name = name.strip()
    where = f"{where} ({name})"
    if name in seen:
        raise RosterError(f"{where}: name: already listed (as {seen[name]})")
    kind = raw.get("kind", "department")
    if kind not in KINDS:
        raise RosterError(f'{where}: kind: must be "township" or "department", not {kind!r}')
    aliases = _strings(raw, "aliases", where)
    emails = tuple(e.lower() for e in _strings(raw, "emails", where))
    for e in emails:
        if not _ADDRESS.match(e):
            raise RosterError(f"{where}: emails: {e!r} is not an email address")
    months = _strings(raw, "months", where)
    if not months:
        raise RosterError(f'{where}: months: missing (the periods it owes, e.g. ["2023-05"])')
    for m in months:
        if not _PERIOD.match(m):
            raise RosterError(f"{where}: months: {m!r} is not a period YYYY-MM")
    central = raw.get("central", False)
    if not isinstance(central, bool):
        raise RosterError(f"{where}: central: must be true or false")
    for label in (name, *aliases):
        other = seen.get(label)
        if other is not None and other != name:
            raise RosterError(f"{where}: {label!r} is already a name or alias of {other}")
        seen[label] = name
    return RosterUnit(name, kind, aliases, emails, tuple(sorted(set(months))), central)


def _strings(raw: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RosterError(f"{where}: {key}: must be a list of strings")
    return tuple(v.strip() for v in value if v.strip())
