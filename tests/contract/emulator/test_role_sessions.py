"""A role a person assumes (the stack's MLLeads role, to approve a candidate) is used as AWS uses it.

Sources: IAM user guide, "Switch to an IAM role (AWS API)": AssumeRole needs the role's trust policy to allow
the caller, and the session's calls are authorized against the role's permissions; STS API reference,
AssumeRole (AccessDenied "User: <caller> is not authorized to perform: sts:AssumeRole on resource: <role>");
Service Authorization Reference: SendTaskSuccess takes no resource ("*"), UpdateModelPackage the
`model-package` resource type; yet Step Functions authorizes an answer to a callback task on the waiting
execution's state machine and names it in the refusal (NOAA-OWP/hydrovis#837: "... is not authorized to perform:
states:SendTaskFailure on resource: arn:aws:states:...:stateMachine:..."; aws/aws-cdk#8486), see
`local/emulator/task_tokens.py`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError

from cli.config_file import load_checked_config
from cli.executions import send_approval
from cli.ml_leads import NotAnMlLead
from cli.pipeline import DeployedPipeline
from local.clients import LocalClients
from retrain.state_table import ANSWERED, PARTITION_KEY, PENDING, SORT_KEY, approval_key
from tests.support.emulator import ROLE_ARN, STORES_TOKEN, FunctionFactory, StateMachineRunner, stored_token
from tests.support.iam import assumed_client
from tests.support.jobs import REPO_ROOT

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


def waiting_run(
    aws_clients: LocalClients, functions: FunctionFactory, machines: StateMachineRunner, unique_name: str
) -> tuple[str, str, str]:
    """A run waiting in a callback task, as RequestApproval waits: its state machine, execution and task token."""
    s3 = aws_clients.client("s3")
    s3.create_bucket(Bucket=unique_name)
    waiting = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {
            "FunctionName": functions.create("store", STORES_TOKEN),
            "Payload": {"token.$": "$$.Task.Token", "bucket": unique_name},
        },
        "TimeoutSeconds": 60,
        "End": True,
    }
    machine = machines.create({"StartAt": "RequestApproval", "States": {"RequestApproval": waiting}})
    execution = machines.start(machine, name=unique_name)
    return machine, execution, stored_token(s3, unique_name)


def test_only_a_principal_allowed_to_answer_resumes_a_waiting_run(
    aws_clients: LocalClients,
    functions: FunctionFactory,
    machines: StateMachineRunner,
    person_roles: list[str],
    unique_name: str,
) -> None:
    sfn = aws_clients.client("stepfunctions")
    machine, execution, token = waiting_run(aws_clients, functions, machines, unique_name)
    # What one of the pipeline's own roles holds (a function's reads), and no answer.
    worker = create_role(
        aws_clients,
        person_roles,
        f"{unique_name}-worker",
        ACCOUNT_ROOT,
        {"Effect": "Allow", "Action": ["s3:GetObject", "states:DescribeExecution"], "Resource": "*"},
    )
    # Granted on the state machine only: the answer is authorized on the machine whose task waits.
    lead = create_role(
        aws_clients,
        person_roles,
        f"{unique_name}-lead",
        ACCOUNT_ROOT,
        {"Effect": "Allow", "Action": ["states:SendTaskSuccess"], "Resource": machine},
    )

    refused = denied(
        assumed_client(aws_clients, worker, "stepfunctions").send_task_success, taskToken=token, output='{"by": "w"}'
    )
    status = sfn.describe_execution(executionArn=execution)["status"]
    assumed_client(aws_clients, lead, "stepfunctions").send_task_success(taskToken=token, output='{"by": "lead"}')
    answered = machines.wait(execution)

    assert refused.response["Error"]["Code"] == "AccessDeniedException"
    assert refused.response["Error"]["Message"] == (
        f"User: arn:aws:sts::000000000000:assumed-role/{unique_name}-worker/ml-lead is not authorized to perform: "
        f"states:SendTaskSuccess on resource: {machine} because no identity-based policy allows the "
        "states:SendTaskSuccess action"
    )
    assert status == "RUNNING"  # the refused answer did not reach the run
    assert answered.status == "SUCCEEDED" and answered.output == {"by": "lead"}


@pytest.fixture
def approval_table(aws_clients: LocalClients, unique_name: str) -> Iterator[str]:
    """A state table like the stack's (pk, sk), deleted afterwards."""
    dynamodb = aws_clients.client("dynamodb")
    dynamodb.create_table(
        TableName=unique_name,
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"} for key in (PARTITION_KEY, SORT_KEY)],
        KeySchema=[
            {"AttributeName": PARTITION_KEY, "KeyType": "HASH"},
            {"AttributeName": SORT_KEY, "KeyType": "RANGE"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    yield unique_name
    dynamodb.delete_table(TableName=unique_name)


@dataclass
class WaitingApproval:
    """A run waiting for approval, its approval request in the state table, and the pipeline as `retrain
    approve` reads it (config, outputs) with `role` as its MLLeadsRoleArn."""

    pipeline: DeployedPipeline
    machine: str
    execution: str
    role: str

    def refused(self) -> tuple[NotAnMlLead, str]:
        """The refusal of an approval, and the run's status after it (the run is stopped afterwards)."""
        sfn = self.pipeline.client("stepfunctions")
        with pytest.raises(NotAnMlLead) as refused:
            send_approval(self.pipeline, self.execution.rsplit(":", 1)[-1], who="jane", reason="AP up")
        status = str(sfn.describe_execution(executionArn=self.execution)["status"])
        sfn.stop_execution(executionArn=self.execution)
        return refused.value, status


@pytest.fixture
def waiting_approval(
    aws_clients: LocalClients,
    functions: FunctionFactory,
    machines: StateMachineRunner,
    person_roles: list[str],
    approval_table: str,
    unique_name: str,
) -> Callable[..., WaitingApproval]:
    """`(trusted, *answers)`: a waiting run whose leads role trusts `trusted` and allows `answers` on "*", and
    infra/access.py's reads and claim of the approval record on the table."""

    def make(trusted: str, *answers: str) -> WaitingApproval:
        machine, execution, token = waiting_run(aws_clients, functions, machines, unique_name)
        table_arn = f"arn:aws:dynamodb:us-east-1:000000000000:table/{approval_table}"
        role = create_role(
            aws_clients,
            person_roles,
            f"{unique_name}-leads",
            trusted,
            {"Effect": "Allow", "Action": list(answers), "Resource": "*"},
            {"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:UpdateItem"], "Resource": table_arn},
        )
        config = load_checked_config(str(REPO_ROOT / "retrain.toml"))
        item = {
            PARTITION_KEY: {"S": config.pipeline.name},
            SORT_KEY: {"S": approval_key(unique_name)},
            "execution_name": {"S": unique_name},
            "status": {"S": PENDING},
            "task_token": {"S": token},
        }
        aws_clients.client("dynamodb").put_item(TableName=approval_table, Item=item)
        outputs = {"MLLeadsRoleArn": role, "StateTableName": approval_table, "StateMachineArn": machine}
        pipeline = DeployedPipeline(config=config, clients=aws_clients, outputs=outputs)
        return WaitingApproval(pipeline, machine, execution, role)

    return make


def test_retrain_approve_assumes_the_leads_role_and_is_recorded_as_its_session(
    waiting_approval: Callable[..., WaitingApproval], machines: StateMachineRunner, unique_name: str
) -> None:
    waiting = waiting_approval(ACCOUNT_ROOT, "states:SendTaskSuccess", "states:SendTaskFailure")

    # The local AWS's default credentials are the account's root; the answer goes out as the role's session.
    send_approval(waiting.pipeline, unique_name, who="jane", reason="AP up")
    answered = machines.wait(waiting.execution)

    assert answered.status == "SUCCEEDED"
    session = f"arn:aws:sts::000000000000:assumed-role/{unique_name}-leads/jane"
    assert answered.output["approved_by"] == f"jane ({session})"
    assert waiting.pipeline.state_store().approval(unique_name).status == ANSWERED


def test_retrain_approve_as_a_role_without_the_answer_is_refused_and_the_run_keeps_waiting(
    waiting_approval: Callable[..., WaitingApproval], unique_name: str
) -> None:
    waiting = waiting_approval(ACCOUNT_ROOT, "states:SendTaskHeartbeat")

    refused, status = waiting.refused()

    session = f"arn:aws:sts::000000000000:assumed-role/{unique_name}-leads/jane"
    assert str(refused).startswith(
        f"User: {session} is not authorized to perform: states:SendTaskSuccess on resource: {waiting.machine} "
        "because no identity-based policy allows the states:SendTaskSuccess action: answering a run needs the ML "
        f"leads role {waiting.role} (stack output MLLeadsRoleArn)"
    )
    assert status == "RUNNING"
    assert waiting.pipeline.state_store().approval(unique_name).status == PENDING  # the claim was released


def test_retrain_approve_by_a_caller_the_role_does_not_trust_says_who_needs_which_role(
    waiting_approval: Callable[..., WaitingApproval],
) -> None:
    waiting = waiting_approval(ROLE_ARN, "states:SendTaskSuccess", "states:SendTaskFailure")

    refused, status = waiting.refused()

    role = waiting.role
    assert str(refused) == (
        f"User: {ACCOUNT_ROOT} is not authorized to perform: sts:AssumeRole on resource: {role}: answering a run "
        f"needs the ML leads role {role} (stack output MLLeadsRoleArn); ask the stack's owner to let {ACCOUNT_ROOT} "
        "assume it (context retrain:mlLeadsPrincipal, docs/deploy.md)"
    )
    assert status == "RUNNING"
