"""What a Task state's service integration asks IAM for, as Step Functions calls the service with the
state machine's role.

`requirements(resource, parameters, region, account)` lists the (action, resource ARN, condition
context) the integration needs, from AWS's documentation of the IAM policies Step Functions generates
for each integrated service (developer guide, "How Step Functions generates IAM policies for integrated
services": lambda-iam, glue-iam, sagemaker-iam, dynamo-iam, sns-iam) and the Service Authorization
Reference's resource types. `denial_error(...)` names the state's error as Step Functions reports the
service's AccessDeniedException for that integration.

Optimized integrations call the service with the AWS SDK for Java v1 and report its exception class:
a modeled `AccessDeniedException` by its name (Glue), otherwise the client's generic exception
(`Lambda.AWSLambdaException`, `SageMaker.AmazonSageMakerException`, ...) with the service's error code in
the cause. `aws-sdk:` integrations report `<Service>.<Error>` (developer guide, "AWS SDK service
integrations"); an error the service does not model is the SDK's generic `<Service>Exception`. Which
services model an access-denied exception is read from botocore's service models.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import botocore.exceptions
import botocore.session

OPTIMIZED = "arn:aws:states:::"
SDK = "arn:aws:states:::aws-sdk:"


@dataclass(frozen=True)
class Requirement:
    """One authorization Step Functions needs from the state machine's role."""

    action: str
    resource: str
    context: dict[str, str] = field(default_factory=dict)
    # The cause when this one is refused, if not the service's AccessDenied (the `.sync` managed rules).
    cause: str | None = None


@dataclass(frozen=True)
class Integration:
    """A Task's resource, parsed: the service's IAM prefix, the API action and how it is called."""

    service: str
    api: str  # PascalCase, as IAM names the action
    sdk: bool
    sync: bool

    @property
    def action(self) -> str:
        return f"{self.service}:{self.api}"


# Java v1 client names (error prefix, generic exception, the cause's "Service:"), per optimized integration.
_OPTIMIZED_ERRORS = {
    "lambda": ("Lambda", "AWSLambdaException", "AWSLambda", 403),
    "sagemaker": ("SageMaker", "AmazonSageMakerException", "AmazonSageMaker", 400),
    "glue": ("Glue", "AWSGlueException", "AWSGlue", 400),
    "dynamodb": ("DynamoDB", "AmazonDynamoDBException", "AmazonDynamoDBv2", 400),
    "sns": ("SNS", "AmazonSNSException", "AmazonSNS", 403),
}
# An aws-sdk integration's service name -> IAM prefix, where they differ.
_SDK_IAM_PREFIX = {"sfn": "states", "eventbridge": "events", "cloudwatchlogs": "logs"}
# botocore's model names for the services' exceptions.
_BOTOCORE_NAME = {"states": "stepfunctions"}
# Who a passed role is for, by the service that receives it.
_PASSED_TO = {"sagemaker": "sagemaker.amazonaws.com", "glue": "glue.amazonaws.com"}
# The managed EventBridge rules `.sync` SageMaker jobs are followed through (sagemaker-iam).
_SYNC_RULES = {
    "CreateTrainingJob": "StepFunctionsGetEventsForSageMakerTrainingJobsRule",
    "CreateProcessingJob": "StepFunctionsGetEventsForSageMakerProcessingJobsRule",
    "CreateTransformJob": "StepFunctionsGetEventsForSageMakerTransformJobsRule",
}
# SageMaker APIs authorized on the endpoint config they name as well as on the endpoint.
_ON_ENDPOINT_CONFIG = frozenset({"CreateEndpoint", "UpdateEndpoint"})
# SageMaker API -> (resource type, request member naming it) (Service Authorization Reference).
_SAGEMAKER_RESOURCES = {
    "TrainingJob": ("training-job", "TrainingJobName"),
    "ProcessingJob": ("processing-job", "ProcessingJobName"),
    "TransformJob": ("transform-job", "TransformJobName"),
    "EndpointConfig": ("endpoint-config", "EndpointConfigName"),
    "Endpoint": ("endpoint", "EndpointName"),
    "Model": ("model", "ModelName"),
    "MonitoringSchedule": ("monitoring-schedule", "MonitoringScheduleName"),
}


def parse(resource: str) -> Integration | None:
    """The integration a Task's resource names; None for what is not a service integration."""
    sync = resource.endswith(".sync")
    clean = resource.removesuffix(".sync").removesuffix(".waitForTaskToken")
    if resource.startswith("arn:aws:lambda:"):
        return Integration("lambda", "InvokeFunction", sdk=False, sync=False)
    if clean.startswith(SDK):
        service, _, api = clean[len(SDK) :].partition(":")
        return Integration(_SDK_IAM_PREFIX.get(service, service), api[:1].upper() + api[1:], sdk=True, sync=sync)
    if clean.startswith(OPTIMIZED):
        service, _, api = clean[len(OPTIMIZED) :].partition(":")
        if service == "lambda" and api == "invoke":
            api = "invokeFunction"
        if service == "states" or not api:
            return None  # nested executions: not checked yet
        return Integration(service, api[:1].upper() + api[1:], sdk=False, sync=sync)
    return None


def requirements(resource: str, parameters: Any, region: str, account: str) -> list[Requirement]:
    """What the integration of `resource` called with `parameters` needs from the role."""
    integration = parse(resource)
    if integration is None:
        return []
    params = parameters if isinstance(parameters, dict) else {}
    arn = _resource_arn(integration, resource, params, region, account)
    needed = [Requirement(integration.action, arn, _condition_context(integration, params))]
    for role in _passed_roles(params):
        if role.startswith("arn:"):
            context = {
                "iam:passedtoservice": _PASSED_TO.get(integration.service, f"{integration.service}.amazonaws.com")
            }
            needed.append(Requirement("iam:PassRole", role, context))
    if integration.service == "sagemaker" and not integration.sdk and integration.api.startswith("Create"):
        if params.get("Tags") or integration.sync:
            # Tags in the request, and the tag `.sync` adds to the job, need AddTags (sagemaker-iam).
            needed.append(Requirement("sagemaker:AddTags", arn))
        if integration.sync:
            needed.append(Requirement(f"sagemaker:Describe{integration.api[len('Create') :]}", arn))
            rule = _SYNC_RULES.get(integration.api)
            if rule:
                rule_arn = f"arn:aws:events:{region}:{account}:rule/{rule}"
                needed += [
                    Requirement(action, rule_arn, cause="{role} is not authorized to create managed-rule.")
                    for action in ("events:PutTargets", "events:PutRule", "events:DescribeRule")
                ]
    if integration.service == "sagemaker" and integration.api in _ON_ENDPOINT_CONFIG:
        config = params.get("EndpointConfigName")
        if isinstance(config, str) and config:
            # On the endpoint and the config it names (Service Authorization Reference, SageMaker: CreateEndpoint and
            # UpdateEndpoint take `endpoint` and `endpoint-config`; CDK's SageMakerCreateEndpoint/UpdateEndpoint
            # tasks grant both, as Step Functions' generated policies do).
            config_arn = f"arn:aws:sagemaker:{region}:{account}:endpoint-config/{config.lower()}"
            needed.insert(1, Requirement(integration.action, config_arn, _condition_context(integration, params)))
    if integration.service == "glue" and integration.sync and integration.api == "StartJobRun":
        needed.append(Requirement("glue:GetJobRun", arn))  # `.sync` polls the run (glue-iam)
    return needed


def _passed_roles(params: dict[str, Any]) -> list[str]:
    """The roles a request hands the service: its own, or a monitoring schedule's job definition's."""
    job = params.get("MonitoringScheduleConfig", {})
    job = job.get("MonitoringJobDefinition", {}) if isinstance(job, dict) else {}
    roles = [
        params.get("RoleArn"),
        params.get("ExecutionRoleArn"),
        job.get("RoleArn") if isinstance(job, dict) else None,
    ]
    return [role for role in roles if isinstance(role, str)]


def _resource_arn(integration: Integration, resource: str, params: dict[str, Any], region: str, account: str) -> str:
    service, api = integration.service, integration.api
    if service == "lambda":
        if resource.startswith("arn:aws:lambda:"):
            return resource
        name = str(params.get("FunctionName", ""))
        return name if name.startswith("arn:") else f"arn:aws:lambda:{region}:{account}:function:{name}"
    if service == "glue" and "JobName" in params:
        return f"arn:aws:glue:{region}:{account}:job/{params['JobName']}"
    if service == "dynamodb" and "TableName" in params:
        return f"arn:aws:dynamodb:{region}:{account}:table/{params['TableName']}"
    if service == "sns" and "TopicArn" in params:
        return str(params["TopicArn"])
    if service == "sagemaker":
        return _sagemaker_arn(api, params, region, account)
    return "*"


def _sagemaker_arn(api: str, params: dict[str, Any], region: str, account: str) -> str:
    # SageMaker reports its ARNs in lower case, and IAM compares them case-sensitively.
    base = f"arn:aws:sagemaker:{region}:{account}"
    if "ModelPackageArn" in params or "ModelPackageName" in params:
        name = str(params.get("ModelPackageArn") or params.get("ModelPackageName"))
        return name if name.startswith("arn:") else f"{base}:model-package/{name.lower()}"
    if "ModelPackageGroupName" in params:
        # The group's own APIs act on the group; a package's (CreateModelPackage, ...) on model-package/<group>.
        kind = "model-package-group" if "ModelPackageGroup" in api else "model-package"
        return f"{base}:{kind}/{str(params['ModelPackageGroupName']).lower()}"
    for noun in sorted(_SAGEMAKER_RESOURCES, key=len, reverse=True):
        kind, member = _SAGEMAKER_RESOURCES[noun]
        if api.endswith(noun) and member in params:
            return f"{base}:{kind}/{str(params[member]).lower()}"
    return "*"


def _condition_context(integration: Integration, params: dict[str, Any]) -> dict[str, str]:
    if integration.service == "sagemaker" and isinstance(params.get("ModelApprovalStatus"), str):
        return {"sagemaker:modelapprovalstatus": params["ModelApprovalStatus"]}
    return {}


@cache
def _shape_names(service: str) -> frozenset[str]:
    name = _BOTOCORE_NAME.get(service, service)
    try:
        model = botocore.session.get_session().get_service_model(name)
    except botocore.exceptions.UnknownServiceError:
        return frozenset()
    return frozenset(model.shape_names)


def models_error(service: str, code: str) -> bool:
    """Whether botocore's model of the service (by its IAM prefix) has a shape for the error `code`."""
    return code in _shape_names(service)


def _models_access_denied(service: str) -> bool:
    return models_error(service, "AccessDeniedException")


def denial_error(integration: Integration, sdk_prefixes: dict[str, str], message: str) -> tuple[str, str]:
    """The state's (error, cause) when the service refuses the role with `message`."""
    request = uuid.uuid4()
    modeled = _models_access_denied(integration.service)
    if integration.sdk:
        prefix = sdk_prefixes.get(integration.service, integration.service[:1].upper() + integration.service[1:])
        error = f"{prefix}.AccessDeniedException" if modeled else f"{prefix}.{prefix}Exception"
        return error, f"{message} (Service: {prefix}, Status Code: 400, Request ID: {request})"
    prefix, generic, client, status = _OPTIMIZED_ERRORS.get(
        integration.service, (integration.service.capitalize(), "AmazonServiceException", integration.service, 400)
    )
    error = f"{prefix}.AccessDeniedException" if modeled else f"{prefix}.{generic}"
    return error, (
        f"{message} (Service: {client}; Status Code: {status}; Error Code: AccessDeniedException; "
        f"Request ID: {request}; Proxy: null)"
    )
