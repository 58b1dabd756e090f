"""A made-up roster of any size, shaped like a province's: counties, each with townships
and county departments, every unit owing a report each month of the year.

    .venv/bin/python bench/growth_roster.py 6000 > /tmp/roster-6000.toml
"""

from __future__ import annotations

import sys

PLACE_CHARS = "安宝昌辰丰福广和华吉嘉江金锦康乐丽临龙茂宁平庆荣瑞山盛顺泰天通文祥新兴阳永裕云长"
DEPARTMENTS = [
    "林业局", "财政局", "教育局", "民政局", "司法局", "审计局", "统计局", "文旅广体局",
    "水利局", "交通运输局", "农业农村局", "卫生健康局", "退役军人事务局", "应急管理局",
    "市场监督管理局", "医疗保障局", "自然资源局", "住房和城乡建设局", "人力资源和社会保障局",
    "发展和改革局", "工业和信息化局", "生态环境分局", "城市管理和综合执法局", "商务局",
    "科学技术局", "档案馆", "信访局", "行政审批服务局", "数据资源局", "政务服务中心",
]  # fmt: skip
TOWNSHIPS_PER_COUNTY = 20


def place_names(count: int, suffix: str, skip: int = 0) -> list[str]:
    out = []
    n = len(PLACE_CHARS)
    i = skip
    while len(out) < count:
        a, b = PLACE_CHARS[i % n], PLACE_CHARS[(i // n) % n]
        if a != b:
            out.append(f"{b}{a}{suffix}")
        i += 1
    return out


def roster_toml(units: int, year: int = 2023) -> str:
    per_county = TOWNSHIPS_PER_COUNTY + len(DEPARTMENTS)
    counties = place_names(-(-units // per_county), "县")
    towns = iter(place_names(len(counties) * TOWNSHIPS_PER_COUNTY, "", skip=7))
    months = ", ".join(f'"{year}-{m:02d}"' for m in range(1, 13))
    lines = [
        "[campaign]",
        f'name = "{year}年政务公开主题日（全省）"',
        'office = "省政务公开办"',
        'mailbox = "gov@example.com"',
        "deadline_day = 25",
        'contact = "办公室"',
    ]
    made = 0
    for c, county in enumerate(counties):
        names = [(f"{county}{next(towns)}镇", "township") for _ in range(TOWNSHIPS_PER_COUNTY)]
        names += [(f"{county}{d}", "department") for d in DEPARTMENTS]
        for k, (name, kind) in enumerate(names):
            if made == units:
                break
            lines += [
                "",
                "[[unit]]",
                f'name = "{name}"',
                f'kind = "{kind}"',
                "aliases = []",
                f'emails = ["u{c}-{k}@example.com"]',
                f"months = [{months}]",
            ]
            made += 1
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(roster_toml(int(sys.argv[1]) if len(sys.argv) > 1 else 6000))
