"""`retrain run`: one whole retrain cycle on the embedded local AWS, from a fresh clone.

Starts the local AWS (or uses the running one), deploys or updates the stack when the code
changed, lands demo data when the landing prefix is empty and the configured dataset is the demo
one (or more of it with --demo-data), starts an execution with a meaningful name, follows it state
by state, handles the approval as asked, and ends with a summary. With another dataset, land your
files first with `retrain land`.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import time
from datetime import UTC, datetime
from typing import Any

from cli.config_file import load_checked_config
from cli.deployment import deploy_locally
from cli.display import duration, metrics_table, timeline_lines
from cli.executions import send_approval, send_rejection
from cli.follow import Approver, ExecutionFollower, PendingApproval
from cli.landing import (
    append_demo_days,
    is_demo_dataset,
    landing_is_empty,
    new_data_window,
    refuse_demo_data_unless_demo,
    sample_request,
)
from cli.pipeline import DeployedPipeline
from retrain.config import DEFAULT_CONFIG_FILE
from retrain.errors import RetrainError
from retrain.runs import SUCCESSFUL_OUTCOMES, Timeline

DEMO_DAYS = 30
TRIGGER_WAIT_SECONDS = 10.0
TOKEN_WAIT_SECONDS = 60.0  # RequestApproval's Lambda stores the task token just after the state starts


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "run", help="run a whole retrain cycle on the embedded local AWS", description=__doc__
    )
    parser.add_argument("--config", default=DEFAULT_CONFIG_FILE, help="path of the config file")
    parser.add_argument(
        "--approve",
        choices=("prompt", "auto", "wait"),
        default=None,
        help="how the approval step is answered: prompt in the terminal (default when stdin is a terminal), "
        "auto-approve as you (demos, tests), or wait for `retrain approve|reject` (default otherwise)",
    )
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object on stdout")
    parser.add_argument("--input", default="{}", help="extra execution input as a JSON object (overrides)")
    parser.add_argument("--timeout", type=float, default=3 * 3600, help="stop following after this many seconds")
    parser.add_argument(
        "--demo-data",
        action="store_true",
        help=f"append {DEMO_DAYS} more days of the demo stream first (only into the demo dataset's pipeline; "
        "without it demo data lands only when nothing has)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    config = load_checked_config(args.config)
    extra = _input_overrides(args.input)
    mode = args.approve or ("prompt" if sys.stdin.isatty() else "wait")
    say = _Say(quiet=False)

    if args.demo_data:
        refuse_demo_data_unless_demo(config, args.config)
    pipeline = deploy_locally(args.config, say)
    landed = _land_demo_data(pipeline, args.config, asked=args.demo_data, say=say)
    # New data starts a run by itself (the stack's new-data trigger); one retrain runs at a time, so
    # a run already going is followed rather than refused.
    execution_arn = running_execution(pipeline, wait_seconds=TRIGGER_WAIT_SECONDS if landed else 0)
    if execution_arn:
        say(f"following {execution_arn.rsplit(':', 1)[-1]}, which is already running")
    else:
        execution_arn = start_execution(pipeline, extra)
        say(f"started {execution_arn.rsplit(':', 1)[-1]}")

    follower = ExecutionFollower(
        pipeline, execution_arn, approver=_approver(pipeline, mode), timeout_seconds=args.timeout
    )
    timeline = follower.follow()
    summary = RunSummary.of(pipeline, execution_arn, timeline)
    if args.json:
        print(json.dumps(summary.as_dict(), indent=2, default=str))
    else:
        print("\n".join(summary.lines()))
    return 0 if timeline.outcome in SUCCESSFUL_OUTCOMES else 1


class _Say:
    """Progress goes to stderr so that `--json` keeps stdout to the one summary object."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet

    def __call__(self, message: str) -> None:
        if not self.quiet:
            print(message, file=sys.stderr, flush=True)


def _input_overrides(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as error:
        raise RetrainError(f'--input: not JSON ({error}); pass an object such as \'{{"reason": "demo"}}\'') from None
    if not isinstance(value, dict):
        raise RetrainError("--input: expected a JSON object of execution input fields")
    return value


def _land_demo_data(pipeline: DeployedPipeline, config_path: str, *, asked: bool, say: _Say) -> bool:
    """Demo days land when asked, or into an empty landing prefix of the demo dataset's pipeline;
    never into a pipeline of another dataset, where an empty landing prefix ends the command."""
    config, s3 = pipeline.config, pipeline.client("s3")
    if asked:
        say(f"wrote {append_demo_days(s3, pipeline.bucket, config, days=DEMO_DAYS)}")
        return True
    if not landing_is_empty(s3, pipeline.bucket, config):
        return False
    if not is_demo_dataset(config):
        raise RetrainError(
            f"nothing has landed in s3://{pipeline.bucket}/{config.data.landing_prefix} yet: land your files with "
            f"`retrain land PATH... --config {config_path}` (docs/your-data.md), then run again"
        )
    say(f"landing was empty: wrote {append_demo_days(s3, pipeline.bucket, config, days=DEMO_DAYS)}")
    return True


def execution_input(extra: dict[str, Any]) -> dict[str, Any]:
    """A manual run: who asked and why; `--input` adds or overrides fields."""
    return {"trigger": "manual", "requested_by": getpass.getuser(), "reason": "retrain run", **extra}


def running_execution(pipeline: DeployedPipeline, wait_seconds: float = 0.0) -> str | None:
    """The ARN of the pipeline's running execution, polling up to `wait_seconds` for one to appear."""
    client = pipeline.client("stepfunctions")
    deadline = time.monotonic() + wait_seconds
    while True:
        running = client.list_executions(
            stateMachineArn=pipeline.state_machine_arn, statusFilter="RUNNING", maxResults=1
        )["executions"]
        if running:
            return str(running[0]["executionArn"])
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.5)


def execution_name(pipeline: DeployedPipeline, now: datetime, window: tuple[str, str] | None) -> str:
    """`<pipeline>-<UTC time>[-<first day>-<last day> of new data]`: readable in a list of runs."""
    name = f"{pipeline.config.pipeline.name}-{now:%Y%m%dT%H%M%S}"
    if window:
        name += f"-{window[0].replace('-', '')}-{window[1].replace('-', '')}"
    return name[:80]


def start_execution(pipeline: DeployedPipeline, extra: dict[str, Any]) -> str:
    client = pipeline.client("stepfunctions")
    running = client.list_executions(stateMachineArn=pipeline.state_machine_arn, statusFilter="RUNNING", maxResults=1)[
        "executions"
    ]
    if running:
        name = running[0]["name"]
        raise RetrainError(
            f"run {name} is still in progress and one retrain runs at a time: follow it with `retrain show {name}`, "
            "answer its approval with `retrain approve|reject`, or stop it in the console"
        )
    window = new_data_window(pipeline)
    name = execution_name(pipeline, datetime.now(UTC), window)
    response = client.start_execution(
        stateMachineArn=pipeline.state_machine_arn, name=name, input=json.dumps(execution_input(extra))
    )
    return str(response["executionArn"])


def _approver(pipeline: DeployedPipeline, mode: str) -> Approver:
    def approve(request: PendingApproval) -> None:
        print("\n".join(request.describe()), file=sys.stderr)
        name = request.execution_name
        if mode == "auto":
            send_approval(
                pipeline,
                name,
                who=getpass.getuser(),
                reason="approved by `retrain run --approve auto`",
                wait_seconds=TOKEN_WAIT_SECONDS,
            )
            print("  approved automatically (--approve auto)", file=sys.stderr)
        elif mode == "prompt":
            answer = input("  Approve this candidate? [y/N] ").strip().lower()
            reason = input("  Reason (recorded with the model): ").strip() or "no reason given"
            if answer in ("y", "yes"):
                send_approval(pipeline, name, who=getpass.getuser(), reason=reason, wait_seconds=TOKEN_WAIT_SECONDS)
            else:
                send_rejection(pipeline, name, who=getpass.getuser(), reason=reason, wait_seconds=TOKEN_WAIT_SECONDS)
        else:
            print(
                f'  waiting for an ML lead:\n    retrain approve {name} --reason "..."\n'
                f'    retrain reject {name} --reason "..."',
                file=sys.stderr,
            )

    return approve


class RunSummary:
    """What a person (or a script, with --json) needs at the end of a run."""

    def __init__(self, pipeline: DeployedPipeline, execution_arn: str, timeline: Timeline) -> None:
        self.pipeline = pipeline
        self.execution_arn = execution_arn
        self.timeline = timeline
        compare = timeline.last_visit("CompareWithChampion")
        decision = (compare.output or {}).get("decision", {}) if compare else {}
        self.candidate: dict[str, Any] = decision.get("candidate") or {}
        self.champion: dict[str, Any] | None = decision.get("champion")
        self.reasons: list[str] = decision.get("reasons", [])
        try:
            self.sample_request: str | None = sample_request(pipeline.config, pipeline)
        except RetrainError:  # another dataset with nothing landed that a row can be taken from
            self.sample_request = None

    @classmethod
    def of(cls, pipeline: DeployedPipeline, execution_arn: str, timeline: Timeline) -> RunSummary:
        return cls(pipeline, execution_arn, timeline)

    @property
    def endpoint_status(self) -> str | None:
        try:
            return str(
                self.pipeline.client("sagemaker").describe_endpoint(EndpointName=self.pipeline.endpoint_name)[
                    "EndpointStatus"
                ]
            )
        except Exception:  # no endpoint yet: nothing was ever promoted
            return None

    def as_dict(self) -> dict[str, Any]:
        return {
            "execution_arn": self.execution_arn,
            "execution_name": self.execution_arn.rsplit(":", 1)[-1],
            "status": self.timeline.status,
            "outcome": self.timeline.outcome,
            "error": self.timeline.error,
            "cause": self.timeline.cause,
            "candidate": self.candidate,
            "champion": self.champion,
            "reasons": self.reasons,
            "endpoint": self.pipeline.endpoint_name,
            "endpoint_status": self.endpoint_status,
            "sample_request": self.sample_request,
            "seconds": self.timeline.seconds,
            "state_seconds": self.timeline.seconds_per_state(),
        }

    def lines(self) -> list[str]:
        name = self.execution_arn.rsplit(":", 1)[-1]
        outcome = self.timeline.outcome
        lines = ["", f"{outcome}: run {name} ({self.timeline.status}, {duration(self.timeline.seconds)})"]
        if self.timeline.error:
            lines.append(f"  {self.timeline.error}: {self.timeline.cause}")
        if self.candidate:
            lines += metrics_table(self.candidate, self.champion)
            lines += [f"    - {reason}" for reason in self.reasons]
        status = self.endpoint_status
        if status:
            lines += [
                f"  endpoint {self.pipeline.endpoint_name}: {status}",
                f"  call it: retrain invoke   (or boto3 sagemaker-runtime invoke_endpoint, "
                f"ContentType text/csv, Body {self.sample_request!r})",
            ]
        lines.append(f"  the whole timeline: retrain show {name}")
        return lines


__all__ = ["RunSummary", "execution_input", "execution_name", "run", "timeline_lines"]
