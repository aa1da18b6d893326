"""Two triggers close together never start two retrains: the starter's core and its handler.

The handler runs against moto's Step Functions (a real state machine, real executions)."""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from retrain.errors import InvalidTaskInput
from retrain.triggers import RetrainRequest, execution_name
from tests.support.lambda_context import ACCOUNT, REGION, FakeLambdaContext

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


def test_a_running_retrain_blocks_a_new_one() -> None:
    request = RetrainRequest.from_event({"trigger": "schedule"}, datetime(2025, 1, 1, tzinfo=UTC))
    decision = request.decide(["auto-20241231T0000Z"])
    assert not decision.start
    assert "auto-20241231T0000Z" in decision.reason
    assert request.decide([]).start


# --- the handler, on moto ----------------------------------------------------------------------


@dataclass
class Starter:
    module: ModuleType
    client: Any
    machine_arn: str

    def __call__(self, event: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.module.handler(event, STARTER_CONTEXT)
        return result

    def executions(self) -> list[dict[str, Any]]:
        return list(self.client.list_executions(stateMachineArn=self.machine_arn)["executions"])


@pytest.fixture
def starter(monkeypatch: pytest.MonkeyPatch) -> Iterator[Starter]:
    for name, value in {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "POWERTOOLS_SERVICE_NAME": "fraud-retrain",
        "POWERTOOLS_METRICS_NAMESPACE": "RetrainPipeline",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        client = boto3.client("stepfunctions", region_name=REGION)
        iam = boto3.client("iam", region_name=REGION)
        role = iam.create_role(RoleName="sfn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        arn = client.create_state_machine(name="fraud-retrain", definition=DEFINITION, roleArn=role)["stateMachineArn"]
        monkeypatch.setenv("STATE_MACHINE_ARN", arn)
        module = importlib.reload(importlib.import_module("tasks.start_retrain"))  # clients inside moto
        yield Starter(module, client, arn)


def test_the_first_trigger_starts_a_retrain_with_its_input(starter: Starter) -> None:
    result = starter(s3_event())
    assert result["started"] is True and result["execution_name"] == "auto-20250101T1000Z"
    (execution,) = starter.executions()
    assert execution["name"] == "auto-20250101T1000Z" and execution["status"] == "RUNNING"
    described = starter.client.describe_execution(executionArn=execution["executionArn"])
    assert json.loads(described["input"])["trigger"] == "new-data"


def test_a_trigger_while_a_retrain_runs_starts_nothing(starter: Starter) -> None:
    starter(s3_event(time="2025-01-01T10:07:00Z"))
    result = starter({"trigger": "schedule"})  # another bucket, but one is still running
    assert result["started"] is False
    assert result["running"] == ["auto-20250101T1000Z"]
    assert len(starter.executions()) == 1


def test_two_triggers_of_one_bucket_that_race_start_one_execution(starter: Starter) -> None:
    first = RetrainRequest.from_event(s3_event(key="landing/a.csv"), datetime.now(UTC))
    starter.client.start_execution(
        stateMachineArn=starter.machine_arn, name=first.execution_name, input=json.dumps(first.input_document())
    )
    starter.client.stop_execution(executionArn=starter.executions()[0]["executionArn"])
    # The running check sees nothing now; the name still collides, and the start is refused.
    result = starter(s3_event(key="landing/b.csv"))
    assert result["started"] is False
    assert "already started by another trigger" in result["reason"]
    assert len(starter.executions()) == 1
