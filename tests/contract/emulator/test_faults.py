"""The fault-injection hook (`local/emulator/faults.py`): a rule in the state directory's `faults.json` fails a
Task's service call as AWS fails it, for the state, service, operation and resource it names, so many times.

Every rule here names this test's table (`name_prefix`): the session's emulator is shared.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from local.clients import LocalClients
from local.emulator import task_permissions
from local.emulator.faults import FaultRuleError, clear_rules, service_error, write_rules
from tests.support.definition import TASKS
from tests.support.emulator import StateMachineRunner
from tests.support.local_aws import RunningLocalAws

FAST_RETRY = {"IntervalSeconds": 1, "MaxDelaySeconds": 1, "JitterStrategy": "FULL", "BackoffRate": 2.0}


@pytest.fixture
def table(aws_clients: LocalClients, local_aws: RunningLocalAws, unique_name: str) -> Iterator[str]:
    aws_clients.client("dynamodb").create_table(
        TableName=unique_name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    yield unique_name
    clear_rules(local_aws.home)


def put_machine(table: str, retry_on: list[str], timeout: int = 30) -> dict[str, Any]:
    return {
        "StartAt": "Put",
        "States": {
            "Put": {
                "Type": "Task",
                "Resource": "arn:aws:states:::dynamodb:putItem",
                "Parameters": {"TableName": table, "Item": {"pk": {"S": "written"}}},
                "TimeoutSeconds": timeout,
                "Retry": [{"ErrorEquals": retry_on, "MaxAttempts": 3, **FAST_RETRY}],
                "End": True,
            }
        },
    }


def written(aws_clients: LocalClients, table: str) -> bool:
    return "Item" in aws_clients.client("dynamodb").get_item(TableName=table, Key={"pk": {"S": "written"}})


def failures(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [event["taskFailedEventDetails"] for event in history if event["type"] == "TaskFailed"]


def test_a_throttle_then_a_5xx_are_retried_and_the_call_then_passes(
    machines: StateMachineRunner, aws_clients: LocalClients, local_aws: RunningLocalAws, table: str
) -> None:
    write_rules(
        local_aws.home,
        [
            {
                "state": "Put",
                "service": "dynamodb",
                "operation": "PutItem",
                "name_prefix": table,
                "fault": "throttle",
                "count": 1,
            },
            {"state": "Put", "name_prefix": table, "fault": "5xx", "count": 1},
        ],
    )
    retried = ["DynamoDB.ProvisionedThroughputExceededException", "DynamoDB.InternalServerErrorException"]

    execution = machines.run(put_machine(table, retried))

    assert execution.status == "SUCCEEDED", execution.cause
    assert [failure["error"] for failure in failures(execution.history)] == retried
    # The AWS SDK for Java's wording, which Step Functions puts in the cause (botocore: 400 and 500).
    throttled, internal = (failure["cause"] for failure in failures(execution.history))
    assert (
        "(Service: AmazonDynamoDBv2; Status Code: 400; Error Code: ProvisionedThroughputExceededException;" in throttled
    )
    assert "Status Code: 500; Error Code: InternalServerError;" in internal
    assert written(aws_clients, table)


def test_a_permanent_fault_is_access_denied_in_iams_words_and_not_retried(
    machines: StateMachineRunner, aws_clients: LocalClients, local_aws: RunningLocalAws, table: str
) -> None:
    write_rules(local_aws.home, [{"name_prefix": table, "fault": "permanent"}])

    execution = machines.run(put_machine(table, ["DynamoDB.ProvisionedThroughputExceededException"]))

    assert execution.status == "FAILED"
    # DynamoDB's model has no AccessDeniedException shape: the Java client's generic exception, code in the cause.
    assert execution.error == "DynamoDB.AmazonDynamoDBException"
    [failure] = failures(execution.history)
    assert "is not authorized to perform: dynamodb:PutItem on resource: arn:aws:dynamodb:" in failure["cause"]
    assert f":table/{table} because no identity-based policy allows the dynamodb:PutItem action" in failure["cause"]
    assert "Error Code: AccessDeniedException" in failure["cause"]
    assert not written(aws_clients, table)


def test_a_named_domain_error_and_a_lost_answer(
    machines: StateMachineRunner, aws_clients: LocalClients, local_aws: RunningLocalAws, table: str
) -> None:
    cause = "the column amount is missing"
    write_rules(
        local_aws.home,
        [{"name_prefix": table, "fault": "permanent", "error": "SchemaMismatch", "cause": cause, "after": True}],
    )

    execution = machines.run(put_machine(table, ["States.ALL"]))

    # `after`: the call went through, then its answer was lost.
    assert (execution.status, execution.error, execution.cause) == ("FAILED", "SchemaMismatch", cause)
    assert written(aws_clients, table)


def test_a_timeout_fault_hangs_the_call_until_the_states_timeout_fires(
    machines: StateMachineRunner, aws_clients: LocalClients, local_aws: RunningLocalAws, table: str
) -> None:
    # The engine times a Task on the wall clock (SFN_WAIT_SCALE scales Wait states and retry intervals only):
    # the rule's timeout_scale runs the hung call's clock faster, 60 s in 1.2 s.
    write_rules(local_aws.home, [{"name_prefix": table, "fault": "timeout", "timeout_scale": 0.02}])
    started = time.monotonic()

    execution = machines.run(put_machine(table, ["DynamoDB.ProvisionedThroughputExceededException"], timeout=60))

    assert (execution.status, execution.error) == ("FAILED", "States.Timeout")
    assert time.monotonic() - started < 30
    assert len(failures(execution.history)) == 1, "a Retry that does not name States.Timeout does not retry it"
    assert not written(aws_clients, table)


def test_a_timeout_fault_on_a_callback_lets_the_call_through_and_no_answer_comes(
    machines: StateMachineRunner, aws_clients: LocalClients, local_aws: RunningLocalAws, table: str
) -> None:
    write_rules(local_aws.home, [{"name_prefix": table, "fault": "timeout", "timeout_scale": 0.02}])
    definition = put_machine(table, [], timeout=60)
    put = definition["States"]["Put"]
    put["Resource"] += ".waitForTaskToken"
    put["Parameters"]["Item"]["token"] = {"S.$": "$$.Task.Token"}
    started = time.monotonic()

    execution = machines.run(definition)

    assert (execution.status, execution.error) == ("FAILED", "States.Timeout")
    assert time.monotonic() - started < 30
    assert written(aws_clients, table)


def test_a_rule_for_another_resource_or_state_does_not_fire(
    machines: StateMachineRunner, aws_clients: LocalClients, local_aws: RunningLocalAws, table: str
) -> None:
    write_rules(
        local_aws.home,
        [
            {"name_prefix": f"{table}-other", "fault": "permanent"},
            {"state": "Elsewhere", "name_prefix": table, "fault": "permanent"},
            {"service": "dynamodb", "operation": "GetItem", "name_prefix": table, "fault": "permanent"},
        ],
    )

    execution = machines.run(put_machine(table, []))

    assert execution.status == "SUCCEEDED", execution.cause
    assert written(aws_clients, table)


def test_a_bad_rule_is_refused_with_what_to_fix(local_aws: RunningLocalAws, table: str) -> None:
    with pytest.raises(
        FaultRuleError, match=r"fault 'slow' is not one of \['throttle', '5xx', 'permanent', 'timeout'\]"
    ):
        write_rules(local_aws.home, [{"fault": "slow"}])
    with pytest.raises(FaultRuleError, match="count -1 must be a whole number"):
        write_rules(local_aws.home, [{"fault": "throttle", "count": -1}])


def test_a_bad_faults_file_fails_the_task_naming_it(
    machines: StateMachineRunner, local_aws: RunningLocalAws, table: str
) -> None:
    (local_aws.home.root / "faults.json").write_text(json.dumps({"rules": [{"fault": "slow"}]}), encoding="utf-8")

    execution = machines.run(put_machine(table, []))

    assert (execution.status, execution.error) == ("FAILED", "States.Runtime")
    assert "faults.json" in (execution.cause or "") and "'slow'" in (execution.cause or "")


@pytest.mark.parametrize("kind", ["throttle", "5xx"])
@pytest.mark.parametrize("state", sorted(TASKS))
def test_every_task_of_the_pipeline_retries_the_transient_errors_its_service_answers(state: str, kind: str) -> None:
    # The names the hook gives a Task's integration (what Step Functions reports on AWS) against the state's Retry.
    definition = TASKS[state]
    integration = task_permissions.parse(definition["Resource"])
    assert integration is not None
    error, _ = service_error(integration, {"sagemaker": "SageMaker"}, kind)
    retried = {name for retrier in definition.get("Retry", []) for name in retrier["ErrorEquals"]}
    assert error in retried or "States.ALL" in retried, f"{state} does not retry {error}"
