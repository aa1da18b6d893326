"""The quality alarm as a retrain trigger: its state change event starts one `quality` run through the same
starter as the drift alarm (or is queued as any trigger), with the metric, its live value, the threshold, the
window and the number of labelled predictions in the run's input, all from the event itself.

Events have the shape of CloudWatch's metric alarm example in "Alarm events and EventBridge"
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-and-eventbridge.html):
`detail.configuration.metrics[].metricStat.metric` names the metric and `detail.state.reasonData` (a JSON
string) holds `recentDatapoints`, `threshold`, `period` and `evaluatedDatapoints`."""

from __future__ import annotations

import json
from typing import Any

from retrain.quality_alarm import QualityAlarmFired, quality_alarm_name, quality_metric_name
from retrain.triggers import handle_trigger
from tests.support.lambda_context import ACCOUNT, REGION
from tests.unit.tasks.test_task_start_retrain import NOW, Executions, Queue
from tests.unit.tasks.test_task_start_retrain_drift import Alarms, drift_event

SCHEDULE = "fraud-endpoint-data-quality"
ALARM = quality_alarm_name(SCHEDULE)


def quality_event(value: float = 0.0213, count: float = 412.0, state: str = "ALARM") -> dict[str, Any]:
    reason_data = {
        "version": "1.0",
        "queryDate": "2025-01-01T10:31:00.394+0000",
        "startDate": "2025-01-01T09:31:00.000+0000",
        "statistic": "Minimum",
        "period": 3600,
        "recentDatapoints": [value],
        "threshold": 0.2,
        "evaluatedDatapoints": [{"timestamp": "2025-01-01T09:31:00.000+0000", "sampleCount": count, "value": value}],
    }
    metric = {
        "namespace": "aws/sagemaker/Endpoints/data-metrics",
        "name": quality_metric_name("average_precision"),
        "dimensions": {"Endpoint": "fraud-endpoint", "MonitoringSchedule": SCHEDULE},
    }
    return {
        "version": "0",
        "id": "c4c1c1c9-6542-e61b-6ef0-8c4d36933a92",
        "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch",
        "account": ACCOUNT,
        "time": "2025-01-01T10:31:00Z",
        "region": REGION,
        "resources": [f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{ALARM}"],
        "detail": {
            "alarmName": ALARM,
            "state": {
                "value": state,
                "reason": "Threshold Crossed: 1 datapoint [0.0213] was less than the threshold (0.2).",
                "reasonData": json.dumps(reason_data),
                "timestamp": "2025-01-01T10:31:00.394+0000",
            },
            "previousState": {"value": "OK"},
            "configuration": {
                "description": "...",
                "metrics": [{"id": "m1", "metricStat": {"metric": metric, "period": 3600, "stat": "Minimum"}}],
            },
        },
    }


def test_the_quality_alarm_starts_a_quality_run_with_the_metric_value_threshold_window_and_count() -> None:
    executions, queue = Executions(), Queue()
    alarms = Alarms()
    decision = handle_trigger(quality_event(), NOW, executions, queue, alarms)
    assert decision.start and decision.trigger == "quality"
    assert decision.execution_name == "auto-20250101T1030Z"  # the alarm's own time, as the drift alarm's
    assert alarms.asked == []  # the event carries all of it: nothing read from CloudWatch
    assert executions.inputs[decision.execution_name] == {
        "trigger": "quality",
        "reason": f"quality alarm {ALARM}: average_precision 0.0213 < 0.2 over 412 labelled predictions in the "
        "3600 s window of 2025-01-01T09:31:00.000+0000",
        "max_data_checks": 1,
        "detail": {
            "alarm": ALARM,
            "metric": "average_precision",
            "value": 0.0213,
            "threshold": 0.2,
            "labelled_predictions": 412,
            "window": {"end": "2025-01-01T09:31:00.000+0000", "seconds": 3600},
        },
    }


def test_a_quality_alarm_while_a_retrain_runs_is_queued_as_any_trigger_one_retrain_at_a_time() -> None:
    executions, queue = Executions(), Queue()
    assert handle_trigger(drift_event(), NOW, executions, queue, Alarms()).start
    decision = handle_trigger(quality_event(), NOW, executions, queue)
    assert (decision.start, decision.queued, decision.trigger) == (False, True, "quality")
    queued = queue.peek()
    assert queued is not None and queued.unkeyed
    assert queued.first_reason.startswith(f"quality alarm {ALARM}: average_precision 0.0213 < 0.2")


def test_without_reason_data_the_reason_keeps_the_events_words() -> None:
    event = quality_event()
    del event["detail"]["state"]["reasonData"]
    fired = QualityAlarmFired.from_event(event)
    assert fired is not None
    assert fired.execution_input().reason == f"quality alarm {ALARM}: {event['detail']['state']['reason']}"


def test_a_metric_to_minimize_reads_above_its_threshold_and_other_alarms_are_not_quality() -> None:
    event = quality_event(value=0.9)
    fired = QualityAlarmFired.from_event(event)
    assert fired is not None and "average_precision 0.9 > 0.2" in fired.describe()
    assert QualityAlarmFired.from_event(drift_event()) is None
    assert QualityAlarmFired.from_event(quality_event(state="OK")) is None
    assert QualityAlarmFired.from_event({"trigger": "schedule"}) is None
