"""A role session's request is authorized by its action, never served unauthorized.

Sources: IAM user guide, "Policy evaluation logic" (every request is evaluated for its action on its resource; by
default it is implicitly denied); Service Authorization Reference, Amazon SageMaker: `InvokeEndpoint` needs
`sagemaker:InvokeEndpoint` on the `endpoint` resource type (`arn:aws:sagemaker:<region>:<account>:endpoint/<name>`);
botocore `sagemaker-runtime/2017-05-13/service-2.json`, InvokeEndpoint: `POST /endpoints/{EndpointName}/invocations`.
The emulator's request path let a request through when it could not name its IAM action (it only checked the
signature), and the local SageMaker authorized only its JSON API, so a session's InvokeEndpoint was served
whatever its role allowed.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from local.clients import LocalClients
from tests.support.iam import RoleFactory, assumed_client, denial

pytestmark = pytest.mark.local

ACCOUNT_ROOT = "arn:aws:iam::000000000000:root"


def person_role(aws_clients: LocalClients, roles: RoleFactory, *statements: dict[str, Any]) -> str:
    """A role the account may assume (sts:AssumeRole), allowed `statements`."""
    arn = roles.create("sagemaker.amazonaws.com", *statements)
    trust = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": ACCOUNT_ROOT}, "Action": "sts:AssumeRole"}]}
    aws_clients.client("iam").update_assume_role_policy(
        RoleName=arn.rsplit("/", 1)[-1], PolicyDocument=json.dumps(trust)
    )
    return arn


def test_invoke_endpoint_by_a_role_session_needs_sagemaker_invoke_endpoint_on_the_endpoint(
    aws_clients: LocalClients, roles: RoleFactory, unique_name: str
) -> None:
    allowed_arn = f"arn:aws:sagemaker:us-east-1:000000000000:endpoint/{unique_name}-allowed"
    role = person_role(
        aws_clients, roles, {"Effect": "Allow", "Action": "sagemaker:InvokeEndpoint", "Resource": allowed_arn}
    )
    runtime = assumed_client(aws_clients, role, "sagemaker-runtime", session="caller")

    with pytest.raises(ClientError) as refused:
        runtime.invoke_endpoint(EndpointName=f"{unique_name}-other", Body=b"1,2", ContentType="text/csv")
    with pytest.raises(ClientError) as allowed:
        runtime.invoke_endpoint(EndpointName=f"{unique_name}-allowed", Body=b"1,2", ContentType="text/csv")

    other_arn = f"arn:aws:sagemaker:us-east-1:000000000000:endpoint/{unique_name}-other"
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    assert refused.value.response["Error"]["Message"] == denial(role, "caller", "sagemaker:InvokeEndpoint", other_arn)
    # Authorized, the request reaches the runtime, which has no such endpoint.
    assert allowed.value.response["Error"]["Code"] != "AccessDeniedException"


def signed_post(aws_clients: LocalClients, credentials: Credentials, service: str, body: bytes) -> tuple[int, str]:
    """A SigV4-signed POST to `service` that names no operation (no X-Amz-Target); its status and body."""
    request = AWSRequest(
        method="POST",
        url=f"{aws_clients.endpoint_url}/",
        data=body,
        headers={"Content-Type": "application/x-amz-json-1.0"},
    )
    SigV4Auth(credentials, service, aws_clients.region).add_auth(request)
    prepared = urllib.request.Request(request.url, data=body, headers=dict(request.headers), method="POST")
    try:
        with urllib.request.urlopen(prepared, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_a_role_sessions_request_whose_action_cannot_be_named_is_refused_not_served(
    aws_clients: LocalClients, roles: RoleFactory
) -> None:
    # DynamoDB names its operation in X-Amz-Target; without one the emulator cannot name the IAM action.
    role = person_role(aws_clients, roles, {"Effect": "Allow", "Action": "dynamodb:ListTables", "Resource": "*"})
    issued = aws_clients.client("sts").assume_role(RoleArn=role, RoleSessionName="caller")["Credentials"]
    session = Credentials(issued["AccessKeyId"], issued["SecretAccessKey"], issued["SessionToken"])
    root = Credentials("testing", "testing")

    status, answer = signed_post(aws_clients, session, "dynamodb", b"{}")
    _, served = signed_post(aws_clients, root, "dynamodb", b"{}")

    assert status in (400, 403)
    assert json.loads(answer)["__type"] == "AccessDeniedException"
    session_arn = f"arn:aws:sts::000000000000:assumed-role/{role.rsplit('/', 1)[-1]}/caller"
    assert f"User: {session_arn} is not authorized to perform: dynamodb:" in answer
    # The account's own request is served as before (the service answers it).
    assert json.loads(served)["__type"] == "UnknownOperationException"
