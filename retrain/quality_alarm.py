"""The live model quality alarm as a retrain trigger: its EventBridge event in, the run's `quality` input out.

The monitoring job (`jobs/monitor.py`, `jobs/live_quality.py`) joins the window's captured predictions with
the labels landed for them and publishes the live value of the promotion metric as
`model_quality_<metric>`, a statistic set whose `SampleCount` is the number of labelled predictions it was
computed on. The stack's metric alarm on it (`infra/monitoring.py`) goes to ALARM when the value falls below
the threshold (rises above it, for a metric to minimize); its "CloudWatch Alarm State Change" event carries
the metric (`detail.configuration.metrics`) and CloudWatch's `StateReasonData` (`recentDatapoints`,
`threshold`, `period`, `evaluatedDatapoints` with each period's `timestamp`, `sampleCount` and `value`:
CloudWatch user guide, "Alarm events and EventBridge"), which is all the run's reason needs: unlike the drift
composite, the starter reads nothing more.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from retrain.contracts import ExecutionInput
from retrain.drift_alarm import ALARM, ALARM_STATE_CHANGE, CLOUDWATCH_SOURCE, MAX_REASON_LENGTH

QUALITY_METRIC_PREFIX = "model_quality_"
QUALITY_ALARM_SUFFIX = "-quality"


def quality_metric_name(metric: str) -> str:
    """The CloudWatch metric of the live value of promotion metric `metric`."""
    return QUALITY_METRIC_PREFIX + metric


def quality_alarm_name(schedule_name: str) -> str:
    """The quality alarm of the endpoint's monitoring schedule (beside its `<schedule>-drift`)."""
    return schedule_name + QUALITY_ALARM_SUFFIX


@dataclass(frozen=True)
class QualityAlarmFired:
    """The quality alarm's change to ALARM: the metric, its live value, the threshold and the window."""

    alarm_name: str
    metric: str
    value: float | None
    threshold: float | None
    period_seconds: int | None
    window_end: str | None  # the evaluated period's timestamp
    labelled: int | None  # labelled predictions the value was computed on
    event_reason: str

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> QualityAlarmFired | None:
        """The quality alarm of an alarm state change event to ALARM on a `model_quality_*` metric; None for
        any other event (the drift alarm's included)."""
        if event.get("source") != CLOUDWATCH_SOURCE or event.get("detail-type") != ALARM_STATE_CHANGE:
            return None
        detail = event.get("detail") or {}
        metric = _metric_name(detail.get("configuration"))
        state = detail.get("state") or {}
        if not metric.startswith(QUALITY_METRIC_PREFIX) or state.get("value") != ALARM:
            return None
        data = _reason_data(state.get("reasonData"))
        evaluated = [point for point in data.get("evaluatedDatapoints") or [] if isinstance(point, dict)]
        newest = next((point for point in evaluated if _number(point.get("value")) is not None), {})
        recent = [number for point in data.get("recentDatapoints") or [] if (number := _number(point)) is not None]
        value = _number(newest.get("value"))
        count = _number(newest.get("sampleCount"))
        period = _number(data.get("period"))
        return cls(
            alarm_name=str(detail.get("alarmName") or ""),
            metric=metric[len(QUALITY_METRIC_PREFIX) :],
            value=value if value is not None else (recent[-1] if recent else None),
            threshold=_number(data.get("threshold")),
            period_seconds=None if period is None else int(period),
            window_end=str(newest["timestamp"]) if newest.get("timestamp") else None,
            labelled=None if count is None else int(count),
            event_reason=str(state.get("reason") or ""),
        )

    def describe(self) -> str:
        value = "?" if self.value is None else f"{self.value:.3g}"
        threshold = "?" if self.threshold is None else f"{self.threshold:g}"
        above = self.value is not None and self.threshold is not None and self.value > self.threshold
        side = ">" if above else "<"  # a metric to minimize fires above its threshold
        labelled = "?" if self.labelled is None else str(self.labelled)
        period = "" if self.period_seconds is None else f"{self.period_seconds} s "
        window = f" in the {period}window of {self.window_end}" if self.window_end else ""
        return f"{self.metric} {value} {side} {threshold} over {labelled} labelled predictions{window}"

    def execution_input(self) -> ExecutionInput:
        """The `quality` run's input: the alarm, the metric's live value, threshold, window and count."""
        known = self.value is not None
        reason = f"quality alarm {self.alarm_name}: " + (self.describe() if known else self.event_reason or "in ALARM")
        detail: dict[str, Any] = {
            "alarm": self.alarm_name,
            "metric": self.metric,
            "value": self.value,
            "threshold": self.threshold,
            "labelled_predictions": self.labelled,
            "window": {"end": self.window_end, "seconds": self.period_seconds},
        }
        # The live model is wrong on the labels that came: one data check, as a drift run's.
        return ExecutionInput(trigger="quality", reason=reason[:MAX_REASON_LENGTH], detail=detail, max_data_checks=1)


def _metric_name(configuration: Any) -> str:
    metrics = (configuration or {}).get("metrics") if isinstance(configuration, dict) else None
    for query in metrics or []:
        name = ((query or {}).get("metricStat") or {}).get("metric", {}).get("name")
        if isinstance(name, str):
            return name
    return ""


def _reason_data(text: Any) -> dict[str, Any]:
    try:
        data = json.loads(text) if isinstance(text, str) else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
