"""`RedriveExecution` on the local engine, as AWS documents it (`local/emulator/redrive.py`).

AWS sources: API reference RedriveExecution, DescribeExecution and ExecutionRedrivenEventDetails; botocore
`stepfunctions/2016-11-23/service-2.json` (the errors and `redriveStatusReason` wordings); developer guide,
"Redriving executions" (a Pass then a Task: a redrive after the Task failed runs the Task again, not the Pass).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local.clients import LocalClients
from tests.support.emulator import FunctionFactory, StateMachineRunner
from tests.support.polling import wait_until

pytestmark = pytest.mark.local

# Records each "record" call as an S3 object; the "flaky" step fails until a flag object exists.
STEPS = """
import boto3


class FlagMissing(Exception):
    pass


def handler(event, context):
    s3 = boto3.client("s3")
    bucket = event["bucket"]
    if event["step"] == "record":
        calls = s3.list_objects_v2(Bucket=bucket, Prefix="record/").get("KeyCount", 0)
        s3.put_object(Bucket=bucket, Key="record/" + str(calls), Body=b"x")
        return {"recorded": calls + 1}
    if not s3.list_objects_v2(Bucket=bucket, Prefix="flag").get("KeyCount", 0):
        raise FlagMissing("no flag object yet")
    return {"redrives": event["redrives"]}
"""


def _steps_definition(function_arn: str, bucket: str) -> dict[str, Any]:
    def invoke(payload: dict[str, Any], selector: dict[str, str], result_path: str) -> dict[str, Any]:
        return {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": function_arn, "Payload": {"bucket": bucket, **payload}},
            "ResultSelector": selector,
            "ResultPath": result_path,
        }

    return {
        "StartAt": "Prepare",
        "States": {
            "Prepare": {"Type": "Pass", "Result": {"prepared": True}, "ResultPath": "$.prepare", "Next": "Record"},
            "Record": {**invoke({"step": "record"}, {"n.$": "$.Payload.recorded"}, "$.record"), "Next": "Flaky"},
            "Flaky": {
                **invoke(
                    {"step": "flaky", "redrives.$": "$$.Execution.RedriveCount"},
                    {"redrives.$": "$.Payload.redrives"},
                    "$.flaky",
                ),
                "End": True,
            },
        },
    }


def _error(call: Any, **request: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as raised:
        call(**request)
    return raised.value.response["Error"]["Code"], raised.value.response["Error"]["Message"]


def _entered(history: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [
        event
        for event in history
        if event["type"].endswith("StateEntered") and event["stateEnteredEventDetails"]["name"] == name
    ]


def test_a_redrive_reruns_the_failed_task_only_and_counts_itself(
    functions: FunctionFactory, machines: StateMachineRunner, aws_clients: LocalClients, unique_name: str
) -> None:
    s3, sfn = aws_clients.client("s3"), aws_clients.client("stepfunctions")
    s3.create_bucket(Bucket=unique_name)
    machine = machines.create(_steps_definition(functions.create("steps", STEPS), unique_name))
    failed = machines.wait(machines.start(machine, {"run": 1}))
    assert (failed.status, failed.error) == ("FAILED", "FlagMissing"), failed.cause
    described = sfn.describe_execution(executionArn=failed.arn)
    assert (described["redriveCount"], described["redriveStatus"]) == (0, "REDRIVABLE")
    assert "redriveStatusReason" not in described and "redriveDate" not in described

    s3.put_object(Bucket=unique_name, Key="flag", Body=b"1")
    redriven_at = sfn.redrive_execution(executionArn=failed.arn)["redriveDate"]
    done = machines.wait(failed.arn)

    assert done.status == "SUCCEEDED", done.cause
    # The states that succeeded kept their results and did not run again; the failed one ran with the
    # input it had, and saw the redrive count.
    assert done.output == {"run": 1, "prepare": {"prepared": True}, "record": {"n": 1}, "flaky": {"redrives": 1}}
    assert s3.list_objects_v2(Bucket=unique_name, Prefix="record/")["KeyCount"] == 1
    assert len(_entered(done.history, "Prepare")) == len(_entered(done.history, "Record")) == 1
    first, second = _entered(done.history, "Flaky")
    assert first["stateEnteredEventDetails"]["input"] == second["stateEnteredEventDetails"]["input"]
    kinds = [event["type"] for event in done.history]
    assert kinds[kinds.index("ExecutionFailed") + 1 : kinds.index("ExecutionFailed") + 3] == [
        "ExecutionRedriven",
        "TaskStateEntered",
    ]
    assert done.events("ExecutionRedriven")[0]["executionRedrivenEventDetails"] == {"redriveCount": 1}
    assert [event["id"] for event in done.history] == list(range(1, len(done.history) + 1))

    described = sfn.describe_execution(executionArn=done.arn)
    assert described["redriveCount"] == 1 and described["redriveDate"] == redriven_at
    assert described["startDate"] < redriven_at <= described["stopDate"]
    assert described["redriveStatus"] == "NOT_REDRIVABLE"
    assert described["redriveStatusReason"] == "Execution is SUCCEEDED and cannot be redriven"
    listed = sfn.list_executions(stateMachineArn=machine)["executions"]
    assert [(item["redriveCount"], item["redriveDate"]) for item in listed] == [(1, redriven_at)]
    assert _error(sfn.redrive_execution, executionArn=done.arn) == (
        "ExecutionNotRedrivable",
        "Execution is SUCCEEDED and cannot be redriven",
    )


def test_an_aborted_run_resumes_its_state_and_a_running_or_unknown_one_is_refused(
    machines: StateMachineRunner, aws_clients: LocalClients
) -> None:
    sfn = aws_clients.client("stepfunctions")
    machine = machines.create(
        {
            "StartAt": "Mark",
            "States": {
                "Mark": {"Type": "Pass", "Result": 1, "ResultPath": "$.mark", "Next": "Hold"},
                "Hold": {"Type": "Wait", "Seconds": 3600, "End": True},
            },
        }
    )
    arn = machines.start(machine, {"run": 2})

    def entered_hold() -> int:
        events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
        return len(_entered(events, "Hold"))

    wait_until(lambda: entered_hold() == 1, 10, "the run to wait in Hold")
    assert _error(sfn.redrive_execution, executionArn=arn) == (
        "ExecutionNotRedrivable",
        "Execution is RUNNING and cannot be redriven",
    )
    sfn.stop_execution(executionArn=arn, error="Operator", cause="stopped to test redrive")
    assert sfn.describe_execution(executionArn=arn)["redriveStatus"] == "REDRIVABLE"

    first = sfn.redrive_execution(executionArn=arn, clientToken="redrive-once")["redriveDate"]
    # The same client token within 15 minutes answers the same redrive (the SDKs retry with it).
    assert sfn.redrive_execution(executionArn=arn, clientToken="redrive-once")["redriveDate"] == first
    wait_until(lambda: entered_hold() == 2, 10, "the redriven run to wait in Hold again")
    described = sfn.describe_execution(executionArn=arn)
    assert (described["status"], described["redriveCount"]) == ("RUNNING", 1)
    assert "stopDate" not in described or described["stopDate"] is None
    events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    assert [event["type"] for event in events][-3:] == ["ExecutionAborted", "ExecutionRedriven", "WaitStateEntered"]
    assert json.loads(_entered(events, "Hold")[1]["stateEnteredEventDetails"]["input"]) == {"run": 2, "mark": 1}
    assert _error(sfn.redrive_execution, executionArn=arn)[0] == "ExecutionNotRedrivable"
    sfn.stop_execution(executionArn=arn)

    unknown = arn.rsplit(":", 1)[0] + ":no-such-run"
    assert _error(sfn.redrive_execution, executionArn=unknown) == (
        "ExecutionDoesNotExist",
        f"Execution Does Not Exist: '{unknown}'",
    )
    assert _error(sfn.redrive_execution, executionArn=machine)[0] == "InvalidArn"
