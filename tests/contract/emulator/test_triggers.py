"""The pipeline's two triggers start executions: an EventBridge Scheduler schedule, and an object
landing under a prefix of a bucket that sends its events to EventBridge.

Schedules are checked every second locally (`Schedules`); a one-time `at(...)` schedule stands in
for the pipeline's `rate(1 day)`, which goes through the same firing path.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.support.emulator import ROLE_ARN, StateMachineRunner
from tests.support.polling import wait_until

pytestmark = pytest.mark.local

ECHO = {"StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "End": True}}}


def test_a_schedule_starts_an_execution_with_its_input(
    machines: StateMachineRunner, aws_clients, unique_name: str
) -> None:
    machine = machines.create(ECHO)
    due = (datetime.now(UTC) + timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%S")
    aws_clients.client("scheduler").create_schedule(
        Name=unique_name,
        ScheduleExpression=f"at({due})",
        ScheduleExpressionTimezone="UTC",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": machine, "RoleArn": ROLE_ARN, "Input": json.dumps({"trigger": "schedule"})},
    )
    executions = wait_until(
        lambda: machines.sfn.list_executions(stateMachineArn=machine)["executions"], 20, "the schedule to fire"
    )
    execution = machines.wait(executions[0]["executionArn"])
    assert execution.status == "SUCCEEDED"
    assert execution.output == {"trigger": "schedule"}


def test_an_object_under_the_prefix_starts_an_execution(
    machines: StateMachineRunner, aws_clients, unique_name: str
) -> None:
    s3, events = aws_clients.client("s3"), aws_clients.client("events")
    machine = machines.create(ECHO)
    s3.create_bucket(Bucket=unique_name)
    s3.put_bucket_notification_configuration(
        Bucket=unique_name, NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    events.put_rule(
        Name=unique_name,
        EventPattern=json.dumps(
            {
                "source": ["aws.s3"],
                "detail-type": ["Object Created"],
                "detail": {"bucket": {"name": [unique_name]}, "object": {"key": [{"prefix": "landing/"}]}},
            }
        ),
    )
    events.put_targets(Rule=unique_name, Targets=[{"Id": "pipeline", "Arn": machine, "RoleArn": ROLE_ARN}])

    s3.put_object(Bucket=unique_name, Key="elsewhere/ignored.csv", Body=b"x")
    s3.put_object(Bucket=unique_name, Key="landing/2024-01-02/part-0.csv", Body=b"id\n1\n")
    executions = wait_until(
        lambda: machines.sfn.list_executions(stateMachineArn=machine)["executions"], 20, "the rule to fire"
    )
    execution = machines.wait(executions[0]["executionArn"])
    assert execution.output["detail"]["object"]["key"] == "landing/2024-01-02/part-0.csv"
    assert len(machines.sfn.list_executions(stateMachineArn=machine)["executions"]) == 1
