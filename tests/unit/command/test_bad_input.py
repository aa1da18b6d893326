"""No traceback reaches a user of `retrain`: each bad input or lost service ends in one line naming the
problem and the fix, with exit code 2 (argparse's own errors: its usage line and one error line)."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

import cli.commands.runs_cmd
from cli.executions import send_approval, send_rejection
from cli.main import main
from local.clients import local_port
from retrain.errors import ConfigError, RetrainError
from retrain.ports import StoredApproval
from retrain.state_table import ANSWERED, PENDING
from tasks._aws.step_functions import STALE_TOKEN_ERRORS
from tests.support.fake_stack import FakeStack
from tests.support.jobs import REPO_ROOT
from tests.support.polling import PROCESS_START_BOUND

ROOT = Path(__file__).resolve().parents[3]


def one_line(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    return lines[0]


def test_show_of_an_unknown_run_names_it(stack: FakeStack, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "no-such-run", "--config", str(ROOT / "retrain.toml")]) == 2
    assert one_line(capsys) == (
        "retrain: no run 'no-such-run' in pipeline fraud-retrain: `retrain runs` lists its runs "
        "(a run is named by its execution name or ARN)"
    )


@pytest.mark.parametrize(
    ("limit", "error"),
    [
        ("-1", "-1 runs: give 1 to 1000, e.g. --limit 20"),
        ("0", "0 runs: give 1 to 1000, e.g. --limit 20"),
        ("1001", "1001 runs: give 1 to 1000, e.g. --limit 20"),
        ("ten", "'ten' is not a whole number; give how many runs, 1-1000"),
    ],
)
def test_runs_refuses_a_limit_that_is_not_a_count(limit: str, error: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["runs", "--limit", limit])
    assert exited.value.code == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert captured.err.splitlines()[-1] == f"retrain runs: error: argument --limit: {error}"


class _Store:
    def __init__(self) -> None:
        self.status = PENDING

    def approval(self, execution_name: str) -> StoredApproval:
        return StoredApproval(execution_name, self.status, "token-of-a-run-that-ended")

    def claim_answer(self, execution_name: str, answer: str, by: str, at: str) -> bool:
        claimed, self.status = self.status == PENDING, ANSWERED
        return claimed

    def release_answer(self, execution_name: str, at: str) -> None:
        self.status = PENDING


class _StepFunctions:
    def __init__(self, code: str, events: list[dict[str, Any]] | None = None) -> None:
        self.code = code
        self.events = events or []

    def get_paginator(self, operation: str) -> Any:
        assert operation == "get_execution_history"
        events = self.events

        class _Pages:
            def paginate(self, **_: Any) -> list[dict[str, Any]]:
                return [{"events": events}]

        return _Pages()

    def send_task_success(self, **_: Any) -> None:
        raise ClientError({"Error": {"Code": self.code, "Message": "Task Timed Out"}}, "SendTaskSuccess")

    send_task_failure = send_task_success


class _Pipeline:
    """A run whose stored task token Step Functions no longer knows (the run ended, or the local AWS
    restarted under it): what `retrain approve` met after a restart."""

    def __init__(self, code: str, events: list[dict[str, Any]] | None = None) -> None:
        self.stepfunctions = _StepFunctions(code, events)
        self.store = _Store()
        self.outputs: dict[str, str] = {}  # a stack without the ML leads role: answered with the caller's keys

    def execution_arn(self, run: str) -> str:
        return f"arn:aws:states:us-east-1:000000000000:execution:fraud-retrain:{run}"

    def state_store(self) -> _Store:
        return self.store

    def client(self, service: str) -> Any:
        if service == "sts":
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:1")
        return self.stepfunctions


@pytest.mark.parametrize("code", STALE_TOKEN_ERRORS)
@pytest.mark.parametrize("answer", [send_approval, send_rejection])
def test_an_answer_to_a_run_that_no_longer_waits_says_so(code: str, answer: Any) -> None:
    pipeline = _Pipeline(code)
    with pytest.raises(RetrainError) as raised:
        answer(pipeline, "auto-20261126T0300Z", who="lead", reason="fine")
    assert str(raised.value).startswith(
        f"run auto-20261126T0300Z no longer waits for approval ({code}: its request ended with the run or timed out); "
        "see how it ended with `retrain show auto-20261126T0300Z`, and start a new run with `retrain run`"
    )
    assert pipeline.store.status == PENDING  # the claim is released: the request's end closes it


def _stopped_in_request_approval(error: str) -> list[dict[str, Any]]:
    """The history of a run that stopped while RequestApproval waited for its token (the service that held
    the token restarted, or the Lambda's invocation failed): the state entered, never left."""
    at = datetime(2026, 11, 26, 8, tzinfo=UTC)
    return [
        {"id": 1, "type": "ExecutionStarted", "timestamp": at},
        {"id": 2, "type": "TaskStateEntered", "timestamp": at, "stateEnteredEventDetails": {"name": "RequestApproval"}},
        {"id": 3, "type": "TaskScheduled", "timestamp": at},
        {"id": 4, "type": "ExecutionFailed", "timestamp": at, "executionFailedEventDetails": {"error": error}},
    ]


@pytest.mark.parametrize("answer", [send_approval, send_rejection])
def test_an_answer_to_a_run_that_stopped_while_asking_says_a_redrive_asks_again(answer: Any) -> None:
    pipeline = _Pipeline("TaskDoesNotExist", _stopped_in_request_approval("Local.EmulatorCrashed"))
    with pytest.raises(RetrainError) as raised:
        answer(pipeline, "run-1", who="lead", reason="fine")
    assert str(raised.value) == (
        "run run-1 stopped while waiting for approval (FAILED with Local.EmulatorCrashed), and its request can no "
        "longer be answered: `retrain redrive run-1` asks for approval again, then approve or reject it"
    )
    assert pipeline.store.status == PENDING  # the redrive's request replaces it


def test_an_answer_that_loses_the_race_sends_nothing() -> None:
    pipeline = _Pipeline("ThrottlingException")  # would raise if the token were sent
    # Answered in the Model Registry between reading the request and claiming it.
    pipeline.store.claim_answer("run-1", "approve", "lead-b", "2026-11-26T08:00:00Z")
    pipeline.store.approval = lambda name: StoredApproval(name, PENDING, "token")  # type: ignore[method-assign]
    with pytest.raises(RetrainError, match="run run-1 was answered meanwhile"):
        send_approval(pipeline, "run-1", who="lead", reason="fine")


def test_another_error_of_the_answer_is_not_taken_for_a_stale_token() -> None:
    with pytest.raises(ClientError, match="ThrottlingException"):
        send_approval(_Pipeline("ThrottlingException"), "run-1", who="lead", reason="fine")


def test_a_lost_connection_is_one_line(
    stack: FakeStack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The local AWS dies while a command runs: the next call is refused.
    def refused(*_: Any) -> None:
        raise EndpointConnectionError(endpoint_url="http://127.0.0.1:4566/")

    monkeypatch.setattr(cli.commands.runs_cmd, "read_timeline", refused)
    assert main(["show", "run-1", "--config", str(ROOT / "retrain.toml")]) == 2
    assert one_line(capsys) == (
        'retrain: lost the connection to AWS (Could not connect to the endpoint URL: "http://127.0.0.1:4566/"); '
        "for the local AWS see `retrain local status`, start it with `retrain local up` and run the command again"
    )


def test_any_other_aws_error_is_one_line(
    stack: FakeStack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def throttled(*_: Any) -> None:
        raise ClientError(
            {"Error": {"Code": "ThrottlingException", "Message": "Rate\nexceeded"}}, "GetExecutionHistory"
        )

    monkeypatch.setattr(cli.commands.runs_cmd, "read_timeline", throttled)
    assert main(["show", "run-1", "--config", str(ROOT / "retrain.toml")]) == 2
    assert "ThrottlingException" in one_line(capsys)


def test_a_binary_config_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "retrain.toml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff")
    assert main(["check-config", "--config", str(path)]) == 2
    assert one_line(capsys).endswith(
        "retrain.toml: not UTF-8 text (byte 0x89 at offset 0); a config is a TOML file saved as UTF-8"
    )


@pytest.mark.parametrize("port", ["notaport", "0", "65536", "-1", ""])
def test_a_local_port_that_is_no_port_is_one_line(
    port: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("RETRAIN_TARGET", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("RETRAIN_LOCAL_PORT", port)
    with pytest.raises(ConfigError, match="is not a TCP port: set it to a number of 1-65535"):
        local_port()
    assert main(["runs", "--config", str(ROOT / "retrain.toml")]) == 2
    assert one_line(capsys) == (
        f"retrain: RETRAIN_LOCAL_PORT={port!r} is not a TCP port: set it to a number of 1-65535 (default 4566) "
        "or unset it"
    )
    monkeypatch.setenv("RETRAIN_LOCAL_PORT", "4599")
    assert local_port() == 4599


_LONG_OUTPUT = """
import argparse, sys
import cli.main as command

class Parser:
    def parse_args(self, argv):
        def handler(args):
            for row in range(200_000):
                print("run", row)
            return 0
        return argparse.Namespace(handler=handler)

command.build_parser = Parser
sys.exit(command.main([]))
"""


def test_a_reader_that_stops_early_ends_the_command_quietly_without_a_traceback() -> None:
    # `retrain runs | head`: the pipe closes under the command's output.
    process = subprocess.Popen(
        [sys.executable, "-c", _LONG_OUTPUT],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=REPO_ROOT,
        text=True,
    )
    assert process.stdout is not None and process.stderr is not None
    assert process.stdout.readline() == "run 0\n"
    process.stdout.close()
    stderr = process.stderr.read()
    assert process.wait(timeout=PROCESS_START_BOUND) == 141, stderr
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr
