"""Schedule expressions as EventBridge writes them, and when each fires next (UTC).

`rate(1 minute)`, `rate(5 minutes)`, `rate(2 hours)`, `rate(1 day)`: every period from an
anchor (the rule's creation). `cron(min hour day-of-month month day-of-week year)`: six
fields, UTC, with AWS's rules: exactly one of day-of-month and day-of-week is `?`;
day-of-month takes `L` (last day), `LW` (last weekday) and `15W` (the weekday nearest the
15th, within the month); day-of-week counts 1 = SUN … 7 = SAT (or SUN-SAT) and takes `6L`
(the month's last Friday) and `3#2` (its second Tuesday); `,` `-` `*` `/` everywhere.
"""

from __future__ import annotations

import calendar
import dataclasses
import datetime
import math
import re

from ember.rules.errors import InvalidScheduleError

_RATE = re.compile(r"rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
_MONTHS = {m.upper(): i for i, m in enumerate(calendar.month_abbr) if m}
_DAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
_LAST_YEAR = 2199


@dataclasses.dataclass(frozen=True, slots=True)
class Rate:
    seconds: float  # the period (already scaled in tests)
    anchor: float  # wall time the period counts from

    def next_after(self, moment: float) -> float | None:
        """The first firing strictly after `moment` (never the anchor itself)."""
        periods = max(1, math.floor((moment - self.anchor) / self.seconds) + 1)
        return self.anchor + periods * self.seconds


def parse_rate(expression: str) -> float:
    """A rate expression's period in seconds. AWS wants the singular unit for 1 and the
    plural for more."""
    match = _RATE.fullmatch(expression.strip())
    if match is None:
        raise InvalidScheduleError()
    value, unit = int(match.group(1)), match.group(2)
    if value < 1 or (value == 1) == unit.endswith("s"):
        raise InvalidScheduleError()
    return value * _UNIT_SECONDS[unit.rstrip("s")]


def _range(text: str, low: int, high: int, names: dict[str, int] | None = None) -> set[int]:
    """One comma-separated cron field of plain values, ranges, `*` and steps."""

    def value(token: str) -> int:
        token = token.upper()
        if names and token in names:
            return names[token]
        if not token.isdigit():
            raise InvalidScheduleError()
        number = int(token)
        if not low <= number <= high:
            raise InvalidScheduleError()
        return number

    out: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) < 1:
                raise InvalidScheduleError()
            step = int(step_text)
        if base == "*":
            start, end = low, high
        elif "-" in base:
            first, _, last = base.partition("-")
            start, end = value(first), value(last)
            if start > end:
                raise InvalidScheduleError()
        else:
            start = value(base)
            end = high if step_text else start
        out.update(range(start, end + 1, step))
    return out


@dataclasses.dataclass(frozen=True, slots=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    months: frozenset[int]
    years: frozenset[int]
    day_of_month: str  # kept as text: L and W depend on the month
    day_of_week: str

    @classmethod
    def parse(cls, text: str) -> Cron:
        fields = text.split()
        if len(fields) != 6:
            raise InvalidScheduleError()
        minute, hour, dom, month, dow, year = fields
        if (dom == "?") == (dow == "?"):
            raise InvalidScheduleError()  # exactly one of the two days is `?`
        cron = cls(
            minutes=frozenset(_range(minute, 0, 59)),
            hours=frozenset(_range(hour, 0, 23)),
            months=frozenset(_range(month, 1, 12, _MONTHS)),
            years=frozenset(_range(year, 1970, _LAST_YEAR)),
            day_of_month=dom.upper(),
            day_of_week=dow.upper(),
        )
        # Check the day fields once on any month, so a bad one fails at PutRule.
        cron._days(2024, 1)
        return cron

    def _days(self, year: int, month: int) -> set[int]:
        """The days of `month` this expression fires on."""
        length = calendar.monthrange(year, month)[1]
        if self.day_of_month != "?":
            return _month_days(self.day_of_month, year, month, length)
        return _week_days(self.day_of_week, year, month, length)

    def next_after(self, moment: float) -> float | None:
        """The first firing at a whole minute strictly after `moment`, or None after 2199."""
        start = datetime.datetime.fromtimestamp(moment, tz=datetime.UTC).replace(
            second=0, microsecond=0
        ) + datetime.timedelta(minutes=1)
        year, month = start.year, start.month
        while year <= _LAST_YEAR:
            if year not in self.years:
                year, month = year + 1, 1
                continue
            if month in self.months:
                for day in sorted(self._days(year, month)):
                    if (year, month, day) < (start.year, start.month, start.day):
                        continue
                    same_day = (year, month, day) == (start.year, start.month, start.day)
                    for hour in sorted(self.hours):
                        if same_day and hour < start.hour:
                            continue
                        for minute in sorted(self.minutes):
                            if same_day and hour == start.hour and minute < start.minute:
                                continue
                            return datetime.datetime(
                                year, month, day, hour, minute, tzinfo=datetime.UTC
                            ).timestamp()
            month += 1
            if month > 12:
                year, month = year + 1, 1
        return None


def _month_days(field: str, year: int, month: int, length: int) -> set[int]:
    if field == "L":
        return {length}
    if field == "LW":
        return {_nearest_weekday(year, month, length, length)}
    days: set[int] = set()
    for part in field.split(","):
        if part.endswith("W"):
            target = part[:-1]
            if not target.isdigit() or not 1 <= int(target) <= 31:
                raise InvalidScheduleError()
            if int(target) <= length:
                days.add(_nearest_weekday(year, month, int(target), length))
        else:
            days |= {d for d in _range(part, 1, 31) if d <= length}
    return days


def _nearest_weekday(year: int, month: int, day: int, length: int) -> int:
    """Quartz's W: the weekday nearest `day` without leaving the month."""
    weekday = calendar.weekday(year, month, day)  # Monday 0 … Sunday 6
    if weekday == 5:  # Saturday: the Friday before, or the Monday after on the 1st
        return day - 1 if day > 1 else day + 2
    if weekday == 6:  # Sunday: the Monday after, or the Friday before on the last day
        return day + 1 if day < length else day - 2
    return day


def _aws_weekday(year: int, month: int, day: int) -> int:
    """1 = Sunday … 7 = Saturday, as AWS's cron counts."""
    return (calendar.weekday(year, month, day) + 1) % 7 + 1


def _week_days(field: str, year: int, month: int, length: int) -> set[int]:
    def weekday(token: str) -> int:
        if token in _DAYS:
            return _DAYS[token]
        if not token.isdigit() or not 1 <= int(token) <= 7:
            raise InvalidScheduleError()
        return int(token)

    all_days = range(1, length + 1)
    if field == "L":
        field = "7"  # Quartz: a bare L in day-of-week is Saturday
    days: set[int] = set()
    for part in field.split(","):
        if "#" in part:
            name, _, nth = part.partition("#")
            wanted = weekday(name)
            if not nth.isdigit() or not 1 <= int(nth) <= 5:
                raise InvalidScheduleError()
            matching = [d for d in all_days if _aws_weekday(year, month, d) == wanted]
            if int(nth) <= len(matching):
                days.add(matching[int(nth) - 1])
        elif part.endswith("L"):
            wanted = weekday(part[:-1])
            days.add(max(d for d in all_days if _aws_weekday(year, month, d) == wanted))
        else:
            wanted_days = _range(part, 1, 7, _DAYS)
            days |= {d for d in all_days if _aws_weekday(year, month, d) in wanted_days}
    return days


def parse(expression: str, *, anchor: float, scale: float = 1.0) -> Rate | Cron:
    """A ScheduleExpression, checked (InvalidScheduleError as AWS words it). `scale`
    multiplies rate periods (the server's --schedule-scale, for tests)."""
    text = expression.strip()
    if text.startswith("rate(") and text.endswith(")"):
        return Rate(parse_rate(text) * scale, anchor)
    if text.startswith("cron(") and text.endswith(")"):
        return Cron.parse(text[5:-1])
    raise InvalidScheduleError()
