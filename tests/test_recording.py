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
