"""Transient faults on the local AWS (`local/emulator/faults.py`) and how a run's history shows them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from local.emulator.faults import clear_rules, write_rules
from tests.support.pipeline import LocalPipeline

# The errors Step Functions names a throttle and an internal error by (SageMaker's optimized integrations:
# the Java client's generic exception, the code in the cause).
THROTTLED = ("ThrottlingException", "TooManyRequestsException", "ProvisionedThroughputExceededException")
INTERNAL = ("InternalFailure", "ServiceException", "InternalServiceException", "InternalServerErrorException")
GENERIC = "SageMaker.AmazonSageMakerException"


def transient(state: str) -> list[dict[str, Any]]:
    """The state's first call throttled, its second failing with a 5xx."""
    return [{"state": state, "fault": "throttle", "count": 1}, {"state": state, "fault": "5xx", "count": 1}]


def recovered(errors: list[str]) -> bool:
    """Whether a state's first two attempts failed with a throttle and an internal error."""
    if len(errors) < 2:
        return False
    throttled, internal = errors[:2]
    return (throttled.endswith(THROTTLED) or throttled == GENERIC) and (
        internal.endswith(INTERNAL) or internal == GENERIC
    )


@contextmanager
def faults_on(local: LocalPipeline, rules: list[dict[str, Any]]) -> Iterator[None]:
    """The rules set for the block's calls, cleared after it whatever happens."""
    write_rules(local.aws.home, rules)
    try:
        yield
    finally:
        clear_rules(local.aws.home)


def task_failures(events: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Each Task state entered: the errors its attempts failed with, in order."""
    failures: dict[str, list[str]] = {}
    current = ""
    for event in events:
        entered = event.get("stateEnteredEventDetails")
        if entered and event["type"] == "TaskStateEntered":
            current = entered["name"]
            failures.setdefault(current, [])
        elif event["type"] == "TaskFailed":
            failures[current].append(event["taskFailedEventDetails"]["error"])
    return failures


def history(local: LocalPipeline, execution_arn: str) -> list[dict[str, Any]]:
    sfn = local.client("stepfunctions")
    events: list[dict[str, Any]] = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
    return events
