"""The roster: which units owe which periods, read from TOML files and validated once.

Each file is one campaign (its `[campaign]` table: name, deadline rule, keywords, place) with
its units and their months. Several files (`[roster] files`) make one `Roster`: a unit named
in several campaigns is one unit (one address book), with each campaign's months kept apart
for the slots (campaign x unit x period)."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

from intake.addresses import BadAddress, check_address
from intake.matching import UnitRef
from intake.places import LEVELS, Jurisdiction
from tracker import gazetteer

_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_PLACE = re.compile(r"^[\u4e00-\u9fff]{1,12}[" + "".join(LEVELS) + "]$")
# The office's own place as its name starts (X县政务公开办公室 -> X县), for rosters without
# `jurisdiction`.
_OFFICE_PLACE = re.compile(r"^([\u4e00-\u9fff]{1,6}?[县市区旗])(?=[\u4e00-\u9fff]{4})")
KINDS = ("township", "department")
DEADLINE_MONTHS = ("same", "next")


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
    keywords: tuple[str, ...] = ()  # words in a mail that name this campaign (主题日)
    # which month `deadline_day` is in: "same" (the activity month, 当月N日前) or "next"
    # (the month after it, 次月N日前)
    deadline_month: str = "same"
    # other places the roster lists, besides the gazetteer's (which knows every place of
    # China): their bodies are not the office's units, also when written without their level
    # (Y公安分局 for Y区…); see `Roster.jurisdiction`
    neighbours: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """What slots and `--campaign` call the campaign: its name."""
        return self.name

    def due(self, period: str) -> date:
        """The campaign's due date for a report of `period` (its deadline rule)."""
        year, month = period_of(period)
        if self.deadline_month == "next":
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return date(year, month, self.deadline_day)


@dataclass(frozen=True)
class RosterUnit:
    name: str
    kind: str
    aliases: tuple[str, ...]
    emails: tuple[str, ...]
    months: tuple[str, ...]
    central: bool = False
    due: tuple[tuple[str, date], ...] = ()  # fixed due dates: (period, date)


# After a campaign's last due date, this long (plus the last overdue reminder's days) it is
# still "active": late reports are chased and the digest goes out; then it sends nothing.
AFTER_LAST_DUE = timedelta(days=14)


@dataclass(frozen=True)
class CampaignRoster:
    """One roster file: a campaign and the units it names, with their months in it."""

    campaign: Campaign
    units: tuple[RosterUnit, ...]

    def unit(self, name: str) -> RosterUnit | None:
        return self._by_name.get(name)

    @cached_property
    def _by_name(self) -> dict[str, RosterUnit]:
        return {u.name: u for u in self.units}

    def periods(self) -> list[str]:
        return sorted({m for u in self.units for m in u.months})

    def due(self, unit: RosterUnit, period: str) -> date:
        """The unit's due date for `period`: its fixed date, else the campaign's day."""
        fixed = dict(unit.due).get(period)
        if fixed is not None:
            return fixed
        return self.campaign.due(period)

    def last_due(self) -> date | None:
        dues = [self.due(u, m) for u in self.units for m in u.months]
        return max(dues) if dues else None

    def first_day(self) -> date | None:
        periods = self.periods()
        if not periods:
            return None
        year, month = period_of(periods[0])
        return date(year, month, 1)

    def active_on(self, day: date, overdue_days: int = 0) -> bool:
        """From the first day of its first month until AFTER_LAST_DUE (plus the last overdue
        reminder's `overdue_days`) after its last due date; after that it sends nothing."""
        first, last = self.first_day(), self.last_due()
        if first is None or last is None:
            return False
        return first <= day <= last + timedelta(days=overdue_days) + AFTER_LAST_DUE


@dataclass(frozen=True)
class Roster:
    campaign: Campaign  # the newest campaign (the last file): office, mailbox and contact
    units: tuple[RosterUnit, ...]  # one per unit, months of all campaigns together
    campaigns: tuple[CampaignRoster, ...] = field(default=())

    @cached_property
    def parts(self) -> tuple[CampaignRoster, ...]:
        """The campaigns, oldest file first (a one-file roster: itself)."""
        return self.campaigns or (CampaignRoster(self.campaign, self.units),)

    def part(self, key: str) -> CampaignRoster | None:
        return next((p for p in self.parts if p.campaign.key == key), None)

    def active(self, day: date, overdue_days: int = 0) -> list[CampaignRoster]:
        """The campaigns active on `day` (see `CampaignRoster.active_on`)."""
        return [p for p in self.parts if p.active_on(day, overdue_days)]

    def only(self, keys: Iterable[str] | None) -> Roster:
        """The roster of these campaigns alone (None: all of them), for commands that cover
        some campaigns: its `campaigns` then names which slots belong to it."""
        if keys is None:
            return self
        wanted = set(keys)
        parts = tuple(p for p in self.parts if p.campaign.key in wanted)
        if not parts:
            return self
        names = {u.name for p in parts for u in p.units}
        units = tuple(
            replace(
                u,
                months=tuple(
                    sorted({m for p in parts if (pu := p.unit(u.name)) for m in pu.months})
                ),
            )
            for u in self.units
            if u.name in names
        )
        return Roster(parts[-1].campaign, units, parts)

    def campaign_keys(self) -> list[str] | None:
        """The campaigns whose slots this roster covers, or None for all (one roster file)."""
        return [p.campaign.key for p in self.campaigns] if self.campaigns else None

    def owing(self, unit: str, period: str) -> list[CampaignRoster]:
        """The campaigns in which `unit` owes a report for `period`."""
        return [p for p in self.parts if (u := p.unit(unit)) is not None and period in u.months]

    @cached_property
    def jurisdiction(self) -> Jurisdiction:
        """The office's place and its parent, as the matcher takes them, with every other
        place of the gazetteer as a neighbour (and the roster's own `neighbours`)."""
        c = self.campaign
        return Jurisdiction(
            c.jurisdiction,
            c.parent,
            neighbours=gazetteer.neighbours(c.jurisdiction, c.parent, c.neighbours),
        )

    def unit(self, name: str) -> RosterUnit | None:
        return self._by_name.get(name)

    @cached_property
    def _by_name(self) -> dict[str, RosterUnit]:
        return {u.name: u for u in self.units}

    def periods(self) -> list[str]:
        return sorted({m for u in self.units for m in u.months})

    def due(self, unit: RosterUnit, period: str) -> date:
        """The due date of `unit` for `period` in the first campaign that schedules it."""
        for p in self.parts:
            u = p.unit(unit.name)
            if u is not None and period in u.months:
                return p.due(u, period)
        return self.campaign.due(period)

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


def load_rosters(paths: Sequence[str | Path]) -> Roster:
    """Several roster files, one campaign each, as one roster (see the module's docstring)."""
    if len(paths) == 1:
        return load_roster(paths[0])
    return merge_rosters([(str(p), load_roster(p)) for p in paths])


def merge_rosters(files: Sequence[tuple[str, Roster]]) -> Roster:
    if not files:
        raise RosterError("roster: no roster file")
    parts: list[CampaignRoster] = []
    names: dict[str, str] = {}
    places = {}
    for path, r in files:
        key = r.campaign.key
        if key in names:
            raise RosterError(
                f"roster {path}: [campaign] name: {key!r} is already the campaign of {names[key]}"
            )
        names[key] = path
        if r.campaign.jurisdiction:
            places[r.campaign.jurisdiction, r.campaign.parent] = path
        parts.extend(r.parts)
    if len({p for p, _ in places}) > 1:
        listed = "; ".join(f"{place} in {path}" for (place, _), path in places.items())
        raise RosterError(f"roster: the files name different jurisdictions ({listed})")
    merged: dict[str, RosterUnit] = {}
    labels: dict[str, str] = {}
    for path, r in files:
        for u in r.units:
            old = merged.get(u.name)
            if old is not None and old.kind != u.kind:
                raise RosterError(
                    f"roster {path}: unit {u.name}: kind: {u.kind!r} here, {old.kind!r} before"
                )
            for label in (u.name, *u.aliases):
                other = labels.setdefault(label, u.name)
                if other != u.name:
                    raise RosterError(
                        f"roster {path}: unit {u.name}: {label!r} is already a name or alias "
                        f"of {other}"
                    )
            if old is None:
                merged[u.name] = u
                continue
            merged[u.name] = RosterUnit(
                u.name,
                u.kind,
                tuple(dict.fromkeys([*old.aliases, *u.aliases])),
                tuple(dict.fromkeys([*old.emails, *u.emails])),
                tuple(sorted({*old.months, *u.months})),
                old.central or u.central,
                tuple(sorted({*old.due, *u.due})),
            )
    newest = files[-1][1].campaign
    if not newest.jurisdiction and places:
        (place, parent), _ = next(iter(places.items()))
        newest = replace(newest, jurisdiction=place, parent=parent)
    neighbours = tuple(dict.fromkeys(n for _, r in files for n in r.campaign.neighbours))
    newest = replace(newest, neighbours=neighbours)
    return Roster(newest, tuple(merged.values()), tuple(parts))


def parse_roster(data: Mapping[str, Any], where: str = "roster") -> Roster:
    unknown = sorted(set(data) - {"campaign", "unit"})
    if unknown:
        raise RosterError(
            f"{where}: [{unknown[0]}]: unknown table (expected [campaign] and [[unit]])"
        )
    camp = data.get("campaign", {})
    if not isinstance(camp, Mapping):
        raise RosterError(f"{where}: [campaign] must be a table")
    keys = {
        "name",
        "office",
        "mailbox",
        "deadline_day",
        "contact",
        "jurisdiction",
        "parent",
        "keywords",
        "deadline_month",
        "neighbours",
    }
    bad = sorted(set(camp) - keys)
    if bad:
        raise RosterError(f"{where}: [campaign] {bad[0]}: unknown key")
    day = camp.get("deadline_day", 25)
    if isinstance(day, bool) or not isinstance(day, int) or not 1 <= day <= 28:
        raise RosterError(
            f"{where}: [campaign] deadline_day: must be a day from 1 to 28, not {day!r}"
        )
    deadline_month = camp.get("deadline_month", "same")
    if deadline_month not in DEADLINE_MONTHS:
        raise RosterError(
            f'{where}: [campaign] deadline_month: must be "same" (the activity month, 当月N日前) '
            f'or "next" (the month after it, 次月N日前), not {deadline_month!r}'
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
    neighbours = camp.get("neighbours", [])
    if not isinstance(neighbours, list) or not all(isinstance(n, str) for n in neighbours):
        raise RosterError(f"{where}: [campaign] neighbours: must be a list of place names")
    for n in neighbours:
        if not _PLACE.match(n.strip()):
            raise RosterError(
                f"{where}: [campaign] neighbours: {n.strip()[:40]!r} is not a place name ending "
                f"in {'/'.join(LEVELS)} (e.g. 岳塘区, 湘乡市)"
            )
    keywords = camp.get("keywords", [])
    if not isinstance(keywords, list) or not all(isinstance(k, str) for k in keywords):
        raise RosterError(f"{where}: [campaign] keywords: must be a list of strings")
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
        keywords=tuple(k.strip() for k in keywords if k.strip()),
        deadline_month=deadline_month,
        neighbours=tuple(dict.fromkeys(n.strip() for n in neighbours)),
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
    bad = sorted(set(raw) - {"name", "kind", "aliases", "emails", "months", "central", "due"})
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
    emails_list = []
    for e in _strings(raw, "emails", where):
        try:
            emails_list.append(check_address(e))
        except BadAddress as exc:
            raise RosterError(
                f"{where}: emails: {e[:80]!r} is not an email address ({exc})"
            ) from None
    emails = tuple(dict.fromkeys(emails_list))
    months = _strings(raw, "months", where)
    if not months:
        raise RosterError(f'{where}: months: missing (the periods it owes, e.g. ["2023-05"])')
    for m in months:
        if not _PERIOD.match(m):
            raise RosterError(f"{where}: months: {m!r} is not a period YYYY-MM")
    due = _due(raw.get("due"), months, where)
    central = raw.get("central", False)
    if not isinstance(central, bool):
        raise RosterError(f"{where}: central: must be true or false")
    for label in (name, *aliases):
        other = seen.get(label)
        if other is not None and other != name:
            raise RosterError(f"{where}: {label!r} is already a name or alias of {other}")
        seen[label] = name
    return RosterUnit(name, kind, aliases, emails, tuple(sorted(set(months))), central, due)


def _due(value: Any, months: Sequence[str], where: str) -> tuple[tuple[str, date], ...]:
    """`due = 2024-06-10` (one date, for a unit with one month) or `due = {"2024-05" =
    2024-06-10, ...}` (a date per period); TOML dates or "YYYY-MM-DD" strings."""
    if value is None:
        return ()

    def day(v: Any, what: str) -> date:
        if isinstance(v, date):
            return v
        if isinstance(v, str):
            try:
                return date.fromisoformat(v.strip())
            except ValueError:
                pass
        raise RosterError(f"{where}: due: {what}{v!r} is not a date YYYY-MM-DD")

    if isinstance(value, Mapping):
        out = []
        for period, v in value.items():
            if period not in months:
                raise RosterError(f"{where}: due: {period!r} is not one of its months")
            out.append((period, day(v, f"{period}: ")))
        return tuple(sorted(out))
    if len(months) != 1:
        raise RosterError(
            f"{where}: due: one date for several months; give a date per month "
            '(due = {"2024-05" = 2024-06-10, ...})'
        )
    return ((months[0], day(value, "")),)


def _strings(raw: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RosterError(f"{where}: {key}: must be a list of strings")
    return tuple(v.strip() for v in value if v.strip())
