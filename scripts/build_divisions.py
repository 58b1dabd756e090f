"""Build tracker/data/divisions.tsv, the gazetteer, from modood/Administrative-divisions-of-China.

    python scripts/build_divisions.py PCA_CODE_JSON [--out tracker/data/divisions.tsv]

PCA_CODE_JSON is that repository's `dist/pca-code.json` (provinces, prefectures and
county-level divisions with their statistical codes, from the National Bureau of Statistics'
统计用区划代码). What is kept:

- every province (省, 自治区, 直辖市);
- every prefecture-level division (市, 州, 地区, 盟); the statistics' placeholders
  (市辖区 and 县 under a municipality, 省直辖县级行政区划) are not places: a municipality's
  districts are listed under the municipality itself, the directly administered county-level
  cities under "-";
- every county-level division (县, 市, 区, 旗, 自治县 ...), but not the development and
  functional zones (codes ending 71-79: 高新技术产业开发区, 示范区 ...) and not the towns and
  streets the statistics list under the prefectures that have no counties (东莞市, 中山市 ...).

The output is one line per prefecture: province, prefecture, its county-level names separated
by spaces, tab-separated, under a header that credits the source.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDERS = {"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"}
COUNTY_LEVELS = ("县", "市", "区", "旗")

HEADER = """\
# China's provinces, prefecture-level and county-level divisions, for report-intake's gazetteer
# (tracker/gazetteer.py): province<TAB>prefecture<TAB>county-level names separated by spaces.
# "-" as the prefecture: county-level cities administered by the province directly.
# A municipality (直辖市) is its own prefecture. Development zones are left out.
#
# Source: modood/Administrative-divisions-of-China (https://github.com/modood/Administrative-divisions-of-China),
# dist/pca-code.json, data of the National Bureau of Statistics of China (国家统计局,
# 统计用区划代码, {edition}). That repository's LICENSE is the WTFPL, version 2 (its package.json
# still says MIT): copying and changing are allowed without conditions.
# Built by scripts/build_divisions.py; do not edit by hand, rebuild.
"""


def county_level(code: str, name: str) -> bool:
    """A county-level division, not a zone (code ending 71-79) nor a town (a longer code)."""
    return len(code) == 6 and not 71 <= int(code[-2:]) <= 79 and name.endswith(COUNTY_LEVELS)


def build(provinces: list[dict], edition: str) -> str:
    lines = [HEADER.format(edition=edition)]
    for province in provinces:
        pname = province["name"]
        groups: dict[str, list[str]] = {}
        for prefecture in province.get("children", []):
            name = prefecture["name"]
            if name in PLACEHOLDERS:
                name = pname if name in ("市辖区", "县") else "-"
            counties = groups.setdefault(name, [])
            for area in prefecture.get("children", []):
                if county_level(area["code"], area["name"]) and area["name"] not in counties:
                    counties.append(area["name"])
        for name, counties in groups.items():
            lines.append(f"{pname}\t{name}\t{' '.join(counties)}\n")
    return "".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("source", type=Path, help="dist/pca-code.json of the repository")
    parser.add_argument("--out", type=Path, default=ROOT / "tracker" / "data" / "divisions.tsv")
    parser.add_argument(
        "--edition",
        default="2022年, 截止 2022-10-31; commit dc3a1d7",
        help="which edition of the statistics the file holds (written in the header)",
    )
    args = parser.parse_args(argv)
    try:
        provinces = json.loads(args.source.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"cannot read {args.source}: {exc}", file=sys.stderr)
        return 1
    text = build(provinces, args.edition)
    args.out.write_text(text, encoding="utf-8")
    counties = sum(len(line.split("\t")[2].split()) for line in text.splitlines() if "\t" in line)
    print(f"{args.out}: {counties} county-level names")
    return 0


if __name__ == "__main__":
    sys.exit(main())
