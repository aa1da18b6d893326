"""The definition's undo of a rollout that failed before the endpoint took the candidate, on the local engine.

The run's model and endpoint config are deleted only when nothing serves them: no endpoint (DescribeEndpoint
of a missing endpoint is ValidationException 'Could not find endpoint "<arn>".', SageMaker API reference),
or an endpoint on another config with no update pending (DescribeEndpoint's `PendingDeploymentSummary`).
Deleting what was never created fails (DeleteModel / DeleteEndpointConfig of a missing name is a
ValidationException) and the undo goes on. Whatever it does, the run fails with the original error.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.definition import definition_states, package_update_as_pass
from tests.support.emulator import StateMachineRunner
from tests.support.sagemaker import IMAGE, ROLE_ARN

pytestmark = pytest.mark.local

STEPS = ("FindCandidateOnEndpoint", "NoEndpoint?", "CandidateOnEndpoint?")
DELETES = ("DeleteCandidateEndpointConfig", "DeleteCandidateModel")
ERROR = {"Error": "SageMaker.AmazonSageMakerException", "Cause": "not authorized to perform: sagemaker:Create..."}


def undo_machine() -> dict[str, Any]:
    states = definition_states()
    machine = {name: states[name] for name in (*STEPS, *DELETES)}
    machine["RejectUndeployedCandidate"] = package_update_as_pass(states["RejectUndeployedCandidate"], "$.rejected")
    machine["NotifyFailure"] = {"Type": "Fail", "ErrorPath": "$.error.Error", "CausePath": "$.error.Cause"}
    return {"StartAt": "FindCandidateOnEndpoint", "States": machine}


def _model_and_config(sm: Any, name: str) -> None:
    sm.create_model(ModelName=f"{name}-model", ExecutionRoleArn=ROLE_ARN, PrimaryContainer={"Image": IMAGE})
    sm.create_endpoint_config(
        EndpointConfigName=f"{name}-config",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": f"{name}-model",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )


def _given(name: str, endpoint: str) -> dict[str, Any]:
    return {
        "run": {
            "names": {"model": f"{name}-model", "endpoint_config": f"{name}-config"},
            "deployment": {"endpoint_name": endpoint},
        },
        "package": {"arn": "arn:pkg"},
        "error": ERROR,
    }


def _names(sm: Any, name: str) -> tuple[list[str], list[str]]:
    models = [m["ModelName"] for m in sm.list_models(NameContains=name)["Models"]]
    configs = [c["EndpointConfigName"] for c in sm.list_endpoint_configs(NameContains=name)["EndpointConfigs"]]
    return models, configs


def _entered(execution: Any) -> set[str]:
    return {e["stateEnteredEventDetails"]["name"] for e in execution.history if "stateEnteredEventDetails" in e}


def test_without_an_endpoint_the_runs_model_and_config_are_deleted_and_the_error_kept(
    machines: StateMachineRunner, aws_clients: Any, unique_name: str
) -> None:
    sm = aws_clients.client("sagemaker")
    _model_and_config(sm, unique_name)
    machine = machines.create(undo_machine())

    execution = machines.wait(machines.start(machine, _given(unique_name, f"{unique_name}-none")))

    assert (execution.status, execution.error, execution.cause) == ("FAILED", ERROR["Error"], ERROR["Cause"])
    assert _names(sm, unique_name) == ([], [])
    history = json.dumps(execution.history, default=str)
    assert f"Not deployed: the rollout to endpoint {unique_name}-none failed" in history
    assert ERROR["Cause"] in history

    # Nothing left to delete: both deletes fail, the undo goes on, the run fails the same way.
    again = machines.wait(machines.start(machine, _given(unique_name, f"{unique_name}-none")))
    assert (again.status, again.error, again.cause) == ("FAILED", ERROR["Error"], ERROR["Cause"])
    assert {*DELETES, "NotifyFailure"} <= _entered(again)
    # The lookup of the missing endpoint and the two deletes, each a ValidationException (not retried).
    failed = [e["taskFailedEventDetails"]["error"] for e in again.events("TaskFailed")]
    assert failed == ["SageMaker.ValidationException"] * 3, failed


def test_an_endpoint_on_the_runs_config_keeps_everything(
    machines: StateMachineRunner, aws_clients: Any, unique_name: str
) -> None:
    sm = aws_clients.client("sagemaker")
    _model_and_config(sm, unique_name)
    sm.create_endpoint(EndpointName=unique_name, EndpointConfigName=f"{unique_name}-config")
    machine = machines.create(undo_machine())

    execution = machines.wait(machines.start(machine, _given(unique_name, unique_name)))

    assert (execution.status, execution.error) == ("FAILED", ERROR["Error"])
    assert _names(sm, unique_name) == ([f"{unique_name}-model"], [f"{unique_name}-config"])
    assert not {"RejectUndeployedCandidate", *DELETES} & _entered(execution)
