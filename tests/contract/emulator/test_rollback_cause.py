"""The definition's rollback branch on the local engine: the cause is read from the endpoint.

A blue/green update ends back on the old config for an alarm or a failed health check alike; DescribeEndpoint's
`FailureReason` says which (SageMaker API reference, DescribeEndpoint: "FailureReason: If the status of the
endpoint is Failed, or the status is InService but update operation fails, this provides the reason why it
failed"). When there is none, the run says so instead of assuming an alarm.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.definition import definition_states, package_update_as_pass
from tests.support.emulator import StateMachineRunner
from tests.support.polling import wait_until
from tests.support.sagemaker import IMAGE, ROLE_ARN

pytestmark = pytest.mark.local

BRANCH = ("ReadRollbackCause", "RollbackCauseGiven?", "RollbackCauseFromEndpoint", "RollbackCauseUnknown")


def rollback_machine() -> dict[str, Any]:
    states = definition_states()
    machine = {name: states[name] for name in (*BRANCH, "RollbackError", "DeploymentRolledBack")}
    machine["RecordRollback"] = package_update_as_pass(states["RecordRollback"], "$.recorded")
    return {"StartAt": "ReadRollbackCause", "States": machine}


def test_the_rollback_cause_is_the_endpoints_failure_reason(
    machines: StateMachineRunner, aws_clients: Any, unique_name: str
) -> None:
    sm = aws_clients.client("sagemaker")
    # An endpoint with a FailureReason: its model's artifacts do not exist.
    sm.create_model(
        ModelName=unique_name,
        ExecutionRoleArn=ROLE_ARN,
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": f"s3://{unique_name}-none/model.tar.gz"},
    )
    sm.create_endpoint_config(
        EndpointConfigName=unique_name,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": unique_name,
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    sm.create_endpoint(EndpointName=unique_name, EndpointConfigName=unique_name)
    reason = wait_until(
        lambda: sm.describe_endpoint(EndpointName=unique_name).get("FailureReason"), 60, "the endpoint to fail"
    )
    machine = machines.create(rollback_machine())

    given = {"run": {"deployment": {"endpoint_name": unique_name}}, "package": {"arn": "arn:pkg"}}
    execution = machines.wait(machines.start(machine, given))
    assert execution.status == "FAILED" and execution.error == "DeploymentRolledBack"
    assert reason in (execution.cause or "")
    assert "alarm" not in (execution.cause or "").lower()
    history = json.dumps(execution.history, default=str)
    assert f"update of endpoint {unique_name}: {reason}" in history.replace('\\"', '"')

    gone = machines.wait(machines.start(machine, {"run": {"deployment": {"endpoint_name": f"{unique_name}-gone"}}}))
    assert gone.status == "FAILED" and gone.error == "DeploymentRolledBack"
    assert "SageMaker gave no FailureReason" in (gone.cause or "")
