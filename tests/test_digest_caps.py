"""The digest stays a readable mail at any size: counts and every unit that needs action in
full, the other lists cut with "另有 N 项…" and a link to the board, photos only on the
first reports. A province-shaped roster is generated here (300 units owing every month,
with list_limit 20) so the test stays fast; bench/growth_bench.py measures 6,000 units."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from tracker.outgoing.digest import make_digest
from tracker.outgoing.digest_caps import month_and_overdue, months_text
from tracker.slots import SlotStatus

from .mail_helpers import at, jpeg_bytes, make_env, record_report

COUNTIES = "安宝昌辰丰福广和华吉嘉江金锦康"
UNITS = 300


def province_roster(path: Path, units: int = UNITS) -> list[str]:
    names = []
    for i in range(units):
        county = COUNTIES[i // 20 % len(COUNTIES)] + COUNTIES[i // 300 % len(COUNTIES)] + "县"
        names.append(f"{county}第{i}镇")
    months = ", ".join(f'"2023-{m:02d}"' for m in range(1, 13))
    lines = ['[campaign]\nname = "2023年政务公开主题日（全省）"\nmailbox = "gov@example.com"']
    for k, name in enumerate(names):
        lines.append(
            f'[[unit]]\nname = "{name}"\nkind = "township"\n'
            f'emails = ["u{k}@example.com"]\nmonths = [{months}]'
        )
    path.write_text("\n\n".join(lines) + "\n", encoding="utf-8")
    return names


def test_a_provinces_digest_names_every_overdue_unit_and_cuts_the_rest(tmp_path: Path) -> None:
    roster = tmp_path / "roster.toml"
    names = province_roster(roster)
    extra = 'list_limit = 20\nphoto_reports = 3\n[web]\nbase_url = "https://board.example"'
    env = make_env(tmp_path, smtp_port=1, roster=roster, extra=extra)
    photo = jpeg_bytes((200, 40, 40))
    # 30 units reported June (on the 22nd, with a photo), 25 mails wait in review
    for i in range(30):
        record_report(
            env,
            units=[names[i]],
            period="2023-06",
            received_at=at(2023, 6, 22, 9, i),
            from_addr=f"u{i}@example.com",
            subject=f"{names[i]}6月政务公开主题日活动",
            images=[photo],
            with_thumbs=True,
        )
    for i in range(25):
        record_report(
            env,
            units=[],
            period="2023-06",
            received_at=at(2023, 6, 21, 9, i),
            from_addr=f"stranger{i}@example.com",
            subject=f"第{i}封说不清的邮件",
            decision="review",
        )
    with env.db.session() as s:
        d = make_digest(s, env.config, env.roster, date(2023, 6, 28))
    assert d.message is not None
    text = d.message.get_body(("plain",)).get_content()
    html = d.message.get_body(("html",)).get_content()

    # counts in full
    assert "本月已报30/300" in d.subject and "新收30份" in d.subject and "待核25封" in d.subject
    assert "共 1770 项逾期未报送" in html  # 300 x 5 earlier months + 270 of June
    # every unit behind is named, one row each, with its months
    overdue = text[text.index("== 逾期未报送的单位") : text.index("== 新收报送")]
    assert "（300 个单位，共 1770 项）" in overdue
    for name in names:
        assert f"  {name}：" in overdue, name
    assert f"{names[0]}：2023年1月、2月、3月、4月、5月，" in overdue
    assert f"{names[299]}：2023年1月、2月、3月、4月、5月、6月，" in overdue
    # the other lists are cut, each with its line and the board's address
    assert "另有 10 份新收报送未列出，请在看板查看：https://board.example/" in text
    assert "另有 5 封待核对邮件未列出，请在看板查看：https://board.example/review" in text
    assert "另有 280 个单位未列出，请在看板查看" in text  # the year table
    assert "另有 10 个单位（已报送 10）未列出，请在看板查看" in text  # June's received ones
    assert 'href="https://board.example/review"' in html
    # photos on the first three reports only
    assert len(d.images) == 3
    assert len(re.findall(r"cid:sheet\d+\.", html)) == 3
    # a mail that opens: small, and most of it is the units behind (about 1 KB a unit)
    size = len(d.message.as_bytes())
    assert size < 1_000 * UNITS + 200_000, size


def test_a_small_roster_keeps_its_digest_whole(tmp_path: Path) -> None:
    env = make_env(tmp_path, smtp_port=1)  # the 47 units of the example, list_limit 100
    with env.db.session() as s:
        d = make_digest(s, env.config, env.roster, date(2023, 12, 28))
    text = d.text
    assert "未列出" not in text and "逾期未报送的单位" not in text
    assert "往月逾期未报送" in text


def _slot(i: int, period: str, state: str) -> SlotStatus:
    return SlotStatus(i, f"单位{i}", "township", period, date(2023, 6, 25), state, ())


def test_overdue_slots_are_grouped_by_unit_only_beyond_the_limit() -> None:
    month = [_slot(i, "2023-06", "missing") for i in range(3)]
    month += [_slot(10 + i, "2023-06", "received") for i in range(8)]
    overdue = [_slot(i, "2023-05", "missing") for i in range(3)]
    shown, grouped, hidden, states = month_and_overdue(month, overdue, limit=6)
    assert grouped is None and len(shown) == 6 and hidden == 5 and states == {"received": 5}
    shown, grouped, hidden, states = month_and_overdue(month, overdue, limit=5)
    assert grouped is not None and len(grouped) == 6  # June's missing ones among them
    assert [s.state for s in shown] == ["received"] * 5 and hidden == 3
    assert months_text(["2023-12", "2024-01", "2023-11"]) == "2023年11月、12月、2024年1月"
