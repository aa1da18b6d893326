"""A role a person assumes (the stack's MLLeads role, to approve a candidate) is used as AWS uses it.

Sources: IAM user guide, "Switch to an IAM role (AWS API)": AssumeRole needs the role's trust policy to allow
the caller, and the session's calls are authorized against the role's permissions; STS API reference,
AssumeRole (AccessDenied "User: <caller> is not authorized to perform: sts:AssumeRole on resource: <role>");
Service Authorization Reference: SendTaskSuccess takes no resource ("*"), UpdateModelPackage the
`model-package` resource type.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local.clients import LocalClients
from tests.support.emulator import ROLE_ARN, StateMachineRunner
from tests.support.iam import assumed_client

pytestmark = pytest.mark.local

ACCOUNT_ROOT = "arn:aws:iam::000000000000:root"
SPEC = {
    "Containers": [{"Image": "sklearn", "ModelDataUrl": "s3://b/m.tar.gz"}],
    "SupportedContentTypes": ["text/csv"],
    "SupportedResponseMIMETypes": ["application/json"],
}


@pytest.fixture
def person_roles(aws_clients: LocalClients) -> Iterator[list[str]]:
    """Names of the roles a test creates, deleted afterwards."""
    made: list[str] = []
    yield made
    iam = aws_clients.client("iam")
    for name in made:
        for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
            iam.delete_role_policy(RoleName=name, PolicyName=policy)
        iam.delete_role(RoleName=name)


def create_role(aws_clients: LocalClients, made: list[str], name: str, trusted: str, *statements: Any) -> str:
    iam = aws_clients.client("iam")
    trust = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": trusted}, "Action": "sts:AssumeRole"}]}
    arn = str(iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"])
    made.append(name)
    policy = {"Version": "2012-10-17", "Statement": list(statements)}
    iam.put_role_policy(RoleName=name, PolicyName="policy", PolicyDocument=json.dumps(policy))
    return arn


def denied(call: Any, **request: Any) -> ClientError:
    with pytest.raises(ClientError) as refused:
        call(**request)
    return refused.value


def test_a_leads_session_may_answer_and_update_its_groups_packages_and_nothing_else(
    aws_clients: LocalClients, machines: StateMachineRunner, person_roles: list[str], unique_name: str
) -> None:
    sagemaker = aws_clients.client("sagemaker")
    packages = {}
    for group in ("leads", "other"):
        name = f"{unique_name}-{group}"
        sagemaker.create_model_package_group(ModelPackageGroupName=name)
        created = sagemaker.create_model_package(ModelPackageGroupName=name, InferenceSpecification=SPEC)
        packages[group] = created["ModelPackageArn"]
    machine = machines.create({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})
    role = create_role(
        aws_clients,
        person_roles,
        f"{unique_name}-leads",
        ACCOUNT_ROOT,
        {"Effect": "Allow", "Action": ["states:SendTaskSuccess", "states:SendTaskFailure"], "Resource": "*"},
        {
            "Effect": "Allow",
            "Action": ["sagemaker:UpdateModelPackage"],
            "Resource": f"arn:aws:sagemaker:us-east-1:000000000000:model-package/{unique_name}-leads/*",
        },
    )
    states = assumed_client(aws_clients, role, "stepfunctions")
    registry = assumed_client(aws_clients, role, "sagemaker")
    session = f"arn:aws:sts::000000000000:assumed-role/{unique_name}-leads/ml-lead"

    # Allowed: the answer reaches Step Functions, which refuses the made-up token itself.
    answered = denied(states.send_task_success, taskToken="not-a-token", output="{}")
    registry.update_model_package(ModelPackageArn=packages["leads"], ModelApprovalStatus="Approved")
    # Not granted: starting a run, and another group's package.
    started = denied(states.start_execution, stateMachineArn=machine)
    other = denied(registry.update_model_package, ModelPackageArn=packages["other"], ModelApprovalStatus="Approved")

    assert answered.response["Error"]["Code"] != "AccessDeniedException"
    status = sagemaker.describe_model_package(ModelPackageName=packages["leads"])["ModelApprovalStatus"]
    assert status == "Approved"
    assert started.response["Error"]["Code"] == "AccessDeniedException"
    assert started.response["Error"]["Message"].startswith(
        f"User: {session} is not authorized to perform: states:StartExecution on resource: {machine}"
    )
    assert other.response["Error"]["Code"] == "AccessDeniedException"
    assert f"User: {session} is not authorized to perform: sagemaker:UpdateModelPackage" in str(other)
    assert sagemaker.describe_model_package(ModelPackageName=packages["other"])["ModelApprovalStatus"] == (
        "PendingManualApproval"
    )


def test_assuming_a_role_needs_its_trust_policy_to_allow_the_caller(
    aws_clients: LocalClients, person_roles: list[str], unique_name: str
) -> None:
    # Trusts one other principal (the contract tests' placeholder role), not the account.
    allow = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}
    role = create_role(aws_clients, person_roles, f"{unique_name}-other", ROLE_ARN, allow)

    refused = denied(aws_clients.client("sts").assume_role, RoleArn=role, RoleSessionName="ml-lead")

    assert refused.response["Error"]["Code"] == "AccessDenied"
    assert refused.response["Error"]["Message"] == (
        f"User: {ACCOUNT_ROOT} is not authorized to perform: sts:AssumeRole on resource: {role}"
    )
