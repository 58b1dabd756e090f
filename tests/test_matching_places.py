"""The matcher in three jurisdictions: a county (湘潭县), a county-level city (韶山市, whose own
bureaus are written 市X局 and whose parent's are 湘潭市X局) and a district (雨湖区, where 市X局
is the parent's). The same rules, written in each place's own terms, run on all three rosters,
so a rule that helps one and breaks another shows at once."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from intake.matching import match
from intake.parsing import ParsedMail
from intake.places import Jurisdiction
from tests.matching_mail import ROOT, at, attachment, mail
from tracker.roster import load_roster

PHOTO = (attachment("现场.jpg"),)


@dataclass(frozen=True)
class Place:
    id: str
    roster: str
    year: int
    forestry: str  # the forestry bureau's canonical name
    forestry_month: int
    market: str  # the market regulator (written 市场监督局 for short)
    market_month: int
    township: str
    township_month: int
    neighbours: tuple[str, ...]  # other places' bodies' prefixes, as people write them
    # other places as people write them without their level (湘乡 for 湘乡市): the parent's
    # other places, the counties next door, one across a provincial border (江西's 萍乡市,
    # 铜鼓县), 长沙 (both 长沙县 and 长沙市)
    bare: tuple[str, ...] = ()

    def load(self) -> tuple[tuple, Jurisdiction]:
        roster = load_roster(ROOT / self.roster)
        return roster.unit_refs(), roster.jurisdiction


PLACES = [
    Place("county", "examples/roster.toml", 2023, "县林业局", 5, "县市场监管局", 9, "石潭镇", 6,
          ("株洲县", "湘乡市", "雨湖区", "韶山市"),
          ("湘乡", "岳塘", "雨湖", "韶山", "长沙", "株洲", "衡山", "双峰", "渌口", "萍乡", "铜鼓")),
    Place("city", "tests/places/shaoshan-city.toml", 2024, "市林业局", 5, "市市场监管局", 9,
          "清溪镇", 4, ("湘乡市", "湘潭县", "雨湖区", "株洲市"),
          ("湘乡", "宁乡", "雨湖", "岳塘", "长沙", "株洲", "铜鼓")),
    Place("district", "tests/places/yuhu-district.toml", 2023, "区林业局", 5, "区市场监管局", 10,
          "姜畲镇", 8, ("岳塘区", "湘潭县", "韶山市", "株洲市"),
          ("岳塘", "湘乡", "韶山", "长沙", "株洲", "宁乡", "萍乡")),
]  # fmt: skip


@dataclass(frozen=True)
class Case:
    id: str
    mail: ParsedMail
    received: str
    decision: str
    units: tuple[str, ...]
    period: str | None
    reason: str = ""


def cases(p: Place) -> list[Case]:
    roster = load_roster(ROOT / p.roster)
    j = roster.jurisdiction
    full, parent, level = j.name, j.parent, j.level
    m = p.forestry_month
    y = p.year
    day = f"{y}-{m:02d}-18"
    period = f"{y}-{m:02d}"
    core = p.forestry[1:]  # 林业局
    out = [
        Case(
            "own_short_name",
            mail(f"{p.forestry}{m}月政务公开主题日活动", attachments=PHOTO),
            day,
            "matched",
            (p.forestry,),
            period,
        ),
        Case(
            "own_full_name",
            mail(f"{full}{core}{m}月主题日", attachments=PHOTO),
            day,
            "matched",
            (p.forestry,),
            period,
        ),
        Case(
            "parent_full_name",
            mail(f"{parent}{core}{m}月主题日活动", attachments=PHOTO),
            day,
            "review",
            (),
            None,
            f"{parent}{core}",
        ),
        Case(
            "own_level_written_twice",  # 湘潭县县林业局: the full name, then the short one
            mail(f"{full}{p.forestry}{m}月政务公开主题日活动", attachments=PHOTO),
            day,
            "matched",
            (p.forestry,),
            period,
        ),
        Case(
            "official_letter",
            mail(f"关于{p.forestry}{m}月份政务公开主题日活动开展情况的报告", attachments=PHOTO),
            day,
            "matched",
            (p.forestry,),
            period,
        ),
        Case(
            "parent_in_signature_only",
            mail(
                f"{m}月主题日活动",
                text=f"我局于{m}月16日开展活动。\n\n{parent}{core}\n{y}年{m}月18日",
                attachments=PHOTO,
            ),
            day,
            "review",
            (),
            None,
            f"{parent}{core}",
        ),
        Case(
            "own_in_signature",
            mail(
                f"{m}月主题日活动",
                text=f"我局于{m}月16日开展活动。\n\n{full}{core}\n{y}年{m}月18日",
                attachments=PHOTO,
            ),
            day,
            "matched",
            (p.forestry,),
            period,
            "落款中",
        ),
        Case(
            "own_and_parent_together",
            mail(f"{full}{core}与{parent}{core}联合开展{m}月主题日活动", attachments=PHOTO),
            day,
            "matched",
            (p.forestry,),
            period,
        ),
        Case(
            "parent_in_passing_in_the_body",
            mail(
                f"{p.forestry}{m}月主题日", text=f"{parent}{core}领导到场指导。", attachments=PHOTO
            ),
            day,
            "matched",
            (p.forestry,),
            period,
        ),
        Case(
            "parent_name_against_own_short_name",
            mail(f"{p.forestry}{m}月主题日", from_name=f"{parent}{core}", attachments=PHOTO),
            day,
            "review",
            (p.forestry,),
            None,
            f"{parent}{core}",
        ),
        Case(
            "township",
            mail(f"{p.township}{p.township_month}月份主题日", attachments=PHOTO),
            f"{y}-{p.township_month:02d}-20",
            "matched",
            (p.township,),
            f"{y}-{p.township_month:02d}",
        ),
        Case(
            "township_with_place",
            mail(f"{full}{p.township}{p.township_month}月主题日活动", attachments=PHOTO),
            f"{y}-{p.township_month:02d}-20",
            "matched",
            (p.township,),
            f"{y}-{p.township_month:02d}",
        ),
        Case(
            "abbreviation",
            mail(f"{level}市场监督局{p.market_month}月主题日", attachments=PHOTO),
            f"{y}-{p.market_month:02d}-18",
            "matched",
            (p.market,),
            f"{y}-{p.market_month:02d}",
            "（简称）",
        ),
        Case(
            "parents_market_regulator",
            mail(f"{parent}市场监督管理局{p.market_month}月主题日", attachments=PHOTO),
            f"{y}-{p.market_month:02d}-18",
            "review",
            (),
            None,
            parent,
        ),
        Case(
            "schedule_inference",
            mail(f"{p.forestry}主题日活动", attachments=PHOTO),
            f"{y}-{m:02d}-24",
            "matched",
            (p.forestry,),
            period,
            f"按排期推断为{period}",
        ),
        Case(
            "year_from_the_received_date",
            mail(f"{p.forestry}{m}月主题日", attachments=PHOTO),
            f"{y}-{m:02d}-30",
            "matched",
            (p.forestry,),
            period,
        ),
    ]
    for n in p.neighbours:
        out.append(
            Case(
                f"neighbour_{n}",
                mail(f"{n}{core}{m}月主题日活动", attachments=PHOTO),
                day,
                "review",
                (),
                None,
                f"{n}{core}",
            )
        )
    if j.parent_level != level:  # a county or a district: the bare 市 is the parent's
        out.append(
            Case(
                "bare_parent_level",
                mail(f"市{core}{m}月主题日", attachments=PHOTO),
                day,
                "review",
                (),
                None,
                f"市{core}",
            )
        )
    else:  # a county-level city: the bare 市 is its own, the parent always has its name
        out.append(
            Case(
                "bare_own_level",
                mail(f"我市{core}{m}月主题日", attachments=PHOTO),
                day,
                "matched",
                (p.forestry,),
                period,
            )
        )
    return out  # fmt: skip


ALL = [(p, c) for p in PLACES for c in cases(p)]


@pytest.mark.parametrize(("place", "case"), ALL, ids=[f"{p.id}-{c.id}" for p, c in ALL])
def test_it_follows_the_rule_in_every_place(place: Place, case: Case) -> None:
    units, j = place.load()
    result = match(case.mail, units, received_at=at(case.received), jurisdiction=j)
    got = (result.decision, set(result.units), result.period)
    assert got == (case.decision, set(case.units), case.period), result.reasons
    if case.reason:
        assert any(case.reason in r for r in result.reasons), result.reasons
    if result.decision == "review" and not result.units:
        assert any(j.word in r for r in result.reasons), result.reasons


CITY = PLACES[1]
DISTRICT = PLACES[2]


@pytest.mark.parametrize(
    ("subject", "received", "decision", "units", "period"),
    [
        # the city: the prefecture bureau's branch is the city's own unit, the bureau is not
        ("湘潭市生态环境局韶山分局6月主题日", "2024-06-18", "matched",
         ("湘潭市生态环境局韶山分局",), "2024-06"),
        ("湘潭市生态环境局6月主题日", "2024-06-18", "review", (), None),
        ("韶山乡6月主题日活动", "2024-06-18", "matched", ("韶山乡",), "2024-06"),
        ("国网韶山市供电公司11月主题日", "2024-11-18", "matched", ("市供电公司",), "2024-11"),
        ("湘潭县供电公司11月主题日", "2024-11-18", "review", (), None),
        # the parent's place without its level: the prefecture's company, not the city's
        ("国网湘潭供电公司11月主题日", "2024-11-18", "review", (), None),
        ("韶山供电公司11月主题日", "2024-11-18", "matched", ("市供电公司",), "2024-11"),
    ],
)  # fmt: skip
def test_it_tells_the_city_from_its_prefecture(
    subject: str, received: str, decision: str, units: tuple[str, ...], period: str | None
) -> None:
    refs, j = CITY.load()
    result = match(mail(subject, attachments=PHOTO), refs, received_at=at(received), jurisdiction=j)
    assert (result.decision, result.units, result.period) == (decision, units, period), (
        result.reasons
    )


@pytest.mark.parametrize(
    ("subject", "received", "decision", "units", "period"),
    [
        # the district: its police is the city bureau's branch; the city bureau is not it
        ("市公安局雨湖分局9月主题日", "2023-09-18", "matched", ("市公安局雨湖分局",), "2023-09"),
        ("雨湖公安分局9月主题日", "2023-09-18", "matched", ("市公安局雨湖分局",), "2023-09"),
        ("湘潭市公安局9月主题日", "2023-09-18", "review", (), None),
        ("云塘街道办事处5月主题日", "2023-05-18", "matched", ("云塘街道",), "2023-05"),
        ("湘潭雨湖公安分局9月主题日", "2023-09-18", "matched", ("市公安局雨湖分局",), "2023-09"),
        ("湘潭林业局5月主题日", "2023-05-18", "review", (), None),
        ("城正街街道4月主题日", "2023-04-18", "matched", ("城正街街道",), "2023-04"),
    ],
)  # fmt: skip
def test_it_tells_the_district_from_its_city(
    subject: str, received: str, decision: str, units: tuple[str, ...], period: str | None
) -> None:
    refs, j = DISTRICT.load()
    result = match(mail(subject, attachments=PHOTO), refs, received_at=at(received), jurisdiction=j)
    assert (result.decision, result.units, result.period) == (decision, units, period), (
        result.reasons
    )


def test_it_knows_no_place_name_in_code() -> None:
    names = ("湘潭", "韶山", "雨湖", "岳塘", "湘乡", "株洲")
    for path in (ROOT / "intake").glob("*.py"):
        text = path.read_text("utf-8")
        assert not [n for n in names if n in text], path.name


@pytest.mark.parametrize("place", PLACES, ids=[p.id for p in PLACES])
def test_a_neighbour_written_without_its_level_is_another_body(place: Place) -> None:
    """岳塘公安分局 for 岳塘区公安分局, 湘乡林业局 for 湘乡市林业局: other places without
    their level character name their own bodies, never the office's units. The rosters list
    no `neighbours`: the gazetteer knows every place."""
    units, j = place.load()
    m, y = place.forestry_month, place.year
    core = place.forestry[1:]
    for n in place.bare:
        for subject in (f"{n}{core}{m}月主题日活动", f"{n}公安分局{m}月主题日"):
            result = match(
                mail(subject, attachments=PHOTO),
                units,
                received_at=at(f"{y}-{m:02d}-18"),
                jurisdiction=j,
            )
            assert (result.decision, result.units) == ("review", ()), (subject, result.reasons)
            assert any(n in r and j.word in r for r in result.reasons), result.reasons
        signed = mail(
            f"{m}月主题日活动", text=f"我局于{m}月16日开展活动。\n\n{n}{core}\n", attachments=PHOTO
        )
        result = match(signed, units, received_at=at(f"{y}-{m:02d}-18"), jurisdiction=j)
        assert result.decision == "review" and not result.units, result.reasons
    # the own units are still the own units, with another place named in passing
    passing = mail(
        f"{place.forestry}{m}月主题日",
        text=f"{place.bare[0]}{core}同志到场交流。",
        attachments=PHOTO,
    )
    result = match(passing, units, received_at=at(f"{y}-{m:02d}-18"), jurisdiction=j)
    assert (result.decision, result.units) == ("matched", (place.forestry,)), result.reasons


@pytest.mark.parametrize("place", PLACES, ids=[p.id for p in PLACES])
def test_every_own_unit_is_still_its_own(place: Place) -> None:
    """With every place of China known, each of the roster's units is still matched by its
    own name, with and without the own place before it, and after a word of the running
    text; townships named like a place elsewhere (石鼓镇 and 石鼓区, 河口镇 and 河口瑶族自治县,
    楠竹山镇 and 竹山县) included."""
    roster = load_roster(ROOT / place.roster)
    units, j = roster.unit_refs(), roster.jurisdiction
    for u in roster.units:
        month = int(u.months[0][5:])
        day = f"{u.months[0]}-18"
        subjects = [
            f"{u.name}{month}月主题日活动",
            f"关于{u.name}{month}月份政务公开主题日活动开展情况的报告",
        ]
        if u.kind == "township" or u.name[0] == j.level:  # X县林业局, X县石鼓镇
            core = u.name[1:] if u.name[0] == j.level else u.name
            subjects.append(f"{j.name}{core}{month}月主题日活动")
        for subject in subjects:
            result = match(
                mail(subject, attachments=PHOTO), units, received_at=at(day), jurisdiction=j
            )
            assert (result.decision, result.units) == ("matched", (u.name,)), (
                subject,
                result.reasons,
            )


def test_a_neighbour_in_a_units_own_name_is_no_marker() -> None:
    """A place that is part of one of the office's own unit names (a reservoir, an irrigation
    district named after the town next door) stays the unit's own word."""
    from intake.matching import UnitRef, build_index

    units = (
        UnitRef("县林业局", "department", (), (), ("2023-05",)),
        UnitRef("县韶峰灌区管理局", "department", ("韶峰灌区管理局",), (), ("2023-06",)),
    )
    j = Jurisdiction("某县", "某市", neighbours=("韶峰区", "岳麓区"))
    assert build_index(units, j).neighbours == ("岳麓",)
    result = match(
        mail("韶峰灌区管理局6月主题日", attachments=PHOTO),
        units,
        received_at=at("2023-06-18"),
        jurisdiction=j,
    )
    assert (result.decision, result.units) == ("matched", ("县韶峰灌区管理局",)), result.reasons
    result = match(
        mail("岳麓林业局5月主题日", attachments=PHOTO),
        units,
        received_at=at("2023-05-18"),
        jurisdiction=j,
    )
    assert (result.decision, result.units) == ("review", ()), result.reasons


@pytest.mark.parametrize("place", PLACES, ids=lambda p: p.id)
def test_the_clerk_reads_the_other_places_name_whole(place: Place) -> None:
    """Another prefecture's district written after its city (荆州市沙市区, 长沙市岳麓区):
    the reason names the district, not the city's last character with it (市沙市区)."""
    units, j = place.load()
    core = place.forestry[1:]
    for city, district in (("荆州市", "沙市区"), ("长沙市", "岳麓区"), ("济南市", "市中区")):
        result = match(
            mail(f"{city}{district}{core}{place.forestry_month}月主题日活动", attachments=PHOTO),
            units,
            received_at=at(f"{place.year}-{place.forestry_month:02d}-18"),
            jurisdiction=j,
        )
        assert result.decision == "review" and not result.units
        said = "".join(result.reasons)
        assert f"{district}{core}" in said, said
        assert f"{city[-1]}{district}{core}" not in said, said
