"""What the local AWS acknowledged survives `kill -9` (local/emulator/durability.py).

The emulator saved its services' state only on a clean stop; a killed process lost every DynamoDB item,
execution, stack change and schedule since. On AWS an acknowledged write is durable and an execution is
never lost: locally a run that was in flight cannot continue, so it ends FAILED with a named error and
an `ExecutionFailed` event ("Execution events", Step Functions API reference: GetExecutionHistory).
These tests start their own emulator (own state directory, own port), not the session's.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local.aws import LocalAws
from local.clients import LocalClients
from local.home import StateDirectory
from tests.support.emulator import ROLE_ARN, StateMachineRunner
from tests.support.polling import wait_until

pytestmark = [pytest.mark.local, pytest.mark.slow]

TABLE = "crash-state"
STACK_TEMPLATE = {
    "Resources": {
        "Runs": {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "TableName": "crash-stack-table",
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            },
        }
    }
}
DONE = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "Result": {"ok": 1}, "End": True}}}
HOLD = {"StartAt": "Hold", "States": {"Hold": {"Type": "Wait", "Seconds": 600, "End": True}}}


def approval_definition(queue_url: str) -> dict[str, Any]:
    """A callback Task as the pipeline's RequestApproval waits (here on SQS, which needs no Lambda)."""
    return {
        "StartAt": "RequestApproval",
        "States": {
            "RequestApproval": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {"QueueUrl": queue_url, "MessageBody": {"token.$": "$$.Task.Token"}},
                "End": True,
            }
        },
    }


@pytest.fixture
def own_aws(tmp_path: Path) -> Iterator[LocalAws]:
    aws = LocalAws(StateDirectory(tmp_path / "home"), port=0)
    yield aws
    aws.stop()


def create_table(dynamodb: Any) -> None:
    dynamodb.create_table(
        TableName=TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
    )


def kill_hard(aws: LocalAws) -> None:
    process = aws.running()
    assert process is not None
    os.kill(process.pid, signal.SIGKILL)
    aws.wait()  # reaps it: the pid file it leaves is stale
    assert aws.running() is None


def entered(machines: StateMachineRunner, arn: str, state_type: str) -> bool:
    events = machines.sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    return any(event["type"] == state_type for event in events)


def executions(clients: LocalClients, machine_arn: str) -> list[str]:
    listed = clients.client("stepfunctions").list_executions(stateMachineArn=machine_arn)["executions"]
    return sorted(execution["name"] for execution in listed)


def test_acknowledged_changes_survive_kill_9_and_runs_in_flight_fail_by_name_then_redrive(own_aws: LocalAws) -> None:
    own_aws.start()
    clients = own_aws.clients()
    dynamodb = clients.client("dynamodb")
    create_table(dynamodb)
    dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "CHAMPION"}, "model": {"S": "model-1"}})
    dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "APPROVAL"}, "by": {"S": "lead@example.com"}})
    dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "gone"}})
    # The last acknowledged write before the kill: the promotion's champion update.
    dynamodb.update_item(
        TableName=TABLE,
        Key={"pk": {"S": "CHAMPION"}},
        UpdateExpression="SET model = :m",
        ExpressionAttributeValues={":m": {"S": "model-2"}},
    )
    dynamodb.delete_item(TableName=TABLE, Key={"pk": {"S": "gone"}})
    cloudformation = clients.client("cloudformation")
    cloudformation.create_stack(StackName="crash-stack", TemplateBody=json.dumps(STACK_TEMPLATE))
    cloudformation.get_waiter("stack_create_complete").wait(
        StackName="crash-stack", WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )
    due = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S")
    machines = StateMachineRunner(clients, "crash")
    hold_machine = machines.create(HOLD, name="hold")
    clients.client("scheduler").create_schedule(
        Name="tomorrow",
        ScheduleExpression=f"at({due})",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": hold_machine, "RoleArn": ROLE_ARN},
    )
    done_machine = machines.create(DONE, name="done")
    finished = machines.wait(machines.start(done_machine, name="finished"))
    assert finished.status == "SUCCEEDED"
    holding = machines.start(hold_machine, name="holding")
    queue_url = clients.client("sqs").create_queue(QueueName="crash-approvals")["QueueUrl"]
    approval_machine = machines.create(approval_definition(queue_url), name="approval")
    waiting = machines.start(approval_machine, name="waiting")
    wait_until(lambda: entered(machines, holding, "WaitStateEntered"), 20, "the Wait state")
    wait_until(lambda: entered(machines, waiting, "TaskScheduled"), 20, "the callback Task")
    token = json.loads(
        wait_until(lambda: clients.client("sqs").receive_message(QueueUrl=queue_url).get("Messages"), 20, "the token")[
            0
        ]["Body"]
    )["token"]

    kill_hard(own_aws)
    own_aws.start()
    clients = own_aws.clients()
    machines = StateMachineRunner(clients, "crash")
    dynamodb = clients.client("dynamodb")

    items = {item["pk"]["S"]: item for item in dynamodb.scan(TableName=TABLE)["Items"]}
    assert sorted(items) == ["APPROVAL", "CHAMPION"]
    assert items["CHAMPION"]["model"] == {"S": "model-2"}
    assert items["APPROVAL"]["by"] == {"S": "lead@example.com"}
    stack = clients.client("cloudformation").describe_stacks(StackName="crash-stack")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert dynamodb.describe_table(TableName="crash-stack-table")["Table"]["TableStatus"] == "ACTIVE"
    schedule = clients.client("scheduler").get_schedule(Name="tomorrow")
    assert schedule["Target"]["Arn"] == hold_machine

    again = machines.wait(finished.arn)
    assert (again.status, again.output) == ("SUCCEEDED", {"ok": 1})
    assert [event["type"] for event in again.history] == [event["type"] for event in finished.history]
    assert executions(clients, done_machine) == ["finished"]

    held = machines.wait(holding)
    assert (held.status, held.error) == ("FAILED", "Local.EmulatorCrashed")
    assert "in state 'Hold'" in (held.cause or "") and "`retrain redrive holding`" in (held.cause or "")
    assert [event["type"] for event in held.history][-2:] == ["WaitStateEntered", "ExecutionFailed"]
    failed = held.events("ExecutionFailed")[0]["executionFailedEventDetails"]
    assert (failed["error"], failed["cause"]) == (held.error, held.cause)
    assert len(held.events("ExecutionFailed")) == 1
    assert executions(clients, hold_machine) == ["holding"]

    # The approval wait cannot go on: its token lived in the killed process (the cause says so).
    approval = machines.wait(waiting)
    assert (approval.status, approval.error) == ("FAILED", "Local.EmulatorCrashed")
    assert "'RequestApproval' waiting for its task token" in (approval.cause or "")
    with pytest.raises(ClientError, match="TaskDoesNotExist"):
        clients.client("stepfunctions").send_task_success(taskToken=token, output="{}")

    # ...and a redrive asks again: RequestApproval runs anew with a new token, which an answer resumes.
    client = clients.client("stepfunctions")
    client.redrive_execution(executionArn=waiting)
    sqs = clients.client("sqs")

    def new_token() -> str | None:
        # The first message comes back once its visibility timeout ends: only a token it did not carry counts.
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        return next((t for t in (json.loads(m["Body"])["token"] for m in messages) if t != token), None)

    client.send_task_success(taskToken=wait_until(new_token, 20, "a new token"), output=json.dumps({"approved": True}))
    answered = machines.wait(waiting)
    assert (answered.status, answered.output) == ("SUCCEEDED", {"approved": True})
    assert client.describe_execution(executionArn=waiting)["redriveCount"] == 1


def test_a_kill_right_after_a_task_changed_something_finds_the_run_in_that_task(own_aws: LocalAws) -> None:
    """What a Task state did is never on disk without the history that led to it: a kill right after the
    Task's write (here its DynamoDB item, as the pipeline's RequestApproval Lambda stores its token or
    TrainCandidate creates its job) ends the run in that Task, not in an earlier state that a redrive would
    run again. On AWS an execution's history is durable ("Execution events", GetExecutionHistory)."""
    own_aws.start()
    clients = own_aws.clients()
    dynamodb = clients.client("dynamodb")
    create_table(dynamodb)
    machines = StateMachineRunner(clients, "crash")
    machine = machines.create(
        {
            "StartAt": "Before",
            "States": {
                "Before": {"Type": "Pass", "Next": "Write"},
                "Write": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::dynamodb:putItem",
                    "Parameters": {"TableName": TABLE, "Item": {"pk": {"S.$": "$$.Execution.Name"}}},
                    "Next": "Hold",
                },
                "Hold": {"Type": "Wait", "Seconds": 600, "End": True},
            },
        },
        name="writes",
    )
    execution = machines.start(machine, name="writer")
    wait_until(
        lambda: dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "writer"}}).get("Item"),
        20,
        "the Task's item",
        interval=0.01,  # the kill must come right after the write
    )

    kill_hard(own_aws)
    own_aws.start()
    machines = StateMachineRunner(own_aws.clients(), "crash")

    ended = machines.wait(execution)
    assert (ended.status, ended.error) == ("FAILED", "Local.EmulatorCrashed")
    entered_states = [event["stateEnteredEventDetails"]["name"] for event in ended.events("TaskStateEntered")]
    assert entered_states == ["Write"], [event["type"] for event in ended.history]
    assert "in state 'Write'" in (ended.cause or "") or "in state 'Hold'" in (ended.cause or ""), ended.cause
