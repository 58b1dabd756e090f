"""The digest's dates read as a clerk reads them: 12月28日 10:05 within the digest's own year,
with the year (2023年12月28日) when a mail is from another one: in January the review queue
and the new reports can hold last December's mail."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from tracker.outgoing.digest import make_digest
from tracker.outgoing.emails import when_label

from .mail_helpers import at, make_env, record_report


def test_when_label_names_the_year_only_when_it_differs() -> None:
    assert when_label(datetime(2024, 1, 5, 9, 30), 2024) == "1月5日 09:30"
    assert when_label(datetime(2023, 12, 28, 10, 5), 2024) == "2023年12月28日 10:05"
    assert when_label(datetime(2023, 12, 28, 10, 5), 2024, clock=False) == "2023年12月28日"
    assert when_label(date(2024, 3, 1), 2024) == "3月1日"


def test_a_january_digest_dates_last_decembers_mail_with_its_year(tmp_path: Path) -> None:
    env = make_env(tmp_path, smtp_port=1)
    old = record_report(
        env,
        units=[],
        period="2023-12",
        received_at=at(2023, 12, 28, 10, 5),
        from_addr="someone@example.com",
        subject="十二月份活动材料",
        decision="review",
    )
    new = record_report(
        env,
        units=[],
        period="2023-12",
        received_at=at(2024, 1, 5, 9, 30),
        from_addr="other@example.com",
        subject="补报材料",
        decision="review",
    )
    late = record_report(
        env,
        units=["县商务局"],
        period="2023-12",
        received_at=at(2024, 1, 3, 16, 45),
        from_addr="swj@example.com",
        subject="县商务局12月政务公开主题日活动",
    )
    with env.db.session() as s:
        d = make_digest(s, env.config, env.roster, date(2024, 1, 8))
    assert d.message is not None
    text = d.message.get_body(("plain",)).get_content()
    html = d.message.get_body(("html",)).get_content()

    review = text[text.index("== 待人工核对的邮件") :]
    assert f"#{old} 2023年12月28日 10:05 someone@example.com" in review
    assert f"#{new} 1月5日 09:30 other@example.com" in review  # this year's: no year
    assert "2024年1月5日" not in text
    assert f"#{late} 县商务局 2023年12月，1月3日 16:45 收到，逾期" in text
    assert "2023年12月28日 10:05 · someone@example.com" in html
    assert "1月5日 09:30 · other@example.com" in html
    assert "2024年1月5日" not in html and "2024年1月3日" not in html
    assert "1月3日 16:45 · " in html  # the new report, this year's


def test_a_digest_within_one_year_writes_no_year_on_its_dates(tmp_path: Path) -> None:
    env = make_env(tmp_path, smtp_port=1)
    mid = record_report(
        env,
        units=[],
        period="2023-06",
        received_at=at(2023, 6, 21, 9, 0),
        from_addr="someone@example.com",
        subject="说不清的邮件",
        decision="review",
    )
    with env.db.session() as s:
        d = make_digest(s, env.config, env.roster, date(2023, 6, 28))
    assert f"#{mid} 6月21日 09:00 someone@example.com" in d.text
    assert "2023年6月21日" not in d.text


def test_the_text_digest_writes_one_overdue_unit_a_line(tmp_path: Path) -> None:
    env = make_env(tmp_path, smtp_port=1)
    with env.db.session() as s:
        d = make_digest(s, env.config, env.roster, date(2023, 6, 28))
    overdue = d.text[d.text.index("== 往月逾期未报送") : d.text.index("== 新收报送")]
    lines = [line for line in overdue.splitlines()[1:] if line.strip()]
    assert len(lines) == 11, overdue  # April's 7 and May's 4 units, none of them reported
    assert lines[0] == "  云湖桥镇：2023年4月，已逾期 64 天"
    assert all(line.count("已逾期") == 1 for line in lines)
