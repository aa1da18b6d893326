"""`retrain redrive RUN`: it calls RedriveExecution and says where the run resumes, or says in one line why the
run cannot be redriven. Step Functions is a botocore Stubber (moto has no RedriveExecution): the calls and
errors are the API's (botocore `stepfunctions/2016-11-23/service-2.json`)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from cli.config_file import load_checked_config
from cli.main import main
from cli.pipeline import DeployedPipeline

ROOT = Path(__file__).resolve().parents[3]
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:fraud-retrain"
RUN = "manual-20261101T1200Z"
ARN = f"arn:aws:states:us-east-1:123456789012:execution:fraud-retrain:{RUN}"
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@dataclass
class History:
    events: list[dict[str, Any]] = field(default_factory=list)

    def add(self, kind: str, **details: Any) -> History:
        at = T0 + timedelta(seconds=len(self.events))
        self.events.append({"id": len(self.events) + 1, "type": kind, "timestamp": at, **details})
        return self

    def entered(self, kind: str, name: str) -> History:
        return self.add(f"{kind}StateEntered", stateEnteredEventDetails={"name": name, "input": "{}"})

    def state(self, kind: str, name: str) -> History:
        self.entered(kind, name)
        return self.add(f"{kind}StateExited", stateExitedEventDetails={"name": name, "output": "{}"})


@dataclass
class StubbedClients:
    sfn: Any
    region: str = "us-east-1"
    endpoint_url: str | None = None

    def client(self, service: str) -> Any:
        assert service == "stepfunctions", service
        return self.sfn


@pytest.fixture
def stepfunctions(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    client = boto3.client(
        "stepfunctions", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    config = load_checked_config(str(ROOT / "retrain.toml"))
    pipeline = DeployedPipeline(config=config, clients=StubbedClients(client), outputs={"StateMachineArn": MACHINE})
    monkeypatch.setattr(DeployedPipeline, "connect", classmethod(lambda cls, path, clients=None: pipeline))
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def _redrive(stubber: Stubber, history: History, error: tuple[str, str] | None = None) -> None:
    stubber.add_response("get_execution_history", {"events": history.events}, {"executionArn": ARN})
    if error is None:
        stubber.add_response("redrive_execution", {"redriveDate": T0 + timedelta(days=1)}, {"executionArn": ARN})
    else:
        stubber.add_client_error("redrive_execution", error[0], error[1], expected_params={"executionArn": ARN})


def _run(capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["redrive", RUN, "--config", str(ROOT / "retrain.toml")])
    out, err = capsys.readouterr()
    return code, out, err


def _started() -> History:
    return History().add("ExecutionStarted").state("Task", "ValidateInput").state("Task", "TrainCandidate")


def test_a_stopped_run_resumes_at_the_state_it_stopped_in(
    stepfunctions: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    history = _started().entered("Task", "EvaluateCandidate").add("ExecutionAborted")
    _redrive(stepfunctions, history)
    code, out, err = _run(capsys)
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        f"redriving {RUN} (redrive 1): it resumes at EvaluateCandidate with the input it had there (it was "
        "stopped there); the 2 states that succeeded keep their results and do not run again",
        f"follow it with `retrain show {RUN}`",
    ]


def test_a_second_redrive_counts_the_first(stepfunctions: Stubber, capsys: pytest.CaptureFixture[str]) -> None:
    failed = {"executionFailedEventDetails": {"error": "States.ServiceRestart", "cause": "restarted"}}
    history = _started().entered("Task", "EvaluateCandidate").add("ExecutionFailed", **failed)
    history.add("ExecutionRedriven", executionRedrivenEventDetails={"redriveCount": 1})
    history.entered("Task", "EvaluateCandidate").add("ExecutionFailed", **failed)
    _redrive(stepfunctions, history)
    code, out, _ = _run(capsys)
    assert code == 0
    assert out.startswith(f"redriving {RUN} (redrive 2): it resumes at EvaluateCandidate ")
    assert "(it failed there with States.ServiceRestart)" in out


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    code, out, err = _run(capsys)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and "Traceback" not in err
    return err


def test_a_run_that_a_catch_ended_in_its_fail_state_is_not_redriven(
    stepfunctions: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    history = History().add("ExecutionStarted").entered("Task", "TrainCandidate")
    history.add(
        "TaskFailed",
        taskFailedEventDetails={
            "error": "States.TaskFailed",
            "cause": "x",
            "resourceType": "sagemaker",
            "resource": "createTrainingJob.sync",
        },
    )
    history.add("TaskStateExited", stateExitedEventDetails={"name": "TrainCandidate", "output": "{}"})
    history.state("Task", "NotifyFailure").entered("Fail", "PipelineFailed")
    history.add("ExecutionFailed", executionFailedEventDetails={"error": "TrainingFailed", "cause": "y"})
    stepfunctions.add_response("get_execution_history", {"events": history.events}, {"executionArn": ARN})
    err = _one_line_error(capsys)
    assert err == (
        f"retrain: run {RUN} ended in its Fail state PipelineFailed after TrainCandidate failed (States.TaskFailed), "
        "and a redrive re-runs only that state, which fails again (TrainingFailed): fix the cause and start a new "
        "run with `retrain run`\n"
    )


@pytest.mark.parametrize(
    ("ending", "message", "expected"),
    [
        (
            ("SucceedStateEntered", "Promoted", "ExecutionSucceeded"),
            "Execution is SUCCEEDED and cannot be redriven",
            f"retrain: run {RUN} is SUCCEEDED and cannot be redriven: it succeeded (outcome Promoted): there is "
            "nothing to resume\n",
        ),
        (
            ("TaskStateEntered", "EvaluateCandidate", None),
            "Execution is RUNNING and cannot be redriven",
            f"retrain: run {RUN} is RUNNING and cannot be redriven: it is still running (at EvaluateCandidate): "
            f"follow it with `retrain show {RUN}`\n",
        ),
        (
            ("TaskStateEntered", "EvaluateCandidate", "ExecutionTimedOut"),
            "Execution redrivable period exceeded",
            f"retrain: run {RUN} is TIMED_OUT and cannot be redriven: it stopped 2026-11-01 12:00 UTC, and Step "
            "Functions redrives a run only within 14 days of its end: start a new run with `retrain run`\n",
        ),
    ],
)
def test_a_run_step_functions_refuses_says_its_status_and_why(
    stepfunctions: Stubber,
    capsys: pytest.CaptureFixture[str],
    ending: tuple[str, str, str | None],
    message: str,
    expected: str,
) -> None:
    entered, name, end = ending
    history = _started().add(entered, stateEnteredEventDetails={"name": name, "input": "{}"})
    if end is not None:
        history.add(end)
    _redrive(stepfunctions, history, ("ExecutionNotRedrivable", message))
    assert _one_line_error(capsys) == expected


def test_an_unknown_run_is_one_line(stepfunctions: Stubber, capsys: pytest.CaptureFixture[str]) -> None:
    stepfunctions.add_client_error(
        "get_execution_history",
        "ExecutionDoesNotExist",
        f"Execution Does Not Exist: '{ARN}'",
        expected_params={"executionArn": ARN},
    )
    err = _one_line_error(capsys)
    assert err.startswith(f"retrain: no run '{RUN}' in pipeline ") and "`retrain runs`" in err
