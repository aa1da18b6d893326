"""`retrain approve`/`reject` answer as the stack's ML leads role (output `MLLeadsRoleArn`): they assume it unless
the caller already is a session of it, record that session as who answered, and turn AWS's refusal of the role
or of the answer into one line naming the role.

Sources: IAM user guide, "Switch to an IAM role (AWS API)"; STS API reference, AssumeRole (RoleSessionName
`[\\w+=,.@-]{2,64}`, AccessDenied "User: <caller> is not authorized to perform: sts:AssumeRole on resource:
<role>"), GetCallerIdentity (a session's Arn is `arn:aws:sts::<account>:assumed-role/<role name>/<session>`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

import cli.executions
from cli.main import main
from cli.ml_leads import as_ml_lead, is_session_of, session_name
from cli.pipeline import DeployedPipeline
from retrain.errors import RetrainError
from retrain.state_table import APPROVAL_PREFIX, PARTITION_KEY, PENDING, SORT_KEY
from tests.support.fake_stack import AWS_ENVIRONMENT, NOT_SET, REGION, fake_stack

CONFIG = str(Path(__file__).resolve().parents[3] / "retrain.toml")
ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/fraud-retrain-MLLeadsRole1A2B"
RUN = "auto-20261126T0300Z"
TRUST = json.dumps(
    {
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}
        ]
    }
)


class SentTasks:
    """Stands in for `StepFunctionsTasks`: records the answers and the credentials of the client that sent them."""

    sent: list[tuple[str, str, str]] = []

    def __init__(self, client: Any) -> None:
        self.key = client._request_signer._credentials.access_key

    def succeed(self, task_token: str, output: dict[str, Any]) -> None:
        self.sent.append(("success", task_token, self.key))

    def fail(self, task_token: str, error: str, cause: str) -> None:
        self.sent.append(("failure", task_token, self.key))


@pytest.fixture
def waiting_run(monkeypatch: pytest.MonkeyPatch) -> Iterator[DeployedPipeline]:
    """In moto: the stack with its ML leads role, and a run waiting for approval."""
    for name, value in AWS_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    for name in NOT_SET:
        monkeypatch.delenv(name, raising=False)
    SentTasks.sent = []
    monkeypatch.setattr(cli.executions, "StepFunctionsTasks", SentTasks)
    with fake_stack() as stack:
        iam = boto3.client("iam", region_name=REGION)
        role = iam.create_role(RoleName=ROLE.rsplit("/", 1)[-1], AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
        item = {
            PARTITION_KEY: {"S": "fraud-retrain"},
            SORT_KEY: {"S": f"{APPROVAL_PREFIX}{RUN}"},
            "execution_name": {"S": RUN},
            "status": {"S": PENDING},
            "task_token": {"S": "token-1"},
        }
        boto3.client("dynamodb", region_name=REGION).put_item(TableName=stack.outputs["StateTableName"], Item=item)
        pipeline = DeployedPipeline.connect(CONFIG)
        pipeline.outputs["MLLeadsRoleArn"] = role
        monkeypatch.setattr(DeployedPipeline, "connect", classmethod(lambda cls, *_: pipeline))
        yield pipeline


def recorded(pipeline: DeployedPipeline) -> dict[str, Any]:
    item = pipeline.client("dynamodb").get_item(
        TableName=pipeline.state_table,
        Key={PARTITION_KEY: {"S": "fraud-retrain"}, SORT_KEY: {"S": f"{APPROVAL_PREFIX}{RUN}"}},
    )["Item"]
    return {name: value["S"] for name, value in item.items()}


@pytest.mark.parametrize("verb", ["approve", "reject"])
def test_the_answer_is_sent_and_recorded_as_the_leads_role_session(verb: str, waiting_run: DeployedPipeline) -> None:
    assert main([verb, RUN, "--reason", "AP up", "--as", "Jane Doe", "--config", CONFIG]) == 0

    [(kind, token, key)] = SentTasks.sent
    assert (kind, token) == ("success" if verb == "approve" else "failure", "token-1")
    assert key != waiting_run.client("sts")._request_signer._credentials.access_key  # the session's, not the caller's
    assert recorded(waiting_run)["answered_by"] == (
        f"Jane Doe (arn:aws:sts::{ACCOUNT}:assumed-role/fraud-retrain-MLLeadsRole1A2B/Jane-Doe)"
    )


def test_a_session_of_the_role_answers_as_it_is(waiting_run: DeployedPipeline) -> None:
    lead = as_ml_lead(waiting_run, "jane")

    assert as_ml_lead(lead, "jane") is lead


def test_a_stack_without_the_role_is_answered_with_the_callers_credentials(waiting_run: DeployedPipeline) -> None:
    del waiting_run.outputs["MLLeadsRoleArn"]

    assert as_ml_lead(waiting_run, "jane") is waiting_run


class RefusingSts:
    def __init__(self, caller: str) -> None:
        self.caller = caller

    def get_caller_identity(self) -> dict[str, str]:
        return {"Arn": self.caller}

    def assume_role(self, RoleArn: str, RoleSessionName: str) -> dict[str, Any]:
        message = f"User: {self.caller} is not authorized to perform: sts:AssumeRole on resource: {RoleArn}"
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": message}}, "AssumeRole")


def test_a_caller_who_may_not_assume_the_role_gets_awss_refusal_naming_the_role(
    waiting_run: DeployedPipeline, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    caller = f"arn:aws:iam::{ACCOUNT}:user/dev"
    clients = waiting_run.clients
    monkeypatch.setattr(type(clients), "client", lambda self, service: RefusingSts(caller))

    assert main(["approve", RUN, "--reason", "AP up", "--config", CONFIG]) == 2

    err = capsys.readouterr().err.strip()
    assert err == (
        f"retrain: User: {caller} is not authorized to perform: sts:AssumeRole on resource: {ROLE}: answering a run "
        f"needs the ML leads role {ROLE} (stack output MLLeadsRoleArn); ask the stack's owner to let {caller} "
        "assume it (context retrain:mlLeadsPrincipal, docs/deploy.md)"
    )
    assert SentTasks.sent == []


def test_a_session_without_the_leads_permissions_gets_awss_refusal_naming_the_role(
    waiting_run: DeployedPipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = f"arn:aws:sts::{ACCOUNT}:assumed-role/fraud-retrain-MLLeadsRole1A2B/jane"
    message = (
        f"User: {session} is not authorized to perform: states:SendTaskSuccess on resource: "
        f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:fraud-retrain because no identity-based policy allows the "
        "states:SendTaskSuccess action"
    )

    class Refused(SentTasks):
        def succeed(self, task_token: str, output: dict[str, Any]) -> None:
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": message}}, "SendTaskSuccess")

    monkeypatch.setattr(cli.executions, "StepFunctionsTasks", Refused)

    with pytest.raises(RetrainError) as raised:
        cli.executions.send_approval(waiting_run, RUN, who="jane", reason="AP up")

    assert str(raised.value) == (
        f"{message}: answering a run needs the ML leads role {ROLE} (stack output MLLeadsRoleArn), whose policy "
        "allows states:SendTaskSuccess, states:SendTaskFailure and the state table's approval records; answer as "
        "that role"
    )
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(
    ("who", "name"),
    [("jane", "jane"), ("Jane Doe", "Jane-Doe"), ("j", "ml-lead"), ("", "ml-lead"), ("x" * 80, "x" * 64)],
)
def test_the_session_is_named_after_the_person_within_stss_rules(who: str, name: str) -> None:
    assert session_name(who) == name


@pytest.mark.parametrize(
    ("caller", "expected"),
    [
        (f"arn:aws:sts::{ACCOUNT}:assumed-role/fraud-retrain-MLLeadsRole1A2B/jane", True),
        (f"arn:aws:sts::{ACCOUNT}:assumed-role/Other/jane", False),
        ("arn:aws:sts::999999999999:assumed-role/fraud-retrain-MLLeadsRole1A2B/jane", False),
        (f"arn:aws:iam::{ACCOUNT}:user/fraud-retrain-MLLeadsRole1A2B", False),
        (f"arn:aws:iam::{ACCOUNT}:root", False),
    ],
)
def test_a_session_of_the_role_is_recognised_by_account_and_role_name(caller: str, expected: bool) -> None:
    assert is_session_of(caller, ROLE) is expected
    assert is_session_of(caller, f"arn:aws:iam::{ACCOUNT}:role/team/fraud-retrain-MLLeadsRole1A2B") is expected
