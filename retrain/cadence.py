"""When a monitoring schedule runs and which window of captured data each run analyses.

The expressions SageMaker accepts (API reference, `ScheduleConfig.ScheduleExpression`): hourly
`cron(0 * ? * * *)`, daily `cron(0 H ? * * *)` (H 0-23), every N hours from H `cron(0 H/N ? * * *)`
(N 1-24), and `NOW`, one run at once, which needs `DataAnalysisStartTime` and `DataAnalysisEndTime`.
Those two are ISO 8601 durations before the run (`-PT1H`), the end at most 24 hours after the start.
Without them a run analyses the time since the schedule's previous run time (an hourly run at 05:00
the hour from 04:00), as the container contract's `start_time`/`end_time` describe.

One definition for the pipeline's config check (`[monitoring] schedule_expression`) and the local
SageMaker, which runs schedules by it. Times here are AWS's clock (epoch seconds).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass

HOUR = 3600
_CRON = re.compile(r"^cron\(0 (?P<hour>\*|\d{1,2})(?:/(?P<step>\d{1,2}))? \? \* \* \*\)$")
_DURATION = re.compile(r"^-P(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+)S)?)?$")
NOW = "NOW"
RECURRING = "cron(0 * ? * * *) (hourly), cron(0 H ? * * *) (daily at hour H) or cron(0 H/N ? * * *)"
SUPPORTED = f"{RECURRING.replace(' or ', ', ')} or NOW"


class CadenceError(ValueError):
    """A schedule SageMaker would refuse; the message names the field and the accepted forms."""


def offset_seconds(text: str, field: str) -> float:
    """`-PT1H` -> -3600.0."""
    match = _DURATION.match(text.strip())
    if not match or text.strip() in ("-P", "-PT"):
        raise CadenceError(
            f"{field} {text!r} is not a negative ISO 8601 duration; write an offset before the run such as -PT1H"
        )
    days, hours, minutes, seconds = (int(match[key] or 0) for key in ("d", "h", "m", "s"))
    return -float(((days * 24 + hours) * 60 + minutes) * 60 + seconds)


@dataclass(frozen=True)
class Cadence:
    hours: frozenset[int]  # the hours of the day it runs at; empty for NOW
    start_offset: float | None  # DataAnalysisStartTime, seconds relative to the run
    end_offset: float | None

    @property
    def once(self) -> bool:
        return not self.hours

    @classmethod
    def parse(cls, config: dict[str, str]) -> Cadence:
        expression = config["ScheduleExpression"].strip()
        start, end = config.get("DataAnalysisStartTime"), config.get("DataAnalysisEndTime")
        start_offset = offset_seconds(start, "DataAnalysisStartTime") if start else None
        end_offset = offset_seconds(end, "DataAnalysisEndTime") if end else None
        if (start_offset is None) != (end_offset is None):
            raise CadenceError("DataAnalysisStartTime and DataAnalysisEndTime go together; give both or neither")
        if start_offset is not None and end_offset is not None:
            if start_offset >= end_offset:
                raise CadenceError("DataAnalysisStartTime must be before DataAnalysisEndTime")
            if end_offset - start_offset > 24 * HOUR:
                raise CadenceError("DataAnalysisEndTime must not follow DataAnalysisStartTime by more than 24 hours")
        if expression == NOW:
            if start_offset is None:
                raise CadenceError("ScheduleExpression NOW needs DataAnalysisStartTime and DataAnalysisEndTime")
            return cls(frozenset(), start_offset, end_offset)
        match = _CRON.match(expression)
        if not match:
            raise CadenceError(f"ScheduleExpression {expression!r} is not supported; use {SUPPORTED}")
        first = 0 if match["hour"] == "*" else int(match["hour"])
        step = int(match["step"]) if match["step"] else (1 if match["hour"] == "*" else 24)
        if not 0 <= first <= 23 or not 1 <= step <= 24:
            raise CadenceError(f"ScheduleExpression {expression!r}: the hour is 0-23 and the step 1-24")
        return cls(frozenset(range(first, 24, step)), start_offset, end_offset)

    @property
    def longest_gap_seconds(self) -> int:
        """The longest time between two runs (a day for a daily schedule): the period a metric of each
        run is judged over (a CloudWatch alarm's Period)."""
        if self.once:
            raise CadenceError("NOW runs once; it has no period between runs")
        hours = sorted(self.hours)
        gaps = [later - earlier for earlier, later in zip(hours, [*hours[1:], hours[0] + 24], strict=True)]
        return max(gaps) * HOUR

    def _runs_at(self, hour_start: float) -> bool:
        return dt.datetime.fromtimestamp(hour_start, dt.UTC).hour in self.hours

    def next_run(self, after: float) -> float | None:
        """The first run time strictly after `after` (AWS's clock); None for NOW."""
        if self.once:
            return None
        hour = math.floor(after / HOUR) * HOUR + HOUR
        while not self._runs_at(hour):
            hour += HOUR
        return float(hour)

    def previous_run(self, before: float) -> float:
        hour = math.ceil(before / HOUR) * HOUR - HOUR
        while not self._runs_at(hour):
            hour -= HOUR
        return float(hour)

    def window(self, run: float) -> tuple[float, float]:
        """The (start, end) of the data a run at `run` analyses."""
        if self.start_offset is not None and self.end_offset is not None:
            return run + self.start_offset, run + self.end_offset
        if self.once:
            return run - HOUR, run
        return self.previous_run(run), run

    def window_ending(self, now: float) -> tuple[float, float]:
        """The window of a run at `now` off the schedule's times: one whole period (or the offsets) before it."""
        if self.once or self.start_offset is not None:
            return self.window(now)
        next_run = self.next_run(now)
        assert next_run is not None
        return now - (next_run - self.previous_run(now)), now


def recurring_problem(expression: str) -> str | None:
    """Why `expression` cannot be the schedule the pipeline keeps on its endpoint, or None."""
    if expression.strip() == NOW:
        return f"{NOW} runs once; the endpoint's schedule recurs: use {RECURRING}"
    try:
        Cadence.parse({"ScheduleExpression": expression})
    except CadenceError as error:
        return str(error).replace(SUPPORTED, RECURRING)
    return None
