"""Reading an execution: its history events become a timeline of state visits and an outcome.

Pure: takes the `events` of `GetExecutionHistory` (as boto3 returns them) and knows nothing about
AWS clients, so the CLI, the tests and the benchmarks read runs the same way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Outcome = Literal["Promoted", "KeptChampion", "NoNewData", "Rejected", "RolledBack", "Failed", "Running"]

# Terminal states of the definition and the outcome each one means.
OUTCOME_OF_STATE: dict[str, Outcome] = {
    "Promoted": "Promoted",
    "KeptChampion": "KeptChampion",
    "NoNewData": "NoNewData",
    "Rejected": "Rejected",
    "DeploymentRolledBack": "RolledBack",
    "PipelineFailed": "Failed",
}
SUCCESSFUL_OUTCOMES: frozenset[Outcome] = frozenset({"Promoted", "KeptChampion", "NoNewData"})

_SUCCESS_EVENTS = frozenset({"TaskSucceeded", "LambdaFunctionSucceeded", "ActivitySucceeded"})
_FAILURE_DETAIL_KEYS = (
    "taskFailedEventDetails",
    "taskTimedOutEventDetails",
    "lambdaFunctionFailedEventDetails",
    "lambdaFunctionTimedOutEventDetails",
    "taskSubmitFailedEventDetails",
    "taskStartFailedEventDetails",
    "executionFailedEventDetails",
    "executionTimedOutEventDetails",
    "executionAbortedEventDetails",
)


@dataclass
class StateVisit:
    name: str
    state_type: str
    entered_at: datetime
    exited_at: datetime | None = None
    input: Any = None
    output: Any = None
    error: str | None = None
    cause: str | None = None
    retried_errors: list[str] = field(default_factory=list)  # failed attempts that a retry recovered

    @property
    def seconds(self) -> float | None:
        if self.exited_at is None:
            return None
        return (self.exited_at - self.entered_at).total_seconds()

    @property
    def status(self) -> str:
        if self.exited_at is None:
            return "failed" if self.error else "running"
        return "caught" if self.error else "done"


@dataclass
class Timeline:
    visits: list[StateVisit] = field(default_factory=list)
    status: str = "RUNNING"  # the execution's own status: RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED
    started_at: datetime | None = None
    stopped_at: datetime | None = None
    error: str | None = None
    cause: str | None = None
    redrives: int = 0  # ExecutionRedriven events: each restarted the run where it had stopped

    @property
    def outcome(self) -> Outcome:
        for visit in reversed(self.visits):
            if visit.name in OUTCOME_OF_STATE:
                return OUTCOME_OF_STATE[visit.name]
        return "Running" if self.status == "RUNNING" else "Failed"

    @property
    def current_state(self) -> str | None:
        return self.visits[-1].name if self.visits else None

    def last_visit(self, name: str) -> StateVisit | None:
        return next((visit for visit in reversed(self.visits) if visit.name == name), None)

    def seconds_per_state(self) -> dict[str, float]:
        """Total time in each state (a state visited several times, like a wait loop, adds up)."""
        totals: dict[str, float] = {}
        for visit in self.visits:
            if visit.seconds is not None:
                totals[visit.name] = round(totals.get(visit.name, 0.0) + visit.seconds, 3)
        return totals

    @property
    def seconds(self) -> float | None:
        if self.started_at is None or self.stopped_at is None:
            return None
        return (self.stopped_at - self.started_at).total_seconds()


def _json(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def build_timeline(events: list[dict[str, Any]]) -> Timeline:
    """Folds history events (oldest first) into state visits and the execution's status."""
    timeline = Timeline()
    open_visit: StateVisit | None = None
    for event in sorted(events, key=lambda e: e["id"]):
        kind: str = event["type"]
        at: datetime = event["timestamp"]
        if kind == "ExecutionStarted":
            timeline.started_at = at
        elif kind.endswith("StateEntered"):
            details = event["stateEnteredEventDetails"]
            open_visit = StateVisit(
                name=details["name"],
                state_type=kind.removesuffix("StateEntered"),
                entered_at=at,
                input=_json(details.get("input")),
            )
            timeline.visits.append(open_visit)
        elif kind.endswith("StateExited"):
            details = event["stateExitedEventDetails"]
            visit = timeline.last_visit(details["name"])
            if visit is not None:
                visit.exited_at = at
                visit.output = _json(details.get("output"))
            open_visit = None
        elif kind == "ExecutionRedriven":
            # Running again from the state it stopped in; what ended the last attempt is history.
            timeline.status, timeline.stopped_at, timeline.error, timeline.cause = "RUNNING", None, None, None
            timeline.redrives += 1
        elif kind in ("ExecutionSucceeded",):
            timeline.status, timeline.stopped_at = "SUCCEEDED", at
        elif kind in ("ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"):
            timeline.status = {"ExecutionFailed": "FAILED", "ExecutionTimedOut": "TIMED_OUT"}.get(kind, "ABORTED")
            timeline.stopped_at = at
            details = _failure_details(event)
            timeline.error, timeline.cause = details.get("error"), details.get("cause")
            if open_visit is not None and open_visit.state_type == "Fail":
                open_visit.exited_at = at
        elif kind in _SUCCESS_EVENTS and open_visit is not None and open_visit.error:
            # A retry recovered the state: the failure stays visible, but not as the state's error.
            open_visit.retried_errors.append(open_visit.error)
            open_visit.error = open_visit.cause = None
        else:
            details = _failure_details(event)
            if details and open_visit is not None:
                open_visit.error, open_visit.cause = details.get("error"), details.get("cause")
    return timeline


def _failure_details(event: dict[str, Any]) -> dict[str, Any]:
    for key in _FAILURE_DETAIL_KEYS:
        if key in event:
            return dict(event[key])
    return {}
