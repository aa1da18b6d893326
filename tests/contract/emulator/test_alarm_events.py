"""Alarm state changes reach EventBridge as "CloudWatch Alarm State Change" events, a composite alarm's
too, with the documented detail (CloudWatch user guide, "Alarm events and EventBridge":
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-and-eventbridge.html): a metric
alarm evaluated on published data goes to ALARM, the composite over it follows, and a rule on the
composite's ARN and `detail.state.value` ALARM gets the composite's event only (the drift alarm's path to
the retrain starter)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.emulator import ROLE_ARN, StateMachineRunner
from tests.support.monitoring import put_drift_alarm
from tests.support.polling import wait_until

pytestmark = pytest.mark.local

ECHO = {"StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "End": True}}}
NAMESPACE = "aws/sagemaker/Endpoints/data-metrics"


def test_a_composite_alarm_going_to_alarm_sends_its_state_change_event(
    machines: StateMachineRunner, aws_clients: Any, unique_name: str
) -> None:
    cloudwatch, events = aws_clients.client("cloudwatch"), aws_clients.client("events")
    dimensions = [{"Name": "Endpoint", "Value": unique_name}, {"Name": "MonitoringSchedule", "Value": unique_name}]
    child = f"{unique_name}-drift-amount"
    put_drift_alarm(cloudwatch, child, f"feature_baseline_drift_{unique_name}", dimensions)
    child_arn = cloudwatch.describe_alarms(AlarmNames=[child])["MetricAlarms"][0]["AlarmArn"]
    composite = f"{unique_name}-drift"
    cloudwatch.put_composite_alarm(AlarmName=composite, AlarmRule=f'ALARM("{child_arn}")')
    composite_arn = cloudwatch.describe_alarms(AlarmNames=[composite], AlarmTypes=["CompositeAlarm"])[
        "CompositeAlarms"
    ][0]["AlarmArn"]
    machine = machines.create(ECHO)
    events.put_rule(
        Name=unique_name,
        EventPattern=json.dumps(
            {
                "source": ["aws.cloudwatch"],
                "detail-type": ["CloudWatch Alarm State Change"],
                "resources": [composite_arn, child_arn],
                "detail": {"state": {"value": ["ALARM"]}},
            }
        ),
    )
    events.put_targets(Rule=unique_name, Targets=[{"Id": "echo", "Arn": machine, "RoleArn": ROLE_ARN}])

    def publish(value: float) -> None:
        metric = {"MetricName": f"feature_baseline_drift_{unique_name}", "Dimensions": dimensions, "Value": value}
        cloudwatch.put_metric_data(Namespace=NAMESPACE, MetricData=[metric])

    publish(0.02)  # below the threshold: OK, no event the rule takes
    publish(0.42)
    executions = wait_until(
        lambda: (
            (found := machines.sfn.list_executions(stateMachineArn=machine)["executions"]) and len(found) >= 2 and found
        ),
        20,
        "the child's and the composite's ALARM events",
    )
    outputs = [machines.wait(execution["executionArn"]).output for execution in executions]
    by_alarm = {output["detail"]["alarmName"]: output for output in outputs}
    assert sorted(by_alarm) == sorted([child, composite])

    event = by_alarm[composite]
    assert (event["source"], event["detail-type"], event["resources"]) == (
        "aws.cloudwatch",
        "CloudWatch Alarm State Change",
        [composite_arn],
    )
    detail = event["detail"]
    assert detail["state"]["value"] == "ALARM" and detail["previousState"]["value"] != "ALARM"
    assert f"{child_arn} transitioned to ALARM" in detail["state"]["reason"]
    assert [alarm["arn"] for alarm in json.loads(detail["state"]["reasonData"])["triggeringAlarms"]] == [child_arn]
    assert detail["configuration"]["alarmRule"] == f'ALARM("{child_arn}")'
    assert detail["state"]["timestamp"].endswith("+0000")

    metric = by_alarm[child]["detail"]["configuration"]["metrics"][0]["metricStat"]
    assert metric["metric"] == {
        "namespace": NAMESPACE,
        "name": f"feature_baseline_drift_{unique_name}",
        "dimensions": {item["Name"]: item["Value"] for item in dimensions},
    }
    assert (metric["period"], metric["stat"]) == (3600, "Maximum")
