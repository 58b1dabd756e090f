"""The gazetteer (tracker/data/divisions.tsv, tracker/gazetteer.py): China's places as data,
so a roster that names only its `jurisdiction` and `parent` has every other place's bodies
told from its own, also written without their level (湘乡林业局, 长沙林业局)."""

from __future__ import annotations

import tomllib
from fnmatch import fnmatch
from pathlib import Path

from intake.matching import UnitRef, match
from intake.places import Jurisdiction
from tests.matching_mail import at, attachment, mail
from tracker import gazetteer
from tracker.roster import Roster, parse_roster

ROOT = Path(__file__).resolve().parent.parent
PHOTO = (attachment("现场.jpg"),)


def test_it_lists_the_countrys_places() -> None:
    d = gazetteer.divisions()
    assert len(d.provinces) == 31
    assert 330 <= len(d.prefectures) <= 345, len(d.prefectures)
    assert 2_800 <= len(d.counties) <= 2_900, len(d.counties)
    for name in ("湘潭县", "韶山市", "雨湖区", "长沙县", "浏阳市", "铜鼓县", "万载县", "忠县",
                 "神农架林区", "土默特左旗", "湘西土家族苗族自治州", "阿克苏地区", "兴安盟"):  # fmt: skip
        assert gazetteer.known(name), name
    assert d.parents["湘潭县"] == {"湘潭市"}
    assert d.parents["东城区"] == {"北京市"}  # a municipality is its own prefecture
    # no statistics placeholder, no development zone, no town of a prefecture without counties
    for name in ("市辖区", "省直辖县级行政区划", "湖南湘潭高新技术产业园区", "湘潭九华示范区",
                 "清溪镇", "东城街道"):  # fmt: skip
        assert not gazetteer.known(name), name
    assert all(n.endswith(("县", "市", "区", "旗")) for n in d.counties)


def test_the_data_file_credits_its_source() -> None:
    head = gazetteer.DIVISIONS.read_text(encoding="utf-8").split("\n#\n")[1]
    assert "modood/Administrative-divisions-of-China" in head
    assert "National Bureau of Statistics" in head and "WTFPL" in head
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "modood/Administrative-divisions-of-China" in readme


def test_the_data_ships_with_the_package() -> None:
    with (ROOT / "pyproject.toml").open("rb") as f:
        patterns = tomllib.load(f)["tool"]["setuptools"]["package-data"]["tracker"]
    for path in (gazetteer.DIVISIONS, gazetteer.PLACE_WORDS):
        inside = path.relative_to(ROOT / "tracker").as_posix()
        assert any(fnmatch(inside, p) for p in patterns), inside


def test_the_others_are_every_place_but_the_own_and_the_parent() -> None:
    others = set(gazetteer.others("浏阳市", "长沙市"))
    assert "浏阳市" not in others and "长沙市" not in others
    # the province's others and a neighbour across the provincial border (江西)
    assert {"长沙县", "宁乡市", "湘潭县", "湘乡市", "铜鼓县", "万载县", "萍乡市"} <= others
    # a place whose bare name is a word people write before a unit's name
    assert "公安县" not in others and "会同县" not in others
    assert len(others) > 3_000


def test_a_roster_gets_the_gazetteer_and_keeps_its_own_neighbours() -> None:
    def roster(campaign: str) -> Roster:
        return parse_roster(
            tomllib.loads(
                f'[campaign]\n{campaign}\n[[unit]]\nname = "县林业局"\n'
                'kind = "department"\nmonths = ["2023-05"]\n'
            )
        )

    j = roster('jurisdiction = "湘潭县"\nparent = "湘潭市"\nneighbours = ["公安县", "新建县"]')
    neighbours = j.jurisdiction.neighbours
    assert neighbours[:2] == ("公安县", "新建县")  # listed by hand: kept, also a word's place
    assert {"湘乡市", "岳塘区", "长沙县", "长沙市"} <= set(neighbours)
    assert "湘潭县" not in neighbours and "湘潭市" not in neighbours
    bare = roster('neighbours = ["岳塘区"]')  # no place of its own: only what it lists
    assert bare.jurisdiction.neighbours == ("岳塘区",)


def test_a_word_that_is_also_a_place_stays_a_word() -> None:
    """公安 before 交警大队 is the police, not 公安县; with its level it is 公安县's."""
    units = (
        UnitRef("县交警大队", "department", ("湘潭县交警大队",), (), ("2023-05",)),
        UnitRef("县林业局", "department", (), (), ("2023-05",)),
    )
    j = Jurisdiction("湘潭县", "湘潭市", neighbours=gazetteer.neighbours("湘潭县", "湘潭市"))
    cases = [
        ("湘潭县公安交警大队5月主题日活动", "matched", ("县交警大队",)),
        ("公安县交警大队5月主题日活动", "review", ()),
        ("县林业局会同县交警大队开展5月主题日活动", "matched", ("县交警大队", "县林业局")),
        ("资源林业局5月主题日活动", "matched", ("县林业局",)),  # 资源 is no place here
        ("资源县林业局5月主题日活动", "review", ()),
    ]
    for subject, decision, names in cases:
        result = match(
            mail(subject, attachments=PHOTO), units, received_at=at("2023-05-18"), jurisdiction=j
        )
        assert (result.decision, set(result.units)) == (decision, set(names)), (
            subject,
            result.reasons,
        )


def test_a_one_character_place_with_its_level_is_another_place() -> None:
    """梅县林业局 (梅县区), 沙县林业局 (沙县区): the place is one character and its old level,
    not the own 县."""
    units = (UnitRef("县林业局", "department", (), (), ("2023-05",)),)
    j = Jurisdiction("湘潭县", "湘潭市", neighbours=gazetteer.neighbours("湘潭县", "湘潭市"))
    for subject, decision in (
        ("梅县林业局5月主题日活动", "review"),
        ("沙县林业局5月主题日活动", "review"),
        ("我县林业局5月主题日活动", "matched"),
        ("全县林业局5月主题日活动", "matched"),
    ):
        result = match(
            mail(subject, attachments=PHOTO), units, received_at=at("2023-05-18"), jurisdiction=j
        )
        assert result.decision == decision, (subject, result.reasons)


def test_long_level_names_lose_their_whole_level() -> None:
    assert Jurisdiction("阿克苏地区").places == ("阿克苏",)
    assert Jurisdiction("神农架林区").places == ("神农架",)
    assert Jurisdiction("兴安盟").places == ("兴安",)
    assert Jurisdiction("城区").places == ()


def test_check_config_warns_about_a_place_it_does_not_know(tmp_path: Path) -> None:
    from tests.mail_helpers import EXAMPLE_ROSTER, write_config
    from tracker.check import check_all

    text = EXAMPLE_ROSTER.read_text(encoding="utf-8")
    for n, (place, parent, want) in enumerate(
        [
            # renamed 新建区 in 2015: a roster copied from an old notice
            ("新建县", "南昌市", "[campaign] jurisdiction: 新建县 is not in the gazetteer"),
            ("湘潭县", "湘谭市", "[campaign] parent: 湘谭市 is not in the gazetteer"),
            ("韶山市", "长沙市", "[campaign] parent: the gazetteer has 韶山市 under 湘潭市"),
        ]
    ):
        roster = tmp_path / f"roster{n}.toml"
        roster.write_text(
            text.replace('jurisdiction = "湘潭县"', f'jurisdiction = "{place}"').replace(
                'parent = "湘潭市"', f'parent = "{parent}"'
            ),
            encoding="utf-8",
        )
        config = write_config(tmp_path / str(n), smtp_port=1, roster=roster)
        lines = [s.line for s in check_all(config) if s.name == "roster"]
        assert lines[0].startswith("roster ok: 47 units"), lines
        warnings = [x for x in lines if "WARNING" in x]
        assert len(warnings) == 1 and want in warnings[0], lines
