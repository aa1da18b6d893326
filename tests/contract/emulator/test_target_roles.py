"""Scheduler and EventBridge deliver to a target only with the permission AWS requires.

Sources: EventBridge Scheduler user guide, "Set up the execution role" (the role trusts
`scheduler.amazonaws.com` and allows the target's API, e.g. `states:StartExecution`) and "Monitoring Amazon
EventBridge Scheduler with Amazon CloudWatch" (`AWS/Scheduler`, `ScheduleGroup`: InvocationAttemptCount,
TargetErrorCount, InvocationDroppedCount); EventBridge user guide, "Using resource-based policies for Amazon
EventBridge" (a rule invokes a Lambda target under the function's resource policy, a rule's role for other
targets), "Using dead-letter queues to process undelivered events" (missing permissions are not retried) and
"Monitoring Amazon EventBridge" (`AWS/Events` FailedInvocations by RuleName).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from local.clients import LocalClients
from tests.support.emulator import FunctionFactory, StateMachineRunner
from tests.support.iam import RoleFactory
from tests.support.polling import wait_until

pytestmark = pytest.mark.local

ECHO = {"StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "End": True}}}

# Writes the event it gets to s3://<bucket>/<id>: what shows a delivery happened.
RECORDER = """
import json
import boto3

def handler(event, context):
    detail = event["detail"]
    boto3.client("s3").put_object(Bucket=detail["bucket"], Key=detail["id"], Body=json.dumps(event).encode())
"""


def metric_sum(aws_clients: LocalClients, namespace: str, name: str, dimensions: dict[str, str]) -> float:
    now = datetime.now(UTC)
    datapoints = aws_clients.client("cloudwatch").get_metric_statistics(
        Namespace=namespace,
        MetricName=name,
        Dimensions=[{"Name": key, "Value": value} for key, value in dimensions.items()],
        StartTime=now - timedelta(minutes=10),
        EndTime=now + timedelta(minutes=1),
        Period=60,
        Statistics=["Sum"],
    )["Datapoints"]
    return float(sum(point["Sum"] for point in datapoints))


def schedule(aws_clients: LocalClients, group: str, name: str, target: str, role: str) -> None:
    due = (datetime.now(UTC) + timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%S")
    aws_clients.client("scheduler").create_schedule(
        Name=name,
        GroupName=group,
        ScheduleExpression=f"at({due})",
        ScheduleExpressionTimezone="UTC",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": target, "RoleArn": role, "Input": "{}"},
    )


def started(machines: StateMachineRunner, machine: str) -> list[dict[str, Any]]:
    return list(machines.sfn.list_executions(stateMachineArn=machine)["executions"])


@pytest.mark.parametrize("refused_by", ["policy", "trust"])
def test_a_schedule_starts_only_what_its_role_allows_and_counts_the_refusal(
    aws_clients: LocalClients, machines: StateMachineRunner, roles: RoleFactory, unique_name: str, refused_by: str
) -> None:
    allowed, other = machines.create(ECHO, "allowed"), machines.create(ECHO, "other")
    start_allowed = {"Effect": "Allow", "Action": "states:StartExecution", "Resource": allowed}
    role = roles.create("scheduler.amazonaws.com", start_allowed)
    # Refused by the policy: the role allows only the other machine. By the trust: the role allows both but
    # trusts Lambda, not Scheduler.
    refused_role = (
        role
        if refused_by == "policy"
        else roles.create("lambda.amazonaws.com", {**start_allowed, "Resource": [allowed, other]})
    )
    aws_clients.client("scheduler").create_schedule_group(Name=unique_name)
    group = {"ScheduleGroup": unique_name}
    schedule(aws_clients, unique_name, "allowed", allowed, role)
    schedule(aws_clients, unique_name, "refused", other, refused_role)

    wait_until(lambda: started(machines, allowed), 20, "the allowed schedule to start its machine")
    wait_until(
        lambda: metric_sum(aws_clients, "AWS/Scheduler", "InvocationDroppedCount", group) >= 1,
        20,
        "the refused schedule's invocation to be dropped",
    )

    assert started(machines, other) == []
    assert metric_sum(aws_clients, "AWS/Scheduler", "TargetErrorCount", group) == 1
    assert metric_sum(aws_clients, "AWS/Scheduler", "InvocationDroppedCount", group) == 1


def put_rule(aws_clients: LocalClients, name: str, source: str) -> str:
    pattern = json.dumps({"source": [source]})
    return str(aws_clients.client("events").put_rule(Name=name, EventPattern=pattern)["RuleArn"])


def send(aws_clients: LocalClients, source: str, detail: dict[str, str]) -> None:
    entry = {"Source": source, "DetailType": "test", "Detail": json.dumps(detail)}
    assert aws_clients.client("events").put_events(Entries=[entry])["FailedEntryCount"] == 0


def test_a_rule_starts_a_state_machine_only_when_the_targets_role_allows_it(
    aws_clients: LocalClients, machines: StateMachineRunner, roles: RoleFactory, unique_name: str
) -> None:
    allowed, other = machines.create(ECHO, "allowed"), machines.create(ECHO, "other")
    role = roles.create(
        "events.amazonaws.com", {"Effect": "Allow", "Action": "states:StartExecution", "Resource": allowed}
    )
    source = f"retrain.test.{unique_name}"
    put_rule(aws_clients, unique_name, source)
    aws_clients.client("events").put_targets(
        Rule=unique_name,
        Targets=[{"Id": "allowed", "Arn": allowed, "RoleArn": role}, {"Id": "other", "Arn": other, "RoleArn": role}],
    )

    send(aws_clients, source, {})

    wait_until(lambda: started(machines, allowed), 20, "the rule to start the allowed machine")
    failed = {"RuleName": unique_name}
    wait_until(
        lambda: metric_sum(aws_clients, "AWS/Events", "FailedInvocations", failed) >= 1, 20, "the failed invocation"
    )
    assert started(machines, other) == []


def test_a_rule_invokes_a_function_only_when_the_functions_resource_policy_allows_it(
    aws_clients: LocalClients, functions: FunctionFactory, unique_name: str
) -> None:
    s3 = aws_clients.client("s3")
    s3.create_bucket(Bucket=unique_name)
    function_arn = functions.create("recorder", RECORDER)
    source = f"retrain.test.{unique_name}"
    rule_arn = put_rule(aws_clients, unique_name, source)
    aws_clients.client("events").put_targets(Rule=unique_name, Targets=[{"Id": "recorder", "Arn": function_arn}])
    failed = {"RuleName": unique_name}

    send(aws_clients, source, {"bucket": unique_name, "id": "before"})
    wait_until(
        lambda: metric_sum(aws_clients, "AWS/Events", "FailedInvocations", failed) >= 1, 20, "the failed invocation"
    )
    aws_clients.client("lambda").add_permission(
        FunctionName=function_arn,
        StatementId="events",
        Action="lambda:InvokeFunction",
        Principal="events.amazonaws.com",
        SourceArn=rule_arn,
    )
    send(aws_clients, source, {"bucket": unique_name, "id": "after"})

    wait_until(lambda: s3.list_objects_v2(Bucket=unique_name).get("KeyCount", 0) > 0, 30, "the function to run")
    assert [item["Key"] for item in s3.list_objects_v2(Bucket=unique_name)["Contents"]] == ["after"]
    assert metric_sum(aws_clients, "AWS/Events", "FailedInvocations", failed) == 1
