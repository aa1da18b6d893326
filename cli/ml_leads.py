"""Answering an approval as an ML lead: the stack's `MLLeads` role (output `MLLeadsRoleArn`).

The command starts from the caller's own credentials. When the stack names the role and the caller is not
already a session of it, the command assumes it (STS AssumeRole, the session named after the person
deciding), so the answer is sent, and recorded, as `assumed-role/<MLLeads role>/<person>`. The same
code runs against AWS and the local AWS, which authorizes the session's calls against the role's
policies as AWS does (IAM user guide, "Switch to an IAM role (AWS API)").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.exceptions import ClientError

from cli.pipeline import DeployedPipeline
from retrain.errors import RetrainError

ROLE_OUTPUT = "MLLeadsRoleArn"
# STS AssumeRole, RoleSessionName: 2-64 characters of [\w+=,.@-] (botocore `sts/2011-06-15`, `roleSessionNameType`).
_SESSION_NAME_CHARACTERS = re.compile(r"[^\w+=,.@-]")
_SESSION_NAME_MAX = 64
# IAM's and the services' refusals: STS answers `AccessDenied`, the JSON services `AccessDeniedException`.
DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException"})


class NotAnMlLead(RetrainError):
    """The caller may not act as an ML lead: AWS refused the role or the answer."""


@dataclass
class RoleSessionClients:
    """Clients signed with a role session's temporary credentials, at the same endpoint and region."""

    region: str
    endpoint_url: str | None
    credentials: dict[str, Any]
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    def client(self, service: str) -> Any:
        if service not in self._cache:
            # A session per client: boto3's default session is not safe to share between threads.
            self._cache[service] = boto3.session.Session().client(
                service,
                region_name=self.region,
                endpoint_url=self.endpoint_url,
                aws_access_key_id=self.credentials["AccessKeyId"],
                aws_secret_access_key=self.credentials["SecretAccessKey"],
                aws_session_token=self.credentials["SessionToken"],
            )
        return self._cache[service]


def session_name(who: str) -> str:
    """`who` as an AssumeRole session name: invalid characters become '-', cut to 64, at least 2 long."""
    name = _SESSION_NAME_CHARACTERS.sub("-", who.strip())[:_SESSION_NAME_MAX]
    return name if len(name) >= 2 else "ml-lead"


def is_session_of(caller_arn: str, role_arn: str) -> bool:
    """Whether `caller_arn` (GetCallerIdentity's Arn) is a session of the role `role_arn`.

    A session is `arn:<partition>:sts::<account>:assumed-role/<role name>/<session>`; the role
    `arn:<partition>:iam::<account>:role/<path/><role name>` (the path is not in the session's ARN)."""
    caller, role = caller_arn.split(":"), role_arn.split(":")
    if len(caller) < 6 or len(role) < 6 or caller[4] != role[4]:
        return False
    parts = caller[5].split("/")
    return len(parts) == 3 and parts[0] == "assumed-role" and parts[1] == role[5].rsplit("/", 1)[-1]


def role_arn(pipeline: DeployedPipeline) -> str | None:
    return pipeline.outputs.get(ROLE_OUTPUT)


def as_ml_lead(pipeline: DeployedPipeline, who: str) -> DeployedPipeline:
    """The pipeline reached as the stack's ML leads role; as it is when the stack names no such role or the
    caller already is a session of it."""
    role = role_arn(pipeline)
    if not role:
        return pipeline
    sts = pipeline.client("sts")
    caller = str(sts.get_caller_identity()["Arn"])
    if is_session_of(caller, role):
        return pipeline
    try:
        credentials = sts.assume_role(RoleArn=role, RoleSessionName=session_name(who))["Credentials"]
    except ClientError as error:
        if error_code(error) in DENIED_CODES:
            raise NotAnMlLead(
                f"{error_message(error)}: answering a run needs the ML leads role {role} (stack output {ROLE_OUTPUT}); "
                f"ask the stack's owner to let {caller} assume it (context retrain:mlLeadsPrincipal, docs/deploy.md)"
            ) from None
        raise
    clients = RoleSessionClients(pipeline.clients.region, pipeline.clients.endpoint_url, credentials)
    return DeployedPipeline(config=pipeline.config, clients=clients, outputs=pipeline.outputs)


def refusal(pipeline: DeployedPipeline, error: ClientError) -> NotAnMlLead | None:
    """AWS's refusal of a call made to answer a run, as one line saying which role answering needs; None for
    any other error."""
    if error_code(error) not in DENIED_CODES:
        return None
    role = role_arn(pipeline)
    needed = f"the ML leads role {role} (stack output {ROLE_OUTPUT})" if role else "the stack's ML leads role"
    return NotAnMlLead(
        f"{error_message(error)}: answering a run needs {needed}, whose policy allows states:SendTaskSuccess, "
        f"states:SendTaskFailure and the state table's approval records; answer as that role"
    )


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def error_message(error: ClientError) -> str:
    return " ".join(str(error.response.get("Error", {}).get("Message", "") or error).split())
