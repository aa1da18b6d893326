"""The definition's approval states on the local engine, answered by hand.

Step Functions fails a ResultSelector that reads a missing field with `States.Runtime`, which no Catch
takes, not even `States.ALL` (Step Functions developer guide, "Error handling": States.ALL "can't catch
the States.DataLimitExceeded terminal error type and runtime error types"). A console "Send task success"
with other fields must instead end the run through the rejection path, naming the expected fields.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from statemachines.build import DEFINITION_FILE
from tests.support.emulator import STORES_TOKEN, FunctionFactory, StateMachineRunner, stored_token

pytestmark = pytest.mark.local

APPROVAL_STATES = (
    "RequestApproval",
    "ApprovalOutputValid?",
    "KeepApprovalFields",
    "InvalidApprovalOutput",
    "ApprovalOutputTooLarge",
)
# An output the API takes (under 262,144 bytes) that, placed at ResultPath in a run's state this large, makes
# the state's output exceed the payload quota: States.DataLimitExceeded.
LARGE_REASON = "r" * 200_000
LARGE_STATE = "s" * 100_000


def approval_machine(function_arn: str, bucket: str) -> dict[str, Any]:
    """The committed definition's approval states; the package update and the rollout are stubs."""
    states = json.loads(DEFINITION_FILE.read_text())["States"]
    machine = {name: dict(states[name]) for name in APPROVAL_STATES}
    machine["RequestApproval"]["Parameters"] = {
        "FunctionName": function_arn,
        "Payload": {"token.$": "$$.Task.Token", "bucket": bucket},
    }
    assert states["KeepApprovalFields"]["Next"] == "CreateModel"
    assert states["InvalidApprovalOutput"]["Next"] == "RejectCandidate"
    assert states["ApprovalOutputTooLarge"]["Next"] == "RejectCandidate"
    machine["CreateModel"] = {"Type": "Succeed"}
    machine["RejectCandidate"] = {
        "Type": "Fail",
        "ErrorPath": "$.error.Error",
        "CausePath": "$.error.Cause",
    }
    machine["NotifyFailure"] = {"Type": "Fail", "Error": "FailurePath"}
    return {"StartAt": "RequestApproval", "States": machine}


@pytest.mark.parametrize(
    ("output", "status"),
    [
        ({"approved_by": "lead@example.com", "reason": "looks good", "approved_at": "2024-06-01T00:00:00Z"}, "ok"),
        ({"approved": True, "comment": "ok"}, "invalid"),
        ({"approved_by": "lead@example.com", "reason": 3, "approved_at": "2024-06-01T00:00:00Z"}, "invalid"),
        ("approved", "invalid"),
    ],
)
def test_a_hand_sent_approval_output_is_checked_and_a_bad_one_rejects_the_candidate(
    functions: FunctionFactory,
    machines: StateMachineRunner,
    aws_clients: Any,
    unique_name: str,
    output: Any,
    status: str,
) -> None:
    s3, sfn = aws_clients.client("s3"), aws_clients.client("stepfunctions")
    s3.create_bucket(Bucket=unique_name)
    machine = machines.create(approval_machine(functions.create("store", STORES_TOKEN), unique_name))
    execution_arn = machines.start(machine, {"run": {"approval_timeout_seconds": 60}})
    sfn.send_task_success(taskToken=stored_token(s3, unique_name), output=json.dumps(output))
    execution = machines.wait(execution_arn)
    if status == "ok":
        assert execution.status == "SUCCEEDED"
        assert execution.output["approval"] == output
        return
    assert execution.status == "FAILED"
    assert execution.error == "InvalidApprovalOutput"
    assert "string fields approved_by, reason, approved_at" in (execution.cause or "")


def test_a_hand_sent_output_too_large_for_the_runs_state_rejects_the_candidate_by_name(
    functions: FunctionFactory, machines: StateMachineRunner, aws_clients: Any, unique_name: str
) -> None:
    # Developer guide, "Handling errors in Step Functions workflows": a state's output over the payload quota is
    # States.DataLimitExceeded, which States.ALL does not catch; RequestApproval's Catch names it.
    s3, sfn = aws_clients.client("s3"), aws_clients.client("stepfunctions")
    s3.create_bucket(Bucket=unique_name)
    machine = machines.create(approval_machine(functions.create("store", STORES_TOKEN), unique_name))
    execution_arn = machines.start(machine, {"run": {"approval_timeout_seconds": 60}, "padding": LARGE_STATE})
    output = {"approved_by": "lead@example.com", "reason": LARGE_REASON, "approved_at": "2024-06-01T00:00:00Z"}
    sfn.send_task_success(taskToken=stored_token(s3, unique_name), output=json.dumps(output))
    execution = machines.wait(execution_arn)

    assert execution.status == "FAILED"
    assert execution.error == "InvalidApprovalOutput"
    assert "over Step Functions' 256 KB payload quota (States.DataLimitExceeded)" in (execution.cause or "")
    entered = [event["stateEnteredEventDetails"]["name"] for event in execution.events("PassStateEntered")]
    assert entered == ["ApprovalOutputTooLarge"]
