"""A function's logs reach CloudWatch Logs only when its execution role lets Lambda write them.

Sources: Lambda developer guide, "Sending Lambda function logs to CloudWatch Logs" (Lambda sends them "provided your
function's execution role has the necessary permissions": logs:CreateLogGroup, logs:CreateLogStream,
logs:PutLogEvents); AWS Lambda Operator Guide, "Access to CloudWatch Logs" ("If the role is missing these
permissions, the function still runs but it is unable to log any output to the CloudWatch service"); Service
Authorization Reference, CloudWatch Logs (CreateLogStream and PutLogEvents on `log-group:<group>:log-stream:<stream>`,
CreateLogGroup on `log-group:<group>`).
"""

from __future__ import annotations

from typing import Any

import pytest

from local.clients import LocalClients
from tests.support.emulator import FunctionFactory, invoke
from tests.support.iam import RoleFactory

pytestmark = pytest.mark.local

PRINTS = """
def handler(event, context):
    print("the function ran")
    return {"ran": True}
"""


def log_lines(logs: Any, group: str) -> list[str]:
    if not logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]:
        return []
    return [event["message"] for event in logs.filter_log_events(logGroupName=group)["events"]]


def test_a_function_whose_role_may_not_write_logs_runs_and_its_logs_are_missing(
    aws_clients: LocalClients, functions: FunctionFactory, roles: RoleFactory
) -> None:
    logs = aws_clients.client("logs")
    writer = roles.create(
        "lambda.amazonaws.com",
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": "arn:aws:logs:us-east-1:000000000000:log-group:/aws/lambda/*",
        },
    )
    silent = roles.create("lambda.amazonaws.com", {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"})
    logged_arn = functions.create("logged", PRINTS, role=writer)
    unlogged_arn = functions.create("unlogged", PRINTS, role=silent)

    assert invoke(aws_clients, logged_arn, {}) == {"ran": True}
    assert invoke(aws_clients, unlogged_arn, {}) == {"ran": True}

    logged = log_lines(logs, f"/aws/lambda/{logged_arn.rsplit(':', 1)[-1]}")
    assert any("the function ran" in line for line in logged)
    assert log_lines(logs, f"/aws/lambda/{unlogged_arn.rsplit(':', 1)[-1]}") == []


def test_a_role_that_may_write_streams_but_not_create_the_group_logs_only_into_an_existing_group(
    aws_clients: LocalClients, functions: FunctionFactory, roles: RoleFactory, unique_name: str
) -> None:
    logs = aws_clients.client("logs")
    streams_only = roles.create(
        "lambda.amazonaws.com",
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": "arn:aws:logs:us-east-1:000000000000:log-group:/aws/lambda/*",
        },
    )
    without_group = functions.create("nogroup", PRINTS, role=streams_only)
    with_group = functions.create("group", PRINTS, role=streams_only)
    existing = f"/aws/lambda/{with_group.rsplit(':', 1)[-1]}"
    logs.create_log_group(logGroupName=existing)  # as the stack's LogGroup resource makes it
    try:
        invoke(aws_clients, without_group, {})
        invoke(aws_clients, with_group, {})

        assert log_lines(logs, f"/aws/lambda/{without_group.rsplit(':', 1)[-1]}") == []
        assert any("the function ran" in line for line in log_lines(logs, existing))
    finally:
        logs.delete_log_group(logGroupName=existing)
