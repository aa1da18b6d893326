"""The pipeline's executions as the command reads and answers them: a run's timeline from its
execution history, and the answer to its approval request."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any, Literal

from botocore.exceptions import ClientError

from cli.ml_leads import as_ml_lead, refusal
from cli.pipeline import DeployedPipeline
from retrain.approval_answers import APPROVE, REJECT, ApprovalAnswer, answer_approval
from retrain.errors import RetrainError
from retrain.ports import StoredApproval, TaskNoLongerWaiting
from retrain.runs import Timeline, build_timeline
from retrain.state_table import PENDING
from tasks._aws.step_functions import StepFunctionsTasks

# The statuses Step Functions redrives (RedriveExecution, API reference), and the state that asks.
REDRIVABLE = frozenset({"FAILED", "ABORTED", "TIMED_OUT"})
REQUEST_APPROVAL = "RequestApproval"


def read_timeline(pipeline: DeployedPipeline, execution_arn: str) -> Timeline:
    client = pipeline.client("stepfunctions")
    events: list[dict[str, Any]] = []
    try:
        for page in client.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
            events.extend(page["events"])
    except ClientError as error:
        if _code(error) not in ("ExecutionDoesNotExist", "InvalidArn"):
            raise
        name = execution_arn.rsplit(":", 1)[-1]
        raise RetrainError(
            f"no run {name!r} in pipeline {pipeline.config.pipeline.name}: `retrain runs` lists its runs "
            f"(a run is named by its execution name or ARN)"
        ) from None
    return build_timeline(events)


def pending_approval(pipeline: DeployedPipeline, execution_name: str, wait_seconds: float = 0.0) -> StoredApproval:
    """The run's approval request; `wait_seconds` covers the moment between the run entering
    RequestApproval and its Lambda storing the task token."""
    store = pipeline.state_store()
    deadline = time.monotonic() + wait_seconds
    while True:
        approval = store.approval(execution_name)
        if approval or time.monotonic() >= deadline:
            break
        time.sleep(0.25)
    if not approval:
        raise RetrainError(
            f"run {execution_name} has not asked for approval (yet): check `retrain show {execution_name}`"
        )
    if approval.status != PENDING:
        raise RetrainError(f"run {execution_name} is not waiting for approval: its request is {approval.status}")
    return approval


def send_approval(
    pipeline: DeployedPipeline, execution_name: str, who: str, reason: str, wait_seconds: float = 0.0
) -> None:
    _answer(pipeline, execution_name, APPROVE, who, reason, wait_seconds)


def send_rejection(
    pipeline: DeployedPipeline, execution_name: str, who: str, reason: str, wait_seconds: float = 0.0
) -> None:
    _answer(pipeline, execution_name, REJECT, who, reason, wait_seconds)


def _answer(
    pipeline: DeployedPipeline,
    execution_name: str,
    kind: Literal["approve", "reject"],
    who: str,
    reason: str,
    wait_seconds: float,
) -> None:
    try:
        lead = as_ml_lead(pipeline, who)
        approval = pending_approval(lead, execution_name, wait_seconds)
        answer = ApprovalAnswer(kind, _identity(lead, who), reason, _now())
        answered = answer_approval(
            lead.state_store(), StepFunctionsTasks(lead.client("stepfunctions")), approval, answer
        )
    except ClientError as error:
        denied = refusal(pipeline, error)
        if denied is None:
            raise
        raise denied from None
    except TaskNoLongerWaiting as error:
        raise _no_longer_waiting(pipeline, execution_name, error.code) from None
    if not answered:
        raise RetrainError(
            f"run {execution_name} was answered meanwhile (in the Model Registry or by another ML lead): "
            f"see `retrain show {execution_name}`"
        )


def _no_longer_waiting(pipeline: DeployedPipeline, execution_name: str, code: str) -> RetrainError:
    """The run's task token is gone: a run that stopped in RequestApproval itself (its Lambda failed, the
    run was stopped, or the service that held the token restarted) asks again when redriven; any other
    run has moved on, and only a new run brings a candidate to approve."""
    timeline = read_timeline(pipeline, pipeline.execution_arn(execution_name))
    last = timeline.visits[-1] if timeline.visits else None
    if timeline.status in REDRIVABLE and last is not None and last.name == REQUEST_APPROVAL:
        return RetrainError(
            f"run {execution_name} stopped while waiting for approval ({timeline.status} with "
            f"{timeline.error or 'no error named'}), and its request can no longer be answered: "
            f"`retrain redrive {execution_name}` asks for approval again, then approve or reject it"
        )
    return RetrainError(
        f"run {execution_name} no longer waits for approval ({code}: its request ended with the run or "
        f"timed out); see how it ended with `retrain show {execution_name}`, and start a new run with "
        f"`retrain run` for a candidate to approve"
    )


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _identity(pipeline: DeployedPipeline, who: str) -> str:
    """The name given plus the AWS principal that sends the answer (the ML leads role's session), for the
    audit trail."""
    try:
        arn = pipeline.client("sts").get_caller_identity()["Arn"]
    except Exception:  # an identity we cannot read must not block a decision
        return who
    return f"{who} ({arn})"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
