from __future__ import annotations

import json
import re
from typing import Any

import pytest

from retrain.errors import ConfigError
from retrain.ports import StoredApproval
from retrain.quality_alarm import QualityAlarmFired
from retrain.state_table import PARTITION_KEY, SORT_KEY
from tasks._aws.dynamodb_state import DynamoPipelineStateTable
from tests.unit.tasks.test_task_start_retrain_quality import quality_event

DECISION: dict[str, Any] = {
    "promote": True,
    "metric": "average_precision",
    "candidate": {"average_precision": 0.412, "roc_auc": 0.88},
    "champion": {"average_precision": 0.377, "roc_auc": 0.875},
    "reasons": ["average_precision 0.412 vs champion 0.377: +0.035 ≥ required +0.005"],
    "report_uri": "s3://retrain-data/models/run/evaluation/report.html",
}
NAME = "fraud-retrain-2024-06-01"
PACKAGE = "arn:aws:sagemaker:eu-west-1:123456789012:model-package/fraud-retrain-models/3"


@pytest.fixture
def request_approval(stack: Any, load_handler: Any, context: Any, plan: Any) -> Any:
    handler = load_handler("request_approval").handler
    run = plan(NAME, approval_timeout_seconds=3600)

    def invoke(token: str, redrive_count: int | None = None) -> dict[str, Any]:
        event = {
            "task_token": token,
            "run": run,
            "decision": DECISION,
            "model_package_arn": PACKAGE,
            "execution_arn": stack.execution_arn(NAME),
        }
        if redrive_count is not None:
            event["redrive_count"] = redrive_count
        result: dict[str, Any] = handler(event, context)
        return result

    return invoke


def test_stores_the_token_and_notifies_the_ml_leads(stack: Any, request_approval: Any) -> None:
    result = request_approval("token-1")

    assert result == {"status": "PENDING", "notified": True}
    item = stack.item(f"APPROVAL#{NAME}")
    assert item["task_token"]["S"] == "token-1"
    assert item["status"]["S"] == "PENDING"
    assert item["model_package_arn"]["S"] == PACKAGE
    assert json.loads(item["decision"]["S"]) == DECISION
    assert item["requested_at"]["S"] and item["notified_at"]["S"] and item["expires_at"]["S"]

    [message] = stack.messages()
    assert len(message["Subject"]) <= 100
    assert message["Subject"].startswith(f"[fraud-retrain] Approve candidate {NAME}?")
    body = message["Message"]
    assert re.search(r"average_precision +0\.4120 +0\.3770 +\+0\.0350\n", body)
    assert re.search(r"roc_auc +0\.8800 +0\.8750 +\+0\.0050\n", body)
    assert DECISION["reasons"][0] in body
    console = (
        "https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1"
        f"#/v2/executions/details/{stack.execution_arn(NAME)}"
    )
    assert console in body
    assert f'RETRAIN_TARGET=aws AWS_REGION=eu-west-1 retrain approve {NAME} --reason "<why>"' in body
    assert f'RETRAIN_TARGET=aws AWS_REGION=eu-west-1 retrain reject {NAME} --reason "<why>"' in body
    for status in ("Approved", "Rejected"):
        assert (
            f"aws sagemaker update-model-package --region eu-west-1 --model-package-arn {PACKAGE} \\\n"
            f'    --model-approval-status {status} --approval-description "<why>"'
        ) in body


def test_the_message_never_carries_the_task_token(stack: Any, request_approval: Any) -> None:
    # A token as Step Functions issues them: long, base64 with '/' and '+' (anyone holding it may answer).
    token = "AQCEAAAAKgAAAAMAAAAAAAAAAYm8y4/Rk+3mQz0pVb6kWq2dZ" + "x7Lw9Q/aB+cD" * 40 + "=="
    request_approval(token)

    [message] = stack.messages()
    assert stack.item(f"APPROVAL#{NAME}")["task_token"]["S"] == token
    assert token[:24] not in message["Message"] and token[-24:] not in message["Message"]
    assert "task-token" not in message["Message"] and "send-task" not in message["Message"]
    assert PACKAGE in message["Message"] and "--region eu-west-1" in message["Message"]


def test_a_retry_updates_the_token_without_notifying_twice(stack: Any, request_approval: Any) -> None:
    first = request_approval("token-1")
    requested_at = stack.item(f"APPROVAL#{NAME}")["requested_at"]["S"]

    second = request_approval("token-2")

    assert first["notified"] and not second["notified"]
    item = stack.item(f"APPROVAL#{NAME}")
    assert item["task_token"]["S"] == "token-2"
    assert item["requested_at"]["S"] == requested_at
    assert len(stack.messages()) == 1


def test_a_redriven_run_asks_the_ml_leads_again_once_per_drive(stack: Any, request_approval: Any) -> None:
    # The run stopped while it waited (its token died with it) and was redriven: RedriveCount 1. The first
    # message's answer cannot reach the run any more, so the leads must hear that it asks again.
    assert request_approval("token-1", redrive_count=0)["notified"]

    redriven = request_approval("token-2", redrive_count=1)
    retried = request_approval("token-3", redrive_count=1)  # a retry within the redrive: not again

    assert redriven["notified"] and not retried["notified"]
    first, again = stack.messages()
    assert "Asked again" not in first["Message"]
    assert "Asked again: the run stopped while it waited and was redriven (redrive 1)" in again["Message"]
    item = stack.item(f"APPROVAL#{NAME}")
    assert item["task_token"]["S"] == "token-3" and item["notified_redrive"]["N"] == "1"
    assert request_approval("token-4", redrive_count=2)["notified"]
    [third] = stack.messages()
    assert "(redrive 2)" in third["Message"]


def test_a_request_notified_before_drives_were_counted_is_asked_again_on_a_redrive(
    stack: Any, request_approval: Any
) -> None:
    request_approval("token-1")
    stack.dynamodb.update_item(  # as an earlier version of the function left it
        TableName=stack.table,
        Key={PARTITION_KEY: {"S": stack.pipeline}, SORT_KEY: {"S": f"APPROVAL#{NAME}"}},
        UpdateExpression="REMOVE notified_redrive",
    )

    assert not request_approval("token-2")["notified"]
    assert request_approval("token-3", redrive_count=1)["notified"]
    assert len(stack.messages()) == 2


def test_the_command_reads_the_stored_request_through_the_same_adapter(stack: Any, request_approval: Any) -> None:
    store = DynamoPipelineStateTable(stack.dynamodb, stack.table, stack.pipeline)
    assert store.approval(NAME) is None

    request_approval("token-1")

    assert store.approval(NAME) == StoredApproval(NAME, "PENDING", "token-1")
    assert store.approval("another-run") is None


def test_a_failed_publish_lets_the_retry_notify(
    stack: Any, request_approval: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TOPIC_ARN")
    with pytest.raises(ConfigError, match="TOPIC_ARN is not set"):
        request_approval("token-1")
    assert "notified_at" not in stack.item(f"APPROVAL#{NAME}")

    monkeypatch.setenv("TOPIC_ARN", stack.topic_arn)
    assert request_approval("token-2")["notified"]
    assert len(stack.messages()) == 1


@pytest.mark.parametrize(
    "given",
    [
        {"trigger": "drift", "reason": "drift alarm fraud-detector-data-quality-drift: amount 0.42 > 0.1"},
        "quality",
    ],
)
def test_the_ml_leads_read_what_started_the_run_and_why(
    stack: Any, load_handler: Any, context: Any, plan: Any, given: Any
) -> None:
    """The alarm's reason (a quality run's: the metric, its value, the threshold, the count and the window),
    from the starter's input through ValidateInput's plan into the approval message."""
    if given == "quality":
        fired = QualityAlarmFired.from_event(quality_event())
        assert fired is not None
        given = fired.execution_input().model_dump(mode="json", exclude_none=True)
    run = plan(NAME, approval_timeout_seconds=3600, **given)
    event = {
        "task_token": "token-1",
        "run": run,
        "decision": DECISION,
        "model_package_arn": PACKAGE,
        "execution_arn": stack.execution_arn(NAME),
    }
    load_handler("request_approval").handler(event, context)
    [message] = stack.messages()
    assert f"(started {run['started_at']}, {given['trigger']})" in message["Message"]
    assert f"Run reason:     {given['reason']}\n" in message["Message"]
    if given["trigger"] == "quality":
        assert (
            "average_precision 0.0213 < 0.2 over 412 labelled predictions in the 3600 s window of " in given["reason"]
        )
