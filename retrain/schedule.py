"""Schedule expressions and time zones as EventBridge Scheduler parses them.

The rules are those of the Scheduler User Guide, "Schedule types"
(https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html): `rate(value unit)`
with a positive whole value and a unit of minute(s), hour(s) or day(s), singular for 1 and plural
otherwise; `cron(minutes hours day-of-month month day-of-week year)`, six fields, where one of
day-of-month and day-of-week is `?`; `at(yyyy-mm-ddThh:mm:ss)` for one time. The time zone is an
IANA name. A wrong one passes `cdk synth` and fails only when CloudFormation creates the schedule.
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass
from datetime import datetime
from functools import cache

DOCS = "EventBridge Scheduler User Guide, 'Schedule types'"
EXAMPLES = "rate(1 day), rate(6 hours), cron(0 3 * * ? *) or at(2027-01-31T03:00:00)"

_RATE = re.compile(r"rate\((?P<value>\S+) (?P<unit>\S+)\)")
_AT = re.compile(r"at\((?P<moment>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)")
_CRON = re.compile(r"cron\((?P<fields>[^()]*)\)")
_UNITS = ("minute", "hour", "day")
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()  # JAN..DEC or SUN..SAT, numbered from `low`
    step: bool = True  # whether `/` is allowed


_FIELDS = (
    _Field("minutes", 0, 59),
    _Field("hours", 0, 23),
    _Field("day-of-month", 1, 31),
    _Field("month", 1, 12, _MONTHS),
    _Field("day-of-week", 1, 7, _DAYS, step=False),
    _Field("year", 1970, 2199),
)


def schedule_problem(expression: str) -> str | None:
    """Why EventBridge Scheduler would refuse `expression`, or None."""
    if expression.startswith("rate("):
        return _rate_problem(expression)
    if expression.startswith("cron("):
        return _cron_problem(expression)
    if expression.startswith("at("):
        return _at_problem(expression)
    return f"{expression!r} is not a Scheduler expression; write e.g. {EXAMPLES} ({DOCS})"


def _rate_problem(expression: str) -> str | None:
    match = _RATE.fullmatch(expression)
    if not match:
        return f"{expression!r}: a rate is rate(value unit) with one space, e.g. rate(1 day) or rate(6 hours) ({DOCS})"
    value, unit = match["value"], match["unit"]
    if not value.isdigit() or int(value) < 1:
        return f"{expression!r}: the value must be a whole number of at least 1, e.g. rate(1 day) ({DOCS})"
    singular = unit.removesuffix("s")
    if singular not in _UNITS:
        return f"{expression!r}: the unit must be minute(s), hour(s) or day(s), e.g. rate({value} days) ({DOCS})"
    wanted = singular if int(value) == 1 else f"{singular}s"
    if unit != wanted:
        return f"{expression!r}: {value} takes the unit {wanted!r}: write rate({value} {wanted}) ({DOCS})"
    return None


def _at_problem(expression: str) -> str | None:
    match = _AT.fullmatch(expression)
    try:
        if match:
            datetime.fromisoformat(match["moment"])
            return None
    except ValueError:
        pass
    return f"{expression!r}: a one-time schedule is at(yyyy-mm-ddThh:mm:ss), e.g. at(2027-01-31T03:00:00) ({DOCS})"


def _cron_problem(expression: str) -> str | None:
    match = _CRON.fullmatch(expression)
    fields = match["fields"].split() if match else []
    if len(fields) != len(_FIELDS):
        return (
            f"{expression!r}: a cron expression has six fields, cron(minutes hours day-of-month month day-of-week "
            f"year), e.g. cron(0 3 * * ? *) ({DOCS})"
        )
    for spec, text in zip(_FIELDS, fields, strict=True):
        problem = _field_problem(spec, text)
        if problem:
            return f"{expression!r}: {spec.name} {text!r}: {problem} ({DOCS})"
    day_of_month, day_of_week = fields[2], fields[4]
    if (day_of_month == "?") == (day_of_week == "?"):
        return (
            f"{expression!r}: exactly one of day-of-month ({day_of_month}) and day-of-week ({day_of_week}) must be "
            f"?, e.g. cron(0 3 * * ? *) or cron(0 3 ? * MON *) ({DOCS})"
        )
    return None


def _field_problem(spec: _Field, text: str) -> str | None:
    if text == "?":
        return None if spec.name in ("day-of-month", "day-of-week") else "? is for day-of-month or day-of-week only"
    items = text.split(",")
    if spec.name == "day-of-week" and "#" in text and len(items) > 1:
        return "with # the field holds one expression only"
    for item in items:
        problem = _item_problem(spec, item)
        if problem:
            return problem
    return None


def _item_problem(spec: _Field, item: str) -> str | None:
    special = _special_problem(spec, item)
    if special is not None:
        return special or None
    base, slash, step = item.partition("/")
    if slash:
        if not spec.step:
            return "/ is not allowed in this field"
        if not step.isdigit() or int(step) < 1:
            return f"the increment {step!r} must be a whole number of at least 1"
    if base == "*":
        return None
    low, dash, high = base.partition("-")
    for value in (low, high) if dash else (low,):
        if _value(spec, value) is None:
            return f"{value!r} is not a value of {spec.low}-{spec.high}" + (
                f" or {spec.names[0]}-{spec.names[-1]}" if spec.names else ""
            )
    return None


def _special_problem(spec: _Field, item: str) -> str | None:
    """'' for a valid L, W or # form, a problem for a broken one, None when the item is none of them."""
    if spec.name == "day-of-month" and item in ("L", "LW"):
        return ""
    if spec.name == "day-of-month" and item.endswith("W"):
        return "" if _value(spec, item[:-1]) is not None else "W follows a day of 1-31, e.g. 15W"
    if spec.name == "day-of-week" and item == "L":
        return ""
    if spec.name == "day-of-week" and item.endswith("L"):
        return "" if _value(spec, item[:-1]) is not None else "L follows a day of 1-7 or SUN-SAT, e.g. 6L"
    if spec.name == "day-of-week" and "#" in item:
        day, _, nth = item.partition("#")
        if _value(spec, day) is None or nth not in ("1", "2", "3", "4", "5"):
            return "# is day#n with a day of 1-7 or SUN-SAT and n of 1-5, e.g. 3#2"
        return ""
    return None


def _value(spec: _Field, text: str) -> int | None:
    if text.upper() in spec.names:
        return spec.low + spec.names.index(text.upper())
    if text.isdigit() and spec.low <= int(text) <= spec.high:
        return int(text)
    return None


def timezone_problem(name: str) -> str | None:
    """Why `name` is not an IANA time zone, or None; None too when this machine has no time zone database
    to check against (a Lambda runtime may lack one: the config was checked where it was deployed from)."""
    try:
        zoneinfo.ZoneInfo(name)
        return None
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        if not _known_zones():
            return None
    return f"{name!r} is not an IANA time zone; use a name such as UTC, Europe/Berlin or America/New_York ({DOCS})"


@cache
def _known_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())
