"""What the core needs from AWS, as protocols: the handlers in `tasks/` pass implementations in.

Keeping I/O behind these lets every rule (watermark, promotion, idempotency) be tested without AWS,
and lets `retrain/` stay free of boto3.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from retrain.contracts import Approval, Champion, PromotionDecision

if TYPE_CHECKING:
    from retrain.drift_alarm import Breach
    from retrain.triggers import QueuedTriggers


@dataclass(frozen=True)
class LandingObject:
    key: str
    size: int
    modified: str = ""  # LastModified, as `retrain.timestamps.utc_iso` ("" when unknown)


@dataclass(frozen=True)
class ModifiedObject:
    key: str
    size: int
    modified: str  # LastModified, as `retrain.timestamps.utc_iso`


@dataclass(frozen=True)
class ApprovalRequest:
    """A candidate waiting for an ML lead, with the task token that resumes the execution."""

    execution_name: str
    execution_arn: str
    task_token: str
    model_package_arn: str
    decision: PromotionDecision
    requested_at: str
    expires_at: str
    # `$$.Execution.RedriveCount` of the execution asking: a redriven run asks the ML leads again.
    redrive_count: int = 0


@dataclass(frozen=True)
class StoredApproval:
    """An approval request as the state table holds it: what answering it needs."""

    execution_name: str
    status: str | None  # PENDING until answered (retrain.state_table)
    task_token: str


@dataclass(frozen=True)
class Promotion:
    """Everything PromoteChampion records at once."""

    champion: Champion
    execution_started_at: str  # orders champions: an older execution never replaces a newer one
    watermark: str  # the newest landing key the champion was trained on ("" keeps the current one)
    approval: Approval
    delivery_errors_mark: str = ""  # the end of the run's window of refused records ("" keeps it)


class PipelineStateTable(Protocol):
    """The pipeline's records in its state table: watermark, champion, approval requests.

    See `retrain.state_table` for the item layout.
    """

    def watermark(self) -> str:
        """The last landing key trained on, "" before the first promotion."""
        ...

    def delivery_errors_mark(self) -> str:
        """Where the last counting run's window of refused records ended ("" before the first)."""
        ...

    def champion(self) -> Champion | None: ...

    def save_approval_request(self, request: ApprovalRequest) -> None:
        """Create or update the request; a retry replaces the token and keeps `requested_at`."""
        ...

    def claim_notification(self, execution_name: str, at: str, redrive_count: int = 0) -> bool:
        """Mark the request notified; False when it already was in this drive of the run (then nobody sends
        again). A redrive (a higher count) asks again: the earlier message's run had stopped."""
        ...

    def release_notification(self, execution_name: str, at: str) -> None:
        """Undo this invocation's claim after a failed publish, so a retry can notify."""
        ...

    def record_promotion(self, promotion: Promotion) -> Champion | None:
        """Write champion, history, watermark and approval together.

        Returns None when written, or the stored champion that prevented the write: the same
        execution's (a retry) or a newer execution's.
        """
        ...

    def close_approval(self, execution_name: str, status: str, at: str, reason: str) -> bool:
        """Set a PENDING or ANSWERED request's final status; False when there was none open."""
        ...


class ApprovalAnswers(Protocol):
    """The approval requests as answering them needs: found, then claimed before the answer is sent."""

    def approval(self, execution_name: str) -> StoredApproval | None:
        """The run's approval request, whatever its status; None when the run never asked."""
        ...

    def pending_approval_of_package(self, model_package_arn: str) -> StoredApproval | None:
        """The PENDING request that waits on this model package, if any."""
        ...

    def claim_answer(self, execution_name: str, answer: str, by: str, at: str) -> bool:
        """PENDING -> ANSWERED, recording the answer; False when the request is not PENDING (answered)."""
        ...

    def release_answer(self, execution_name: str, at: str) -> None:
        """ANSWERED -> PENDING after this claim's answer could not be sent."""
        ...


class WaitingTasks(Protocol):
    """Step Functions tasks waiting for a token (SendTaskSuccess / SendTaskFailure)."""

    def succeed(self, task_token: str, output: dict[str, Any]) -> None:
        """Resume the task with `output`; raises TaskNoLongerWaiting for a token nothing waits on."""
        ...

    def fail(self, task_token: str, error: str, cause: str) -> None:
        """Fail the task with `error`; raises TaskNoLongerWaiting for a token nothing waits on."""
        ...


class TaskNoLongerWaiting(Exception):
    """The token's task ended (timed out, failed, stopped) or Step Functions never issued it."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class ObjectStore(Protocol):
    def list_after(self, bucket: str, prefix: str, start_after: str) -> Iterable[LandingObject]:
        """Objects under `prefix` whose keys sort after `start_after`, in key order."""
        ...

    def read(self, bucket: str, key: str) -> bytes | None:
        """The object's bytes, or None when there is no such object."""
        ...


class ErrorObjectStore(Protocol):
    """The error prefix of the delivery stream (`retrain.delivery_errors`)."""

    def list_modified(self, bucket: str, prefix: str) -> Iterable[ModifiedObject]:
        """Every object under `prefix`, with its LastModified; nothing when the prefix holds none."""
        ...

    def read(self, bucket: str, key: str) -> bytes | None:
        """The object's bytes, or None when there is no such object."""
        ...


class Notifier(Protocol):
    def publish(self, subject: str, body: str) -> str:
        """Send one message to the ML leads' topic; returns its message id."""
        ...


class ModelPackageRegistry(Protocol):
    """Model packages in the SageMaker Model Registry."""

    def approve(self, model_package_arn: str, description: str) -> None:
        """Set the package's status to Approved (idempotent)."""
        ...


@dataclass(frozen=True)
class ExecutionState:
    running: bool
    started_at: datetime


class RetrainExecutions(Protocol):
    """The pipeline's state machine executions, as the starter sees them."""

    def running(self) -> list[str]:
        """Names of the executions running now."""
        ...

    def start(self, name: str, execution_input: dict[str, Any]) -> bool:
        """Start one; False when the name is already used (by a running or an ended execution)."""
        ...

    def describe(self, name: str) -> ExecutionState | None:
        """The execution of that name, None when there is none."""
        ...


class AlarmStates(Protocol):
    """CloudWatch alarms, as the starter reads a drift alarm's children."""

    def breaches(self, alarm_names: Sequence[str]) -> list[Breach]:
        """Those of the named alarms in ALARM on a drift metric, with their newest values."""
        ...


class TriggerQueue(Protocol):
    """Triggers that arrived while a retrain ran (see `retrain.triggers`)."""

    def add(self, reason: str, at: str, data_key: str | None) -> None:
        """Queue one trigger; `data_key` is the landing object of a new-data trigger."""
        ...

    def watermark(self) -> str:
        """The last landing key trained on, "" before the first promotion."""
        ...

    def peek(self) -> QueuedTriggers | None:
        """What is queued, or None; nothing is removed."""
        ...

    def clear(self, count: int) -> bool:
        """Remove the queue if it still holds `count` triggers; False when more arrived since."""
        ...
