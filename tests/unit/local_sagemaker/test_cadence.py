"""When a monitoring schedule runs and what window each run analyses (SageMaker API reference,
`ScheduleConfig`), and AWS's clock at the local clock scale."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

import pytest

from local.clock import ClockScale
from local.sagemaker.cadence import ScaledClock
from retrain.cadence import Cadence, CadenceError


def at(text: str) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp()


def test_an_hourly_schedule_runs_on_the_hour_over_the_hour_before() -> None:
    hourly = Cadence.parse({"ScheduleExpression": "cron(0 * ? * * *)"})
    run = hourly.next_run(at("2026-11-26 04:10:00"))
    assert run == at("2026-11-26 05:00:00")
    assert hourly.window(run) == (at("2026-11-26 04:00:00"), at("2026-11-26 05:00:00"))
    assert hourly.window_ending(at("2026-11-26 04:10:00")) == (at("2026-11-26 03:10:00"), at("2026-11-26 04:10:00"))


def test_every_n_hours_from_an_hour_and_daily_schedules_run_at_their_hours_only() -> None:
    every_twelve = Cadence.parse({"ScheduleExpression": "cron(0 5/12 ? * * *)"})
    assert every_twelve.next_run(at("2026-11-26 05:00:00")) == at("2026-11-26 17:00:00")
    assert every_twelve.window(at("2026-11-26 05:00:00")) == (at("2026-11-25 17:00:00"), at("2026-11-26 05:00:00"))
    daily = Cadence.parse({"ScheduleExpression": "cron(0 12 ? * * *)"})
    assert daily.next_run(at("2026-11-26 12:00:00")) == at("2026-11-27 12:00:00")


@pytest.mark.parametrize(
    ("expression", "hours"),
    [("cron(0 * ? * * *)", 1), ("cron(0 5/12 ? * * *)", 12), ("cron(0 5/7 ? * * *)", 10), ("cron(0 3 ? * * *)", 24)],
)
def test_the_longest_gap_between_runs_is_the_period_a_runs_metrics_are_judged_over(expression: str, hours: int) -> None:
    # 5/7 runs at 05, 12 and 19: the gap from 19 to the next day's 05 is the longest.
    assert Cadence.parse({"ScheduleExpression": expression}).longest_gap_seconds == hours * 3600


def test_offsets_set_the_window_and_now_runs_once() -> None:
    config = {"ScheduleExpression": "NOW", "DataAnalysisStartTime": "-PT2H", "DataAnalysisEndTime": "-PT0H"}
    once = Cadence.parse(config)
    assert once.once and once.next_run(at("2026-11-26 04:10:00")) is None
    assert once.window(at("2026-11-26 04:10:00")) == (at("2026-11-26 02:10:00"), at("2026-11-26 04:10:00"))


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"ScheduleExpression": "rate(1 hour)"}, "is not supported"),
        ({"ScheduleExpression": "cron(0 24 ? * * *)"}, "the hour is 0-23"),
        ({"ScheduleExpression": "cron(0 1/25 ? * * *)"}, "the step 1-24"),
        ({"ScheduleExpression": "NOW"}, "NOW needs DataAnalysisStartTime"),
        ({"ScheduleExpression": "NOW", "DataAnalysisStartTime": "-PT1H"}, "go together"),
        ({"ScheduleExpression": "NOW", "DataAnalysisStartTime": "PT1H", "DataAnalysisEndTime": "-PT0H"}, "negative"),
        (
            {"ScheduleExpression": "NOW", "DataAnalysisStartTime": "-P2D", "DataAnalysisEndTime": "-PT0H"},
            "more than 24 hours",
        ),
    ],
)
def test_expressions_aws_refuses_are_named(config: dict[str, str], message: str) -> None:
    with pytest.raises(CadenceError, match=message):
        Cadence.parse(config)


def test_at_a_clock_scale_of_one_sixtieth_an_hour_of_aws_is_a_local_minute() -> None:
    anchor = at("2026-11-26 00:00:00")
    clock = ScaledClock(ClockScale(Fraction(1, 60)), anchor)
    assert clock.aws_time(anchor + 60) == anchor + 3600
    assert clock.local_time(clock.aws_time(anchor + 123.5)) == pytest.approx(anchor + 123.5)
