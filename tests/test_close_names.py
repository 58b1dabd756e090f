"""A township name in the subject with one character wrong (Y谭镇 for Y潭镇) is suggested,
never matched. The suggestion is found by look-ups of the name with one character
masked; these tests hold it to the plain reading (every township against every window
of the subject) on a province-sized roster."""

from __future__ import annotations

import random
import sys
from pathlib import Path

from intake.matching import UnitRef, build_index, match
from intake.text import normalize
from tests.matching_mail import ROOT, at, attachment, mail
from tracker.roster import load_roster

sys.path.insert(0, str(ROOT / "bench"))
from growth_roster import roster_toml

CJK = "潭湘乡山河口石桥东西南北中新城田花林云龙凤金银"


def plain_reading(subject: str, units: tuple[UnitRef, ...], forms: dict[str, str]) -> list[str]:
    """The suggestions as the matcher once found them, one township at a time."""
    close: dict[str, list[str]] = {}
    for unit in units:
        if unit.kind != "township":
            continue
        name = normalize(unit.name)
        if len(name) < 3:
            continue
        for i in range(len(subject) - len(name) + 1):
            window = subject[i : i + len(name)]
            if window[-1] != name[-1] or not all("\u4e00" <= c <= "\u9fff" for c in window):
                continue
            if window in forms:
                continue
            if sum(a != b for a, b in zip(window, name, strict=True)) == 1:
                close.setdefault(window, []).append(unit.name)
    return [f"主题中的“{w}”与名单中的单位名相近，可能是：{'、'.join(n)}" for w, n in close.items()]


def test_the_suggestions_are_those_of_the_plain_reading(tmp_path: Path) -> None:
    path = tmp_path / "roster.toml"
    path.write_text(roster_toml(6000), encoding="utf-8")
    roster = load_roster(path)
    units, j = roster.unit_refs(), roster.jurisdiction
    index = build_index(units, j)
    towns = [u.name for u in units if u.kind == "township"]
    assert len(towns) > 1000
    rng = random.Random(13)
    subjects = []
    for _ in range(40):
        name = rng.choice(towns)
        k = rng.randrange(len(name) - 1)
        typo = name[:k] + rng.choice(CJK.replace(name[k], "")) + name[k + 1 :]
        other = rng.choice(towns)
        o = rng.randrange(len(other) - 1)
        typo2 = other[:o] + rng.choice(CJK.replace(other[o], "")) + other[o + 1 :]
        subjects.append(f"{typo}5月主题日活动照片")
        subjects.append(f"关于{typo}与{typo2}联合开展活动的报送")
    suggested = 0
    for subject in subjects:
        result = match(
            mail(subject, attachments=(attachment("现场.jpg"),)),
            units,
            received_at=at("2023-05-20"),
            jurisdiction=j,
        )
        got = [r for r in result.reasons if "相近" in r]
        # the subject as the matcher reads it (the typo may also be a real name: then the
        # mail is matched and nothing is suggested)
        if result.units:
            continue
        want = plain_reading(normalize(subject), index.units, index.forms)
        assert got == want, subject
        suggested += bool(got)
    assert suggested > 20  # the cases above really exercise the suggestions
