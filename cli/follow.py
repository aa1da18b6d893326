"""Following a running execution: one line per finished state, a live line for the running one, the
traffic split during a blue/green rollout, and the approval step handled as the user asked."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from cli.display import duration, metrics_table, visit_line
from cli.executions import read_timeline
from cli.pipeline import DeployedPipeline
from retrain.errors import RetrainError
from retrain.runs import Timeline

POLL_SECONDS = 0.5
ROLLOUT_STATES = frozenset(
    {"StartEndpointPolling", "WaitForEndpoint", "CheckEndpoint", "EndpointStatus?", "CountEndpointPoll"}
)
# States of waiting loops: printed once, however many times the loop goes round.
LOOP_STATES = ROLLOUT_STATES | {
    "WaitForData",
    "WaitForDataToSettle",
    "CheckForNewData",
    "EnoughNewData?",
    "FindTrainingJob",
    "WaitForTrainingJob",
    "TrainingJobStatus?",
    "FindProcessingJob",
    "WaitForProcessingJob",
    "ProcessingJobStatus?",
}


class RunTimedOut(RetrainError):
    """The execution did not end within the time `retrain run` was given."""


@dataclass
class PendingApproval:
    """What the run asks an approver, read from the RequestApproval state's input."""

    execution_name: str
    decision: dict[str, Any]

    def describe(self) -> list[str]:
        lines = [f"  Approval needed for {self.execution_name}:"]
        lines += metrics_table(self.decision.get("candidate") or {}, self.decision.get("champion"))
        lines += [f"    - {reason}" for reason in self.decision.get("reasons", [])]
        return lines


Approver = Callable[[PendingApproval], None]


@dataclass
class ExecutionFollower:
    pipeline: DeployedPipeline
    execution_arn: str
    approver: Approver
    out: TextIO = field(default_factory=lambda: sys.stderr)
    timeout_seconds: float = 3 * 3600
    _printed: int = 0
    _asked: bool = False
    _live: bool = False
    _last_split: str = ""

    @property
    def interactive(self) -> bool:
        return self.out.isatty()

    def follow(self) -> Timeline:
        deadline = time.monotonic() + self.timeout_seconds
        while True:
            timeline = read_timeline(self.pipeline, self.execution_arn)
            self._print_finished(timeline)
            if timeline.status != "RUNNING":
                self._clear_live()
                return timeline
            self._show_running(timeline)
            if time.monotonic() > deadline:
                self._clear_live()
                raise RunTimedOut(
                    f"{self.execution_arn} still runs after {self.timeout_seconds:.0f}s; follow it with "
                    f"`retrain show {self.execution_arn.rsplit(':', 1)[-1]}`"
                )
            time.sleep(POLL_SECONDS)

    def _print_finished(self, timeline: Timeline) -> None:
        """Visits finish in order: print each once, and a polling loop's states only the first time."""
        visits = timeline.visits
        while self._printed < len(visits):
            visit = visits[self._printed]
            if visit.exited_at is None and visit.state_type not in ("Fail", "Succeed"):
                return
            repeated = visit.name in LOOP_STATES and any(v.name == visit.name for v in visits[: self._printed])
            if not repeated:
                self._clear_live()
                self.out.write(visit_line(visit) + "\n")
            self._printed += 1

    def _show_running(self, timeline: Timeline) -> None:
        current = timeline.visits[-1] if timeline.visits else None
        if current is None or current.exited_at is not None:
            return
        if current.name == "RequestApproval" and not self._asked:
            self._asked = True
            self._clear_live()
            self.approver(PendingApproval(self.pipeline_execution_name, current.input.get("decision", {})))
        status = f"  … {current.name:<24} {duration(time.time() - current.entered_at.timestamp()):>8}"
        if current.name in ROLLOUT_STATES:
            split = self._traffic_split()
            if split and split != self._last_split and not self.interactive:
                self.out.write(f"    traffic: {split}\n")
            self._last_split = split or self._last_split
            status += f"  {split}" if split else ""
        if self.interactive:
            self.out.write("\r" + status.ljust(100)[:100])
            self.out.flush()
            self._live = True

    @property
    def pipeline_execution_name(self) -> str:
        return self.execution_arn.rsplit(":", 1)[-1]

    def _traffic_split(self) -> str:
        """Old and new fleet's shares while SageMaker shifts traffic (from DescribeEndpoint)."""
        try:
            endpoint = self.pipeline.client("sagemaker").describe_endpoint(EndpointName=self.pipeline.endpoint_name)
        except Exception:  # the endpoint may not exist yet on a first deployment
            return ""
        pending = endpoint.get("PendingDeploymentSummary", {}).get("ProductionVariants", [])
        current = endpoint.get("ProductionVariants", [])
        if not pending:
            return f"{endpoint['EndpointStatus']}"
        new = sum(v.get("CurrentWeight", 0.0) for v in pending)
        old = sum(v.get("CurrentWeight", 0.0) for v in current)
        total = new + old or 1.0
        return f"{endpoint['EndpointStatus']}: new fleet {100 * new / total:.0f}% / old fleet {100 * old / total:.0f}%"

    def _clear_live(self) -> None:
        if self._live:
            self.out.write("\r" + " " * 100 + "\r")
            self._live = False
