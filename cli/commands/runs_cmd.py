"""`retrain runs`, `retrain show RUN`, `retrain approve RUN`, `retrain reject RUN`."""

from __future__ import annotations

import argparse
import getpass
import json
from typing import Any

from cli.display import duration, timeline_lines
from cli.executions import read_timeline, send_approval, send_rejection
from cli.pipeline import DeployedPipeline
from retrain.config import DEFAULT_CONFIG_FILE
from retrain.runs import OUTCOME_OF_STATE

MAX_REASON = 500  # the reason ends up in the model package's ApprovalDescription (1024 chars)


def register(subparsers: Any) -> None:
    runs = subparsers.add_parser("runs", help="recent runs, their outcome and duration")
    runs.add_argument("--limit", type=_limit, default=10, help=f"how many runs, newest first (1-{MAX_LIMIT})")
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


# ListExecutions' maxResults is 0-1000, where 0 means the service's own page size (botocore
# `stepfunctions/2016-11-23/service-2.json`, `PageSize`): a count of runs starts at 1.
MAX_LIMIT = 1000


def _limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number; give how many runs, 1-{MAX_LIMIT}") from None
    if not 1 <= value <= MAX_LIMIT:
        raise argparse.ArgumentTypeError(f"{value} runs: give 1 to {MAX_LIMIT}, e.g. --limit 20")
    return value


def _reason(text: str) -> str:
    text = " ".join(text.split())
    if not text:
        raise argparse.ArgumentTypeError("give a reason: it is recorded with the run and the model package")
    if len(text) > MAX_REASON:
        raise argparse.ArgumentTypeError(f"keep the reason under {MAX_REASON} characters")
    return text


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
    redriven = f", redriven {timeline.redrives}x" if timeline.redrives else ""
    print(f"{arn}\n  status {timeline.status}, outcome {timeline.outcome}, {duration(timeline.seconds)}{redriven}")
    print(f"  {_trigger(pipeline, arn)}")
    print("\n".join(timeline_lines(timeline, with_inputs=args.inputs)))
    return 0


def _trigger(pipeline: DeployedPipeline, arn: str) -> str:
    """What started the run and why, from its execution input (a drift run's reason names the features)."""
    described = pipeline.client("stepfunctions").describe_execution(executionArn=arn)
    try:
        given = json.loads(described.get("input") or "{}")
    except ValueError:
        given = {}
    given = given if isinstance(given, dict) else {}
    reason = given.get("reason")
    return f"trigger {given.get('trigger', 'manual')}" + (f": {reason}" if reason else "")


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
