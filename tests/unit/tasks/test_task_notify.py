from __future__ import annotations

import json
from typing import Any

import pytest

from retrain.errors import InvalidTaskInput

NAME = "fraud-retrain-2024-06-01"
DECISION: dict[str, Any] = {
    "promote": False,
    "metric": "average_precision",
    "candidate": {"average_precision": 0.38, "roc_auc": 0.88},
    "champion": {"average_precision": 0.377, "roc_auc": 0.875},
    "reasons": ["average_precision 0.380 vs champion 0.377: +0.003 < required +0.005"],
    "report_uri": "s3://retrain-data/models/run/evaluation/report.html",
}


@pytest.fixture
def notify(stack: Any, load_handler: Any, context: Any, plan: Any) -> Any:
    handler = load_handler("notify").handler

    def invoke(kind: str, *, with_run: bool = True, **fields: Any) -> dict[str, Any]:
        event = {"kind": kind, "execution_arn": stack.execution_arn(NAME), **fields}
        if with_run:
            event["run"] = plan(NAME)
        result: dict[str, Any] = handler(event, context)
        return result

    return invoke


def test_failure_recovers_the_domain_error_for_the_fail_state(stack: Any, notify: Any) -> None:
    job_run = {
        "Id": "jr_0123",
        "JobName": "fraud-retrain-prepare",
        "JobRunState": "FAILED",
        "ErrorMessage": "SchemaMismatch: column 'amount' has type string, expected double",
    }

    result = notify("failure", error={"Error": "States.TaskFailed", "Cause": json.dumps(job_run)})

    assert result["error"] == "SchemaMismatch" and result["message_id"]
    first, hint = result["cause"].splitlines()
    assert first == "Glue job fraud-retrain-prepare jr_0123 failed: column 'amount' has type string, expected double"
    assert "[dataset.schema]" in hint
    [message] = stack.messages()
    assert message["Subject"] == f"[fraud-retrain] Retrain failed: SchemaMismatch in {NAME}"
    assert first in message["Message"] and "console.aws.amazon.com" in message["Message"]


def test_failure_before_the_run_plan_exists(stack: Any, notify: Any) -> None:
    message = (
        "input.trigger: expected one of 'manual', 'schedule', 'new-data', 'follow-up', 'drift' or 'quality', got 'x'. "
        "Fix the execution input and start a new execution."
    )
    cause = {"errorType": "InvalidExecutionInput", "errorMessage": message, "stackTrace": []}

    result = notify("failure", with_run=False, error={"Error": "InvalidExecutionInput", "Cause": json.dumps(cause)})

    assert (result["error"], result["cause"]) == ("InvalidExecutionInput", message)  # the fix is said once
    assert stack.messages()[0]["Subject"].startswith("[fraud-retrain] Retrain failed: InvalidExecutionInput")


def test_success_and_kept_notify_with_the_decision(stack: Any, notify: Any) -> None:
    success = notify("success", decision={**DECISION, "promote": True})
    kept = notify("kept", decision=DECISION)

    assert success["kind"] == "success" and kept["kind"] == "kept"
    assert success["message_id"] and kept["message_id"] != success["message_id"]
    promoted, kept_message = stack.messages()
    assert promoted["Subject"].startswith(f"[fraud-retrain] New champion live: {NAME}")
    assert "endpoint fraud-detector" in promoted["Message"]
    assert kept_message["Subject"] == f"[fraud-retrain] Champion kept: {NAME} average_precision 0.380 vs 0.377"
    assert DECISION["reasons"][0] in kept_message["Message"]


def test_success_without_a_run_is_a_definition_mismatch(notify: Any) -> None:
    with pytest.raises(InvalidTaskInput, match=r"event\.run: missing"):
        notify("success", with_run=False)


def test_rejection_closes_the_pending_approval(stack: Any, notify: Any) -> None:
    stack.dynamodb.put_item(
        TableName=stack.table,
        Item={"pk": {"S": stack.pipeline}, "sk": {"S": f"APPROVAL#{NAME}"}, "status": {"S": "PENDING"}},
    )
    cause = json.dumps({"rejected_by": "bob", "reason": "precision dropped on EU traffic"})

    result = notify("rejected", error={"Error": "ApprovalRejected", "Cause": cause})

    assert (result["error"], result["cause"]) == (
        "ApprovalRejected",
        "rejected by bob: precision dropped on EU traffic",
    )
    item = stack.item(f"APPROVAL#{NAME}")
    assert item["status"]["S"] == "REJECTED"
    assert item["reason"]["S"] == "rejected by bob: precision dropped on EU traffic"
    [message] = stack.messages()
    assert message["Subject"] == f"[fraud-retrain] Candidate rejected: {NAME}"


def test_an_approval_timeout_expires_the_request(stack: Any, notify: Any) -> None:
    stack.dynamodb.put_item(
        TableName=stack.table,
        Item={"pk": {"S": stack.pipeline}, "sk": {"S": f"APPROVAL#{NAME}"}, "status": {"S": "PENDING"}},
    )

    result = notify("rejected", error={"Error": "States.Timeout", "Cause": ""})

    assert result["error"] == "States.Timeout"
    assert stack.item(f"APPROVAL#{NAME}")["status"]["S"] == "EXPIRED"
    assert stack.messages()[0]["Subject"] == f"[fraud-retrain] Candidate expired: {NAME}"


def test_an_invalid_approval_output_rejects_and_says_so(stack: Any, notify: Any) -> None:
    stack.dynamodb.put_item(
        TableName=stack.table,
        Item={"pk": {"S": stack.pipeline}, "sk": {"S": f"APPROVAL#{NAME}"}, "status": {"S": "PENDING"}},
    )
    cause = "The approval output must be a JSON object with the string fields approved_by, reason, approved_at"

    result = notify("rejected", error={"Error": "InvalidApprovalOutput", "Cause": cause})

    assert (result["error"], result["cause"]) == ("InvalidApprovalOutput", cause)
    assert stack.item(f"APPROVAL#{NAME}")["status"]["S"] == "REJECTED"
    [message] = stack.messages()
    assert message["Subject"] == f"[fraud-retrain] Candidate rejected: {NAME}"
    assert "was rejected: its approval output was not valid" in message["Message"]
    assert f"Reason:         {cause}" in message["Message"]


def test_an_unknown_kind_is_refused(notify: Any) -> None:
    with pytest.raises(InvalidTaskInput, match=r"^event\.kind: expected one of 'success', 'failure'"):
        notify("partial")
