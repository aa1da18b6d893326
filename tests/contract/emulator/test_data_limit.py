"""A state's input or output over 256 KB fails the state with States.DataLimitExceeded, which States.ALL
does not catch.

Sources: Step Functions developer guide, "Step Functions service quotas" ("Maximum input or output size for
a task, state, or execution: 256 KiB of data as a UTF-8 encoded string"), and "Handling errors in Step
Functions workflows" (States.DataLimitExceeded: a connector's output, a state's output, or a state's input
after Parameters larger than the payload quota; "a terminal error that can't be caught by the States.ALL
error type": a Retry or Catch that names it matches it, as any retrier or catcher matches the error names it
lists, the failing state's own included).
"""

from __future__ import annotations

from typing import Any

import pytest

from local.emulator.stepfunctions import MAX_PAYLOAD_BYTES
from tests.support.emulator import FunctionFactory, StateMachineRunner

pytestmark = pytest.mark.local

# `{"blob":"x...x"}` is 11 bytes around the string.
AT_THE_LIMIT = "x" * (MAX_PAYLOAD_BYTES - 11)
OVER_THE_LIMIT = "é" * (MAX_PAYLOAD_BYTES // 2)  # two UTF-8 bytes each: over the limit in bytes, not characters


def wrapped(blob: str, catch: list[str]) -> dict[str, Any]:
    """A Parallel whose branch returns {"blob": blob}, catching `catch` to a Pass that says so."""
    branch = {"StartAt": "Big", "States": {"Big": {"Type": "Pass", "Result": {"blob": blob}, "End": True}}}
    return {
        "StartAt": "Wrap",
        "States": {
            "Wrap": {
                "Type": "Parallel",
                "Branches": [branch],
                "ResultSelector": {"size.$": "States.ArrayLength($)"},
                "Catch": [{"ErrorEquals": catch, "ResultPath": "$.caught", "Next": "Caught"}],
                "End": True,
            },
            "Caught": {"Type": "Pass", "End": True},
        },
    }


def test_a_state_output_over_256_kb_is_data_limit_exceeded_which_states_all_does_not_catch(
    machines: StateMachineRunner,
) -> None:
    execution = machines.run(wrapped(OVER_THE_LIMIT, ["States.ALL"]))

    assert execution.status == "FAILED"
    assert execution.error == "States.DataLimitExceeded"
    assert "'Big'" in (execution.cause or "")


def test_a_catcher_naming_data_limit_exceeded_catches_it(machines: StateMachineRunner) -> None:
    execution = machines.run(wrapped(OVER_THE_LIMIT, ["States.DataLimitExceeded"]))

    assert execution.status == "SUCCEEDED"
    assert execution.output["caught"]["Error"] == "States.DataLimitExceeded"


def test_an_output_of_exactly_256_kb_passes(machines: StateMachineRunner) -> None:
    execution = machines.run(wrapped(AT_THE_LIMIT, ["States.ALL"]))

    assert execution.status == "SUCCEEDED"
    assert execution.output == {"size": 1}


# Each under the quota; the Task's result placed at ResultPath in its input is over it.
HALF = 150_000
RETURNS_HALF = f"""
def handler(event, context):
    return {{"blob": "y" * {HALF}}}
"""


def task_over_the_limit(function_arn: str, errors: list[str]) -> dict[str, Any]:
    """A Task whose own Retry (once) and Catch name `errors`; its output (input + result) is over the quota."""
    return {
        "StartAt": "Grow",
        "States": {
            "Grow": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": function_arn, "Payload": {}},
                "ResultSelector": {"blob.$": "$.Payload.blob"},
                "ResultPath": "$.result",
                "Retry": [{"ErrorEquals": errors, "IntervalSeconds": 1, "MaxAttempts": 1}],
                "Catch": [{"ErrorEquals": errors, "ResultPath": "$.caught", "Next": "Caught"}],
                "End": True,
            },
            "Caught": {"Type": "Pass", "OutputPath": "$.caught", "End": True},
        },
    }


def test_a_tasks_own_retry_and_catch_naming_data_limit_exceeded_take_its_output_over_the_limit(
    functions: FunctionFactory, machines: StateMachineRunner
) -> None:
    function = functions.create("half", RETURNS_HALF)
    execution = machines.run(task_over_the_limit(function, ["States.DataLimitExceeded"]), {"pad": "x" * HALF})

    assert execution.status == "SUCCEEDED"
    assert execution.output["Error"] == "States.DataLimitExceeded"
    assert "'Grow'" in execution.output["Cause"]
    assert len(execution.events("TaskScheduled")) == 2  # retried once, then caught


def test_a_tasks_own_states_all_does_not_take_its_output_over_the_limit(
    functions: FunctionFactory, machines: StateMachineRunner
) -> None:
    function = functions.create("half", RETURNS_HALF)
    execution = machines.run(task_over_the_limit(function, ["States.ALL"]), {"pad": "x" * HALF})

    assert execution.status == "FAILED"
    assert execution.error == "States.DataLimitExceeded"
    assert len(execution.events("TaskScheduled")) == 1
