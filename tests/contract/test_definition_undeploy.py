"""The undo of a rollout that failed before the endpoint took the candidate (statemachines/undeploy.py), as
the committed definition wires it: which failures reach it, what it changes, and that the run still fails
with the original error."""

from __future__ import annotations

import json
from typing import Any

import pytest

from statemachines.build import DEFINITION_FILE

UNDO = "FindCandidateOnEndpoint"
UNDO_STATES = (
    "FindCandidateOnEndpoint",
    "NoEndpoint?",
    "CandidateOnEndpoint?",
    "RejectUndeployedCandidate",
    "DeleteCandidateEndpointConfig",
    "DeleteCandidateModel",
)


@pytest.fixture(scope="module")
def states() -> dict[str, Any]:
    states: dict[str, Any] = json.loads(DEFINITION_FILE.read_text())["States"]
    return states


def _catch_targets(state: dict[str, Any]) -> set[str]:
    return {catch["Next"] for catch in state.get("Catch", [])}


def test_a_failure_before_the_endpoint_takes_the_candidate_is_undone(states: dict[str, Any]) -> None:
    for name in ("CreateModel", "CreateEndpointConfig", "CreateEndpoint", "UpdateEndpoint"):
        assert _catch_targets(states[name]) == {UNDO}, name
    # DescribeLiveEndpoint: a missing endpoint is created; any other error is undone.
    assert states["EndpointMissing?"]["Default"] == "EndpointLookupFailed"
    assert states["EndpointLookupFailed"]["Next"] == UNDO


def test_a_failure_once_the_endpoint_may_serve_the_candidate_is_not_undone(states: dict[str, Any]) -> None:
    # From CheckEndpoint on, the candidate may serve: nothing of it is deleted.
    for name in ("CheckEndpoint", "PromoteChampion"):
        assert _catch_targets(states[name]) == {"NotifyFailure"}, name
    for name in ("EndpointFailed", "EndpointTimedOut"):
        assert states[name]["Next"] == "NotifyFailure", name


def test_the_undo_leaves_everything_when_the_endpoint_has_or_gets_the_runs_config(states: dict[str, Any]) -> None:
    described = "$.undeploy.endpoint.described"
    find = states[UNDO]
    assert find["Resource"] == "arn:aws:states:::aws-sdk:sagemaker:describeEndpoint"
    assert find["Parameters"] == {"EndpointName.$": "$.run.deployment.endpoint_name"}
    assert find["ResultPath"] == "$.undeploy.endpoint" and find["Next"] == "CandidateOnEndpoint?"
    # Rules in order, so the comparison never meets a missing field (a States.Runtime no Catch takes).
    choice = states["CandidateOnEndpoint?"]
    assert [(rule["Variable"], rule["Next"]) for rule in choice["Choices"]] == [
        (f"{described}.PendingDeploymentSummary", "NotifyFailure"),
        (f"{described}.EndpointConfigName", "NotifyFailure"),
        (f"{described}.EndpointConfigName", "NotifyFailure"),
    ]
    assert choice["Choices"][0]["IsPresent"] is True and choice["Choices"][1]["IsPresent"] is False
    assert (
        choice["Choices"][2]["StringEqualsPath"] == states["CreateEndpointConfig"]["Parameters"]["EndpointConfigName.$"]
    )
    assert choice["Default"] == "RejectUndeployedCandidate"
    # No endpoint at all: nothing serves the candidate; any other lookup error leaves everything.
    no_endpoint = states["NoEndpoint?"]
    assert _catch_targets(find) == {"NoEndpoint?"}
    assert no_endpoint["Choices"][0]["StringMatches"] == "*Could not find endpoint*"
    assert no_endpoint["Choices"][0]["Next"] == "RejectUndeployedCandidate"
    assert no_endpoint["Default"] == "NotifyFailure"


def test_the_undo_rejects_the_package_with_the_deploy_error(states: dict[str, Any]) -> None:
    reject = states["RejectUndeployedCandidate"]
    assert reject["Resource"] == "arn:aws:states:::aws-sdk:sagemaker:updateModelPackage"
    parameters = reject["Parameters"]
    assert parameters["ModelPackageArn.$"] == "$.package.arn"
    assert parameters["ModelApprovalStatus"] == "Rejected"
    description = parameters["ApprovalDescription.$"]
    assert description.startswith("States.Format('Not deployed:")
    assert description.endswith("$.run.deployment.endpoint_name, $.error.Error, $.error.Cause)")


def test_the_undo_deletes_what_the_run_created_by_its_names(states: dict[str, Any]) -> None:
    config = states["DeleteCandidateEndpointConfig"]
    model = states["DeleteCandidateModel"]
    assert config["Resource"] == "arn:aws:states:::aws-sdk:sagemaker:deleteEndpointConfig"
    assert model["Resource"] == "arn:aws:states:::aws-sdk:sagemaker:deleteModel"
    assert config["Parameters"] == {
        "EndpointConfigName.$": states["CreateEndpointConfig"]["Parameters"]["EndpointConfigName.$"]
    }
    assert model["Parameters"] == {"ModelName.$": states["CreateModel"]["Parameters"]["ModelName.$"]}
    # The config before the model it refers to; both answer nothing, so nothing is selected.
    assert states["RejectUndeployedCandidate"]["Next"] == "DeleteCandidateEndpointConfig"
    assert config["Next"] == "DeleteCandidateModel" and model["Next"] == "NotifyFailure"
    assert "ResultSelector" not in config and "ResultSelector" not in model


def test_the_undo_is_best_effort_and_keeps_the_original_error(states: dict[str, Any]) -> None:
    for name in UNDO_STATES:
        state = states[name]
        if state["Type"] != "Task":
            continue
        # Each step goes on whatever happens (an absent model or config is a ValidationException) ...
        catches = state["Catch"]
        assert [c["ErrorEquals"] for c in catches] == [["States.ALL"]], name
        if name != UNDO:
            assert catches[0]["Next"] == state["Next"], name
        # ... and nothing it writes touches $.error, which NotifyFailure and PipelineFailed report.
        for path in [state["ResultPath"], *(c["ResultPath"] for c in catches)]:
            assert path is None or path.startswith("$.undeploy."), (name, path)
    reached = {target for name in UNDO_STATES for target in _next_states(states[name])}
    assert reached - set(UNDO_STATES) == {"NotifyFailure"}
    assert states["NotifyFailure"]["Parameters"]["Payload"]["error.$"] == "$.error"


def _next_states(state: dict[str, Any]) -> set[str]:
    targets = _catch_targets(state) | {rule["Next"] for rule in state.get("Choices", [])}
    return targets | {state[key] for key in ("Next", "Default") if key in state}
