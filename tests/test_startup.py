"""A command's start does not grow with the roster or the migrations: the roster is synced
only when its file changed, the parsed roster is kept between runs (as JSON), Alembic is
imported only when the schema is behind, and the matcher's literal scanner finds exactly
what the regex alternation it replaced found."""

from __future__ import annotations

import random
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from sqlalchemy import func, select

from intake.matching import _Literals, build_index
from tracker import startcache
from tracker.app import App
from tracker.config import load_config
from tracker.db import head_from_files, head_revision, open_database
from tracker.models import ServiceState, Slot, Unit
from tracker.roster import load_roster, load_rosters
from tracker.startcache import load_roster_cached

ROOT = Path(__file__).resolve().parent.parent
ROSTER = ROOT / "tracker" / "data" / "roster.example.toml"


def test_the_literal_scanner_finds_what_the_regex_alternation_found() -> None:
    units = load_roster(ROSTER).unit_refs()
    forms = sorted(build_index(units).forms)
    regex = re.compile("|".join(map(re.escape, sorted(forms, key=lambda k: (-len(k), k)))))
    scanner = _Literals(forms)
    rng = random.Random(5)
    filler = list("的年月日局镇乡县政务公开活动报送湘潭市云湖桥中路铺 ，。")
    for _ in range(300):
        parts = [rng.choice(forms) if rng.random() < 0.3 else rng.choice(filler) for _ in range(40)]
        text = "".join(parts)
        want = [(m.group(), m.start(), m.end()) for m in regex.finditer(text)]
        got = [(m.group(), m.start(), m.end()) for m in scanner.finditer(text)]
        assert got == want, text
    assert build_index(units).form_pattern is not None


def test_the_head_revision_is_read_from_the_files_as_alembic_reads_it() -> None:
    assert head_from_files() == head_revision()


def test_a_migrated_database_opens_without_importing_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/db.sqlite3"
    open_database(url).dispose()  # creates and migrates
    code = (
        "import sys\n"
        "from tracker.db import open_database\n"
        f"open_database({url!r}).dispose()\n"
        "assert 'alembic' not in sys.modules, 'alembic imported'\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def _config(tmp_path: Path, roster: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[mailbox]
type = "maildir"
path = "{tmp_path}/Maildir"
[storage]
dir = "{tmp_path}/data"
[roster]
file = "{roster}"
"""
    )
    return path


def test_the_roster_is_synced_only_when_its_file_changed(tmp_path: Path) -> None:
    roster = tmp_path / "roster.toml"
    roster.write_text(ROSTER.read_text(encoding="utf-8"), encoding="utf-8")
    config = _config(tmp_path, roster)

    def open_app() -> App:
        return App(load_config(config))

    app = open_app()
    with app.db.session() as s:
        units = s.scalar(select(func.count()).select_from(Unit))
        state = s.get(ServiceState, "roster_synced")
        assert state is not None and state.value["sha256"]
        # a change made behind the roster's back stays while the roster is unchanged
        unit = s.scalar(select(Unit).where(Unit.name == "云湖桥镇"))
        assert unit is not None
        unit.aliases = ["改过"]
    app.close()

    app = open_app()
    assert app.roster.units[0].name == "云湖桥镇"
    with app.db.session() as s:
        assert s.scalar(select(Unit.aliases).where(Unit.name == "云湖桥镇")) == ["改过"]
    app.close()

    text = roster.read_text(encoding="utf-8")
    roster.write_text(
        text + '\n[[unit]]\nname = "新单位"\nkind = "department"\nmonths = ["2023-12"]\n',
        encoding="utf-8",
    )
    app = open_app()
    assert app.roster.unit("新单位") is not None  # a changed file is parsed again
    with app.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Unit)) == (units or 0) + 1
        assert s.scalar(select(Unit.aliases).where(Unit.name == "云湖桥镇")) != ["改过"]
        new = s.scalar(select(Unit).where(Unit.name == "新单位"))
        assert new is not None
        assert s.scalar(select(Slot.period).where(Slot.unit_id == new.id)) == "2023-12"
    app.close()


def test_the_parsed_roster_is_kept_as_json_and_read_back_the_same(tmp_path: Path) -> None:
    roster = tmp_path / "roster.toml"
    roster.write_text(ROSTER.read_text(encoding="utf-8"), encoding="utf-8")
    fresh = load_roster(roster)
    cache = tmp_path / "cache"
    first = load_roster_cached([roster], cache)
    [entry] = cache.glob("roster-*.json")
    startcache._MEMO.clear()
    again = load_roster_cached([roster], cache)
    assert first == fresh and again == fresh and again is not first
    assert again.parts == fresh.parts
    startcache._MEMO.clear()
    entry.write_text("{not json", encoding="utf-8")  # damaged: read from the roster again
    assert load_roster_cached([roster], cache) == fresh
    startcache._MEMO.clear()
    roster.write_text(ROSTER.read_text(encoding="utf-8").replace("县林业局", "县林业事务局"))
    changed = load_roster_cached([roster], cache)
    assert changed.unit("县林业事务局") is not None and changed.unit("县林业局") is None
    assert [p.name for p in cache.glob("roster-*.json")] != [entry.name]


def test_a_campaigns_roster_of_several_files_comes_back_the_same(tmp_path: Path) -> None:
    text = ROSTER.read_text("utf-8").replace('"2023-', '"2024-').replace("2023年", "2024年")
    text = text.replace("deadline_day = 25", 'deadline_day = 20\nkeywords = ["2024"]')
    (tmp_path / "2024.toml").write_text(text, encoding="utf-8")
    files = [ROSTER, tmp_path / "2024.toml"]
    fresh = load_rosters(files)
    cache = tmp_path / "cache"
    load_roster_cached(files, cache)
    startcache._MEMO.clear()
    again = load_roster_cached(files, cache)
    assert len(fresh.parts) == 2
    assert again == fresh and again.parts == fresh.parts


HEAVY = ("sqlalchemy", "alembic", "openpyxl", "PIL", "jinja2", "flask", "imap_tools", "opencc")


def test_help_and_the_command_line_import_nothing_heavy() -> None:
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from tracker.cli.main import main\n"
        'for args in (["--help"], ["status", "--help"], ["export", "--help"]):\n'
        "    result = CliRunner().invoke(main, args)\n"
        "    assert result.exit_code == 0, result.output\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_the_outbox_states_of_the_command_line_are_the_outboxs() -> None:
    from tracker.cli.mail import OUTBOX_STATES
    from tracker.outgoing.outbox import STATES

    assert OUTBOX_STATES == STATES


def test_the_next_polls_equal_roster_reuses_the_matchers_index() -> None:
    units = load_roster(ROSTER).unit_refs()
    again = load_roster(ROSTER).unit_refs()  # what the next poll builds: equal, not the same
    assert again == units and again is not units
    assert build_index(again) is build_index(units)
    changed = (*units[:-1], replace(units[-1], emails=("new@example.com",)))
    assert build_index(changed) is not build_index(units)
