"""When a unit reported: the Date header when plausible, else the arrival time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tracker.recording import effective_received

ARRIVED = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        (None, ARRIVED),
        (datetime(2023, 5, 16, 2, 0, tzinfo=UTC), datetime(2023, 5, 16, 2, 0, tzinfo=UTC)),
        (ARRIVED - timedelta(seconds=5), ARRIVED - timedelta(seconds=5)),
        (ARRIVED + timedelta(hours=3), ARRIVED),  # a sender clock a little fast: arrival
        (ARRIVED + timedelta(days=30), ARRIVED),  # a sender clock far in the future
        (datetime(1980, 1, 1, tzinfo=UTC), ARRIVED),  # an unset phone clock
    ],
)
def test_it_takes_the_date_header_only_when_plausible(
    sent: datetime | None, expected: datetime
) -> None:
    assert effective_received(sent, ARRIVED) == expected
