"""When a unit reported: the arrival time, never the sender's Date header; a Date far from
arrival is a reason shown to staff."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tracker.recording import date_skew_reason

ARRIVED = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        (None, None),
        (ARRIVED - timedelta(seconds=5), None),
        (ARRIVED + timedelta(hours=3), None),  # a sender clock a little fast
        (ARRIVED - timedelta(hours=23), None),  # a slow relay
        (ARRIVED - timedelta(days=8), "邮件头日期（Date）比实际到达时间早8天：按到达时间计"),
        (ARRIVED + timedelta(days=30), "邮件头日期（Date）比实际到达时间晚30天：按到达时间计"),
        (ARRIVED - timedelta(hours=30), "邮件头日期（Date）比实际到达时间早30小时：按到达时间计"),
        (
            datetime(1980, 1, 1, tzinfo=UTC),
            "邮件头日期（Date）比实际到达时间早17132天：按到达时间计",
        ),
    ],
)
def test_it_names_a_date_header_far_from_arrival(sent: datetime | None, expected: str) -> None:
    assert date_skew_reason(sent, ARRIVED) == expected


def test_a_report_for_a_month_long_past_goes_to_review_as_a_likely_wrong_year() -> None:
    from email.message import EmailMessage

    from tests.matching_mail import load_units
    from tracker.recording import analyse

    msg = EmailMessage()
    msg["From"] = "lyj.xtx@example.com"
    msg["To"] = "xtxgov@126.com"
    msg["Subject"] = "县林业局2023年5月政务公开主题日活动报送"
    msg.set_content("我局于5月18日开展了政务公开主题日活动，现报送活动图片和文字材料。")
    raw, units = msg.as_bytes(), load_units()
    on_time = analyse(raw, units, received_at=datetime(2023, 5, 20, 2, tzinfo=UTC))
    assert (on_time.result.decision, on_time.result.period) == ("matched", "2023-05")
    late = analyse(raw, units, received_at=datetime(2023, 9, 20, 2, tzinfo=UTC))
    assert late.result.decision == "matched"  # four months late is late, not a wrong year
    a_year_on = analyse(raw, units, received_at=datetime(2024, 5, 15, 2, tzinfo=UTC))
    assert a_year_on.result.decision == "review"
    assert any("可能写错了年份" in r for r in a_year_on.result.reasons)
