"""A function's SDK calls are authorized as its execution role.

Sources: Lambda developer guide, "Defining Lambda function permissions with an execution role" (the
function gets the role's temporary credentials in AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
AWS_SESSION_TOKEN; the session is `assumed-role/<role>/<function name>`); an identity-based denial is
"User: <session ARN> is not authorized to perform: <action> on resource: <arn> because no
identity-based policy allows the <action> action", the ARN in quotes for S3 (S3 user guide,
"Troubleshoot access denied (403 Forbidden) errors in Amazon S3").
"""

from __future__ import annotations

import pytest

from local.clients import LocalClients
from tests.support.emulator import FunctionFactory, invoke
from tests.support.iam import RoleFactory, denial

pytestmark = pytest.mark.local

# Reads s3://<bucket>/<key> and reports what it got or the error code and message.
READER = """
import boto3
from botocore.exceptions import ClientError

def handler(event, context):
    s3 = boto3.client("s3")
    try:
        body = s3.get_object(Bucket=event["bucket"], Key=event["key"])["Body"].read().decode()
        return {"body": body}
    except ClientError as error:
        return {"code": error.response["Error"]["Code"], "message": error.response["Error"]["Message"]}
"""


def test_a_function_may_make_the_calls_its_role_allows_and_no_others(
    aws_clients: LocalClients, functions: FunctionFactory, roles: RoleFactory, unique_name: str
) -> None:
    s3 = aws_clients.client("s3")
    s3.create_bucket(Bucket=unique_name)
    s3.put_object(Bucket=unique_name, Key="allowed/a.txt", Body=b"yes")
    s3.put_object(Bucket=unique_name, Key="other/b.txt", Body=b"no")
    role = roles.create(
        "lambda.amazonaws.com",
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{unique_name}/allowed/*"},
    )
    function_arn = functions.create("reader", READER, role=role)
    function_name = function_arn.rsplit(":", 1)[-1]

    allowed = invoke(aws_clients, function_arn, {"bucket": unique_name, "key": "allowed/a.txt"})
    refused = invoke(aws_clients, function_arn, {"bucket": unique_name, "key": "other/b.txt"})

    assert allowed == {"body": "yes"}
    assert refused["code"] == "AccessDenied"
    resource = f"arn:aws:s3:::{unique_name}/other/b.txt"
    assert refused["message"] == denial(role, function_name, "s3:GetObject", resource, quoted=True)
    # The account's own calls are not the function's: they are served as before.
    assert s3.get_object(Bucket=unique_name, Key="other/b.txt")["Body"].read() == b"no"


# Describes a model package group and reports its name or the error code and message.
GROUP_READER = """
import boto3
from botocore.exceptions import ClientError

def handler(event, context):
    try:
        group = boto3.client("sagemaker").describe_model_package_group(ModelPackageGroupName=event["group"])
        return {"name": group["ModelPackageGroupName"]}
    except ClientError as error:
        return {"code": error.response["Error"]["Code"], "message": error.response["Error"]["Message"]}
"""


def test_a_functions_calls_to_the_local_sagemaker_are_authorized_as_its_role_too(
    aws_clients: LocalClients, functions: FunctionFactory, roles: RoleFactory, unique_name: str
) -> None:
    # Service Authorization Reference, SageMaker: DescribeModelPackageGroup on model-package-group/<name>.
    sagemaker = aws_clients.client("sagemaker")
    for group in ("allowed", "other"):
        sagemaker.create_model_package_group(ModelPackageGroupName=f"{unique_name}-{group}")
    allowed_arn = f"arn:aws:sagemaker:us-east-1:000000000000:model-package-group/{unique_name}-allowed"
    role = roles.create(
        "lambda.amazonaws.com",
        {"Effect": "Allow", "Action": "sagemaker:DescribeModelPackageGroup", "Resource": allowed_arn},
    )
    function_arn = functions.create("groups", GROUP_READER, role=role)
    function_name = function_arn.rsplit(":", 1)[-1]

    allowed = invoke(aws_clients, function_arn, {"group": f"{unique_name}-allowed"})
    refused = invoke(aws_clients, function_arn, {"group": f"{unique_name}-other"})

    assert allowed == {"name": f"{unique_name}-allowed"}
    assert refused["code"] == "AccessDeniedException"
    other_arn = f"arn:aws:sagemaker:us-east-1:000000000000:model-package-group/{unique_name}-other"
    assert refused["message"] == denial(role, function_name, "sagemaker:DescribeModelPackageGroup", other_arn)
