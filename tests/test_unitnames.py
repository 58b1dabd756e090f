"""A unit name as staff type it on the board or the command line (tracker.unitnames)."""

from __future__ import annotations

import pytest

from tests.matching_mail import ROOT
from tracker.roster import load_roster
from tracker.unitnames import resolve_unit, roster_refs

COUNTY = load_roster(ROOT / "examples" / "roster.toml")
CITY = load_roster(ROOT / "tests" / "places" / "shaoshan-city.toml")


@pytest.mark.parametrize(
    ("typed", "unit"),
    [
        ("易俗河", "易俗河镇"),
        ("河口", "河口镇"),
        ("石潭", "石潭镇"),
        ("消防", "县消防救援大队"),
        ("昆仑燃气", "县中石油昆仑燃气公司"),
        ("人社局", "县人社局"),
        ("湘潭县林业局", "县林业局"),
    ],
)
def test_a_short_part_of_one_units_name_is_that_unit(typed: str, unit: str) -> None:
    assert resolve_unit(typed, roster_refs(COUNTY)).name == unit


@pytest.mark.parametrize("typed", ["湘潭", "局", "镇", "石", "河口乡", "公司"])
def test_a_part_of_several_names_or_of_none_is_refused_with_suggestions(typed: str) -> None:
    found = resolve_unit(typed, roster_refs(COUNTY))
    assert found.name is None, found


def test_the_same_rule_in_a_city() -> None:
    refs = roster_refs(CITY)
    assert resolve_unit("消防", refs).name == "市消防救援大队"
    assert resolve_unit("清溪", refs).name == "清溪镇"
    assert resolve_unit("韶山", refs).name is None  # the city's own name: in every alias
    assert resolve_unit("河口乡", roster_refs(COUNTY)).suggestions[:1] == ("河口镇",)
