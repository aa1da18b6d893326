"""Roles in the local IAM for the tests that check what a role may do."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import boto3

from local.clients import LocalClients


@dataclass
class RoleFactory:
    """Creates roles trusting a service, each with one inline policy; `delete_all` removes them."""

    iam: Any
    prefix: str
    made: list[str] = field(default_factory=list)

    def create(self, service: str, *statements: dict[str, Any]) -> str:
        """A role `service` (e.g. `sagemaker.amazonaws.com`) may assume, allowed `statements`; its ARN."""
        name = f"{self.prefix}-{len(self.made)}"
        trust = {"Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]}
        arn = str(self.iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"])
        document = {"Version": "2012-10-17", "Statement": list(statements)}
        self.iam.put_role_policy(RoleName=name, PolicyName="policy", PolicyDocument=json.dumps(document))
        self.made.append(name)
        return arn

    def delete_all(self) -> None:
        for name in self.made:
            self.iam.delete_role_policy(RoleName=name, PolicyName="policy")
            self.iam.delete_role(RoleName=name)
        self.made.clear()


def denial(role_arn: str, session: str, action: str, resource: str, quoted: bool = False) -> str:
    """IAM's refusal of a role session (S3 quotes the resource)."""
    role = role_arn.rsplit("/", 1)[-1]
    where = f'"{resource}"' if quoted else resource
    return (
        f"User: arn:aws:sts::000000000000:assumed-role/{role}/{session} is not authorized to perform: {action} "
        f"on resource: {where} because no identity-based policy allows the {action} action"
    )


def assumed_client(clients: LocalClients, role_arn: str, service: str, session: str = "ml-lead") -> Any:
    """A client of `service` signed with the session of `role_arn` that the account assumes (sts:AssumeRole)."""
    credentials = clients.client("sts").assume_role(RoleArn=role_arn, RoleSessionName=session)["Credentials"]
    return boto3.session.Session().client(
        service,
        endpoint_url=clients.endpoint_url,
        region_name=clients.region,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def s3_reads(bucket: str, *prefixes: str) -> list[dict[str, Any]]:
    """GetObject under `prefixes` of `bucket` and ListBucket on it."""
    return [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": [f"arn:aws:s3:::{bucket}/{p}*" for p in prefixes]},
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}"},
    ]


def s3_writes(bucket: str, prefix: str) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{bucket}/{prefix}*"}


def ecr_pulls(repository_arn: str, token: bool = True) -> list[dict[str, Any]]:
    """What SageMaker needs of a role to pull an image of `repository_arn` (developer guide, sagemaker-roles):
    the repository's layers and, unless `token` is false, the registry's authorization token (on "*")."""
    actions = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    layers = {"Effect": "Allow", "Action": actions, "Resource": repository_arn}
    return [layers, {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"}] if token else [layers]


def sagemaker_log_writes() -> dict[str, Any]:
    actions = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]
    return {"Effect": "Allow", "Action": actions, "Resource": "arn:aws:logs:*:*:log-group:/aws/sagemaker/*"}
