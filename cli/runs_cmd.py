"""`retrain runs`, `retrain show RUN`, `retrain approve RUN`, `retrain reject RUN`."""

from __future__ import annotations

import argparse
import getpass
import json
import time
from datetime import UTC, datetime
from typing import Any

from cli.display import duration, timeline_lines
from cli.pipeline import DeployedPipeline
from retrain.config import DEFAULT_CONFIG_FILE
from retrain.errors import RetrainError
from retrain.runs import OUTCOME_OF_STATE, Timeline, build_timeline
from retrain.state_table import PARTITION_KEY, PENDING, SORT_KEY, approval_key

MAX_REASON = 500  # the reason ends up in the model package's ApprovalDescription (1024 chars)


def register(subparsers: Any) -> None:
    runs = subparsers.add_parser("runs", help="recent runs, their outcome and duration")
    runs.add_argument("--limit", type=int, default=10)
    runs.add_argument("--config", default=DEFAULT_CONFIG_FILE)
    runs.set_defaults(handler=list_runs)

    show = subparsers.add_parser("show", help="the state timeline of a run, with inputs and errors")
    show.add_argument("run", help="execution name or ARN")
    show.add_argument("--inputs", action="store_true", help="print each state's input too")
    show.add_argument("--config", default=DEFAULT_CONFIG_FILE)
    show.set_defaults(handler=show_run)

    for verb, handler, help_text in [
        ("approve", approve, "approve the candidate a run is waiting on"),
        ("reject", reject, "reject the candidate a run is waiting on (production stays untouched)"),
    ]:
        parser = subparsers.add_parser(verb, help=help_text)
        parser.add_argument("run", help="execution name or ARN")
        parser.add_argument("--reason", required=True, type=_reason, help="why (recorded with the run and package)")
        parser.add_argument("--as", dest="who", default=getpass.getuser(), help="who decides (default: you)")
        parser.add_argument("--config", default=DEFAULT_CONFIG_FILE)
        parser.set_defaults(handler=handler)


def _reason(text: str) -> str:
    text = " ".join(text.split())
    if not text:
        raise argparse.ArgumentTypeError("give a reason: it is recorded with the run and the model package")
    if len(text) > MAX_REASON:
        raise argparse.ArgumentTypeError(f"keep the reason under {MAX_REASON} characters")
    return text


def read_timeline(pipeline: DeployedPipeline, execution_arn: str) -> Timeline:
    client = pipeline.client("stepfunctions")
    events: list[dict[str, Any]] = []
    for page in client.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
        events.extend(page["events"])
    return build_timeline(events)


def list_runs(args: argparse.Namespace) -> int:
    pipeline = DeployedPipeline.connect(args.config)
    client = pipeline.client("stepfunctions")
    executions = client.list_executions(stateMachineArn=pipeline.state_machine_arn, maxResults=args.limit)
    print(f"{'run':<52} {'status':<10} {'outcome':<13} {'duration':>9}  started")
    for execution in executions["executions"]:
        outcome = _outcome(client, execution)
        stopped = execution.get("stopDate")
        seconds = (stopped - execution["startDate"]).total_seconds() if stopped else None
        print(
            f"{execution['name']:<52} {execution['status']:<10} {outcome:<13} {duration(seconds):>9}  "
            f"{execution['startDate']:%Y-%m-%d %H:%M:%S}"
        )
    return 0


def _outcome(client: Any, execution: dict[str, Any]) -> str:
    """The terminal state is among the last few events; reading them is enough."""
    events = client.get_execution_history(executionArn=execution["executionArn"], reverseOrder=True, maxResults=8)[
        "events"
    ]
    for event in events:
        name = event.get("stateEnteredEventDetails", {}).get("name")
        if name in OUTCOME_OF_STATE:
            return OUTCOME_OF_STATE[name]
    return "Running" if execution["status"] == "RUNNING" else "Failed"


def show_run(args: argparse.Namespace) -> int:
    pipeline = DeployedPipeline.connect(args.config)
    arn = pipeline.execution_arn(args.run)
    timeline = read_timeline(pipeline, arn)
    print(f"{arn}\n  status {timeline.status}, outcome {timeline.outcome}, {duration(timeline.seconds)}")
    print("\n".join(timeline_lines(timeline, with_inputs=args.inputs)))
    return 0


def pending_approval(pipeline: DeployedPipeline, execution_name: str, wait_seconds: float = 0.0) -> dict[str, Any]:
    """The run's approval request; `wait_seconds` covers the moment between the run entering
    RequestApproval and its Lambda storing the task token."""
    table = pipeline.client("dynamodb")
    deadline = time.monotonic() + wait_seconds
    while True:
        item = table.get_item(
            TableName=pipeline.state_table,
            Key={PARTITION_KEY: {"S": pipeline.config.pipeline.name}, SORT_KEY: {"S": approval_key(execution_name)}},
            ConsistentRead=True,
        ).get("Item")
        if item or time.monotonic() >= deadline:
            break
        time.sleep(0.25)
    if not item:
        raise RetrainError(
            f"run {execution_name} has not asked for approval (yet): check `retrain show {execution_name}`"
        )
    status = item.get("status", {}).get("S")
    if status != PENDING:
        raise RetrainError(f"run {execution_name} is not waiting for approval: its request is {status}")
    return item


def _identity(pipeline: DeployedPipeline, who: str) -> str:
    """The name given plus the AWS principal that sends the answer, for the audit trail."""
    try:
        arn = pipeline.client("sts").get_caller_identity()["Arn"]
    except Exception:  # an identity we cannot read must not block a decision
        return who
    return f"{who} ({arn})"


def _execution_name(run: str) -> str:
    return run.rsplit(":", 1)[-1] if run.startswith("arn:") else run


def approve(args: argparse.Namespace) -> int:
    pipeline = DeployedPipeline.connect(args.config)
    name = _execution_name(args.run)
    send_approval(pipeline, name, who=args.who, reason=args.reason)
    print(f"approved {name}: the candidate rolls out now (follow it with `retrain show {name}`)")
    return 0


def reject(args: argparse.Namespace) -> int:
    pipeline = DeployedPipeline.connect(args.config)
    name = _execution_name(args.run)
    send_rejection(pipeline, name, who=args.who, reason=args.reason)
    print(f"rejected {name}: production was not touched")
    return 0


def send_approval(
    pipeline: DeployedPipeline, execution_name: str, who: str, reason: str, wait_seconds: float = 0.0
) -> None:
    item = pending_approval(pipeline, execution_name, wait_seconds)
    output = {"approved_by": _identity(pipeline, who), "reason": reason, "approved_at": _now()}
    pipeline.client("stepfunctions").send_task_success(taskToken=item["task_token"]["S"], output=json.dumps(output))


def send_rejection(
    pipeline: DeployedPipeline, execution_name: str, who: str, reason: str, wait_seconds: float = 0.0
) -> None:
    item = pending_approval(pipeline, execution_name, wait_seconds)
    cause = json.dumps({"rejected_by": _identity(pipeline, who), "reason": reason, "rejected_at": _now()})
    pipeline.client("stepfunctions").send_task_failure(
        taskToken=item["task_token"]["S"], error="ApprovalRejected", cause=cause
    )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
