"""The definition's DescribeLiveEndpoint branch on the local engine: only a missing endpoint creates one.

SageMaker answers DescribeEndpoint of a missing endpoint with ValidationException 'Could not find
endpoint "<arn>".' (SageMaker API reference, DescribeEndpoint; the local SageMaker answers the same);
Step Functions names an SDK integration's error `SageMaker.<Error>` (developer guide, "AWS SDK service
integrations"). Any other error (here a name SageMaker's pattern refuses) must fail the run.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from statemachines.build import DEFINITION_FILE
from tests.support.emulator import StateMachineRunner

pytestmark = pytest.mark.local


def lookup_machine() -> dict[str, Any]:
    states = json.loads(DEFINITION_FILE.read_text())["States"]
    machine = {name: states[name] for name in ("DescribeLiveEndpoint", "EndpointMissing?", "EndpointLookupFailed")}
    assert states["EndpointMissing?"]["Choices"][0]["Next"] == "CreateEndpoint"
    assert states["DescribeLiveEndpoint"]["Next"] == "UpdateEndpoint"
    machine["CreateEndpoint"] = {"Type": "Pass", "Result": "create", "ResultPath": "$.branch", "End": True}
    machine["UpdateEndpoint"] = {"Type": "Pass", "Result": "update", "ResultPath": "$.branch", "End": True}
    # Any other error is undone first (statemachines/undeploy.py), then fails the run with it.
    assert states["EndpointLookupFailed"]["Next"] == "FindCandidateOnEndpoint"
    machine["FindCandidateOnEndpoint"] = {"Type": "Fail", "ErrorPath": "$.error.Error", "CausePath": "$.error.Cause"}
    return {"StartAt": "DescribeLiveEndpoint", "States": machine}


def test_only_a_missing_endpoint_is_created(machines: StateMachineRunner, unique_name: str) -> None:
    machine = machines.create(lookup_machine())

    missing = machines.wait(machines.start(machine, {"run": {"deployment": {"endpoint_name": unique_name}}}))
    assert missing.status == "SUCCEEDED", missing.cause
    assert missing.output["branch"] == "create"

    refused = machines.wait(machines.start(machine, {"run": {"deployment": {"endpoint_name": "not_a_valid_name"}}}))
    assert refused.status == "FAILED"
    assert refused.error == "SageMaker.ValidationException"
    assert "failed to satisfy constraint" in (refused.cause or "")
