"""Asynchronous invocations lose no event to a throttle, as Lambda's internal queue: EventBridge
invokes its Lambda targets asynchronously, and an event throttled by the function's reserved
concurrency is retried (from 1 s, doubling, up to 5 min apart) for up to its maximum event age (Lambda
developer guide, invocation-async-error-handling). The pipeline's starter has a reserved
concurrency of 1 and gets one event per landed object: none may be dropped."""

from __future__ import annotations

import json

import pytest

from local.clients import LocalClients
from tests.support.emulator import FunctionFactory
from tests.support.polling import wait_until

pytestmark = pytest.mark.local

SLOW = """
import time

def handler(event, context):
    time.sleep(1)
    print("handled", event["detail"]["n"])
    return event["detail"]["n"]
"""
EVENTS = 4


def handled(aws_clients: LocalClients, function: str) -> list[int]:
    try:
        events = aws_clients.client("logs").filter_log_events(logGroupName=f"/aws/lambda/{function}")["events"]
    except aws_clients.client("logs").exceptions.ResourceNotFoundException:
        return []
    return sorted(int(e["message"].split()[1]) for e in events if e["message"].startswith("handled "))


def test_events_beyond_the_reserved_concurrency_are_retried_not_dropped(
    functions: FunctionFactory, aws_clients: LocalClients, unique_name: str
) -> None:
    arn = functions.create("slow", SLOW)
    function = arn.rsplit(":", 1)[-1]
    aws_clients.client("lambda").put_function_concurrency(FunctionName=function, ReservedConcurrentExecutions=1)
    events = aws_clients.client("events")
    rule = events.put_rule(Name=unique_name, EventPattern=json.dumps({"source": [unique_name]}))["RuleArn"]
    # The rule invokes the function under its resource policy, as the stack's rules do (lambda:AddPermission).
    aws_clients.client("lambda").add_permission(
        FunctionName=function,
        StatementId="events",
        Action="lambda:InvokeFunction",
        Principal="events.amazonaws.com",
        SourceArn=rule,
    )
    events.put_targets(Rule=unique_name, Targets=[{"Id": "slow", "Arn": arn}])

    # All at once: at most one runs at a time, the others meet the reserved concurrency.
    events.put_events(
        Entries=[{"Source": unique_name, "DetailType": "tick", "Detail": json.dumps({"n": n})} for n in range(EVENTS)]
    )
    assert wait_until(
        lambda: (done := handled(aws_clients, function)) == list(range(EVENTS)) and done,
        60,
        "every event to be handled once",
    ) == list(range(EVENTS))


def test_a_synchronous_invoke_beyond_the_reserved_concurrency_is_refused_at_once(
    functions: FunctionFactory, aws_clients: LocalClients
) -> None:
    arn = functions.create("off", SLOW)
    lambda_client = aws_clients.client("lambda")
    lambda_client.put_function_concurrency(FunctionName=arn, ReservedConcurrentExecutions=0)
    with pytest.raises(lambda_client.exceptions.TooManyRequestsException):
        lambda_client.invoke(FunctionName=arn, Payload=json.dumps({"detail": {"n": 0}}))
