"""An ML lead's decision in the Model Registry answers the waiting run, once, and nothing else does.

The core runs against moto's DynamoDB (the state table, its conditional writes) with the answers
recorded; the handler against a stubbed Step Functions client, to pin the exact SendTaskSuccess call."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from retrain.approval_answers import ModelPackageStateChange, answer_from_registry
from retrain.contracts import PromotionDecision
from retrain.ports import ApprovalRequest, StoredApproval, TaskNoLongerWaiting
from retrain.state_table import ANSWERED, PENDING
from tasks._aws.dynamodb_state import DynamoPipelineStateTable
from tasks._aws.step_functions import StepFunctionsTasks
from tests.unit.tasks.conftest import PIPELINE, TABLE, Stack

NAME = "auto-20261126T0300Z"
PACKAGE = "arn:aws:sagemaker:eu-west-1:123456789012:model-package/fraud-retrain-models/3"
TOKEN = "AQCEAAAAKgAAAAMAAAAAAAAAAYm8y4/Rk+3mQz0pVb6kWq2dZx7Lw9Q/aB+cD=="
STUDIO_USER = {
    "UserProfileArn": "arn:aws:sagemaker:eu-west-1:123456789012:user-profile/d-abc123/alice",
    "UserProfileName": "alice",
    "DomainId": "d-abc123",
}
IAM_USER = {"IamIdentity": {"Arn": "arn:aws:sts::123456789012:assumed-role/MLLeads/bob", "PrincipalId": "AROA:bob"}}


def state_change(status: str, package: str = PACKAGE, by: dict[str, Any] | None = None, why: str = "") -> dict:
    """The event as "Events that Amazon SageMaker sends to Amazon EventBridge" documents it."""
    detail: dict[str, Any] = {
        "ModelPackageGroupName": "fraud-retrain-models",
        "ModelPackageVersion": 3,
        "ModelPackageArn": package,
        "CreationTime": 1764126000000,
        "ModelApprovalStatus": status,
        "ModelPackageStatus": "Completed",
        "CreatedBy": {"IamIdentity": {"Arn": "arn:aws:sts::123456789012:assumed-role/StateMachineRole/x"}},
        "LastModifiedBy": by or STUDIO_USER,
    }
    if why:
        detail["ApprovalDescription"] = why
    return {
        "version": "0",
        "id": "844e2571-85d4-695f-b930-0153b71dcb42",
        "detail-type": "SageMaker Model Package State Change",
        "source": "aws.sagemaker",
        "account": "123456789012",
        "time": "2026-11-26T03:40:00Z",
        "region": "eu-west-1",
        "resources": [package],
        "detail": detail,
    }


class Answers:
    """The answers the core sends, or the error Step Functions returns for them."""

    def __init__(self, stale: str = "") -> None:
        self.sent: list[tuple[str, Any]] = []
        self.stale = stale

    def succeed(self, task_token: str, output: dict[str, Any]) -> None:
        self._send("success", task_token, output)

    def fail(self, task_token: str, error: str, cause: str) -> None:
        self._send("failure", task_token, (error, json.loads(cause)))

    def _send(self, kind: str, token: str, what: Any) -> None:
        if self.stale:
            raise TaskNoLongerWaiting(self.stale)
        self.sent.append((kind, what))
        assert token == TOKEN


@pytest.fixture
def store(stack: Stack) -> DynamoPipelineStateTable:
    table = DynamoPipelineStateTable(stack.dynamodb, TABLE, PIPELINE)
    decision = PromotionDecision(
        promote=True, metric="ap", candidate={"ap": 0.4}, champion=None, reasons=["first"], report_uri="s3://b/r"
    )
    for name, package in ((NAME, PACKAGE), ("auto-20261125T0300Z", PACKAGE.replace("/3", "/2"))):
        table.save_approval_request(
            ApprovalRequest(name, f"arn:x:{name}", TOKEN, package, decision, "2026-11-26T03:30:00Z", "later")
        )
    return table


def answer(store: DynamoPipelineStateTable, event: dict[str, Any], answers: Answers) -> dict[str, Any]:
    return answer_from_registry(ModelPackageStateChange.model_validate(event), store, answers)


def test_an_approval_in_studio_resumes_the_run_with_who_and_why(store: DynamoPipelineStateTable) -> None:
    answers = Answers()
    result = answer(store, state_change("Approved", why="AP +0.01, latency flat"), answers)

    who = "alice (arn:aws:sagemaker:eu-west-1:123456789012:user-profile/d-abc123/alice)"
    assert answers.sent == [
        ("success", {"approved_by": who, "reason": "AP +0.01, latency flat", "approved_at": "2026-11-26T03:40:00Z"})
    ]
    assert result["answered"] and result["execution"] == NAME
    assert store.approval(NAME) == StoredApproval(NAME, ANSWERED, TOKEN)
    assert store.approval("auto-20261125T0300Z") == StoredApproval("auto-20261125T0300Z", PENDING, TOKEN)


def test_a_rejection_with_the_cli_ends_the_run_as_rejected_by_that_identity(store: DynamoPipelineStateTable) -> None:
    answers = Answers()
    answer(store, state_change("Rejected", by=IAM_USER, why="recall dropped"), answers)

    assert answers.sent == [
        (
            "failure",
            (
                "ApprovalRejected",
                {
                    "rejected_by": "arn:aws:sts::123456789012:assumed-role/MLLeads/bob",
                    "reason": "recall dropped",
                    "rejected_at": "2026-11-26T03:40:00Z",
                },
            ),
        )
    ]


def test_a_redelivered_event_answers_nothing_more(store: DynamoPipelineStateTable) -> None:
    answers = Answers()
    first = answer(store, state_change("Approved", why="ok"), answers)
    again = answer(store, state_change("Approved", why="ok"), answers)

    assert first["answered"] and not again["answered"]
    assert again["ignored"] == "no run waits for approval of this package"
    assert len(answers.sent) == 1


def test_promotion_approving_the_package_after_retrain_approve_resumes_nothing(
    store: DynamoPipelineStateTable,
) -> None:
    # `retrain approve` claimed the request (and sent its answer); PromoteChampion later sets Approved.
    assert store.claim_answer(NAME, "approve", "carol (arn:...)", "2026-11-26T03:35:00Z")
    answers = Answers()

    result = answer(store, state_change("Approved", why="Approved by carol (arn:...): fine"), answers)

    assert answers.sent == [] and not result["answered"]
    assert store.claim_answer(NAME, "approve", "someone", "2026-11-26T03:36:00Z") is False


@pytest.mark.parametrize(
    ("status", "package"),
    [("PendingManualApproval", PACKAGE), ("Approved", PACKAGE.replace("/3", "/9")), ("Approved", "not-ours")],
)
def test_other_changes_and_unknown_packages_are_ignored(
    store: DynamoPipelineStateTable, status: str, package: str
) -> None:
    answers = Answers()
    result = answer(store, state_change(status, package=package), answers)
    assert answers.sent == [] and not result["answered"] and result["ignored"]
    assert store.approval(NAME) == StoredApproval(NAME, PENDING, TOKEN)


def test_a_run_that_no_longer_waits_is_ignored_and_its_request_left_to_close(store: DynamoPipelineStateTable) -> None:
    result = answer(store, state_change("Rejected", why="too late"), Answers(stale="TaskTimedOut"))

    assert result["ignored"] == "the run no longer waits (TaskTimedOut)"
    assert store.approval(NAME) == StoredApproval(NAME, PENDING, TOKEN)  # NotifyRejected closes it EXPIRED
    assert store.close_approval(NAME, "EXPIRED", "2026-11-26T04:00:00Z", "timeout")


def test_an_answered_request_can_still_be_closed(store: DynamoPipelineStateTable) -> None:
    answer(store, state_change("Rejected", why="no"), Answers())
    assert store.close_approval(NAME, "REJECTED", "2026-11-26T04:00:00Z", "no")
    assert store.approval(NAME) == StoredApproval(NAME, "REJECTED", TOKEN)


def test_no_description_and_no_identity_still_answer_with_what_is_known(store: DynamoPipelineStateTable) -> None:
    answers = Answers()
    event = state_change("Approved")
    del event["detail"]["LastModifiedBy"], event["detail"]["CreatedBy"]
    answer(store, event, answers)
    [(_, output)] = answers.sent
    assert output["approved_by"] == "unknown identity (SageMaker Model Registry)"
    assert output["reason"] == "(no approval description was given in the Model Registry)"


def test_the_handler_sends_task_success_with_the_approval_output(
    store: DynamoPipelineStateTable, load_handler: Any, context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = load_handler("answer_from_registry")
    monkeypatch.setenv("STATE_TABLE_NAME", TABLE)
    monkeypatch.setenv("PIPELINE_NAME", PIPELINE)
    output = {
        "approved_by": "alice (arn:aws:sagemaker:eu-west-1:123456789012:user-profile/d-abc123/alice)",
        "reason": "looks good",
        "approved_at": "2026-11-26T03:40:00Z",
    }
    with Stubber(module.stepfunctions) as stub:
        stub.add_response("send_task_success", {}, {"taskToken": TOKEN, "output": json.dumps(output)})
        result = module.handler(state_change("Approved", why="looks good"), context)
        stub.assert_no_pending_responses()
    assert result["answered"] is True


def test_the_adapter_names_a_stale_token() -> None:
    class Client:
        def send_task_success(self, **_: Any) -> None:
            raise ClientError({"Error": {"Code": "TaskDoesNotExist", "Message": "gone"}}, "SendTaskSuccess")

    with pytest.raises(TaskNoLongerWaiting, match="TaskDoesNotExist"):
        StepFunctionsTasks(Client()).succeed(TOKEN, {})
