"""The committed definition: valid ASL, complete, resilient, and exactly what statemachines/ builds."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from retrain.errors import DOMAIN_ERROR_NAMES
from statemachines.build import DEFINITION_FILE, drift, render_json
from statemachines.integrations import integration_problems
from statemachines.placeholders import PLACEHOLDER_NAMES

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def definition() -> dict[str, Any]:
    return json.loads(DEFINITION_FILE.read_text())


def tasks(definition: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in definition["States"].items():
        if state["Type"] == "Task":
            yield name, state


def test_committed_definition_matches_the_builder() -> None:
    assert drift() == "", "definitions/ is stale: run `python -m statemachines build`"


def test_check_reports_a_changed_state_with_a_diff(tmp_path: Path) -> None:
    stale = tmp_path / "retrain.asl.json"
    document = json.loads(DEFINITION_FILE.read_text())
    document["States"]["WaitForData"]["SecondsPath"] = "$.somewhere.else"
    stale.write_text(render_json(document))
    diff = drift(stale)
    assert '-      "SecondsPath": "$.somewhere.else"' in diff
    assert '+      "SecondsPath": "$.run.data.wait_for_data_seconds"' in diff


def test_build_is_quiet_offline_and_byte_stable(tmp_path: Path) -> None:
    # No socket may be opened while building; the SDK's config and metadata noise must not show.
    script = (
        "import socket, sys\n"
        "def refuse(*a, **k): raise RuntimeError('network call while building the definition')\n"
        "socket.socket.connect = refuse\nsocket.create_connection = refuse\n"
        "from statemachines.__main__ import main\nsys.exit(main(['check']))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "definitions/retrain.asl.json is up to date\n"
    assert result.stderr == ""


def test_statelint_accepts_it() -> None:
    statelint = Path(sys.executable).with_name("statelint")
    result = subprocess.run([str(statelint), str(DEFINITION_FILE)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_asl_validator_accepts_it() -> None:
    validator = ROOT / "node_modules" / ".bin" / "asl-validator"
    if not validator.exists():
        pytest.fail("asl-validator is not installed: run `npm ci` at the project root")
    result = subprocess.run(
        [str(validator), "--json-path", str(DEFINITION_FILE)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_placeholders_are_exactly_the_declared_list(definition: dict[str, Any]) -> None:
    text = DEFINITION_FILE.read_text()
    used = set(re.findall(r"\$\{([A-Za-z0-9]+)\}", text))
    assert used == set(PLACEHOLDER_NAMES)
    # No malformed placeholder (e.g. `${Bucket` or `${bucket-name}`) slipped in.
    assert text.count("${") == len(re.findall(r"\$\{[A-Za-z0-9]+\}", text))


def test_every_state_is_reachable(definition: dict[str, Any]) -> None:
    states = definition["States"]
    reached: set[str] = set()
    frontier = [definition["StartAt"]]
    while frontier:
        name = frontier.pop()
        if name in reached:
            continue
        reached.add(name)
        state = states[name]
        frontier += [state[key] for key in ("Next", "Default") if key in state]
        frontier += [rule["Next"] for rule in state.get("Choices", [])]
        frontier += [catch["Next"] for catch in state.get("Catch", [])]
    assert reached == set(states)


def test_every_task_retries_transient_errors_with_jitter(definition: dict[str, Any]) -> None:
    for name, state in tasks(definition):
        retriers = state.get("Retry", [])
        assert retriers, f"{name} has no Retry"
        for retrier in retriers:
            assert retrier["JitterStrategy"] == "FULL", name
            assert 1 <= retrier["MaxAttempts"] <= 5, name
            assert retrier["BackoffRate"] > 1, name
            assert "MaxDelaySeconds" in retrier, name
            assert "States.ALL" not in retrier["ErrorEquals"], f"{name} retries every error"
            assert not set(retrier["ErrorEquals"]) & set(DOMAIN_ERROR_NAMES), f"{name} retries a domain error"


def test_every_task_catches_times_out_and_trims(definition: dict[str, Any]) -> None:
    for name, state in tasks(definition):
        assert state.get("Catch"), f"{name} has no Catch"
        assert any("States.ALL" in c["ErrorEquals"] for c in state["Catch"]), f"{name} lets an error escape"
        assert ("TimeoutSeconds" in state) != ("TimeoutSecondsPath" in state), f"{name} needs one timeout"
        trimmed = "ResultSelector" in state or ("ResultPath" in state and state["ResultPath"] is None)
        # A callback's output is what its caller sent: a Choice checks it, then a Pass keeps its fields.
        checked = (
            state["Resource"].endswith(".waitForTaskToken") and definition["States"][state["Next"]]["Type"] == "Choice"
        )
        trimmed = trimmed or checked
        assert trimmed, f"{name} returns its whole result"


def test_design_states_and_integrations(definition: dict[str, Any]) -> None:
    states = definition["States"]
    expected = {
        "ValidateInput": "arn:aws:states:::lambda:invoke",
        "CheckForNewData": "arn:aws:states:::lambda:invoke",
        "PrepareData": "arn:aws:states:::glue:startJobRun.sync",
        "TrainCandidate": "arn:aws:states:::sagemaker:createTrainingJob.sync",
        "EvaluateCandidate": "arn:aws:states:::sagemaker:createProcessingJob.sync",
        "CompareWithChampion": "arn:aws:states:::lambda:invoke",
        "RegisterCandidate": "arn:aws:states:::aws-sdk:sagemaker:createModelPackage",
        "RequestApproval": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "CreateModel": "arn:aws:states:::sagemaker:createModel",
        "CreateEndpointConfig": "arn:aws:states:::sagemaker:createEndpointConfig",
        "CreateEndpoint": "arn:aws:states:::sagemaker:createEndpoint",
        "UpdateEndpoint": "arn:aws:states:::aws-sdk:sagemaker:updateEndpoint",  # takes DeploymentConfig
        "PromoteChampion": "arn:aws:states:::lambda:invoke",
        "NotifySuccess": "arn:aws:states:::lambda:invoke",
        "NotifyFailure": "arn:aws:states:::lambda:invoke",
    }
    for name, resource in expected.items():
        assert states[name]["Resource"] == resource, name
    assert definition["StartAt"] == "ValidateInput"
    assert states["EnoughNewData?"]["Type"] == "Choice"
    assert states["WaitForData"]["Type"] == "Wait"
    assert states["CandidateBetter?"]["Type"] == "Choice"
    assert states["WaitForEndpoint"]["Type"] == "Wait"
    for name, kind in [
        ("NoNewData", "Succeed"),
        ("KeptChampion", "Succeed"),
        ("Promoted", "Succeed"),
        ("DeploymentRolledBack", "Fail"),
        ("Rejected", "Fail"),
        ("PipelineFailed", "Fail"),
    ]:
        assert states[name]["Type"] == kind, name
    assert "Generated" in definition["Comment"] or "GENERATED" in definition["Comment"]
    assert "python -m statemachines build" in definition["Comment"]


def test_blue_green_update_with_auto_rollback(definition: dict[str, Any]) -> None:
    update = definition["States"]["UpdateEndpoint"]["Parameters"]
    policy = update["DeploymentConfig"]["BlueGreenUpdatePolicy"]
    assert policy["TrafficRoutingConfiguration.$"] == "$.run.deployment.traffic_routing"
    assert "TerminationWaitInSeconds.$" in policy and "MaximumExecutionTimeoutInSeconds.$" in policy
    assert update["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms.$"] == "$.run.deployment.alarms"


def test_names_derive_from_the_execution_name(definition: dict[str, Any]) -> None:
    states = definition["States"]
    assert states["ValidateInput"]["Parameters"]["Payload"]["execution_name.$"] == "$$.Execution.Name"
    training = states["TrainCandidate"]["Parameters"]["TrainingJobName.$"]
    processing = states["EvaluateCandidate"]["Parameters"]["ProcessingJobName.$"]
    for expression, attempt in ((training, "TrainingAttempt"), (processing, "ProcessingAttempt")):
        # The attempt (redrive count) is recorded before the job state, so a redrive that resumes at the
        # job state or its lookup names the job the earlier attempt started.
        recorded = states[attempt]["ResultPath"]
        assert states[attempt]["Parameters"] == {"redrive_count.$": "$$.Execution.RedriveCount"}
        assert "$.run.names." in expression and f"{recorded}.redrive_count" in expression
    assert states["CreateModel"]["Parameters"]["ModelName.$"] == "$.run.names.model"
    assert states["CreateEndpointConfig"]["Parameters"]["EndpointConfigName.$"] == "$.run.names.endpoint_config"


def test_a_job_that_already_exists_is_reconciled_not_restarted(definition: dict[str, Any]) -> None:
    states = definition["States"]
    for job, find, status, after in [
        ("TrainCandidate", "FindTrainingJob", "TrainingJobStatus?", "ProcessingAttempt"),
        ("EvaluateCandidate", "FindProcessingJob", "ProcessingJobStatus?", "CompareWithChampion"),
    ]:
        catch = states[job]["Catch"]
        assert [c["Next"] for c in catch] == [find]
        name_field = next(k for k in states[job]["Parameters"] if k.endswith("JobName.$"))
        assert states[find]["Parameters"][name_field] == states[job]["Parameters"][name_field]
        assert states[find]["ResultPath"] == states[job]["ResultPath"]
        rules = states[status]["Choices"]
        assert rules[0]["StringEquals"] == "Completed" and rules[0]["Next"] == after
        # A job that ended unfinished: a new attempt only if the run was redriven since the job started.
        kind = find.removeprefix("Find").removesuffix("Job")
        recount = states[status]["Default"]
        assert recount == f"Recount{kind}Attempt" and states[recount]["Next"] == f"{kind}RedrivenSinceJob?"
        redriven = states[f"{kind}RedrivenSinceJob?"]
        assert redriven["Choices"][0]["Next"] == f"{kind}Attempt" and states[f"{kind}Attempt"]["Next"] == job
        assert redriven["Default"] == "NotifyFailure"


def test_approval_timeout_comes_from_the_input_and_rejection_leaves_production(definition: dict[str, Any]) -> None:
    states = definition["States"]
    approval = states["RequestApproval"]
    assert approval["TimeoutSecondsPath"] == "$.run.approval_timeout_seconds"
    routes = {tuple(c["ErrorEquals"]): c["Next"] for c in approval["Catch"]}
    assert routes[("ApprovalRejected",)] == "RejectCandidate"
    assert routes[("States.Timeout",)] == "RejectCandidate"
    assert states["RejectCandidate"]["Next"] == "NotifyRejection"
    assert states["NotifyRejection"]["Next"] == "Rejected"
    # The output is checked before anything reads it (a ResultSelector miss is an uncatchable States.Runtime).
    assert "ResultSelector" not in approval
    assert approval["Next"] == "ApprovalOutputValid?"
    assert states["ApprovalOutputValid?"]["Choices"][0]["Next"] == "KeepApprovalFields"
    assert states["ApprovalOutputValid?"]["Default"] == "InvalidApprovalOutput"
    assert states["InvalidApprovalOutput"]["Next"] == "RejectCandidate"
    assert states["KeepApprovalFields"]["Next"] == "CreateModel"


def test_failure_path_names_the_error(definition: dict[str, Any]) -> None:
    states = definition["States"]
    assert states["NotifyFailure"]["ResultPath"] == "$.error"
    assert states["PipelineFailed"]["ErrorPath"] == "$.error.Error"
    assert states["PipelineFailed"]["CausePath"] == "$.error.Cause"
    assert states["RollbackError"]["Parameters"]["Error"] == "DeploymentRolledBack"
    assert states["DeploymentRolledBack"]["ErrorPath"] == "$.error.Error"
    assert "DeploymentRolledBack" in DOMAIN_ERROR_NAMES and "ApprovalRejected" in DOMAIN_ERROR_NAMES


def test_lambda_tasks_do_not_return_the_invocation_metadata(definition: dict[str, Any]) -> None:
    for name, state in tasks(definition):
        if state["Resource"] == "arn:aws:states:::lambda:invoke":
            selected = json.dumps(state["ResultSelector"])
            assert "$.Payload" in selected and "StatusCode" not in selected, name


def test_registry_metadata_carries_no_json(definition: dict[str, Any]) -> None:
    # botocore sagemaker/2017-07-24/service-2.json, CustomerMetadataValue: 1-256 characters of
    # [\p{L}\p{Z}\p{N}_.:/=+\-@]*. JSON from States.JsonToString has { } " , and was refused by AWS
    # (the local registry enforces the pattern too: tests/unit/local_sagemaker/test_shapes_and_listing.py).
    metadata = definition["States"]["RegisterCandidate"]["Parameters"]["CustomerMetadataProperties"]
    assert metadata and len(metadata) <= 50  # the map holds at most 50 entries
    for key, value in metadata.items():
        assert "States.JsonToString" not in value and "States.Format" not in value, key
        assert key.endswith(".$") and value.startswith("$"), f"{key}: only plain paths to names, URIs and ids"


def test_the_served_model_gets_the_environment_the_sagemaker_sdk_sets(definition: dict[str, Any]) -> None:
    # sagemaker 2.x FrameworkModel._script_mode_env_vars; the serving toolkit's ServingEnv reads them
    # (sagemaker-containers 2.8.6.post2 _params.py). The local model server adds none of them itself.
    spec = definition["States"]["RegisterCandidate"]["Parameters"]["InferenceSpecification"]
    environment = spec["Containers"][0]["Environment"]
    assert {key.removesuffix(".$") for key in environment} == {
        "SAGEMAKER_PROGRAM",
        "SAGEMAKER_SUBMIT_DIRECTORY",
        "SAGEMAKER_CONTAINER_LOG_LEVEL",
        "SAGEMAKER_REGION",
    }


def test_optimized_integrations_send_only_fields_of_the_api(definition: dict[str, Any]) -> None:
    # Step Functions validates an optimized integration's fields when the state machine is created;
    # the request members are botocore's (sagemaker/2017-07-24, glue/2017-03-31 service-2.json).
    assert integration_problems(definition) == []
    broken = json.loads(json.dumps(definition))
    broken["States"]["CreateModel"]["Parameters"]["DeploymentConfig"] = {}
    broken["States"]["CreateEndpoint"]["Resource"] = "arn:aws:states:::sagemaker:createEndpointNow"
    broken["States"]["PrepareData"]["Parameters"]["Colour.$"] = "$.x"
    broken["States"]["ScheduleMonitoring"]["Parameters"]["Tags"] = []
    assert integration_problems(broken) == [
        "PrepareData: Colour is not a field of glue:startJobRun's request; remove it, "
        "or use arn:aws:states:::aws-sdk:glue:startJobRun",
        "CreateModel: DeploymentConfig is not a field of sagemaker:createModel's request; remove it, "
        "or use arn:aws:states:::aws-sdk:sagemaker:createModel",
        # The aws-sdk form takes the API's fields and no others (UpdateMonitoringSchedule has no Tags).
        "ScheduleMonitoring: Tags is not a field of sagemaker:updateMonitoringSchedule's request; remove it",
        "CreateEndpoint: sagemaker has no action createEndpointNow; use an action of its API",
    ]


def test_a_promotion_points_the_endpoints_monitoring_at_the_champions_baseline(definition: dict[str, Any]) -> None:
    states = definition["States"]
    assert states["PromoteChampion"]["Next"] == "MonitoringOn?"
    choice = states["MonitoringOn?"]
    assert choice["Choices"] == [
        {"Variable": "$.run.deployment.monitoring", "IsNull": False, "Next": "ScheduleMonitoring"}
    ]
    assert choice["Default"] == "NotifySuccess"  # [monitoring] schedule_expression = "": no schedule
    update, create = states["ScheduleMonitoring"], states["CreateMonitoringSchedule"]
    assert update["Resource"] == "arn:aws:states:::aws-sdk:sagemaker:updateMonitoringSchedule"
    assert create["Resource"] == "arn:aws:states:::aws-sdk:sagemaker:createMonitoringSchedule"
    for task in (update, create):
        assert task["Parameters"]["MonitoringScheduleConfig.$"] == "$.run.deployment.monitoring.schedule_config"
        assert task["Next"] == "NotifySuccess"
        # A monitoring failure never fails (or undoes) the promotion: the error is kept, the run succeeds.
        assert task["Catch"][-1] == {
            "ErrorEquals": ["States.ALL"],
            "Next": "NotifySuccess",
            "ResultPath": "$.monitoring_error",
        }
    # Developer guide, "AWS SDK service integrations": <Service>.<Error> with the Exception suffix.
    assert update["Catch"][0]["ErrorEquals"] == ["SageMaker.ResourceNotFoundException"]
    assert update["Catch"][0]["Next"] == "CreateMonitoringSchedule"
