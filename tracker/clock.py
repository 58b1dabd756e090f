"""Time is explicit: everything that depends on "now" takes a Clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


class Clock:
    """The real clock, in the office's time zone."""

    def __init__(self, tz: ZoneInfo = SHANGHAI) -> None:
        self.tz = tz

    def now(self) -> datetime:
        return datetime.now(self.tz)

    def today(self) -> date:
        return self.now().date()


class FixedClock(Clock):
    """A clock standing at one moment (tests, and `--as-of DATE` in commands)."""

    def __init__(self, moment: datetime, tz: ZoneInfo = SHANGHAI) -> None:
        super().__init__(tz)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=tz)
        self.moment = moment.astimezone(tz)

    def now(self) -> datetime:
        return self.moment

    def advance(self, delta: timedelta) -> None:
        self.moment += delta

    @classmethod
    def at_date(cls, day: date, tz: ZoneInfo = SHANGHAI, at: time = time(12, 0)) -> FixedClock:
        return cls(datetime.combine(day, at, tzinfo=tz), tz)


def utcnow() -> datetime:
    return datetime.now(UTC)
