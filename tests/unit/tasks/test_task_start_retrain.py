"""Never two retrains at once and no trigger lost: the starter's core and its handler.

The core runs against in-memory executions and queue; the handler against moto's Step Functions (a real
state machine, real executions) and DynamoDB (the state table)."""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import boto3
import pytest

from retrain.errors import InvalidTaskInput
from retrain.ports import ExecutionState
from retrain.triggers import QueuedTriggers, RetrainRequest, execution_name, follow_up_name, handle_trigger
from tests.support.lambda_context import ACCOUNT, REGION, FakeLambdaContext
from tests.unit.tasks.conftest import TABLE, Stack

STARTER_CONTEXT = FakeLambdaContext(
    function_name="fraud-retrain-start-retrain",
    invoked_function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:fraud-retrain-start-retrain",
)
DEFINITION = json.dumps({"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 3600, "End": True}}})


def s3_event(key: str = "landing/2025-01-01/part-0.csv", time: str = "2025-01-01T10:07:00Z") -> dict[str, Any]:
    return {
        "version": "0",
        "source": "aws.s3",
        "detail-type": "Object Created",
        "time": time,
        "detail": {"bucket": {"name": "retrain-data"}, "object": {"key": key, "size": 1234}},
    }


# --- the pure core -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "name"),
    [
        (datetime(2025, 1, 1, 10, 0, tzinfo=UTC), "auto-20250101T1000Z"),
        (datetime(2025, 1, 1, 10, 14, 59, tzinfo=UTC), "auto-20250101T1000Z"),
        (datetime(2025, 1, 1, 10, 15, tzinfo=UTC), "auto-20250101T1015Z"),
        (datetime(2025, 1, 1, 23, 59, tzinfo=UTC), "auto-20250101T2345Z"),
    ],
)
def test_execution_names_are_fifteen_minute_buckets(moment: datetime, name: str) -> None:
    assert execution_name(moment) == name


def test_a_schedule_input_is_validated_and_named_by_the_current_bucket() -> None:
    request = RetrainRequest.from_event({"trigger": "schedule"}, datetime(2025, 3, 4, 5, 6, tzinfo=UTC))
    assert request.execution_name == "auto-20250304T0500Z"
    assert request.input_document() == {"trigger": "schedule"}


def test_an_s3_event_becomes_a_new_data_input_named_by_the_event_time() -> None:
    request = RetrainRequest.from_event(s3_event(), datetime(2025, 1, 2, tzinfo=UTC))
    assert request.execution_name == "auto-20250101T1000Z"  # the event's time, not the handler's
    assert request.input_document() == {
        "trigger": "new-data",
        "reason": "new object s3://retrain-data/landing/2025-01-01/part-0.csv",
        "detail": {"bucket": "retrain-data", "key": "landing/2025-01-01/part-0.csv", "size": 1234},
    }


def test_a_bad_input_is_a_named_task_input_error() -> None:
    with pytest.raises(InvalidTaskInput, match=r"event.trigger: expected .*schedule.*got 'cron'"):
        RetrainRequest.from_event({"trigger": "cron"}, datetime(2025, 1, 1, tzinfo=UTC))
    with pytest.raises(InvalidTaskInput, match=r"detail\.object\.key"):
        RetrainRequest.from_event({**s3_event(), "detail": {"bucket": {"name": "b"}}}, datetime.now(UTC))


def ended_event(name: str, status: str = "SUCCEEDED") -> dict[str, Any]:
    """Step Functions' status-change event as EventBridge delivers it (the fields the starter reads)."""
    return {
        "version": "0",
        "source": "aws.states",
        "detail-type": "Step Functions Execution Status Change",
        "time": "2025-01-01T11:00:00Z",
        "detail": {"name": name, "status": status, "stateMachineArn": "arn:aws:states:...:stateMachine:m"},
    }


class Executions:
    """In-memory executions: a name is taken once, running or ended; each starts at `clock`."""

    def __init__(self) -> None:
        self.status: dict[str, str] = {}
        self.inputs: dict[str, dict[str, Any]] = {}
        self.started: dict[str, datetime] = {}
        self.clock = NOW

    def running(self) -> list[str]:
        return [name for name, status in self.status.items() if status == "RUNNING"]

    def start(self, name: str, execution_input: dict[str, Any]) -> bool:
        if name in self.status:
            return False
        self.status[name], self.inputs[name], self.started[name] = "RUNNING", execution_input, self.clock
        return True

    def describe(self, name: str) -> ExecutionState | None:
        if name not in self.status:
            return None
        return ExecutionState(self.status[name] == "RUNNING", self.started[name])

    def end(self, name: str) -> dict[str, Any]:
        self.status[name] = "SUCCEEDED"
        return ended_event(name)


class Queue:
    def __init__(self, watermark: str = "") -> None:
        self.queued: QueuedTriggers | None = None
        self.trained_up_to = watermark

    def add(self, reason: str, at: str, data_key: str | None) -> None:
        q = self.queued or QueuedTriggers(0, at, reason, reason)
        self.queued = replace(
            q,
            count=q.count + 1,
            last_reason=reason,
            newest_key=max(q.newest_key, data_key or ""),
            unkeyed=q.unkeyed or data_key is None,
        )

    def peek(self) -> QueuedTriggers | None:
        return self.queued

    def clear(self, count: int) -> bool:
        if self.queued is None or self.queued.count != count:
            return False
        self.queued = None
        return True

    def watermark(self) -> str:
        return self.trained_up_to


NOW = datetime(2025, 1, 1, 10, 7, tzinfo=UTC)


def test_a_trigger_while_a_retrain_runs_is_queued_not_dropped() -> None:
    executions, queue = Executions(), Queue()
    assert handle_trigger({"trigger": "schedule"}, NOW, executions, queue).start
    decision = handle_trigger(s3_event(key="landing/date=2025-01-01/a.csv"), NOW, executions, queue)
    assert (decision.start, decision.queued, decision.running) == (False, True, ("auto-20250101T1000Z",))
    assert "queued" in decision.reason and "its data check will include" not in decision.reason
    reason = "new object s3://retrain-data/landing/date=2025-01-01/a.csv"
    key = "landing/date=2025-01-01/a.csv"
    assert queue.peek() == QueuedTriggers(1, "2025-01-01T10:07:00Z", reason, reason, newest_key=key)
    assert executions.running() == ["auto-20250101T1000Z"]


def test_the_end_of_the_run_starts_one_follow_up_for_everything_queued() -> None:
    executions, queue = Executions(), Queue()
    handle_trigger({"trigger": "schedule"}, NOW, executions, queue)
    for day in ("01", "02", "03"):
        handle_trigger(s3_event(key=f"landing/date=2025-01-{day}/a.csv"), NOW, executions, queue)
    decision = handle_trigger(executions.end("auto-20250101T1000Z"), NOW, executions, queue)
    assert decision.start and decision.execution_name == "next-auto-20250101T1000Z"
    assert (decision.trigger, decision.ended_run) == ("follow-up", "auto-20250101T1000Z")
    sent = executions.inputs["next-auto-20250101T1000Z"]
    assert sent["trigger"] == "follow-up" and sent["max_data_checks"] == 1
    assert sent["reason"].startswith("queued while auto-20250101T1000Z ran: 3 triggers since 2025-01-01T10:07:00Z")
    assert "date=2025-01-01" in sent["reason"] and "date=2025-01-03" in sent["reason"]
    assert queue.peek() is None
    # The same event delivered again starts nothing more.
    again = handle_trigger(ended_event("auto-20250101T1000Z"), NOW, executions, queue)
    assert not again.start and "no trigger was queued" in again.reason
    assert executions.running() == ["next-auto-20250101T1000Z"]


def test_a_run_that_ends_with_nothing_queued_starts_nothing() -> None:
    executions, queue = Executions(), Queue()
    handle_trigger({"trigger": "schedule"}, NOW, executions, queue)
    decision = handle_trigger(executions.end("auto-20250101T1000Z"), NOW, executions, queue)
    assert not decision.start and not decision.queued
    assert (decision.trigger, decision.ended_run) == ("run-ended", "auto-20250101T1000Z")
    assert executions.running() == []


def test_a_run_that_trained_on_the_queued_data_starts_no_follow_up() -> None:
    # A batch of objects lands at once: the first starts the run, the rest queue; the run sees them all
    # and moves the watermark past them.
    executions, queue = Executions(), Queue()
    for day in ("01", "02", "03"):
        handle_trigger(s3_event(key=f"landing/date=2025-01-{day}/a.csv"), NOW, executions, queue)
    assert queue.peek() is not None and queue.peek().count == 2  # type: ignore[union-attr]
    queue.trained_up_to = "landing/date=2025-01-03/a.csv"
    decision = handle_trigger(executions.end("auto-20250101T1000Z"), NOW, executions, queue)
    assert not decision.start and "trained on already" in decision.reason
    assert queue.peek() is None and executions.running() == []


def test_an_object_newer_than_the_watermark_or_a_schedule_needs_a_follow_up() -> None:
    queued = QueuedTriggers(1, "t", "r", "r", newest_key="landing/date=2025-01-04/a.csv")
    assert queued.need_a_run("landing/date=2025-01-03/a.csv")
    assert not queued.need_a_run("landing/date=2025-01-04/a.csv")
    assert replace(queued, unkeyed=True).need_a_run("landing/date=2025-01-09/a.csv")


def test_a_follow_up_waits_for_a_run_started_meanwhile_and_keeps_the_queue() -> None:
    executions, queue = Executions(), Queue()
    handle_trigger({"trigger": "schedule"}, NOW, executions, queue)
    handle_trigger(s3_event(), NOW, executions, queue)
    executions.end("auto-20250101T1000Z")
    executions.start("manual-run", {})  # started by hand before the end event arrived
    decision = handle_trigger(ended_event("auto-20250101T1000Z"), NOW, executions, queue)
    assert decision.queued and decision.running == ("manual-run",)
    assert queue.peek() is not None
    assert handle_trigger(executions.end("manual-run"), NOW, executions, queue).execution_name == "next-manual-run"


def test_data_that_arrives_after_a_short_run_of_its_window_takes_the_next_name() -> None:
    executions, queue = Executions(), Queue()
    handle_trigger({"trigger": "schedule"}, NOW, executions, queue)
    executions.end("auto-20250101T1000Z")
    decision = handle_trigger(s3_event(time="2025-01-01T10:09:00Z"), NOW, executions, queue)
    assert decision.start and decision.execution_name == "auto-20250101T1000Z-2"
    assert "ended run of this window" in decision.reason


def test_a_repeated_delivery_after_its_run_ended_starts_nothing() -> None:
    executions, queue = Executions(), Queue()
    executions.clock = datetime(2025, 1, 1, 10, 7, 1, tzinfo=UTC)  # the run starts after the data arrived
    assert handle_trigger(s3_event(time="2025-01-01T10:07:00Z"), NOW, executions, queue).start
    executions.end("auto-20250101T1000Z")
    again = handle_trigger(s3_event(time="2025-01-01T10:07:00Z"), NOW, executions, queue)
    assert (again.start, again.queued) == (False, False) and "covers this trigger" in again.reason
    # The schedule has no data of its own: firing twice in one window is one trigger delivered twice.
    handle_trigger({"trigger": "schedule"}, datetime(2025, 1, 1, 11, 0, tzinfo=UTC), executions, queue)
    executions.end("auto-20250101T1100Z")
    twice = handle_trigger({"trigger": "schedule"}, datetime(2025, 1, 1, 11, 1, tzinfo=UTC), executions, queue)
    assert not twice.start and twice.execution_name == "auto-20250101T1100Z"
    assert sorted(executions.status) == ["auto-20250101T1000Z", "auto-20250101T1100Z"]


def test_a_trigger_racing_a_start_of_its_window_is_queued() -> None:
    executions, queue = Executions(), Queue()

    class Lagging(Executions):
        def running(self) -> list[str]:
            return []  # the listing has not caught up with the start

    lagging = Lagging()
    lagging.start("auto-20250101T1000Z", {})
    assert lagging.describe("auto-20250101T1000Z") is not None
    decision = handle_trigger(s3_event(), NOW, lagging, queue)
    assert decision.queued and decision.running == ("auto-20250101T1000Z",)
    assert executions.running() == []


def test_follow_up_names_fit_step_functions_limit() -> None:
    assert follow_up_name("auto-20250101T1000Z") == "next-auto-20250101T1000Z"
    long = "x" * 80
    assert len(follow_up_name(long)) == 80 and follow_up_name(long) != follow_up_name("x" * 79 + "y")


def test_a_status_change_event_without_a_final_status_is_a_named_error() -> None:
    event = ended_event("auto-20250101T1000Z", status="RUNNING")
    with pytest.raises(InvalidTaskInput, match=r"event.detail: .*final status"):
        handle_trigger(event, NOW, Executions(), Queue())


# --- the handler, on moto ----------------------------------------------------------------------


@dataclass
class Starter:
    module: ModuleType
    client: Any
    machine_arn: str
    stack: Stack

    def __call__(self, event: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.module.handler(event, STARTER_CONTEXT)
        return result

    def executions(self) -> list[dict[str, Any]]:
        return list(self.client.list_executions(stateMachineArn=self.machine_arn)["executions"])

    def queued(self) -> dict[str, Any] | None:
        key = {"pk": {"S": "fraud-retrain"}, "sk": {"S": "TRIGGERS#QUEUED"}}
        item: dict[str, Any] | None = self.stack.dynamodb.get_item(TableName=TABLE, Key=key).get("Item")
        return item


@pytest.fixture
def starter(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Starter:
    client = boto3.client("stepfunctions", region_name=REGION)
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName="sfn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    arn = client.create_state_machine(name="fraud-retrain", definition=DEFINITION, roleArn=role)["stateMachineArn"]
    monkeypatch.setenv("STATE_MACHINE_ARN", arn)
    monkeypatch.setenv("STATE_TABLE_NAME", TABLE)
    monkeypatch.setenv("PIPELINE_NAME", "fraud-retrain")
    module = importlib.reload(importlib.import_module("tasks.start_retrain"))  # clients inside moto
    return Starter(module, client, arn, stack)


def test_the_first_trigger_starts_a_retrain_with_its_input(starter: Starter) -> None:
    result = starter(s3_event())
    assert result["started"] is True and result["execution_name"] == "auto-20250101T1000Z"
    (execution,) = starter.executions()
    assert execution["name"] == "auto-20250101T1000Z" and execution["status"] == "RUNNING"
    described = starter.client.describe_execution(executionArn=execution["executionArn"])
    assert json.loads(described["input"])["trigger"] == "new-data"


def test_a_trigger_while_a_retrain_runs_is_queued_in_the_state_table(starter: Starter) -> None:
    starter(s3_event(time="2025-01-01T10:07:00Z"))
    result = starter({"trigger": "schedule"})  # another bucket, but one is still running
    assert (result["started"], result["queued"]) == (False, True)
    assert result["running"] == ["auto-20250101T1000Z"]
    assert len(starter.executions()) == 1
    queued = starter.queued()
    assert queued is not None and queued["count"] == {"N": "1"} and queued["first_reason"] == {"S": "schedule"}


def test_the_end_of_the_run_starts_the_follow_up_and_empties_the_queue(starter: Starter) -> None:
    starter(s3_event(time="2025-01-01T10:07:00Z"))
    starter(s3_event(key="landing/date=2025-01-02/b.csv"))
    (first,) = starter.executions()
    starter.client.stop_execution(executionArn=first["executionArn"])
    result = starter(ended_event(first["name"], "ABORTED"))
    assert result["started"] is True and result["execution_name"] == "next-auto-20250101T1000Z"
    assert starter.queued() is None
    follow_up = next(e for e in starter.executions() if e["name"] == "next-auto-20250101T1000Z")
    sent = json.loads(starter.client.describe_execution(executionArn=follow_up["executionArn"])["input"])
    assert sent["trigger"] == "follow-up" and "landing/date=2025-01-02/b.csv" in sent["reason"]


def test_data_after_an_ended_run_of_its_window_starts_under_the_next_name(starter: Starter) -> None:
    # Event times later than the runs' real start: this data arrived after the first run started.
    window = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    first = starter(s3_event(key="landing/a.csv", time=f"{window + timedelta(minutes=1):%Y-%m-%dT%H:%M:%SZ}"))
    starter.client.stop_execution(executionArn=starter.executions()[0]["executionArn"])
    result = starter(s3_event(key="landing/b.csv", time=f"{window + timedelta(minutes=2):%Y-%m-%dT%H:%M:%SZ}"))
    assert result["started"] is True and result["execution_name"] == f"{first['execution_name']}-2"
    assert len(starter.executions()) == 2


def test_a_repeated_event_after_its_run_ended_starts_nothing(starter: Starter) -> None:
    first = starter(s3_event())  # the event's time is long before the run starts
    starter.client.stop_execution(executionArn=starter.executions()[0]["executionArn"])
    again = starter(s3_event())
    assert (again["started"], again["queued"], again["execution_name"]) == (False, False, first["execution_name"])
    assert len(starter.executions()) == 1


def test_the_end_of_a_run_that_trained_on_the_queued_objects_starts_nothing(starter: Starter) -> None:
    starter(s3_event(key="landing/date=2025-01-01/a.csv"))
    starter(s3_event(key="landing/date=2025-01-02/a.csv"))  # queued
    (first,) = starter.executions()
    starter.stack.dynamodb.put_item(  # the run promoted its candidate: the watermark is its newest key
        TableName=TABLE,
        Item={"pk": {"S": "fraud-retrain"}, "sk": {"S": "WATERMARK"}, "key": {"S": "landing/date=2025-01-02/a.csv"}},
    )
    starter.client.stop_execution(executionArn=first["executionArn"])
    result = starter(ended_event(first["name"]))
    assert result["started"] is False and "trained on already" in result["reason"]
    assert starter.queued() is None and len(starter.executions()) == 1
