"""CloudWatch: a metric alarm judges its own metric, over its periods at the local AWS's clock scale.

Two leniencies of the emulator's evaluation (on each PutMetricData and PutMetricAlarm) that the drift alarms
meet, fixed in `ScopedAlarmEvaluation` and pinned by `tests/contract/emulator/test_alarm_scope.py`:

- `Dimensions`: it judged an alarm on the datapoints of its metric name in every dimension set. On AWS "a
  metric is uniquely identified by a namespace, metric name, and zero or more dimensions" and an alarm watches
  exactly the metric it names (CloudWatch user guide, "CloudWatch concepts": Dimensions), so the drift of one
  endpoint's schedule never moves another schedule's alarm.
- The clock: it judged the datapoints of the last `Period * EvaluationPeriods` seconds of this machine's
  time, while the local SageMaker runs monitoring schedules on its scaled clock (`local.clock`; at 1/60 an
  hourly schedule runs every minute). An hourly drift alarm would then see sixty runs' datapoints at once and
  stay in ALARM an hour after one drifted run. The stack keeps AWS's values (`Period` 3600, which AWS
  accepts: 10, 30 or a multiple of 60); here each period lasts `Period * scale` local seconds (at least
  one), as the local SageMaker already judges the rollback alarms (`local.sagemaker.alarms`), with the same
  evaluation periods, datapoints to alarm, threshold and missing-data treatment. The monitoring job stamps
  its datapoints at the end of its window, the local time its scaled run analysed up to, which is where
  such a period finds them.

Kept from the emulator: an alarm is evaluated when data is published or the alarm is put (AWS evaluates
once a period, so without new data an alarm here keeps its state), and an alarm none of whose periods holds
a datapoint keeps its state; metric math alarms are left to it (the local SageMaker evaluates the rollback
ones itself).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from local.clock import ClockScale
from local.emulator.seam import replace, require, service
from local.sagemaker.alarms import AlarmDefinition, UnsupportedAlarm, evaluate


def _period_points(
    cloudwatch: Any, alarm: Mapping[str, Any], definition: AlarmDefinition, period: int, now: float
) -> list[list[dict[str, Any]]]:
    """The datapoints of the alarm's exact metric in each of its newest `EvaluationPeriods` periods of `period`
    local seconds ending `now`, oldest first."""
    dimensions = {item["Name"]: item["Value"] for item in alarm.get("Dimensions") or []}
    key = (alarm.get("Namespace"), alarm.get("MetricName"), cloudwatch._dims_key(dimensions))
    points = list(cloudwatch._metrics.get(key) or [])
    periods = []
    for index in range(definition.evaluation_periods, 0, -1):
        start, end = now - index * period, now - (index - 1) * period
        periods.append([point for point in points if start < point["Timestamp"] <= end])
    return periods


def period_values(
    cloudwatch: Any, alarm: Mapping[str, Any], definition: AlarmDefinition, period: int, now: float
) -> list[float | None]:
    """The alarm's statistic in each of its newest `EvaluationPeriods` periods of `period` local seconds
    ending `now` (oldest first; None: no datapoint), from its exact metric only."""
    statistic = definition.queries[0].statistic
    values: list[float | None] = []
    for inside in _period_points(cloudwatch, alarm, definition, period, now):
        value = cloudwatch._stat_value(cloudwatch._calc_stats(inside), statistic, inside) if inside else None
        values.append(None if value is None else float(value))
    return values


def period_sample_counts(
    cloudwatch: Any, alarm: Mapping[str, Any], definition: AlarmDefinition, period: int, now: float
) -> list[float | None]:
    """Each period's SampleCount (a statistic set's own count; one a plain value), oldest first."""
    periods = _period_points(cloudwatch, alarm, definition, period, now)
    return [cloudwatch._calc_stats(inside).get("SampleCount") if inside else None for inside in periods]


def reason_data(
    alarm: Mapping[str, Any],
    definition: AlarmDefinition,
    values: list[float | None],
    now: float,
    counts: list[float | None] | None = None,
    period: int | None = None,
) -> str:
    """`StateReasonData` as CloudWatch writes it for a threshold alarm (DescribeAlarms: "An explanation for
    the alarm state, in JSON format"): the statistic, period, threshold, the periods' newest values and, as
    CloudWatch adds them, the evaluated periods newest first with their `timestamp` (the period's start) and,
    when they hold data, `sampleCount` and `value` (CloudWatch user guide, "Alarm events and EventBridge")."""
    data: dict[str, Any] = {
        "version": "1.0",
        "queryDate": _stamp(now),
        "statistic": definition.queries[0].statistic,
        "period": definition.period,
        "recentDatapoints": [value for value in values if value is not None],
        "threshold": definition.threshold,
    }
    if counts is not None and period is not None:
        evaluated = []
        for index, (value, count) in enumerate(zip(reversed(values), reversed(counts), strict=True)):
            point: dict[str, Any] = {"timestamp": _stamp(now - (index + 1) * period)}
            if value is not None:
                point.update(sampleCount=float(count or 0.0), value=value)
            evaluated.append(point)
        data["evaluatedDatapoints"] = evaluated
    return json.dumps(data)


def _stamp(seconds: float) -> str:
    moment = dt.datetime.fromtimestamp(seconds, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


class ScopedAlarmEvaluation:
    """Replaces the emulator CloudWatch's `_evaluate_alarm` (once, however often installed)."""

    def __init__(self, clock: ClockScale | None = None) -> None:
        self.clock = clock or ClockScale.from_environment()

    def install(self) -> None:
        cloudwatch = service("cloudwatch")
        for name in ("_metrics", "_dims_key", "_calc_stats", "_stat_value", "_record_history"):
            require(cloudwatch, name)
        require(cloudwatch, "_dispatch_alarm_actions")
        require(cloudwatch, "_evaluate_parent_alarms")
        replace(cloudwatch, "_evaluate_alarm", self._scoped, "scoped-alarm-evaluation")

    def _scoped(self, original: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, Any]], Any]:
        clock = self.clock

        def evaluate_alarm(alarm: dict[str, Any]) -> Any:
            if alarm.get("Metrics") or not alarm.get("Namespace") or not alarm.get("MetricName"):
                return original(alarm)
            try:
                definition = AlarmDefinition.from_describe(alarm)
            except UnsupportedAlarm:
                return original(alarm)
            judge(alarm, definition, clock, time.time())
            return None

        return evaluate_alarm


def judge(alarm: dict[str, Any], definition: AlarmDefinition, clock: ClockScale, now: float) -> None:
    """Evaluate `alarm` at `now` and, when its state changes, record and announce it as the emulator does."""
    cloudwatch = service("cloudwatch")
    period = clock.period(definition.period)
    values = period_values(cloudwatch, alarm, definition, period, now)
    if all(value is None for value in values):
        return
    verdict = evaluate(definition, values)
    old_state = alarm.get("StateValue")
    if verdict.state == old_state:
        return
    alarm["StateValue"] = verdict.state
    alarm["StateReason"] = verdict.reason
    counts = period_sample_counts(cloudwatch, alarm, definition, period, now)
    alarm["StateReasonData"] = reason_data(alarm, definition, values, now, counts, period)
    alarm["StateUpdatedTimestamp"] = int(now)
    cloudwatch._record_history(
        alarm["AlarmName"], old_state, verdict.state, verdict.reason, reason_data=json.loads(alarm["StateReasonData"])
    )
    cloudwatch._dispatch_alarm_actions(alarm, old_state, verdict.state, verdict.reason)
    cloudwatch._evaluate_parent_alarms(alarm)
