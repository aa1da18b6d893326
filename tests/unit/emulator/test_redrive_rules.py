"""Which executions the local RedriveExecution refuses, and where it resumes (`local/emulator/redrive.py`).

The reasons are DescribeExecution's documented `redriveStatusReason` wordings (botocore
`stepfunctions/2016-11-23/service-2.json`); the window is the developer guide's, "Redriving executions":
14 days from the day the execution stopped.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from local.emulator.redrive import not_redrivable_reason, resume_point, stamp

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)


def _record(status: str, stopped_days_ago: float | None = 1.0, **fields: Any) -> dict[str, Any]:
    stopped = None if stopped_days_ago is None else stamp(NOW - timedelta(days=stopped_days_ago))
    return {"status": status, "startDate": stamp(NOW - timedelta(days=20)), "stopDate": stopped, **fields}


@pytest.mark.parametrize("status", ["FAILED", "ABORTED", "TIMED_OUT"])
def test_an_unsuccessful_execution_within_14_days_is_redrivable(status: str) -> None:
    assert not_redrivable_reason(_record(status, 13.9), "STANDARD", NOW) is None


@pytest.mark.parametrize(
    ("record", "machine_type", "reason"),
    [
        (_record("SUCCEEDED"), "STANDARD", "Execution is SUCCEEDED and cannot be redriven"),
        (_record("RUNNING", None), "STANDARD", "Execution is RUNNING and cannot be redriven"),
        (_record("FAILED", 14.01), "STANDARD", "Execution redrivable period exceeded"),
        (
            _record("FAILED", startDate=stamp(NOW - timedelta(days=366))),
            "STANDARD",
            "Execution has exceeded the max execution time",
        ),
        (_record("FAILED", events=[{}] * 24_999), "STANDARD", "Execution history event limit exceeded"),
        (_record("FAILED"), "EXPRESS", "Execution of an EXPRESS state machine cannot be redriven"),
    ],
)
def test_a_refused_execution_says_why(record: dict[str, Any], machine_type: str, reason: str) -> None:
    assert not_redrivable_reason(record, machine_type, NOW) == reason


def _entered(name: str, given: Any) -> dict[str, Any]:
    return {"type": "TaskStateEntered", "stateEnteredEventDetails": {"name": name, "input": json.dumps(given)}}


def _exited(name: str) -> dict[str, Any]:
    return {"type": "TaskStateExited", "stateExitedEventDetails": {"name": name, "output": "{}"}}


def test_a_redrive_resumes_at_the_state_left_open_with_its_input() -> None:
    started = {"type": "ExecutionStarted"}
    failed = {"type": "ExecutionFailed"}
    events = [started, _entered("A", {"a": 1}), _exited("A"), _entered("B", {"b": 2}), failed]
    assert resume_point(events) == ("B", {"b": 2})
    # A caught error exits its state: the run failed where the Catch led it (here a Fail state).
    caught = [*events[:-1], _exited("B"), _entered("Failed", {"error": "X"}), failed]
    assert resume_point(caught) == ("Failed", {"error": "X"})
    assert resume_point([started, failed]) is None
