"""Least privilege: wildcards only where AWS requires them, and exactly what the definition uses."""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from infra.app import PROJECT_ROOT
from infra.monitoring import DATA_METRICS_NAMESPACE
from infra.stack import TASKS
from statemachines.placeholders import Placeholder
from tests.support.synth import Synthesized


@dataclass(frozen=True)
class Statement:
    policy: str  # logical ID of the AWS::IAM::Policy
    role: str  # logical ID of the role it is attached to
    actions: tuple[str, ...]
    resources: tuple[Any, ...]
    condition: dict[str, Any]


# Actions that AWS only accepts with Resource "*" (they have no resource types), each with the
# condition key it must carry here, if any. Any other action on "*" fails the test.
_XRAY = "X-Ray has no resource types"
_LOG_DELIVERY = "vended log delivery of Step Functions (as CDK grants it) has no resource types"
STAR_ALLOWED: dict[str, tuple[str | None, str]] = {
    "xray:PutTraceSegments": (None, _XRAY),
    "xray:PutTelemetryRecords": (None, _XRAY),
    "xray:GetSamplingRules": (None, _XRAY),
    "xray:GetSamplingTargets": (None, _XRAY),
    **{
        f"logs:{action}": (None, _LOG_DELIVERY)
        for action in (
            "CreateLogDelivery",
            "GetLogDelivery",
            "UpdateLogDelivery",
            "DeleteLogDelivery",
            "ListLogDeliveries",
            "PutResourcePolicy",
            "DescribeResourcePolicies",
            "DescribeLogGroups",
        )
    },
    "cloudwatch:PutMetricData": ("cloudwatch:namespace", "no resource types; kept to one namespace"),
    "ecr:GetAuthorizationToken": (None, "no resource types"),
    "states:SendTaskSuccess": (None, "a task token is not an ARN"),
    "states:SendTaskFailure": (None, "a task token is not an ARN"),
}


def _as_tuple(value: Any) -> tuple[Any, ...]:
    return tuple(value) if isinstance(value, list) else (value,)


def _statements(synthesized: Synthesized) -> Iterator[Statement]:
    for logical_id, policy in synthesized.resources("AWS::IAM::Policy").items():
        roles = policy["Properties"].get("Roles", [])
        role = roles[0]["Ref"] if roles else ""
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Allow"
            yield Statement(
                logical_id,
                role,
                _as_tuple(statement["Action"]),
                _as_tuple(statement["Resource"]),
                statement.get("Condition", {}),
            )


def _role_of(synthesized: Synthesized, prefix: str) -> str:
    (role,) = [logical_id for logical_id in synthesized.resources("AWS::IAM::Role") if logical_id.startswith(prefix)]
    return role


def _granted(synthesized: Synthesized, role: str) -> list[Statement]:
    return [statement for statement in _statements(synthesized) if statement.role == role]


def test_no_action_wildcards(synthesized: Synthesized) -> None:
    wild = [s for s in _statements(synthesized) if any("*" in action for action in s.actions)]
    assert wild == []


def test_star_resources_only_where_aws_requires_them(synthesized: Synthesized) -> None:
    offending = []
    for statement in _statements(synthesized):
        if "*" not in statement.resources:
            continue
        assert statement.resources == ("*",), statement  # never mixed with scoped resources
        condition_keys = {key for keys in statement.condition.values() for key in keys}
        for action in statement.actions:
            if action not in STAR_ALLOWED:
                offending.append((action, statement.policy))
                continue
            needed, _ = STAR_ALLOWED[action]
            if needed and needed not in condition_keys:
                offending.append((action, statement.policy))
    assert offending == []


def test_only_ml_leads_may_answer_approvals(synthesized: Synthesized) -> None:
    # The ML leads directly, or through the Model Registry: the registry function answers only for a
    # package status that the MLLeads role alone may set (see the next test) while a run waits on it.
    leads = _role_of(synthesized, "MLLeads")
    registry = _role_of(synthesized, "RegistryApprovalsAnswerFromRegistryFunctionRole")
    holders = {
        s.role
        for s in _statements(synthesized)
        if {"states:SendTaskSuccess", "states:SendTaskFailure"} & set(s.actions)
    }
    assert holders == {leads, registry}


def test_the_registry_function_holds_only_what_it_calls(synthesized: Synthesized) -> None:
    role = _role_of(synthesized, "RegistryApprovalsAnswerFromRegistryFunctionRole")
    baseline = {"logs:CreateLogStream", "logs:PutLogEvents", "xray:PutTraceSegments", "xray:PutTelemetryRecords"}
    statements = [s for s in _granted(synthesized, role) if set(s.actions) - baseline]
    assert {action for s in statements for action in s.actions} - baseline == {
        "states:SendTaskSuccess",
        "states:SendTaskFailure",
        "dynamodb:Query",
        "dynamodb:UpdateItem",
    }
    (table,) = [s for s in statements if "dynamodb:Query" in s.actions]
    assert table.condition == {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["fraud-retrain"]}}


def test_ml_leads_claim_an_approval_only_in_the_pipeline_partition(synthesized: Synthesized) -> None:
    leads = _role_of(synthesized, "MLLeads")
    (claim,) = [s for s in _granted(synthesized, leads) if "dynamodb:UpdateItem" in s.actions]
    assert claim.actions == ("dynamodb:UpdateItem",)
    assert claim.condition == {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["fraud-retrain"]}}


def test_model_package_status_changes_are_conditioned_per_role(synthesized: Synthesized) -> None:
    statuses: dict[str, set[str]] = {}
    for statement in _statements(synthesized):
        if {"sagemaker:UpdateModelPackage", "sagemaker:CreateModelPackage"} & set(statement.actions):
            status = statement.condition.get("StringEquals", {}).get("sagemaker:ModelApprovalStatus", "any")
            statuses.setdefault(statement.role, set()).add(status)
    machine_role = _role_of(synthesized, "RetrainStateMachineRole")
    promote_role = _role_of(synthesized, "PromoteChampionFunctionRole")
    assert statuses == {
        machine_role: {"PendingManualApproval", "Rejected"},
        promote_role: {"Approved"},
        _role_of(synthesized, "MLLeads"): {"any"},
    }


def test_pass_role_is_only_the_sagemaker_role_to_sagemaker(synthesized: Synthesized) -> None:
    passes = [s for s in _statements(synthesized) if "iam:PassRole" in s.actions]
    assert len(passes) == 1
    (statement,) = passes
    assert statement.resources == ({"Fn::GetAtt": [_role_of(synthesized, "SageMakerRole"), "Arn"]},)
    assert statement.condition == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}


def test_the_state_machine_invokes_exactly_the_six_functions(synthesized: Synthesized) -> None:
    machine_role = _role_of(synthesized, "RetrainStateMachineRole")
    (invoke,) = [s for s in _granted(synthesized, machine_role) if "lambda:InvokeFunction" in s.actions]
    functions = {
        function["Properties"]["Handler"]: logical_id
        for logical_id, function in synthesized.resources("AWS::Lambda::Function").items()
    }
    expected = {functions[spec.handler] for spec in TASKS.values()}
    assert {resource["Fn::GetAtt"][0] for resource in invoke.resources} == expected


# Step Functions service integrations → the IAM actions they call (AWS's "IAM policies for
# integrated services" pages); `.sync` also polls or stops the job.
SYNC_ACTIONS = {
    "glue:startJobRun.sync": {"glue:StartJobRun", "glue:GetJobRun", "glue:GetJobRuns", "glue:BatchStopJobRun"},
    "sagemaker:createTrainingJob.sync": {
        "sagemaker:CreateTrainingJob",
        "sagemaker:DescribeTrainingJob",
        "sagemaker:StopTrainingJob",
        "sagemaker:AddTags",
        "sagemaker:ListTags",
        "events:PutTargets",
        "events:PutRule",
        "events:DescribeRule",
    },
    "sagemaker:createProcessingJob.sync": {
        "sagemaker:CreateProcessingJob",
        "sagemaker:DescribeProcessingJob",
        "sagemaker:StopProcessingJob",
        "sagemaker:AddTags",
        "sagemaker:ListTags",
        "events:PutTargets",
        "events:PutRule",
        "events:DescribeRule",
    },
}


# Optimized integrations that create a tagged resource also read its tags back (CDK's SageMaker tasks
# grant sagemaker:ListTags with them; so does AWS's generated policy on the sagemaker-iam page).
TAGGED_CREATES = {"sagemaker:createModel", "sagemaker:createEndpointConfig", "sagemaker:createEndpoint"}


def _required_actions(resource: str) -> set[str]:
    """`arn:aws:states:::<service>:<api>[.<pattern>]` or `...:::aws-sdk:<service>:<api>`."""
    integration = resource.removeprefix("arn:aws:states:::").removeprefix("aws-sdk:")
    if integration in SYNC_ACTIONS:
        return SYNC_ACTIONS[integration]
    service, api = integration.split(":", 1)
    api = api.split(".", 1)[0]
    if service == "lambda" and api == "invoke":
        return {"lambda:InvokeFunction"}
    tags = {"sagemaker:ListTags"} if integration in TAGGED_CREATES else set()
    return {f"{service}:{api[0].upper()}{api[1:]}", *tags}


def _task_resources(states: dict[str, Any]) -> Iterator[str]:
    for state in states.values():
        if state["Type"] == "Task":
            yield state["Resource"]
        for branch in state.get("Branches", []):
            yield from _task_resources(branch["States"])
        for key in ("Iterator", "ItemProcessor"):
            if key in state:
                yield from _task_resources(state[key]["States"])


def test_the_state_machine_role_grants_every_call_of_the_definition(synthesized: Synthesized) -> None:
    definition = json.loads((PROJECT_ROOT / "definitions" / "retrain.asl.json").read_text())
    required = set().union(*(_required_actions(r) for r in _task_resources(definition["States"])))
    machine_role = _role_of(synthesized, "RetrainStateMachineRole")
    granted = {action for s in _granted(synthesized, machine_role) for action in s.actions}
    assert required - granted == set()
    # ... and every SageMaker or Glue action granted is used by some state.
    service_actions = {a for a in granted if a.split(":")[0] in ("sagemaker", "glue", "dynamodb", "lambda")}
    assert service_actions - required == set()


def test_the_sync_rules_are_the_managed_sagemaker_rules(synthesized: Synthesized) -> None:
    machine_role = _role_of(synthesized, "RetrainStateMachineRole")
    (events,) = [s for s in _granted(synthesized, machine_role) if "events:PutRule" in s.actions]
    rules = sorted(re.sub(r".*:rule/", "", json.dumps(resource)).rstrip('"]}') for resource in events.resources)
    assert rules == [
        "StepFunctionsGetEventsForSageMakerProcessingJobsRule",
        "StepFunctionsGetEventsForSageMakerTrainingJobsRule",
    ]


@pytest.mark.parametrize(
    ("placeholder", "expected"),
    [
        (Placeholder.VALIDATE_INPUT_FUNCTION_ARN, set()),
        (Placeholder.CHECK_FOR_NEW_DATA_FUNCTION_ARN, {"dynamodb:GetItem", "s3:ListBucket"}),
        (Placeholder.COMPARE_WITH_CHAMPION_FUNCTION_ARN, {"s3:GetObject"}),
        (
            Placeholder.REQUEST_APPROVAL_FUNCTION_ARN,
            {"dynamodb:UpdateItem", "sns:Publish", "kms:GenerateDataKey", "kms:Decrypt"},
        ),
        (Placeholder.NOTIFY_FUNCTION_ARN, {"dynamodb:UpdateItem", "sns:Publish", "kms:GenerateDataKey", "kms:Decrypt"}),
        (
            Placeholder.PROMOTE_CHAMPION_FUNCTION_ARN,
            {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "sagemaker:UpdateModelPackage"},
        ),
    ],
)
def test_each_function_role_holds_only_what_its_handler_calls(
    synthesized: Synthesized, placeholder: Placeholder, expected: set[str]
) -> None:
    prefix = "".join(part.title() for part in TASKS[placeholder].module.split("_")) + "FunctionRole"
    role = _role_of(synthesized, prefix)
    baseline = {"logs:CreateLogStream", "logs:PutLogEvents", "xray:PutTraceSegments", "xray:PutTelemetryRecords"}
    granted = {action for s in _granted(synthesized, role) for action in s.actions}
    assert granted - baseline == expected


def test_the_starter_role_holds_only_what_the_starter_calls(synthesized: Synthesized) -> None:
    role = _role_of(synthesized, "StartRetrainFunctionRole")
    baseline = {"logs:CreateLogStream", "logs:PutLogEvents", "xray:PutTraceSegments", "xray:PutTelemetryRecords"}
    statements = [s for s in _granted(synthesized, role) if set(s.actions) - baseline]
    granted = {action for s in statements for action in s.actions}
    assert granted == {
        "states:ListExecutions",
        "states:StartExecution",
        "states:DescribeExecution",
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "cloudwatch:DescribeAlarms",  # the drift alarm's children, for a drift run's reason (test_drift_alarm.py)
    }
    # The trigger queue is one item of the pipeline's own partition.
    (queue,) = [s for s in statements if "dynamodb:UpdateItem" in s.actions]
    assert queue.condition == {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["fraud-retrain"]}}


def test_the_sagemaker_role_may_read_the_rollback_alarms(synthesized: Synthesized) -> None:
    # SageMaker developer guide, deployment-guardrails-configuration: the execution role needs
    # cloudwatch:DescribeAlarms on the auto-rollback alarms, or a blue/green update cannot watch them.
    sagemaker_role = _role_of(synthesized, "SageMakerRole")
    (statement,) = [s for s in _granted(synthesized, sagemaker_role) if "cloudwatch:DescribeAlarms" in s.actions]
    alarms = set(synthesized.resources("AWS::CloudWatch::Alarm"))
    endpoint_alarms = {a for a in alarms if a.startswith("EndpointAlarms")}
    assert len(endpoint_alarms) == 2
    assert {r["Fn::GetAtt"][0] for r in statement.resources} == endpoint_alarms


def test_the_state_machine_keeps_exactly_the_endpoints_monitoring_schedule(synthesized: Synthesized) -> None:
    # ScheduleMonitoring / CreateMonitoringSchedule (aws-sdk), on the schedule's ARN only (Service
    # Authorization Reference: monitoring-schedule); the create is tagged, so AddTags on it too.
    machine_role = _role_of(synthesized, "RetrainStateMachineRole")
    granted = _granted(synthesized, machine_role)
    (schedules,) = [s for s in granted if "sagemaker:UpdateMonitoringSchedule" in s.actions]
    assert set(schedules.actions) == {"sagemaker:CreateMonitoringSchedule", "sagemaker:UpdateMonitoringSchedule"}
    (resource,) = schedules.resources
    assert json.dumps(resource).endswith(':monitoring-schedule/fraud-detector-data-quality"]]}')
    (tagging,) = [s for s in granted if "sagemaker:AddTags" in s.actions]
    assert resource in tagging.resources


def test_the_sagemaker_role_runs_the_monitoring_job(synthesized: Synthesized) -> None:
    # The schedule's jobs run with the SageMaker role: they read the jobs' sourcedir and the baseline
    # (models/), and write their reports under the monitoring prefix.
    sagemaker_role = _role_of(synthesized, "SageMakerRole")
    granted = _granted(synthesized, sagemaker_role)
    writes = json.dumps([r for s in granted if "s3:PutObject" in s.actions for r in s.resources])
    reads = json.dumps([r for s in granted if "s3:GetObject" in s.actions for r in s.resources])
    assert '"/monitoring/*"' in writes
    assert '"/models/*"' in reads
    # The captured traffic: listed and downloaded as this role, on AWS and locally (a run's
    # `ClientError: Failed to download data. ListObjectsV2 failed ... AccessDenied` without it).
    assert '"/capture/*"' in reads
    lists = [s for s in granted if "s3:ListBucket" in s.actions]
    assert any("capture/*" in json.dumps(s.condition) for s in lists)
    assert "sourcedir" in reads or "AssetParameters" in reads or "cdk-" in reads
    # Live quality: the labels of the window's predictions, listed and read (never written) under landing/.
    assert '"/landing/*"' in reads and '"/landing/*"' not in writes
    assert any("landing/*" in json.dumps(s.condition) for s in lists)


def test_the_state_machine_deletes_only_what_a_run_names(synthesized: Synthesized) -> None:
    # The undo of a failed rollout (statemachines/undeploy.py) deletes the run's model and endpoint config:
    # only ARNs of names a run gives (retrain/naming.py), each action on its own resource type.
    machine_role = _role_of(synthesized, "RetrainStateMachineRole")
    deletes = [s for s in _statements(synthesized) if any(a.startswith("sagemaker:Delete") for a in s.actions)]
    assert {s.role for s in deletes} == {machine_role}
    granted = {s.actions: json.dumps(s.resources) for s in deletes}
    assert set(granted) == {("sagemaker:DeleteModel",), ("sagemaker:DeleteEndpointConfig",)}
    assert granted[("sagemaker:DeleteModel",)].endswith(':model/*-model"]]}]')
    assert granted[("sagemaker:DeleteEndpointConfig",)].endswith(':endpoint-config/*-config"]]}]')


def test_the_sagemaker_role_may_publish_the_monitoring_jobs_metrics(synthesized: Synthesized) -> None:
    # The schedule's jobs publish Model Monitor's metrics as the SageMaker role (sagemaker-roles: the role
    # "publish[es] metrics to Amazon CloudWatch"; model-monitor-interpreting-cloudwatch: the data-quality metrics
    # of an endpoint), in the namespace the drift alarms read; PutMetricData is kept to namespaces by the
    # `cloudwatch:namespace` condition key (Service Authorization Reference, Amazon CloudWatch). The local AWS
    # publishes them only as the role allows: without it the drift alarms would never see a datapoint.
    sagemaker_role = _role_of(synthesized, "SageMakerRole")
    (statement,) = [s for s in _granted(synthesized, sagemaker_role) if "cloudwatch:PutMetricData" in s.actions]
    patterns = [
        pattern
        for operator, keys in statement.condition.items()
        if operator in ("StringLike", "StringEquals") and "cloudwatch:namespace" in keys
        for pattern in _as_tuple(keys["cloudwatch:namespace"])
    ]
    assert any(fnmatch.fnmatchcase(DATA_METRICS_NAMESPACE, pattern) for pattern in patterns), patterns
    # Training and endpoint metrics (/aws/sagemaker/...) stay allowed.
    assert any(fnmatch.fnmatchcase("/aws/sagemaker/TrainingJobs", pattern) for pattern in patterns), patterns
