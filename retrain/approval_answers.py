"""Answering a run that waits for approval, whoever answers: `retrain approve|reject` or a decision in
the SageMaker Model Registry (the package set to Approved or Rejected, in Studio or with the CLI).

Both send the same answer: SendTaskSuccess with `{"approved_by", "reason", "approved_at"}` (what
ApprovalOutputValid? checks), or SendTaskFailure `ApprovalRejected` with `{"rejected_by", "reason",
"rejected_at"}` as the cause. Exactly one answer reaches the run: the request is claimed first with a
conditional write (PENDING -> ANSWERED), and only the claimant sends the token. That is also why
PromoteChampion setting the package to Approved after the rollout resumes nothing: the request is no
longer PENDING by then. A claim whose answer could not be sent is released, so another can answer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from retrain.errors import ApprovalRejected
from retrain.ports import ApprovalAnswers, StoredApproval, TaskNoLongerWaiting, WaitingTasks

APPROVE: Final = "approve"
REJECT: Final = "reject"


@dataclass(frozen=True)
class ApprovalAnswer:
    """One ML lead's decision on a candidate."""

    kind: Literal["approve", "reject"]
    by: str
    reason: str
    at: str  # UTC, ISO 8601

    def output(self) -> dict[str, Any]:
        """SendTaskSuccess's output: the fields ApprovalOutputValid? requires."""
        return {"approved_by": self.by, "reason": self.reason, "approved_at": self.at}

    def cause(self) -> str:
        """SendTaskFailure's cause: who rejected and why, as JSON (retrain.notifications reads it)."""
        return json.dumps({"rejected_by": self.by, "reason": self.reason, "rejected_at": self.at})


def answer_approval(
    store: ApprovalAnswers, tasks: WaitingTasks, approval: StoredApproval, answer: ApprovalAnswer
) -> bool:
    """Send `answer` to the waiting run unless it was answered already (then False).

    Raises TaskNoLongerWaiting when the run stopped waiting (the claim is released first)."""
    if not store.claim_answer(approval.execution_name, answer.kind, answer.by, answer.at):
        return False
    try:
        if answer.kind == APPROVE:
            tasks.succeed(approval.task_token, answer.output())
        else:
            tasks.fail(approval.task_token, ApprovalRejected.__name__, answer.cause())
    except BaseException:
        store.release_answer(approval.execution_name, answer.at)
        raise
    return True


# --- the Model Registry's decision, as SageMaker sends it to EventBridge ------------------------
# "Events that Amazon SageMaker sends to Amazon EventBridge", section "SageMaker model package state
# change" (docs.aws.amazon.com/sagemaker/latest/dg/automating-sagemaker-with-eventbridge.html): the
# detail carries the package as DescribeModelPackage describes it (ModelPackageArn,
# ModelPackageGroupName, ModelApprovalStatus, ApprovalDescription, CreatedBy/LastModifiedBy as a
# UserContext: UserProfileArn, UserProfileName, DomainId, IamIdentity {Arn, PrincipalId, SourceIdentity}).
MODEL_PACKAGE_STATE_CHANGE = "SageMaker Model Package State Change"
SAGEMAKER_SOURCE = "aws.sagemaker"
APPROVED = "Approved"
REJECTED = "Rejected"
NO_DESCRIPTION = "(no approval description was given in the Model Registry)"


class IamIdentityContext(BaseModel):
    model_config = ConfigDict(extra="ignore")

    Arn: str | None = None
    PrincipalId: str | None = None
    SourceIdentity: str | None = None


class UserContext(BaseModel):
    model_config = ConfigDict(extra="ignore")

    UserProfileArn: str | None = None
    UserProfileName: str | None = None
    DomainId: str | None = None
    IamIdentity: IamIdentityContext | None = None

    def who(self) -> str | None:
        """A Studio user profile by name (and ARN), else the IAM identity (with its source identity)."""
        if self.UserProfileName:
            return f"{self.UserProfileName} ({self.UserProfileArn})" if self.UserProfileArn else self.UserProfileName
        identity = self.IamIdentity
        if identity and identity.Arn:
            return f"{identity.SourceIdentity} ({identity.Arn})" if identity.SourceIdentity else identity.Arn
        return None


class ModelPackageStateDetail(BaseModel):
    model_config = ConfigDict(extra="ignore")

    ModelPackageArn: str
    ModelPackageGroupName: str | None = None
    ModelApprovalStatus: str | None = None
    ApprovalDescription: str | None = None
    CreatedBy: UserContext | None = None
    LastModifiedBy: UserContext | None = None


class ModelPackageStateChange(BaseModel):
    """The EventBridge event (only the fields used; SageMaker adds more)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    source: str
    detail_type: str = Field(alias="detail-type")
    time: str
    detail: ModelPackageStateDetail


def answer_from_registry(
    change: ModelPackageStateChange, store: ApprovalAnswers, tasks: WaitingTasks
) -> dict[str, Any]:
    """Resume (Approved) or end (Rejected) the run waiting on the package; anything else is ignored.

    EventBridge delivers at least once, and SageMaker may send several events for one change: a
    package whose request is not PENDING any more is ignored, so a repeat answers nothing."""
    detail = change.detail
    result: dict[str, Any] = {
        "model_package_arn": detail.ModelPackageArn,
        "approval_status": detail.ModelApprovalStatus,
        "answered": False,
    }
    if change.detail_type != MODEL_PACKAGE_STATE_CHANGE or detail.ModelApprovalStatus not in (APPROVED, REJECTED):
        return {**result, "ignored": "not an approval or rejection"}
    approval = store.pending_approval_of_package(detail.ModelPackageArn)
    if approval is None:
        return {**result, "ignored": "no run waits for approval of this package"}
    modified_by = detail.LastModifiedBy or detail.CreatedBy
    answer = ApprovalAnswer(
        kind=APPROVE if detail.ModelApprovalStatus == APPROVED else REJECT,
        by=(modified_by.who() if modified_by else None) or "unknown identity (SageMaker Model Registry)",
        reason=detail.ApprovalDescription or NO_DESCRIPTION,
        at=change.time,
    )
    result |= {"execution": approval.execution_name, "answered_by": answer.by, "reason": answer.reason}
    try:
        answered = answer_approval(store, tasks, approval, answer)
    except TaskNoLongerWaiting as error:
        return {**result, "ignored": f"the run no longer waits ({error.code})"}
    if not answered:
        return {**result, "ignored": "the run was answered already"}
    return {**result, "answered": True}
