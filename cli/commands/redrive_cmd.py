"""`retrain redrive RUN`: resume a failed, stopped or timed-out run from the state it stopped in.

Step Functions' RedriveExecution (the same call on AWS and on the local AWS): the run keeps its name,
input and definition; the states that succeeded keep their results and are not run again; the state
it stopped in runs again with the input it had there, with `$$.Execution.RedriveCount` one higher (the
definition names a SageMaker job by the attempt that started it, so a redriven job state, or its lookup,
takes the job of the attempt before if it completed, and starts a job of its own only if it did not).
Only FAILED, ABORTED and TIMED_OUT runs that stopped less than 14 days ago can be redriven (developer
guide, "Redriving executions").
"""

from __future__ import annotations

import argparse
from datetime import UTC
from typing import Any

from botocore.exceptions import ClientError

from cli.executions import read_timeline
from cli.pipeline import DeployedPipeline
from retrain.config import DEFAULT_CONFIG_FILE
from retrain.errors import RetrainError
from retrain.runs import Timeline

# DescribeExecution's `redriveStatusReason` for a run stopped too long ago (botocore
# `stepfunctions/2016-11-23/service-2.json`); RedriveExecution refuses it with the same words.
PERIOD_EXCEEDED = "Execution redrivable period exceeded"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "redrive", help="resume a failed, stopped or timed-out run from the state it stopped in"
    )
    parser.add_argument("run", help="execution name or ARN")
    parser.add_argument("--config", default=DEFAULT_CONFIG_FILE)
    parser.set_defaults(handler=redrive)


def redrive(args: argparse.Namespace) -> int:
    pipeline = DeployedPipeline.connect(args.config)
    arn = pipeline.execution_arn(args.run)
    name = arn.rsplit(":", 1)[-1]
    timeline = read_timeline(pipeline, arn)  # an unknown run: a one-line error naming `retrain runs`
    _refuse_a_run_that_ended_in_a_fail_state(name, timeline)
    try:
        pipeline.client("stepfunctions").redrive_execution(executionArn=arn)
    except ClientError as error:
        raise _refusal(name, timeline, error) from None
    resumed = timeline.visits[-1].name if timeline.visits else "its first state"
    kept = sum(1 for visit in timeline.visits if visit.status in ("done", "caught"))
    print(
        f"redriving {name} (redrive {timeline.redrives + 1}): it resumes at {resumed} with the input it had there "
        f"({_how_it_stopped(timeline)}); the {kept} states that succeeded keep their results and do not run again"
    )
    print(f"follow it with `retrain show {name}`")
    return 0


def _how_it_stopped(timeline: Timeline) -> str:
    if timeline.status == "ABORTED":
        return "it was stopped there"
    return f"it {timeline.status.lower().replace('_', ' ')} there with {timeline.error or 'no error named'}"


def _refuse_a_run_that_ended_in_a_fail_state(name: str, timeline: Timeline) -> None:
    """A redrive re-runs only the state the run ended in: when that is a Fail state (the definition's Catch
    led a failure there, or a rejection or rollback ended the run), the redrive would just fail again."""
    if timeline.status != "FAILED" or not timeline.visits or timeline.visits[-1].state_type != "Fail":
        return
    ended = timeline.visits[-1].name
    failed = next((visit for visit in reversed(timeline.visits) if visit.error), None)
    after = f" after {failed.name} failed ({failed.error})" if failed else ""
    raise RetrainError(
        f"run {name} ended in its Fail state {ended}{after}, and a redrive re-runs only that state, which fails "
        f"again ({timeline.error}): fix the cause and start a new run with `retrain run`"
    )


def _refusal(name: str, timeline: Timeline, error: ClientError) -> RetrainError:
    code = error.response.get("Error", {}).get("Code", "")
    message = error.response.get("Error", {}).get("Message", "")
    if code == "ExecutionDoesNotExist":
        return RetrainError(f"no run {name!r}: `retrain runs` lists the pipeline's runs")
    if code == "ExecutionLimitExceeded":
        return RetrainError(f"cannot redrive {name} now: too many runs are running ({message}); try when one ends")
    if code != "ExecutionNotRedrivable":
        return RetrainError(f"cannot redrive {name}: {code}: {message}")
    if timeline.status == "SUCCEEDED":
        why = f"it succeeded (outcome {timeline.outcome}): there is nothing to resume"
    elif timeline.status == "RUNNING":
        why = f"it is still running (at {timeline.current_state}): follow it with `retrain show {name}`"
    elif message == PERIOD_EXCEEDED:
        stopped = f"{timeline.stopped_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if timeline.stopped_at else "long ago"
        why = (
            f"it stopped {stopped}, and Step Functions redrives a run only within 14 days of its end: "
            "start a new run with `retrain run`"
        )
    else:
        why = message
    return RetrainError(f"run {name} is {timeline.status} and cannot be redriven: {why}")
