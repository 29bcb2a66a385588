"""ISO weeks in a site's time zone: the unit the weekly digest reports on and is claimed by."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


def zone_of(tz: str | ZoneInfo) -> ZoneInfo:
    return tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)


@dataclass(frozen=True, order=True)
class IsoWeek:
    year: int
    week: int

    def __post_init__(self):
        date.fromisocalendar(self.year, self.week, 1)  # ValueError for a week that does not exist

    @classmethod
    def parse(cls, text: str) -> "IsoWeek":
        """``"2026-W48"`` → IsoWeek(2026, 48); ValueError otherwise."""
        match = _WEEK.match((text or "").strip())
        if not match:
            raise ValueError(f"not an ISO week (expected e.g. 2026-W48): {text!r}")
        return cls(int(match[1]), int(match[2]))

    @classmethod
    def of_date(cls, day: date) -> "IsoWeek":
        year, week, _ = day.isocalendar()
        return cls(year, week)

    def __str__(self) -> str:
        return f"{self.year}-W{self.week:02d}"

    def monday(self) -> date:
        return date.fromisocalendar(self.year, self.week, 1)

    def shifted(self, weeks: int) -> "IsoWeek":
        return IsoWeek.of_date(self.monday() + timedelta(weeks=weeks))

    def previous(self) -> "IsoWeek":
        return self.shifted(-1)

    def bounds(self, tz: str | ZoneInfo) -> tuple[datetime, datetime]:
        """[Monday 00:00, next Monday 00:00) in the time zone, as UTC datetimes.

        Both ends are local midnights converted on their own day, so a week across a DST change
        lasts 167 or 169 hours, and consecutive weeks meet exactly.
        """
        zone = zone_of(tz)
        start = datetime.combine(self.monday(), time(0), tzinfo=zone)
        end = datetime.combine(self.monday() + timedelta(days=7), time(0), tzinfo=zone)
        return start.astimezone(timezone.utc), end.astimezone(timezone.utc)


def week_of(moment: datetime, tz: str | ZoneInfo) -> IsoWeek:
    """The ISO week that ``moment`` (aware) falls in, on the calendar of the time zone."""
    if moment.tzinfo is None:
        raise ValueError("week_of needs an aware datetime")
    return IsoWeek.of_date(moment.astimezone(zone_of(tz)).date())
