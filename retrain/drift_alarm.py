"""The drift alarm as a retrain trigger: its EventBridge event in, the run's `drift` input out.

The stack keeps one metric alarm per model input column on Model Monitor's `feature_baseline_drift_<feature>`
and one composite alarm over them (`infra/monitoring.py`); the composite's change to ALARM reaches the starter
as a "CloudWatch Alarm State Change" event (CloudWatch user guide, "Alarm events and EventBridge":
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-and-eventbridge.html). A composite's
event names its rule (`detail.configuration.alarmRule`) and the child that changed
(`detail.state.reasonData`'s `triggeringAlarms`), not the children's values: the starter reads those from
the children in ALARM (`AlarmStates`), and when it cannot, the reason keeps the event's own words.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from retrain.contracts import ExecutionInput
from retrain.errors import InvalidTaskInput

CLOUDWATCH_SOURCE = "aws.cloudwatch"
ALARM_STATE_CHANGE = "CloudWatch Alarm State Change"
ALARM = "ALARM"
# Model Monitor's data-quality metric of one feature's drift distance (model-monitor-interpreting-cloudwatch).
DRIFT_METRIC_PREFIX = "feature_baseline_drift_"
MAX_REASON_LENGTH = 500  # ExecutionInput.reason
# `ALARM(name)`, `ALARM("name")` or `ALARM("<alarm ARN>")` in a composite alarm's rule (PutCompositeAlarm,
# AlarmRule: "You can use either alarm names or ARNs").
_CHILD = re.compile(r"ALARM\(\s*\"?([^\")\s]+)\"?\s*\)")


@dataclass(frozen=True)
class Breach:
    """One feature's drift alarm in ALARM: its metric's newest value and the threshold it crossed."""

    alarm: str
    feature: str
    value: float | None
    threshold: float

    def describe(self) -> str:
        value = "?" if self.value is None else f"{self.value:.3g}"
        return f"{self.feature} {value} > {self.threshold:g}"


@dataclass(frozen=True)
class AlarmFired:
    """A drift alarm that changed to ALARM, as its state change event tells it."""

    alarm_name: str
    reason: str
    children: tuple[str, ...]

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> AlarmFired | None:
        """The alarm of a "CloudWatch Alarm State Change" event to ALARM; None for any other event."""
        if event.get("source") != CLOUDWATCH_SOURCE or event.get("detail-type") != ALARM_STATE_CHANGE:
            return None
        detail = event.get("detail") or {}
        name = detail.get("alarmName")
        state = detail.get("state") or {}
        if not isinstance(name, str) or not name or state.get("value") != ALARM:
            raise InvalidTaskInput(
                f"event.detail: an alarm state change the starter handles names the alarm (detail.alarmName) and "
                f"goes to ALARM (detail.state.value); got alarmName={name!r}, value={state.get('value')!r}. "
                "Match only ALARM in the rule's pattern."
            )
        rule = (detail.get("configuration") or {}).get("alarmRule") or ""
        named = [_alarm_name(child) for child in _CHILD.findall(rule)]
        children = tuple(dict.fromkeys(named)) or _triggering(state.get("reasonData"))
        return cls(name, str(state.get("reason") or ""), children)

    def execution_input(self, breaches: Sequence[Breach]) -> ExecutionInput:
        """The `drift` run's input: the alarm and, when known, each drifted feature with its value."""
        if breaches:
            found = ", ".join(breach.describe() for breach in breaches)
            reason = f"drift alarm {self.alarm_name}: {found}"
        else:
            reason = f"drift alarm {self.alarm_name}: {self.reason or 'in ALARM'}"
        detail: dict[str, Any] = {"alarm": self.alarm_name}
        if breaches:
            detail["features"] = {breach.feature: breach.value for breach in breaches}
            detail["thresholds"] = {breach.feature: breach.threshold for breach in breaches}
        # The drifted traffic is why it runs: one data check, as a follow-up's (the data is there or not).
        return ExecutionInput(trigger="drift", reason=reason[:MAX_REASON_LENGTH], detail=detail, max_data_checks=1)


def breach_of(alarm: Mapping[str, Any]) -> Breach | None:
    """A `DescribeAlarms` MetricAlarm in ALARM on a drift metric as a `Breach`; None otherwise."""
    metric = str(alarm.get("MetricName") or "")
    if alarm.get("StateValue") != ALARM or not metric.startswith(DRIFT_METRIC_PREFIX):
        return None
    return Breach(
        alarm=str(alarm.get("AlarmName", "")),
        feature=metric[len(DRIFT_METRIC_PREFIX) :],
        value=_newest_value(alarm.get("StateReasonData")),
        threshold=float(alarm.get("Threshold", 0.0)),
    )


def _newest_value(reason_data: Any) -> float | None:
    """The largest of a metric alarm's `recentDatapoints` (StateReasonData, a JSON string), if it has any."""
    try:
        points = json.loads(reason_data).get("recentDatapoints") if isinstance(reason_data, str) else None
    except (ValueError, AttributeError):
        return None
    numbers = [float(point) for point in points or [] if isinstance(point, int | float)]
    return max(numbers) if numbers else None


def _triggering(reason_data: Any) -> tuple[str, ...]:
    """Alarm names from a composite's `reasonData.triggeringAlarms` ARNs (`...:alarm:<name>`)."""
    try:
        alarms = json.loads(reason_data).get("triggeringAlarms") if isinstance(reason_data, str) else None
    except (ValueError, AttributeError):
        return ()
    arns = [str(alarm.get("arn", "")) for alarm in alarms or [] if isinstance(alarm, dict)]
    return tuple(_alarm_name(arn) for arn in arns if ":alarm:" in arn)


def _alarm_name(name_or_arn: str) -> str:
    return name_or_arn.split(":alarm:", 1)[-1]
