"""At most one retrain at a time, whatever starts it.

The schedule and the new-data rule both invoke one starter function, which applies two guards:

1. **A retrain is already running** (waiting for data, training, waiting for approval, rolling out):
   the trigger is dropped. The running execution's `CheckForNewData` compares the landing prefix
   with the watermark, so data that arrives meanwhile is picked up by the next retrain anyway.
2. **Two triggers race** (the schedule fires while a batch of objects lands, or an event is
   delivered twice): both derive the same execution name from a time bucket, and Step Functions
   refuses a second execution with a name already used (`ExecutionAlreadyExists`), so only one
   starts. This also covers the moments when `ListExecutions`, which is eventually consistent, does
   not show an execution that just started.

Only triggers in different buckets *and* within the listing's few seconds of lag could both start;
the starter also runs with a reserved concurrency of 1 (see infra), which serializes the check.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from retrain.contracts import ExecutionInput
from retrain.errors import InvalidTaskInput
from retrain.field_errors import describe_invalid_document

BUCKET_MINUTES = 15
NAME_PREFIX = "auto"
S3_SOURCE = "aws.s3"
OBJECT_CREATED = "Object Created"


@dataclass(frozen=True)
class StartDecision:
    start: bool
    execution_name: str
    reason: str
    running: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "started": self.start,
            "execution_name": self.execution_name,
            "reason": self.reason,
            "running": list(self.running),
        }


@dataclass(frozen=True)
class RetrainRequest:
    """What one trigger asks for: the execution input and the name of its time bucket."""

    execution_input: ExecutionInput
    execution_name: str

    @classmethod
    def from_event(cls, event: Mapping[str, Any], now: datetime) -> RetrainRequest:
        """An S3 `Object Created` event, or an execution input (the schedule's `{"trigger": ...}`)."""
        if event.get("source") == S3_SOURCE and event.get("detail-type") == OBJECT_CREATED:
            return cls(new_data_input(event), execution_name(_event_time(event, now)))
        try:
            given = ExecutionInput.model_validate(dict(event))
        except ValidationError as error:
            message = describe_invalid_document(error, ExecutionInput, "event")
            raise InvalidTaskInput(
                f"{message}. The starter accepts an execution input or an S3 Object Created event."
            ) from None
        return cls(given, execution_name(now))

    def input_document(self) -> dict[str, Any]:
        """The execution input as sent: the trigger always, other fields only when set."""
        return {
            "trigger": self.execution_input.trigger,
            **self.execution_input.model_dump(mode="json", exclude_defaults=True),
        }

    def decide(self, running: Sequence[str]) -> StartDecision:
        if running:
            return StartDecision(
                start=False,
                execution_name=self.execution_name,
                reason=f"a retrain is already running ({', '.join(running)}); its data check will include new data",
                running=tuple(running),
            )
        return StartDecision(start=True, execution_name=self.execution_name, reason="no retrain is running")

    def already_started(self) -> StartDecision:
        """What `ExecutionAlreadyExists` means here: another trigger of this bucket won the race."""
        return StartDecision(
            start=False,
            execution_name=self.execution_name,
            reason=f"execution {self.execution_name} was already started by another trigger in this "
            f"{BUCKET_MINUTES}-minute window",
        )


def execution_name(moment: datetime, bucket_minutes: int = BUCKET_MINUTES) -> str:
    """`auto-YYYYMMDDTHHMMZ`, the start of the UTC time bucket `moment` falls in."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    floored = moment.replace(minute=moment.minute - moment.minute % bucket_minutes, second=0, microsecond=0)
    return f"{NAME_PREFIX}-{floored:%Y%m%dT%H%M}Z"


def new_data_input(event: Mapping[str, Any]) -> ExecutionInput:
    detail = event.get("detail") or {}
    bucket = (detail.get("bucket") or {}).get("name", "")
    stored = detail.get("object") or {}
    key = stored.get("key", "")
    if not bucket or not key:
        raise InvalidTaskInput(
            "event.detail: an Object Created event must name detail.bucket.name and detail.object.key"
        )
    return ExecutionInput(
        trigger="new-data",
        reason=f"new object s3://{bucket}/{key}"[:500],
        detail={"bucket": bucket, "key": key, "size": stored.get("size", 0)},
    )


def _event_time(event: Mapping[str, Any], fallback: datetime) -> datetime:
    """The event's own time, so a redelivered event maps to the same bucket as the original."""
    value = event.get("time")
    if not isinstance(value, str):
        return fallback
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return fallback
