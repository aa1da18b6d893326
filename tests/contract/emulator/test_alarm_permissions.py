"""A CloudWatch call naming alarms is authorized on each alarm it names.

Source: Service Authorization Reference, "Actions, resources, and condition keys for Amazon CloudWatch":
DescribeAlarms has the resource type `alarm` (`arn:aws:cloudwatch:${Region}:${Account}:alarm:${AlarmName}`);
botocore `monitoring/2010-08-01/service-2.json`: DescribeAlarms takes `AlarmNames`, a list. A policy that
allows DescribeAlarms on some alarms' ARNs lets a role describe those alarms by name, and no other. The
stack's starter Lambda is granted exactly that on the feature alarms (infra/monitoring.py, `grant_describe`).
"""

from __future__ import annotations

import pytest

from local.clients import LocalClients
from tests.support.emulator import FunctionFactory, invoke
from tests.support.iam import RoleFactory, denial

pytestmark = pytest.mark.local

# Describes the alarms named and reports their names or the error code and message.
DESCRIBER = """
import boto3
from botocore.exceptions import ClientError

def handler(event, context):
    try:
        alarms = boto3.client("cloudwatch").describe_alarms(AlarmNames=event["names"])["MetricAlarms"]
        return {"names": sorted(alarm["AlarmName"] for alarm in alarms)}
    except ClientError as error:
        return {"code": error.response["Error"]["Code"], "message": error.response["Error"]["Message"]}
"""


def test_describe_alarms_is_authorized_on_every_alarm_it_names(
    aws_clients: LocalClients, functions: FunctionFactory, roles: RoleFactory, unique_name: str
) -> None:
    cloudwatch = aws_clients.client("cloudwatch")
    names = [f"{unique_name}-{suffix}" for suffix in ("a", "b", "other")]
    for name in names:
        cloudwatch.put_metric_alarm(
            AlarmName=name,
            Namespace="Retrain/Test",
            MetricName="Drift",
            Statistic="Maximum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1.0,
            ComparisonOperator="GreaterThanThreshold",
        )
    arns = [f"arn:aws:cloudwatch:us-east-1:000000000000:alarm:{name}" for name in names]
    role = roles.create(
        "lambda.amazonaws.com", {"Effect": "Allow", "Action": "cloudwatch:DescribeAlarms", "Resource": arns[:2]}
    )
    function_arn = functions.create("alarms", DESCRIBER, role=role)
    function_name = function_arn.rsplit(":", 1)[-1]
    try:
        allowed = invoke(aws_clients, function_arn, {"names": names[:2]})
        # The refused alarm is the second named: every name is checked, not only the first.
        refused = invoke(aws_clients, function_arn, {"names": [names[0], names[2]]})
    finally:
        cloudwatch.delete_alarms(AlarmNames=names)

    assert allowed == {"names": names[:2]}
    # AccessDenied over the query protocol, AccessDeniedException over JSON/CBOR (botocore's choice of protocol).
    assert refused["code"] in ("AccessDenied", "AccessDeniedException")
    assert refused["message"] == denial(role, function_name, "cloudwatch:DescribeAlarms", arns[2])
