"""The pipeline's executions as the command reads and answers them: a run's timeline from its
execution history, and the answer to its approval request."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from cli.pipeline import DeployedPipeline
from retrain.errors import ApprovalRejected, RetrainError
from retrain.runs import Timeline, build_timeline
from retrain.state_table import PENDING
from tasks._aws.dynamodb_state import StoredApproval


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
    approval = pending_approval(pipeline, execution_name, wait_seconds)
    output = {"approved_by": _identity(pipeline, who), "reason": reason, "approved_at": _now()}
    with _still_waiting(execution_name):
        pipeline.client("stepfunctions").send_task_success(taskToken=approval.task_token, output=json.dumps(output))


def send_rejection(
    pipeline: DeployedPipeline, execution_name: str, who: str, reason: str, wait_seconds: float = 0.0
) -> None:
    approval = pending_approval(pipeline, execution_name, wait_seconds)
    cause = json.dumps({"rejected_by": _identity(pipeline, who), "reason": reason, "rejected_at": _now()})
    with _still_waiting(execution_name):
        pipeline.client("stepfunctions").send_task_failure(
            taskToken=approval.task_token, error=ApprovalRejected.__name__, cause=cause
        )


# SendTaskSuccess/SendTaskFailure's errors for a token no task waits on any more (botocore
# `stepfunctions/2016-11-23/service-2.json`): the run ended (timed out, failed, stopped, or the
# local AWS restarted under it) or the token is not one Step Functions issued.
STALE_TOKEN_ERRORS = ("TaskDoesNotExist", "TaskTimedOut", "InvalidToken")


@contextmanager
def _still_waiting(execution_name: str) -> Iterator[None]:
    try:
        yield
    except ClientError as error:
        if _code(error) not in STALE_TOKEN_ERRORS:
            raise
        raise RetrainError(
            f"run {execution_name} no longer waits for approval ({_code(error)}: its request ended with the run or "
            f"timed out); see how it ended with `retrain show {execution_name}`, and start a new run with "
            f"`retrain run` for a candidate to approve"
        ) from None


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _identity(pipeline: DeployedPipeline, who: str) -> str:
    """The name given plus the AWS principal that sends the answer, for the audit trail."""
    try:
        arn = pipeline.client("sts").get_caller_identity()["Arn"]
    except Exception:  # an identity we cannot read must not block a decision
        return who
    return f"{who} ({arn})"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
