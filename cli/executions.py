"""The pipeline's executions as the command reads and answers them: a run's timeline from its
execution history, and the answer to its approval request."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

from cli.pipeline import DeployedPipeline
from retrain.errors import ApprovalRejected, RetrainError
from retrain.runs import Timeline, build_timeline
from retrain.state_table import PENDING
from tasks._aws.dynamodb_state import StoredApproval


def read_timeline(pipeline: DeployedPipeline, execution_arn: str) -> Timeline:
    client = pipeline.client("stepfunctions")
    events: list[dict[str, Any]] = []
    for page in client.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
        events.extend(page["events"])
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
    approval = pending_approval(pipeline, execution_name, wait_seconds)
    output = {"approved_by": _identity(pipeline, who), "reason": reason, "approved_at": _now()}
    pipeline.client("stepfunctions").send_task_success(taskToken=approval.task_token, output=json.dumps(output))


def send_rejection(
    pipeline: DeployedPipeline, execution_name: str, who: str, reason: str, wait_seconds: float = 0.0
) -> None:
    approval = pending_approval(pipeline, execution_name, wait_seconds)
    cause = json.dumps({"rejected_by": _identity(pipeline, who), "reason": reason, "rejected_at": _now()})
    pipeline.client("stepfunctions").send_task_failure(
        taskToken=approval.task_token, error=ApprovalRejected.__name__, cause=cause
    )


def _identity(pipeline: DeployedPipeline, who: str) -> str:
    """The name given plus the AWS principal that sends the answer, for the audit trail."""
    try:
        arn = pipeline.client("sts").get_caller_identity()["Arn"]
    except Exception:  # an identity we cannot read must not block a decision
        return who
    return f"{who} ({arn})"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
