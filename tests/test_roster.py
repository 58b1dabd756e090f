"""The roster from the notice: 47 units, their months, and clear errors for bad rosters."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracker.roster import RosterError, load_roster


def test_it_ships_every_unit_of_annexes_2_and_3(roster_file: Path) -> None:
    roster = load_roster(roster_file)
    assert len(roster.units) == 47
    assert sum(u.kind == "township" for u in roster.units) == 17
    assert sum(u.kind == "department" for u in roster.units) == 30
    assert sum(u.central for u in roster.units) == 21
    assert roster.campaign.deadline_day == 25
    by_name = {u.name: u for u in roster.units}
    assert by_name["县林业局"].months == ("2023-05",)
    assert by_name["易俗河镇"].months == ("2023-12",)
    assert by_name["云湖桥镇"].months == ("2023-04",)
    assert "县应急局" in by_name["县应急管理局"].aliases
    assert "湘潭县人力资源和社会保障局" in by_name["县人社局"].aliases
    assert len([u for u in roster.units if u.months == ("2023-04",)]) == 7
    assert roster.periods() == [f"2023-{m:02d}" for m in range(4, 13)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[unit]]\nname = "县林业局"\nkind = "bureau"\nmonths = ["2023-05"]\n', "kind: must be"),
        (
            '[[unit]]\nname = "县林业局"\nmonths = ["2023-13"]\n',
            "'2023-13' is not a period YYYY-MM",
        ),
        ('[[unit]]\nname = "县林业局"\n', "months: missing"),
        (
            '[[unit]]\nname = "县林业局"\nmonths = ["2023-05"]\nemails = ["x"]\n',
            "'x' is not an email address",
        ),
        (
            '[[unit]]\nname = "A"\nmonths = ["2023-05"]\n[[unit]]\nname = "A"\nmonths = ["2023-06"]\n',
            "already listed",
        ),
        (
            '[[unit]]\nname = "A"\naliases = ["B"]\nmonths = ["2023-05"]\n[[unit]]\nname = "C"\naliases = ["B"]\nmonths = ["2023-06"]\n',
            "'B' is already a name or alias of A",
        ),
        (
            '[campaign]\ndeadline_day = 31\n[[unit]]\nname = "A"\nmonths = ["2023-05"]\n',
            "deadline_day: must be a day from 1 to 28",
        ),
        (
            '[campaign]\nneighbours = ["岳塘"]\n[[unit]]\nname = "A"\nmonths = ["2023-05"]\n',
            "neighbours: '岳塘' is not a place name ending in",
        ),
        (
            '[campaign]\nneighbours = "岳塘区"\n[[unit]]\nname = "A"\nmonths = ["2023-05"]\n',
            "neighbours: must be a list of place names",
        ),
        ('[campaign]\nname = "x"\n', "no [[unit]] tables"),
        ('[[unit]]\nname = "A"\nmonth = ["2023-05"]\n', "month: unknown key"),
    ],
)
def test_it_rejects_a_bad_roster_in_one_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "roster.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RosterError) as err:
        load_roster(path)
    assert message in str(err.value)
    assert "\n" not in str(err.value)
