from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from retrain.runs import build_timeline

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


class History:
    """Builds GetExecutionHistory events the way Step Functions orders them."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.clock = T0

    def add(self, kind: str, seconds: float = 0.0, **details: Any) -> History:
        self.clock += timedelta(seconds=seconds)
        event: dict[str, Any] = {"id": len(self.events) + 1, "type": kind, "timestamp": self.clock}
        event.update(details)
        self.events.append(event)
        return self

    def state(self, kind: str, name: str, seconds: float, output: dict[str, Any] | None = None) -> History:
        self.add(f"{kind}StateEntered", stateEnteredEventDetails={"name": name, "input": "{}"})
        return self.add(
            f"{kind}StateExited", seconds, stateExitedEventDetails={"name": name, "output": json.dumps(output or {})}
        )


def test_a_promoted_run_has_its_states_in_order_with_durations() -> None:
    history = (
        History()
        .add("ExecutionStarted")
        .state("Task", "ValidateInput", 0.5)
        .state("Task", "CheckForNewData", 0.7, {"data": {"enough": True}})
        .state("Choice", "EnoughNewData?", 0.0)
        .state("Task", "PrepareData", 30)
        .state("Succeed", "Promoted", 0)
        .add("ExecutionSucceeded", 0.1)
    )
    timeline = build_timeline(history.events)
    assert [v.name for v in timeline.visits] == [
        "ValidateInput",
        "CheckForNewData",
        "EnoughNewData?",
        "PrepareData",
        "Promoted",
    ]
    assert timeline.outcome == "Promoted"
    assert timeline.status == "SUCCEEDED"
    assert timeline.seconds_per_state()["PrepareData"] == 30
    assert timeline.visits[1].output == {"data": {"enough": True}}
    assert timeline.seconds is not None and timeline.seconds > 31


def test_a_wait_loop_adds_up_and_the_outcome_is_the_terminal_state() -> None:
    history = History().add("ExecutionStarted")
    for _ in range(3):
        history.state("Task", "CheckForNewData", 1).state("Choice", "EnoughNewData?", 0).state("Wait", "WaitForData", 5)
    history.state("Succeed", "NoNewData", 0).add("ExecutionSucceeded")
    timeline = build_timeline(history.events)
    assert timeline.seconds_per_state()["WaitForData"] == 15
    assert timeline.outcome == "NoNewData"


def test_a_failed_run_keeps_the_domain_error_and_where_it_happened() -> None:
    history = (
        History()
        .add("ExecutionStarted")
        .add("TaskStateEntered", stateEnteredEventDetails={"name": "PrepareData", "input": "{}"})
        .add("TaskFailed", 12, taskFailedEventDetails={"error": "States.TaskFailed", "cause": "SchemaMismatch: x"})
        .add("TaskStateExited", stateExitedEventDetails={"name": "PrepareData", "output": "{}"})
        .state("Task", "NotifyFailure", 1)
        .add("FailStateEntered", stateEnteredEventDetails={"name": "PipelineFailed", "input": "{}"})
        .add("ExecutionFailed", executionFailedEventDetails={"error": "SchemaMismatch", "cause": "column amount"})
    )
    timeline = build_timeline(history.events)
    assert timeline.outcome == "Failed"
    assert timeline.error == "SchemaMismatch" and timeline.cause == "column amount"
    prepare = timeline.last_visit("PrepareData")
    assert prepare is not None and prepare.status == "caught" and prepare.error == "States.TaskFailed"


def test_a_retried_failure_is_not_the_state_error() -> None:
    history = (
        History()
        .add("ExecutionStarted")
        .add("TaskStateEntered", stateEnteredEventDetails={"name": "CheckForNewData", "input": "{}"})
        .add("LambdaFunctionFailed", 1, lambdaFunctionFailedEventDetails={"error": "Lambda.ServiceException"})
        .add("LambdaFunctionSucceeded", 2)
        .add("TaskStateExited", stateExitedEventDetails={"name": "CheckForNewData", "output": "{}"})
    )
    visit = build_timeline(history.events).visits[0]
    assert visit.status == "done" and visit.retried_errors == ["Lambda.ServiceException"]


def test_rollback_and_rejection_map_to_their_outcomes() -> None:
    for terminal, outcome in [("DeploymentRolledBack", "RolledBack"), ("Rejected", "Rejected")]:
        history = (
            History()
            .add("ExecutionStarted")
            .add("FailStateEntered", stateEnteredEventDetails={"name": terminal, "input": "{}"})
            .add("ExecutionFailed", executionFailedEventDetails={"error": "x"})
        )
        assert build_timeline(history.events).outcome == outcome


def test_a_running_execution() -> None:
    history = (
        History()
        .add("ExecutionStarted")
        .add("TaskStateEntered", stateEnteredEventDetails={"name": "TrainCandidate", "input": "{}"})
    )
    timeline = build_timeline(history.events)
    assert timeline.outcome == "Running" and timeline.current_state == "TrainCandidate"
    assert timeline.visits[0].status == "running" and timeline.visits[0].seconds is None


def test_a_redriven_run_is_running_again_from_the_state_it_failed_in() -> None:
    history = (
        History()
        .add("ExecutionStarted")
        .state("Task", "TrainCandidate", 30)
        .add("TaskStateEntered", stateEnteredEventDetails={"name": "EvaluateCandidate", "input": "{}"})
        .add("ExecutionFailed", 5, executionFailedEventDetails={"error": "States.ServiceRestart", "cause": "x"})
        .add("ExecutionRedriven", 60, executionRedrivenEventDetails={"redriveCount": 1})
        .add("TaskStateEntered", stateEnteredEventDetails={"name": "EvaluateCandidate", "input": "{}"})
    )
    timeline = build_timeline(history.events)
    assert (timeline.status, timeline.outcome, timeline.redrives) == ("RUNNING", "Running", 1)
    assert timeline.error is None and timeline.stopped_at is None
    assert [visit.name for visit in timeline.visits] == ["TrainCandidate", "EvaluateCandidate", "EvaluateCandidate"]
    assert timeline.current_state == "EvaluateCandidate"
