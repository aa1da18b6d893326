"""The starter function as tests observe it: its logged decisions, and a pipeline brought to rest.

Stopping a run is an end like any other: the starter hears of it (Step Functions' status-change
event) and would start a follow-up for triggers queued meanwhile. A test that stops runs to start its
own drops the queue first, then waits until the starter has handled every stopped run's end, so no
late follow-up or decision lands in what the test does next.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from retrain.state_table import PARTITION_KEY, QUEUED_TRIGGERS, SORT_KEY
from tests.support.polling import wait_until

DECISION = "retrain trigger handled"


def starter_decisions(logs: Any, function_name: str) -> list[dict[str, Any]]:
    """What the starter logged for each event it handled (Powertools JSON lines), oldest first."""
    events: list[dict[str, Any]] = []
    arguments: dict[str, Any] = {"logGroupName": f"/aws/lambda/{function_name}"}
    try:
        while True:
            page = logs.filter_log_events(**arguments)
            events.extend(page["events"])
            if not page.get("nextToken"):
                break
            arguments["nextToken"] = page["nextToken"]
    except ClientError:
        return []  # no invocation yet: no log group
    decisions = []
    for event in sorted(events, key=lambda e: e["timestamp"]):
        try:
            line = json.loads(event["message"])
        except ValueError:
            continue
        if isinstance(line, dict) and line.get("message") == DECISION:
            decisions.append(line)
    return decisions


def bring_to_rest(
    client: Callable[[str], Any],
    *,
    machine_arn: str,
    table: str,
    pipeline: str,
    starter: str,
    timeout: float = 60,
) -> set[str]:
    """Drop the queued triggers, stop every running execution, and wait until the starter handled the end
    of each one stopped; returns their names."""
    sfn, dynamodb = client("stepfunctions"), client("dynamodb")
    stopped: set[str] = set()

    def at_rest() -> bool:
        dynamodb.delete_item(TableName=table, Key={PARTITION_KEY: {"S": pipeline}, SORT_KEY: {"S": QUEUED_TRIGGERS}})
        running = sfn.list_executions(stateMachineArn=machine_arn, statusFilter="RUNNING")["executions"]
        for execution in running:
            sfn.stop_execution(executionArn=execution["executionArn"], cause="the test starts its own run")
            stopped.add(execution["name"])
        return not running

    wait_until(at_rest, timeout, "every execution to stop")
    wait_until(
        lambda: stopped <= {d.get("ended_run") for d in starter_decisions(client("logs"), starter)},
        timeout,
        "the starter to handle the end of every stopped run",
    )
    return stopped


def bring_stack_to_rest(client: Callable[[str], Any], outputs: dict[str, str], pipeline: str) -> set[str]:
    """`bring_to_rest` for a deployed stack, by its outputs."""
    return bring_to_rest(
        client,
        machine_arn=outputs["StateMachineArn"],
        table=outputs["StateTableName"],
        pipeline=pipeline,
        starter=outputs["StarterFunctionName"],
    )
