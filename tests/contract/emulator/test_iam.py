"""The state machine role on the local engine: each Task's service integration needs what AWS's
generated Step Functions policies grant for it, and a refusal fails the state as on AWS.

Sources: developer guide, "How Step Functions generates IAM policies for integrated services"
(the managed rules' permissions are checked when the state machine is created or updated: AccessDeniedException
"'<role>' is not authorized to create managed-rule.", as reported from AWS in nasa/cumulus#2693 and
aws-ia/terraform-aws-control_tower_account_factory#365)
(lambda-iam: lambda:InvokeFunction; glue-iam: glue:StartJobRun, and GetJobRun for `.sync`; sagemaker-iam:
sagemaker:Create*/Describe*/AddTags, iam:PassRole, events:PutTargets/PutRule/DescribeRule on the
`StepFunctionsGetEventsForSageMaker*JobsRule` managed rules; dynamo-iam: dynamodb:PutItem); "Handling
errors": a service integration's error is `<Service>.<Exception>`; the denial's message is IAM's
("User: <assumed-role session> is not authorized to perform: <action> on resource: <arn> because no
identity-based policy allows the <action> action"). Whether a service models AccessDeniedException
(Glue does; SageMaker, Lambda, DynamoDB do not) is botocore's service model.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local.clients import LocalClients
from tests.support.emulator import FunctionFactory, StateMachineRunner
from tests.support.iam import RoleFactory

pytestmark = pytest.mark.local

ACCOUNT = "000000000000"
DENIED = (
    r"User: arn:aws:sts::000000000000:assumed-role/{role}/[A-Za-z]{{32}} is not authorized to perform: "
    r"{action} on resource: {resource} because no identity-based policy allows the {action} action"
)


@pytest.fixture
def role(roles: RoleFactory) -> Callable[..., str]:
    """A role Step Functions may assume, with one inline policy of `statements`; returns its ARN."""
    return functools.partial(roles.create, "states.amazonaws.com")


def run(machines: StateMachineRunner, aws_clients: LocalClients, role_arn: str, state: dict[str, Any]) -> Any:
    definition = {"StartAt": "Task", "States": {"Task": {**state, "End": True}}}
    sfn = aws_clients.client("stepfunctions")
    machine = sfn.create_state_machine(
        name=f"{machines.prefix}-{role_arn.rsplit('/', 1)[-1]}", definition=json.dumps(definition), roleArn=role_arn
    )["stateMachineArn"]
    return machines.wait(machines.start(machine))


def allow(action: str | list[str], resource: str | list[str], **condition: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Action": action, "Resource": resource}
    if condition:
        statement["Condition"] = condition
    return statement


def test_lambda_invoke_needs_invoke_function_on_that_function(
    machines: StateMachineRunner, functions: FunctionFactory, aws_clients: LocalClients, role: Callable[..., str]
) -> None:
    allowed = functions.create("allowed", "def handler(event, context):\n    return {'ok': True}\n")
    other = functions.create("other", "def handler(event, context):\n    return {'ok': True}\n")
    role_arn = role(allow("lambda:InvokeFunction", allowed))
    state = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke"}

    succeeded = run(machines, aws_clients, role_arn, {**state, "Parameters": {"FunctionName": allowed}})
    assert succeeded.status == "SUCCEEDED", succeeded.cause

    refused = run(
        machines,
        aws_clients,
        role(allow("lambda:InvokeFunction", allowed)),
        {**state, "Parameters": {"FunctionName": other}},
    )
    assert refused.status == "FAILED"
    # Lambda models no AccessDeniedException: the Java client's generic exception, with the 403 in the cause.
    assert refused.error == "Lambda.AWSLambdaException"
    name = refused.cause and re.search(r"assumed-role/([^/]+)/", refused.cause)
    assert name, refused.cause
    assert re.search(DENIED.format(role=name.group(1), action="lambda:InvokeFunction", resource=other), refused.cause)
    assert "Status Code: 403; Error Code: AccessDeniedException" in refused.cause


def test_glue_job_run_refused_is_glues_access_denied_exception(
    machines: StateMachineRunner, aws_clients: LocalClients, role: Callable[..., str], unique_name: str
) -> None:
    role_arn = role(allow("glue:GetJobRun", f"arn:aws:glue:*:{ACCOUNT}:job/{unique_name}"))
    state = {
        "Type": "Task",
        "Resource": "arn:aws:states:::glue:startJobRun.sync",
        "Parameters": {"JobName": unique_name},
    }

    refused = run(machines, aws_clients, role_arn, state)

    assert refused.error == "Glue.AccessDeniedException"
    assert re.search(
        DENIED.format(
            role=re.escape(role_arn.rsplit("/", 1)[-1]),
            action="glue:StartJobRun",
            resource=rf"arn:aws:glue:[a-z0-9-]+:{ACCOUNT}:job/{unique_name}",
        ),
        refused.cause or "",
    )


def test_a_training_job_needs_pass_role_and_the_managed_rule(
    machines: StateMachineRunner, aws_clients: LocalClients, role: Callable[..., str], unique_name: str
) -> None:
    jobs = f"arn:aws:sagemaker:*:{ACCOUNT}:training-job/*"
    execution_role = f"arn:aws:iam::{ACCOUNT}:role/{unique_name}-execution"
    job = ["sagemaker:CreateTrainingJob", "sagemaker:DescribeTrainingJob", "sagemaker:AddTags"]
    rule = f"arn:aws:events:*:{ACCOUNT}:rule/StepFunctionsGetEventsForSageMakerTrainingJobsRule"
    rules = allow(["events:PutTargets", "events:PutRule", "events:DescribeRule"], rule)
    state = {
        "Type": "Task",
        "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
        "Parameters": {"TrainingJobName": unique_name, "RoleArn": execution_role},
    }

    no_pass_role = run(machines, aws_clients, role(allow(job, jobs), rules), state)
    assert no_pass_role.error == "SageMaker.AmazonSageMakerException"
    assert "is not authorized to perform: iam:PassRole on resource: " + execution_role in (no_pass_role.cause or "")

    passed_elsewhere = role(
        allow(job, jobs),
        rules,
        allow("iam:PassRole", execution_role, StringEquals={"iam:PassedToService": "glue.amazonaws.com"}),
    )
    assert "iam:PassRole" in (run(machines, aws_clients, passed_elsewhere, state).cause or "")

    # Without the managed rule's permissions the state machine itself is refused when it is created (nasa/cumulus#2693),
    # not when the state runs.
    no_rule = role(
        allow(job, jobs),
        allow("iam:PassRole", execution_role, StringEquals={"iam:PassedToService": "sagemaker.amazonaws.com"}),
    )
    with pytest.raises(ClientError) as refused:
        run(machines, aws_clients, no_rule, state)
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    assert refused.value.response["Error"]["Message"] == f"'{no_rule}' is not authorized to create managed-rule."


def test_updating_a_state_machine_to_a_sync_job_its_role_may_not_follow_is_refused(
    machines: StateMachineRunner, aws_clients: LocalClients, role: Callable[..., str], unique_name: str
) -> None:
    sfn = aws_clients.client("stepfunctions")
    role_arn = role(allow("sagemaker:CreateTrainingJob", f"arn:aws:sagemaker:*:{ACCOUNT}:training-job/*"))
    passing = {"StartAt": "Pass", "States": {"Pass": {"Type": "Pass", "End": True}}}
    machine = sfn.create_state_machine(
        name=f"{machines.prefix}-update", definition=json.dumps(passing), roleArn=role_arn
    )["stateMachineArn"]
    task = {"Type": "Task", "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync", "End": True}
    syncing = {"StartAt": "Train", "States": {"Train": task}}

    with pytest.raises(ClientError) as refused:
        sfn.update_state_machine(stateMachineArn=machine, definition=json.dumps(syncing))

    assert refused.value.response["Error"]["Message"] == f"'{role_arn}' is not authorized to create managed-rule."
    assert json.loads(sfn.describe_state_machine(stateMachineArn=machine)["definition"]) == passing


def test_conditions_and_sdk_integrations(
    machines: StateMachineRunner, aws_clients: LocalClients, role: Callable[..., str], unique_name: str
) -> None:
    group = unique_name.lower()
    role_arn = role(
        allow(
            "sagemaker:CreateModelPackage",
            f"arn:aws:sagemaker:*:{ACCOUNT}:model-package/{group}",
            StringEquals={"sagemaker:ModelApprovalStatus": "PendingManualApproval"},
        )
    )
    state = {
        "Type": "Task",
        "Resource": "arn:aws:states:::aws-sdk:sagemaker:createModelPackage",
        "Parameters": {"ModelPackageGroupName": group, "ModelApprovalStatus": "Approved"},
    }

    refused = run(machines, aws_clients, role_arn, state)

    # An aws-sdk integration reports an unmodeled error as the SDK's generic `<Service>Exception`.
    assert refused.error == "SageMaker.SageMakerException"
    assert "sagemaker:CreateModelPackage on resource: arn:aws:sagemaker:" in (refused.cause or "")


def test_a_refusal_is_a_task_failure_a_catch_takes(
    machines: StateMachineRunner, aws_clients: LocalClients, role: Callable[..., str], unique_name: str
) -> None:
    role_arn = role(allow("dynamodb:GetItem", "*"))
    state = {
        "Type": "Task",
        "Resource": "arn:aws:states:::dynamodb:putItem",
        "Parameters": {"TableName": unique_name, "Item": {"pk": {"S": "x"}}},
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}],
    }
    definition = {
        "StartAt": "Task",
        "States": {
            "Task": {**state, "Next": "Done"},
            "Caught": {"Type": "Pass", "End": True},
            "Done": {"Type": "Succeed"},
        },
    }
    machine = aws_clients.client("stepfunctions").create_state_machine(
        name=f"{unique_name}-catch", definition=json.dumps(definition), roleArn=role_arn
    )["stateMachineArn"]

    caught = machines.wait(machines.start(machine))

    assert caught.status == "SUCCEEDED"
    assert caught.output["error"]["Error"] == "DynamoDB.AmazonDynamoDBException"
    assert "dynamodb:PutItem on resource: arn:aws:dynamodb:" in caught.output["error"]["Cause"]


@pytest.mark.parametrize("on_the_config", [True, False], ids=["config-allowed", "config-refused"])
def test_create_endpoint_needs_the_action_on_the_endpoint_config_too(
    machines: StateMachineRunner,
    aws_clients: LocalClients,
    role: Callable[..., str],
    unique_name: str,
    on_the_config: bool,
) -> None:
    # Service Authorization Reference, SageMaker: CreateEndpoint's resource types are `endpoint` and
    # `endpoint-config`; CDK's SageMakerCreateEndpoint task grants sagemaker:createEndpoint on both ARNs.
    endpoint = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/{unique_name}"
    config = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint-config/{unique_name}-config"
    role_arn = role(allow("sagemaker:CreateEndpoint", [endpoint, *([config] if on_the_config else [])]))
    state = {
        "Type": "Task",
        "Resource": "arn:aws:states:::sagemaker:createEndpoint",
        "Parameters": {"EndpointName": unique_name, "EndpointConfigName": f"{unique_name}-config"},
    }

    failed = run(machines, aws_clients, role_arn, state)

    # Authorized, the call reaches SageMaker, which has no such config.
    assert failed.error == "SageMaker.AmazonSageMakerException"
    denied = DENIED.format(role=role_arn.rsplit("/", 1)[-1], action="sagemaker:CreateEndpoint", resource=config)
    assert bool(re.search(denied, failed.cause or "")) is not on_the_config, failed.cause
