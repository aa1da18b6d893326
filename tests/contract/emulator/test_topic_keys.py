"""A role session's Publish to a KMS-encrypted topic needs the topic's key, as AWS requires it.

Sources: Amazon SNS developer guide, "Key management" ("Allow a user to send messages to a topic with SSE":
"The publisher must have the kms:GenerateDataKey and kms:Decrypt permissions for the AWS KMS key"; "AWS KMS
errors": KMSAccessDeniedException, HTTP 400); botocore's sns model, Publish's errors (KMSAccessDeniedException,
code `KMSAccessDenied`, 400: "The ciphertext references a key that doesn't exist or that you don't have access
to."; KMSNotFoundException `KMSNotFound`; KMSDisabledException `KMSDisabled`); AWS KMS developer guide, "Key
policies": a key policy must allow the action, directly or by delegating to the account's IAM policies, and an
explicit Deny in either refuses. See `local/emulator/topic_keys.py`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local.clients import LocalClients
from tests.support.iam import assumed_client

pytestmark = pytest.mark.local

ACCOUNT = "000000000000"
ACCOUNT_ROOT = f"arn:aws:iam::{ACCOUNT}:root"
DELEGATE_TO_IAM = {
    "Sid": "Enable IAM User Permissions",
    "Effect": "Allow",
    "Principal": {"AWS": ACCOUNT_ROOT},
    "Action": "kms:*",
    "Resource": "*",
}


class Account:
    """Roles, keys and topics a test creates in the local AWS, removed afterwards."""

    def __init__(self, clients: LocalClients, prefix: str) -> None:
        self.clients = clients
        self.prefix = prefix
        self.iam = clients.client("iam")
        self.kms = clients.client("kms")
        self.sns = clients.client("sns")
        self.roles: list[str] = []
        self.topics: list[str] = []
        self.keys: list[str] = []

    def role(self, *statements: dict[str, Any]) -> str:
        name = f"{self.prefix}-{len(self.roles)}"
        trust = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": ACCOUNT_ROOT}, "Action": "sts:AssumeRole"}]}
        arn = str(self.iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"])
        self.roles.append(name)
        document = {"Version": "2012-10-17", "Statement": list(statements)}
        self.iam.put_role_policy(RoleName=name, PolicyName="policy", PolicyDocument=json.dumps(document))
        return arn

    def key(self, *statements: dict[str, Any]) -> str:
        policy = {"Version": "2012-10-17", "Statement": list(statements or (DELEGATE_TO_IAM,))}
        arn = str(self.kms.create_key(Policy=json.dumps(policy))["KeyMetadata"]["Arn"])
        self.keys.append(arn)
        return arn

    def topic(self, key: str | None) -> str:
        attributes = {"KmsMasterKeyId": key} if key else {}
        name = f"{self.prefix}-{len(self.topics)}"
        arn = str(self.sns.create_topic(Name=name, Attributes=attributes)["TopicArn"])
        self.topics.append(arn)
        return arn

    def delete_all(self) -> None:
        for topic in self.topics:
            self.sns.delete_topic(TopicArn=topic)
        for key in self.keys:
            self.kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
        for name in self.roles:
            self.iam.delete_role_policy(RoleName=name, PolicyName="policy")
            self.iam.delete_role(RoleName=name)


@pytest.fixture
def account(aws_clients: LocalClients, unique_name: str) -> Iterator[Account]:
    made = Account(aws_clients, unique_name)
    yield made
    made.delete_all()


def publish(account: Account, topic: str, key: str | None, *actions: str) -> Any:
    """A session of a role allowed sns:Publish on `topic` and `actions` on `key`: its SNS client."""
    statements: list[dict[str, Any]] = [{"Effect": "Allow", "Action": "sns:Publish", "Resource": topic}]
    if actions:
        statements.append({"Effect": "Allow", "Action": list(actions), "Resource": key})
    return assumed_client(account.clients, account.role(*statements), "sns", session="publisher")


def refused(client: Any, topic: str) -> ClientError:
    with pytest.raises(ClientError) as caught:
        client.publish(TopicArn=topic, Subject="s", Message="m")
    return caught.value


def session_of(account: Account) -> str:
    return f"arn:aws:sts::{ACCOUNT}:assumed-role/{account.roles[-1]}/publisher"


def test_publishing_to_an_encrypted_topic_needs_generate_data_key_and_decrypt_on_its_key(account: Account) -> None:
    key = account.key()
    topic = account.topic(key)

    without_key = refused(publish(account, topic, key), topic)
    session = session_of(account)
    without_decrypt = refused(publish(account, topic, key, "kms:GenerateDataKey"), topic)
    decrypt_session = session_of(account)
    granted = publish(account, topic, key, "kms:GenerateDataKey", "kms:Decrypt")

    assert granted.publish(TopicArn=topic, Subject="s", Message="m")["MessageId"]
    assert without_key.response["Error"]["Code"] == "KMSAccessDenied"
    assert without_key.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert without_key.response["Error"]["Message"].startswith(
        f"User: {session} is not authorized to perform: kms:GenerateDataKey on resource: {key} because no "
        "identity-based policy allows the kms:GenerateDataKey action (Service: AWSKMS; Status Code: 400; "
        "Error Code: AccessDeniedException; Request ID: "
    )
    assert without_decrypt.response["Error"]["Code"] == "KMSAccessDenied"
    assert without_decrypt.response["Error"]["Message"].startswith(
        f"User: {decrypt_session} is not authorized to perform: kms:Decrypt on resource: {key} because no "
        "identity-based policy allows the kms:Decrypt action"
    )


def test_a_topic_naming_its_key_by_alias_is_checked_on_the_aliased_key(account: Account, unique_name: str) -> None:
    key = account.key()
    alias = f"alias/{unique_name}"
    account.kms.create_alias(AliasName=alias, TargetKeyId=key)
    try:
        topic = account.topic(alias)
        denied = refused(publish(account, topic, key), topic)
        granted = publish(account, topic, key, "kms:GenerateDataKey", "kms:Decrypt")
        assert granted.publish(TopicArn=topic, Message="m")["MessageId"]
    finally:
        account.kms.delete_alias(AliasName=alias)

    assert denied.response["Error"]["Code"] == "KMSAccessDenied"
    assert f"kms:GenerateDataKey on resource: {key} because" in denied.response["Error"]["Message"]


def test_the_key_policy_decides_too(account: Account) -> None:
    """A key policy that denies the role refuses it whatever its identity policy allows; one that neither
    delegates to IAM nor names the role allows it nothing."""
    both = ("kms:GenerateDataKey", "kms:Decrypt")
    denying_role = f"arn:aws:iam::{ACCOUNT}:role/{account.prefix}-0"
    denying = account.key(
        DELEGATE_TO_IAM,
        {"Effect": "Deny", "Principal": {"AWS": denying_role}, "Action": "kms:GenerateDataKey", "Resource": "*"},
    )
    denied_topic = account.topic(denying)
    explicit = refused(publish(account, denied_topic, denying, *both), denied_topic)
    admin = {"AWS": f"arn:aws:iam::{ACCOUNT}:role/admin"}
    admin_only = account.key({"Effect": "Allow", "Principal": admin, "Action": "kms:*", "Resource": "*"})
    closed_topic = account.topic(admin_only)
    closed = refused(publish(account, closed_topic, admin_only, *both), closed_topic)

    assert account.roles[0] == denying_role.rsplit("/", 1)[-1]
    assert explicit.response["Error"]["Code"] == "KMSAccessDenied"
    assert (
        f"kms:GenerateDataKey on resource: {denying} with an explicit deny in a resource-based policy"
        in (explicit.response["Error"]["Message"])
    )
    assert closed.response["Error"]["Code"] == "KMSAccessDenied"
    assert (
        f"kms:GenerateDataKey on resource: {admin_only} because no resource-based policy allows"
        in (closed.response["Error"]["Message"])
    )


def test_a_disabled_or_missing_key_refuses_the_publish(account: Account) -> None:
    key = account.key()
    topic = account.topic(key)
    client = publish(account, topic, key, "kms:GenerateDataKey", "kms:Decrypt")
    account.kms.disable_key(KeyId=key)
    disabled = refused(client, topic)
    missing_topic = account.topic(f"arn:aws:kms:us-east-1:{ACCOUNT}:key/00000000-0000-0000-0000-000000000000")
    missing = refused(publish(account, missing_topic, key, "kms:GenerateDataKey", "kms:Decrypt"), missing_topic)

    assert disabled.response["Error"]["Code"] == "KMSDisabled"
    assert missing.response["Error"]["Code"] == "KMSNotFound"


def test_an_unencrypted_topic_needs_no_key(account: Account) -> None:
    topic = account.topic(None)
    assert publish(account, topic, None).publish(TopicArn=topic, Message="m")["MessageId"]
