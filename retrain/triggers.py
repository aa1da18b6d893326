"""At most one retrain at a time, whatever starts it, and no trigger lost while one runs.

The schedule, the new-data rule, the drift and quality alarms and the end of a run all invoke one starter function:

1. **A retrain is already running** (waiting for data, training, waiting for approval, rolling out):
   the trigger is *queued* in the state table, not started. The running execution may have checked
   for data before this trigger's data landed, so nothing can assume it sees that data.
2. **A run ends** (Step Functions' `Execution Status Change` event, any final status): when triggers
   were queued meanwhile, the starter takes them all at once and starts one follow-up run for them,
   named after the run that ended (a redelivered event names the same run, which Step Functions
   refuses to start twice). The follow-up checks for data once: the data is already there.
3. **Two triggers race** (the schedule fires while a batch of objects lands, or an event is
   delivered twice): both derive the same execution name from a time bucket, and Step Functions
   refuses a second execution with a name already used (`ExecutionAlreadyExists`). When the
   execution of that name is still running, the trigger is queued as in 1; when it has ended (a
   short run inside its 15-minute window), the name is taken, not the data: the trigger starts under
   the bucket's next free name (`auto-...Z-2`, ...).

The starter runs with a reserved concurrency of 1 (see infra), which serializes all of this.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from retrain.contracts import ExecutionInput
from retrain.drift_alarm import AlarmFired
from retrain.errors import InvalidTaskInput
from retrain.field_errors import describe_invalid_document
from retrain.quality_alarm import QualityAlarmFired

if TYPE_CHECKING:
    from retrain.ports import AlarmStates, RetrainExecutions, TriggerQueue

BUCKET_MINUTES = 15
NAME_PREFIX = "auto"
FOLLOW_UP_PREFIX = "next"
S3_SOURCE = "aws.s3"
OBJECT_CREATED = "Object Created"
# https://docs.aws.amazon.com/step-functions/latest/dg/eventbridge-integration.html
STATES_SOURCE = "aws.states"
EXECUTION_STATUS_CHANGE = "Step Functions Execution Status Change"
FINAL_STATUSES = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")
RUN_ENDED = "run-ended"
# Names a trigger may take in one bucket before it gives up (each try is one StartExecution).
MAX_NAMES_PER_BUCKET = 20
MAX_REASON_LENGTH = 500  # ExecutionInput.reason


@dataclass(frozen=True)
class StartDecision:
    start: bool
    execution_name: str
    reason: str
    running: tuple[str, ...] = ()
    queued: bool = False
    trigger: str = ""  # what asked: schedule, new-data, manual, follow-up, drift, quality, or run-ended
    ended_run: str = ""  # for the end of a run: its name

    def as_dict(self) -> dict[str, Any]:
        return {
            "started": self.start,
            "queued": self.queued,
            "trigger": self.trigger,
            "execution_name": self.execution_name,
            "reason": self.reason,
            "running": list(self.running),
            "ended_run": self.ended_run,
        }


@dataclass(frozen=True)
class QueuedTriggers:
    """Triggers that arrived while a retrain ran, as the state table keeps them."""

    count: int
    first_at: str
    first_reason: str
    last_reason: str
    newest_key: str = ""  # the newest landing object among the new-data triggers
    unkeyed: bool = False  # a schedule or manual trigger came too (it names no data)

    def summary(self) -> str:
        if self.count == 1:
            return self.first_reason
        between = f" (+{self.count - 2} more)" if self.count > 2 else ""
        return f"{self.count} triggers since {self.first_at}: {self.first_reason}{between}; {self.last_reason}"

    def need_a_run(self, watermark: str) -> bool:
        """Whether a follow-up has work: a trigger without data of its own, or an object newer than the
        last one trained on (a run that ended promoting or keeping the champion moved the watermark past
        what it saw; any other end left it, so its data is still new)."""
        return self.unkeyed or self.newest_key > watermark


@dataclass(frozen=True)
class RetrainRequest:
    """What one trigger asks for: the execution input and the name of its time bucket."""

    execution_input: ExecutionInput
    execution_name: str
    # When the data arrived (an S3 event's own time); None for the schedule and a manual start.
    arrived_at: datetime | None = None

    @classmethod
    def from_event(cls, event: Mapping[str, Any], now: datetime, alarms: AlarmStates | None = None) -> RetrainRequest:
        """An S3 `Object Created` event, the quality alarm's state change, the drift alarm's (its children's
        values read from `alarms`), or an execution input (the schedule's `{"trigger": ...}`)."""
        if event.get("source") == S3_SOURCE and event.get("detail-type") == OBJECT_CREATED:
            arrived_at = _event_time(event, now)
            return cls(new_data_input(event), execution_name(arrived_at), arrived_at)
        quality = QualityAlarmFired.from_event(event)
        if quality is not None:
            fired_at = _event_time(event, now)  # as the drift alarm's: a redelivery names the same bucket
            return cls(quality.execution_input(), execution_name(fired_at), fired_at)
        fired = AlarmFired.from_event(event)
        if fired is not None:
            # The alarm's own time, as an object's: a redelivery names the same bucket, and a run of the
            # bucket that started before the alarm leaves it the next name.
            fired_at = _event_time(event, now)
            breaches = alarms.breaches(fired.children) if alarms is not None and fired.children else []
            return cls(fired.execution_input(breaches), execution_name(fired_at), fired_at)
        try:
            given = ExecutionInput.model_validate(dict(event))
        except ValidationError as error:
            message = describe_invalid_document(error, ExecutionInput, "event")
            raise InvalidTaskInput(
                f"{message}. The starter accepts an execution input, an S3 Object Created event, a CloudWatch "
                "Alarm State Change event or a Step Functions Execution Status Change event."
            ) from None
        return cls(given, execution_name(now))

    @property
    def reason(self) -> str:
        return self.execution_input.reason or self.execution_input.trigger

    @property
    def data_key(self) -> str | None:
        """The landing object a new-data trigger is about; None for the schedule and a manual start."""
        detail = self.execution_input.detail or {}
        key = detail.get("key") if self.execution_input.trigger == "new-data" else None
        return key if isinstance(key, str) and key else None

    def input_document(self) -> dict[str, Any]:
        """The execution input as sent: the trigger always, other fields only when set."""
        return {
            "trigger": self.execution_input.trigger,
            **self.execution_input.model_dump(mode="json", exclude_defaults=True),
        }

    def names(self) -> Iterator[str]:
        """The bucket's name, then its next ones, for when an ended run of this bucket holds it."""
        yield self.execution_name
        for attempt in range(2, MAX_NAMES_PER_BUCKET + 1):
            yield f"{self.execution_name}-{attempt}"

    def queue(self, running: Sequence[str]) -> StartDecision:
        names = ", ".join(running)
        return StartDecision(
            start=False,
            queued=True,
            trigger=self.execution_input.trigger,
            execution_name=self.execution_name,
            reason=f"a retrain is running ({names}): this trigger is queued, and a follow-up run starts when "
            f"{'it ends' if len(running) == 1 else 'they end'}",
            running=tuple(running),
        )

    def started_as(self, name: str) -> StartDecision:
        taken = "" if name == self.execution_name else f" ({self.execution_name} is an ended run of this window)"
        return StartDecision(
            start=True,
            trigger=self.execution_input.trigger,
            execution_name=name,
            reason=f"no retrain is running{taken}",
        )

    def covered_by(self, name: str) -> StartDecision:
        return StartDecision(
            start=False,
            trigger=self.execution_input.trigger,
            execution_name=name,
            reason=f"execution {name} of this {BUCKET_MINUTES}-minute window started after this trigger "
            "(a repeated delivery, or one of a batch): it covers this trigger",
        )

    def out_of_names(self) -> StartDecision:
        return StartDecision(
            start=False,
            trigger=self.execution_input.trigger,
            execution_name=self.execution_name,
            reason=f"all {MAX_NAMES_PER_BUCKET} execution names of this {BUCKET_MINUTES}-minute window are taken by "
            "ended runs; the next window's trigger or the schedule starts the run",
        )


@dataclass(frozen=True)
class RunEnded:
    """A run of this pipeline's state machine reached a final status."""

    execution_name: str
    status: str

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> RunEnded | None:
        """The run a Step Functions `Execution Status Change` event reports ended; None for any other event."""
        if event.get("source") != STATES_SOURCE or event.get("detail-type") != EXECUTION_STATUS_CHANGE:
            return None
        detail = event.get("detail") or {}
        name, status = detail.get("name"), detail.get("status")
        if not isinstance(name, str) or not name or status not in FINAL_STATUSES:
            raise InvalidTaskInput(
                f"event.detail: an Execution Status Change event the starter handles names the execution "
                f"(detail.name) and a final status ({', '.join(FINAL_STATUSES)}); got name={name!r}, "
                f"status={status!r}"
            )
        return cls(name, status)

    def follow_up(self, queued: QueuedTriggers) -> RetrainRequest:
        """The one run for every trigger queued while this run went."""
        reason = f"queued while {self.execution_name} ran: {queued.summary()}"
        execution_input = ExecutionInput(trigger="follow-up", reason=reason[:MAX_REASON_LENGTH], max_data_checks=1)
        return RetrainRequest(execution_input, follow_up_name(self.execution_name))

    def already_trained(self, queued: QueuedTriggers, watermark: str) -> StartDecision:
        return StartDecision(
            start=False,
            trigger=RUN_ENDED,
            ended_run=self.execution_name,
            execution_name=self.execution_name,
            reason=f"run {self.execution_name} ended {self.status}; the data of the {queued.count} trigger(s) "
            f"queued while it ran is trained on already (watermark {watermark})",
        )

    def nothing_queued(self) -> StartDecision:
        return StartDecision(
            start=False,
            trigger=RUN_ENDED,
            ended_run=self.execution_name,
            execution_name=self.execution_name,
            reason=f"run {self.execution_name} ended {self.status}; no trigger was queued while it ran",
        )


def handle_trigger(
    event: Mapping[str, Any],
    now: datetime,
    executions: RetrainExecutions,
    queue: TriggerQueue,
    alarms: AlarmStates | None = None,
) -> StartDecision:
    """What the starter does with one event: start a run, queue the trigger, or start a follow-up."""
    ended = RunEnded.from_event(event)
    if ended is None:
        request = RetrainRequest.from_event(event, now, alarms)
        decision = _start(request, executions)
        if decision.queued:
            queue.add(request.reason, _iso(now), request.data_key)
        return decision
    queued = queue.peek()
    if queued is None:
        return ended.nothing_queued()
    watermark = queue.watermark()
    if not queued.need_a_run(watermark):
        queue.clear(queued.count)
        return ended.already_trained(queued, watermark)
    decision = replace(_start(ended.follow_up(queued), executions), ended_run=ended.execution_name)
    if decision.start or decision.running == (follow_up_name(ended.execution_name),):
        # The follow-up runs (started now, or by an earlier delivery of this event): these triggers
        # are its. Triggers queued since stay queued for the follow-up's own end.
        queue.clear(queued.count)
    return decision


def _start(request: RetrainRequest, executions: RetrainExecutions) -> StartDecision:
    running = executions.running()
    if running:
        return request.queue(running)
    for name in request.names():
        if executions.start(name, request.input_document()):
            return request.started_as(name)
        taken = executions.describe(name)
        if taken is None:
            continue  # deleted with its state machine meanwhile: the name is free again next time
        if taken.running:
            return request.queue([name])
        if request.arrived_at is None or taken.started_at >= request.arrived_at:
            # The schedule or a manual start has no data of its own, and a run started after the data
            # arrived saw it: a second delivery of the same trigger, not a new one.
            return request.covered_by(name)
        # Data that arrived after that run started may be unseen: the window's next name.
    return request.out_of_names()


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def execution_name(moment: datetime, bucket_minutes: int = BUCKET_MINUTES) -> str:
    """`auto-YYYYMMDDTHHMMZ`, the start of the UTC time bucket `moment` falls in."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    floored = moment.replace(minute=moment.minute - moment.minute % bucket_minutes, second=0, microsecond=0)
    return f"{NAME_PREFIX}-{floored:%Y%m%dT%H%M}Z"


def follow_up_name(ended: str) -> str:
    """`next-<ended name>`, within Step Functions' 80 characters; a long name keeps a digest of the whole."""
    name = f"{FOLLOW_UP_PREFIX}-{ended}"
    if len(name) <= 80:
        return name
    digest = hashlib.sha256(ended.encode()).hexdigest()[:12]
    return f"{name[: 80 - len(digest) - 1]}-{digest}"


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
        reason=f"new object s3://{bucket}/{key}"[:MAX_REASON_LENGTH],
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
