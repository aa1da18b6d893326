"""A permission the stack's roles lack fails the local cycle where it fails on AWS.

A copy of the project whose state machine role has no statement for the Glue job run (infra/
orchestration.py) is deployed into a local AWS of its own; a run with data to prepare fails at
PrepareData with Glue's AccessDeniedException and IAM's message naming the state machine role's session
(Step Functions developer guide, glue-iam: `.sync` needs glue:StartJobRun and glue:GetJobRun on the job).
Likewise a copy whose CheckForNewData function may not read the state table fails there with DynamoDB's
denial naming the function's role session: a function calls AWS as its execution role; in that copy the
notifying functions may not use the topic's KMS key either, so NotifyFailure's Publish to the encrypted topic
fails with SNS's KMSAccessDenied (SNS developer guide, "Key management"). And the stack's
MLLeads role, assumed by the account, may answer an approval but not start a run.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from cli.landing import append_demo_days
from tests.support.iam import assumed_client
from tests.support.polling import wait_until
from tests.support.stack import CONFIG, NAME, DeployedStack, snapshot_project, start_and_deploy

pytestmark = [pytest.mark.local, pytest.mark.slow]

GLUE_STATEMENT = """            iam.PolicyStatement(
                actions=["glue:StartJobRun", "glue:GetJobRun", "glue:GetJobRuns", "glue:BatchStopJobRun"],
                resources=[targets.glue_job_arn],
            ),
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeployedStack]:
    """The project, its state machine role without the Glue statement, deployed."""
    project = snapshot_project(tmp_path_factory.mktemp("no-glue-grant"))
    orchestration = project / "infra" / "orchestration.py"
    text = orchestration.read_text(encoding="utf-8")
    assert text.count(GLUE_STATEMENT) == 1, "infra/orchestration.py's Glue statement moved: update this test"
    orchestration.write_text(text.replace(GLUE_STATEMENT, ""), encoding="utf-8")
    deployed = start_and_deploy(tmp_path_factory.mktemp("no-glue-grant-home"), project, standbys=False)
    try:
        yield deployed
    finally:
        deployed.aws.stop()


def manual_run(stack: DeployedStack, name: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A manual run (the new-data rule off), once it has ended: its description and its history."""
    stack.client("events").disable_rule(Name=f"{NAME}-new-data")
    sfn = stack.client("stepfunctions")
    execution = sfn.start_execution(
        stateMachineArn=stack.machine_arn, name=name, input=json.dumps({"trigger": "manual"})
    )["executionArn"]
    described: dict[str, Any] = wait_until(
        lambda: (d := sfn.describe_execution(executionArn=execution))["status"] != "RUNNING" and d,
        300,
        "the run to end",
    )
    return described, sfn.get_execution_history(executionArn=execution, maxResults=1000)["events"]


def test_a_run_fails_at_prepare_data_with_the_aws_denial(stack: DeployedStack) -> None:
    stack.client("events").disable_rule(Name=f"{NAME}-new-data")  # before the data lands: no run of its own
    append_demo_days(stack.client("s3"), stack.outputs["DataBucketName"], CONFIG, 3)

    described, events = manual_run(stack, "denied-glue")

    assert described["status"] == "FAILED"
    [failed] = [e["taskFailedEventDetails"] for e in events if e["type"] == "TaskFailed"]
    assert failed["resource"] == "arn:aws:states:::glue:startJobRun.sync"
    assert failed["error"] == "Glue.AccessDeniedException"
    role = stack.client("stepfunctions").describe_state_machine(stateMachineArn=stack.machine_arn)["roleArn"]
    job = f"arn:aws:glue:[a-z0-9-]+:\\d{{12}}:job/{re.escape(stack.outputs['GlueJobName'])}"
    assert re.search(
        rf"User: arn:aws:sts::\d{{12}}:assumed-role/{re.escape(role.rsplit('/', 1)[-1])}/[A-Za-z]{{32}} "
        rf"is not authorized to perform: glue:StartJobRun on resource: {job} "
        r"because no identity-based policy allows the glue:StartJobRun action",
        failed["cause"],
    ), failed["cause"]
    # The run's own failure carries it: NotifyFailure classified it and the execution failed with it.
    assert "glue:StartJobRun" in (described.get("cause") or "") + (described.get("error") or "")


CHECK_GRANT = """            Placeholder.CHECK_FOR_NEW_DATA_FUNCTION_ARN: [
                table("GetItem"),
"""
KEY_GRANT = """            iam.PolicyStatement(actions=["kms:GenerateDataKey", "kms:Decrypt"], resources=[key_arn]),
"""


@pytest.fixture(scope="module")
def stack_without_check_grant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeployedStack]:
    """The project, CheckForNewData's role without dynamodb:GetItem on the state table and the notifying functions'
    roles without the topic key's grant, deployed."""
    project = snapshot_project(tmp_path_factory.mktemp("no-check-grant"))
    stack_file = project / "infra" / "stack.py"
    text = stack_file.read_text(encoding="utf-8")
    assert text.count(CHECK_GRANT) == 1, "infra/stack.py's CheckForNewData grant moved: update this test"
    assert text.count(KEY_GRANT) == 1, "infra/stack.py's grant of the topic's key moved: update this test"
    text = text.replace(CHECK_GRANT, "            Placeholder.CHECK_FOR_NEW_DATA_FUNCTION_ARN: [\n")
    stack_file.write_text(text.replace(KEY_GRANT, ""), encoding="utf-8")
    deployed = start_and_deploy(tmp_path_factory.mktemp("no-check-grant-home"), project, standbys=False)
    try:
        yield deployed
    finally:
        deployed.aws.stop()


def test_a_function_whose_role_lacks_a_call_fails_with_the_aws_denial(
    stack_without_check_grant: DeployedStack,
) -> None:
    # Lambda developer guide, lambda-intro-execution-role: the function calls AWS as its role's session.
    described, events = manual_run(stack_without_check_grant, "denied-check")

    assert described["status"] == "FAILED"
    history = json.dumps(events, default=str)
    assert re.search(
        r"User: arn:aws:sts::\d{12}:assumed-role/[^/]+CheckForNewData[^/]*/[^ ]+ is not authorized to perform: "
        r"dynamodb:GetItem on resource: arn:aws:dynamodb:[a-z0-9-]+:\d{12}:table/[^ ]+ "
        r"because no identity-based policy allows the dynamodb:GetItem action",
        history,
    ), history[-3000:]
    # NotifyFailure may not use the topic's key: its Publish to the encrypted topic is refused.
    assert re.search(
        r"KMSAccessDenied.{0,200}User: arn:aws:sts::\d{12}:assumed-role/[^/]+Notify[^/]*/[^ ]+ is not authorized to "
        r"perform: kms:GenerateDataKey on resource: arn:aws:kms:[a-z0-9-]+:\d{12}:key/[0-9a-f-]+ "
        r"because no identity-based policy allows the kms:GenerateDataKey action",
        history,
    ), history[-3000:]


def test_the_ml_leads_role_may_answer_an_approval_and_not_start_a_run(stack: DeployedStack) -> None:
    # infra/access.py; IAM user guide, "Switch to an IAM role (AWS API)": the session has the role's permissions.
    states = assumed_client(stack.clients, stack.outputs["MLLeadsRoleArn"], "stepfunctions")

    with pytest.raises(ClientError) as answered:
        states.send_task_success(taskToken="not-a-token", output="{}")
    with pytest.raises(ClientError) as started:
        states.start_execution(stateMachineArn=stack.machine_arn)

    # The answer reaches Step Functions, which refuses the made-up token itself.
    assert answered.value.response["Error"]["Code"] != "AccessDeniedException"
    assert started.value.response["Error"]["Code"] == "AccessDeniedException"
    assert re.match(
        r"User: arn:aws:sts::\d{12}:assumed-role/[^/]+/ml-lead is not authorized to perform: states:StartExecution ",
        started.value.response["Error"]["Message"],
    ), started.value.response["Error"]["Message"]
