"""The drift alarm as a retrain trigger: its state change event starts one `drift` run (or is queued as any
trigger), with the alarm and the drifted features and values in the run's input.

Events have the shape of CloudWatch's composite alarm example in "Alarm events and EventBridge"
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-and-eventbridge.html):
`detail.configuration.alarmRule` names the children, `detail.state.reasonData` (a JSON string) the
triggering ones, and no value of theirs."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from retrain.drift_alarm import AlarmFired, Breach, breach_of
from retrain.errors import InvalidTaskInput
from retrain.triggers import handle_trigger
from tests.support.lambda_context import ACCOUNT, REGION
from tests.unit.tasks.test_task_start_retrain import NOW, Executions, Queue, Starter, starter  # noqa: F401

ENDPOINT = "fraud-endpoint"
COMPOSITE = f"{ENDPOINT}-drift"


def child(feature: str) -> str:
    return f"{ENDPOINT}-drift-{feature}"


def arn(name: str) -> str:
    return f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}"


def drift_event(features: tuple[str, ...] = ("amount", "device_type"), triggering: str = "amount") -> dict[str, Any]:
    """The composite alarm's change to ALARM as EventBridge delivers it (CDK's rule names children by ARN)."""
    reason_data = {"triggeringAlarms": [{"arn": arn(child(triggering)), "state": {"value": "ALARM"}}]}
    return {
        "version": "0",
        "id": "d3dfc86d-384d-24c8-0345-9f7986db0b80",
        "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch",
        "account": ACCOUNT,
        "time": "2025-01-01T10:31:00Z",
        "region": REGION,
        "resources": [arn(COMPOSITE)],
        "detail": {
            "alarmName": COMPOSITE,
            "state": {
                "value": "ALARM",
                "reason": f"{arn(child(triggering))} transitioned to ALARM at Wednesday 01 January, 2025 10:31:00 UTC",
                "reasonData": json.dumps(reason_data),
                "timestamp": "2025-01-01T10:31:00.394+0000",
            },
            "previousState": {"value": "OK", "reason": "...", "timestamp": "2025-01-01T09:31:00.000+0000"},
            "configuration": {"alarmRule": " OR ".join(f'ALARM("{arn(child(f))}")' for f in features)},
        },
    }


class Alarms:
    def __init__(self, *breaches: Breach) -> None:
        self.found = list(breaches)
        self.asked: list[tuple[str, ...]] = []

    def breaches(self, alarm_names: Any) -> list[Breach]:
        self.asked.append(tuple(alarm_names))
        return self.found


def test_the_alarm_starts_a_drift_run_with_the_features_and_values_that_breached() -> None:
    executions, queue = Executions(), Queue()
    alarms = Alarms(
        Breach(child("amount"), "amount", 0.4237, 0.1), Breach(child("device_type"), "device_type", 0.2, 0.1)
    )
    decision = handle_trigger(drift_event(), NOW, executions, queue, alarms)
    assert decision.start and decision.trigger == "drift"
    assert decision.execution_name == "auto-20250101T1030Z"  # the alarm's own time
    assert alarms.asked == [(child("amount"), child("device_type"))]  # every child of the rule, names from ARNs
    assert executions.inputs[decision.execution_name] == {
        "trigger": "drift",
        "reason": f"drift alarm {COMPOSITE}: amount 0.424 > 0.1, device_type 0.2 > 0.1",
        "max_data_checks": 1,
        "detail": {
            "alarm": COMPOSITE,
            "features": {"amount": 0.4237, "device_type": 0.2},
            "thresholds": {"amount": 0.1, "device_type": 0.1},
        },
    }


def test_a_drift_alarm_while_a_retrain_runs_is_queued_for_the_follow_up() -> None:
    executions, queue = Executions(), Queue()
    assert handle_trigger({"trigger": "schedule"}, NOW, executions, queue).start
    decision = handle_trigger(drift_event(), NOW, executions, queue, Alarms(Breach("a", "amount", 0.3, 0.1)))
    assert (decision.start, decision.queued, decision.trigger) == (False, True, "drift")
    queued = queue.peek()
    assert queued is not None and queued.unkeyed  # no data of its own: the follow-up runs whatever the watermark
    assert queued.first_reason == f"drift alarm {COMPOSITE}: amount 0.3 > 0.1"
    follow_up = handle_trigger(executions.end("auto-20250101T1000Z"), NOW, executions, queue)
    assert follow_up.start and "drift alarm" in executions.inputs[follow_up.execution_name]["reason"]


def test_without_the_childrens_values_the_reason_keeps_the_events_words() -> None:
    request_input = AlarmFired.from_event(drift_event()).execution_input([])  # type: ignore[union-attr]
    assert request_input.reason.startswith(f"drift alarm {COMPOSITE}: {arn(child('amount'))} transitioned to ALARM")
    assert request_input.detail == {"alarm": COMPOSITE}


def test_a_rule_without_children_falls_back_to_the_triggering_alarms() -> None:
    event = drift_event()
    del event["detail"]["configuration"]
    fired = AlarmFired.from_event(event)
    assert fired is not None and fired.children == (child("amount"),)


def test_an_alarm_event_that_is_not_alarm_is_a_named_error() -> None:
    event = drift_event()
    event["detail"]["state"]["value"] = "OK"
    with pytest.raises(
        InvalidTaskInput, match=r"detail\.state\.value.*got alarmName='fraud-endpoint-drift', value='OK'"
    ):
        handle_trigger(event, NOW, Executions(), Queue())


@pytest.mark.parametrize(
    ("alarm", "breach"),
    [
        (
            {
                "AlarmName": "a",
                "StateValue": "ALARM",
                "MetricName": "feature_baseline_drift_amount",
                "Threshold": 0.1,
                "StateReasonData": json.dumps({"version": "1.0", "recentDatapoints": [0.12, 0.31], "threshold": 0.1}),
            },
            Breach("a", "amount", 0.31, 0.1),
        ),
        (
            {"AlarmName": "a", "StateValue": "ALARM", "MetricName": "feature_baseline_drift_x", "Threshold": 0.1},
            Breach("a", "x", None, 0.1),
        ),
        ({"AlarmName": "a", "StateValue": "OK", "MetricName": "feature_baseline_drift_x", "Threshold": 0.1}, None),
        ({"AlarmName": "a", "StateValue": "ALARM", "MetricName": "Invocations", "Threshold": 1}, None),
    ],
)
def test_a_child_in_alarm_on_a_drift_metric_is_a_breach(alarm: dict[str, Any], breach: Breach | None) -> None:
    assert breach_of(alarm) == breach


# --- the handler, on moto's CloudWatch ------------------------------------------------------------


def test_the_handler_reads_the_childrens_values_from_cloudwatch(starter: Starter) -> None:  # noqa: F811
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    for feature in ("amount", "device_type"):
        cloudwatch.put_metric_alarm(
            AlarmName=child(feature),
            Namespace="aws/sagemaker/Endpoints/data-metrics",
            MetricName=f"feature_baseline_drift_{feature}",
            Dimensions=[{"Name": "Endpoint", "Value": ENDPOINT}],
            Statistic="Maximum",
            Period=3600,
            EvaluationPeriods=1,
            Threshold=0.1,
            ComparisonOperator="GreaterThanThreshold",
        )
    cloudwatch.set_alarm_state(
        AlarmName=child("amount"),
        StateValue="ALARM",
        StateReason="Threshold Crossed: 1 datapoint [0.52] was greater than the threshold (0.1).",
        StateReasonData=json.dumps({"version": "1.0", "recentDatapoints": [0.52], "threshold": 0.1}),
    )
    result = starter(drift_event())
    assert result["started"] is True and result["trigger"] == "drift"
    (execution,) = starter.executions()
    sent = json.loads(starter.client.describe_execution(executionArn=execution["executionArn"])["input"])
    assert sent["trigger"] == "drift"
    assert sent["reason"] == f"drift alarm {COMPOSITE}: amount 0.52 > 0.1"  # device_type stayed OK
    assert sent["detail"]["features"] == {"amount": 0.52}
