"""What a command's start needs from the roster, so that a start does not grow with it.

- `roster_fingerprint(paths)`: a hash of the roster files' names and bytes and of the code
  that reads and syncs them. `tracker.app` keeps it in the `service_state` row
  "roster_synced" and syncs the roster into the database only when it changed.
- `load_roster_cached(paths, cache_dir)`: the parsed roster, kept as JSON in
  `<storage>/cache/roster-<fingerprint>.json` (plain data, never code: no pickle), so a
  province's roster (6,000 units, 1.5 MB of TOML) is not parsed again by every command.
  The file is only a copy of what the roster files say, checked by its fingerprint: a
  missing, stale or unreadable one is rebuilt, and a folder that cannot be written only
  costs the parse.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import fields
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from tracker.config import Config
from tracker.roster import Campaign, CampaignRoster, Roster, RosterUnit, load_rosters

log = logging.getLogger(__name__)

FORMAT = 2  # of the JSON below; part of the fingerprint


@cache
def _code_digest() -> bytes:
    """The source of the modules that read a roster and sync it: a new version of either
    never reads an old cache entry and syncs again."""
    digest = hashlib.sha256(f"format {FORMAT}\n".encode())
    here = Path(__file__).parent
    for name in ("roster.py", "slots.py", "startcache.py"):
        with suppress(OSError):
            digest.update((here / name).read_bytes())
    return digest.digest()


def roster_fingerprint(paths: Sequence[Path]) -> str:
    """The hash of the roster files (names and bytes) and of the code; OSError if a file
    cannot be read."""
    digest = hashlib.sha256(_code_digest())
    for path in paths:
        data = Path(path).read_bytes()
        digest.update(f"\0{path}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def load_roster_cached(paths: Sequence[Path], cache_dir: Path | None) -> Roster:
    """The roster of `paths`, from the cache when the files are unchanged."""
    try:
        fingerprint = roster_fingerprint(paths)
    except OSError:
        return load_rosters(paths)  # says why, in one line
    kept = _MEMO.get(fingerprint)
    if kept is not None:
        return kept
    roster = _load(paths, cache_dir, fingerprint)
    _MEMO.clear()  # one roster per process is what is ever used
    _MEMO[fingerprint] = roster
    return roster


def config_roster(config: Config) -> Roster:
    """The roster a config names (see `load_roster_cached`)."""
    paths = tuple(Path(p) for p in (config.roster_files or (config.roster_file,)))
    return load_roster_cached(paths, config.storage_dir / "cache")


_MEMO: dict[str, Roster] = {}


def _load(paths: Sequence[Path], cache_dir: Path | None, fingerprint: str) -> Roster:
    if cache_dir is None:
        return load_rosters(paths)
    path = cache_dir / f"roster-{fingerprint[:40]}.json"
    try:
        with path.open(encoding="utf-8") as fh:
            data = json.load(fh)
        if data.get("fingerprint") == fingerprint:
            return roster_from_data(data["roster"])
    except FileNotFoundError:
        pass
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        log.debug("roster cache %s unreadable (%s); reading the roster again", path.name, exc)
    roster = load_rosters(paths)
    _store(cache_dir, path, {"fingerprint": fingerprint, "roster": roster_to_data(roster)})
    return roster


def _store(cache_dir: Path, path: Path, value: dict[str, Any]) -> None:
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        for old in cache_dir.glob("roster-*.json"):  # one entry
            if old != path:
                with suppress(OSError):
                    old.unlink()
        fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(value, fh, ensure_ascii=False, separators=(",", ":"))
            os.replace(tmp, path)
        except BaseException:
            with suppress(OSError):
                os.unlink(tmp)
            raise
    except (OSError, TypeError, ValueError) as exc:
        log.debug("could not keep the parsed roster in %s: %s", cache_dir, exc)


# --- the roster as JSON ------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A roster value as JSON: tuples as lists, dates tagged."""
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise TypeError(f"cannot keep {type(value).__name__} in the roster cache")


def _unplain(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_unplain(v) for v in value)
    if isinstance(value, dict):
        return date.fromisoformat(value["$date"])
    return value


def _campaign_data(c: Campaign) -> dict[str, Any]:
    return {f.name: _plain(getattr(c, f.name)) for f in fields(c)}


def _campaign(d: dict[str, Any]) -> Campaign:
    return Campaign(**{k: _unplain(v) for k, v in d.items()})


def _unit_data(u: RosterUnit) -> dict[str, Any]:
    return {f.name: _plain(getattr(u, f.name)) for f in fields(u)}


def _unit(d: dict[str, Any]) -> RosterUnit:
    return RosterUnit(**{k: _unplain(v) for k, v in d.items()})


def roster_to_data(roster: Roster) -> dict[str, Any]:
    return {
        "campaign": _campaign_data(roster.campaign),
        "units": [_unit_data(u) for u in roster.units],
        "campaigns": [
            {"campaign": _campaign_data(p.campaign), "units": [_unit_data(u) for u in p.units]}
            for p in roster.campaigns
        ],
    }


def roster_from_data(data: dict[str, Any]) -> Roster:
    units = {}
    for d in data["units"]:
        unit = _unit(d)
        units[unit.name] = unit
    parts = []
    for p in data["campaigns"]:
        # a unit of one campaign file is the same object as the merged one when equal
        part_units = tuple(
            units[u.name] if units.get(u.name) == u else u for u in map(_unit, p["units"])
        )
        parts.append(CampaignRoster(_campaign(p["campaign"]), part_units))
    return Roster(_campaign(data["campaign"]), tuple(units.values()), tuple(parts))
