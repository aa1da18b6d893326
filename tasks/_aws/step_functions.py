"""`RetrainExecutions` on the pipeline's state machine and `WaitingTasks` (Step Functions)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from botocore.exceptions import ClientError

from retrain.ports import ExecutionState, TaskNoLongerWaiting

RUNNING = "RUNNING"


class StepFunctionsExecutions:
    def __init__(self, client: Any, state_machine_arn: str) -> None:
        self._stepfunctions = client
        self._state_machine = state_machine_arn
        # arn:<partition>:states:<region>:<account>:stateMachine:<name> -> ...:execution:<name>:<execution>
        self._execution_prefix = state_machine_arn.replace(":stateMachine:", ":execution:", 1) + ":"

    def running(self) -> list[str]:
        # ListExecutions is eventually consistent: each listed run is confirmed by DescribeExecution,
        # so a run that has just ended is not taken for a running one.
        listing = self._stepfunctions.list_executions(
            stateMachineArn=self._state_machine, statusFilter=RUNNING, maxResults=10
        )
        confirmed = (self.describe(execution["name"]) for execution in listing["executions"])
        return [
            execution["name"]
            for execution, state in zip(listing["executions"], confirmed, strict=True)
            if state and state.running
        ]

    def start(self, name: str, execution_input: dict[str, Any]) -> bool:
        try:
            self._stepfunctions.start_execution(
                stateMachineArn=self._state_machine, name=name, input=json.dumps(execution_input)
            )
        except self._stepfunctions.exceptions.ExecutionAlreadyExists:
            return False
        return True

    def describe(self, name: str) -> ExecutionState | None:
        try:
            described = self._stepfunctions.describe_execution(executionArn=self._execution_prefix + name)
        except self._stepfunctions.exceptions.ExecutionDoesNotExist:
            return None
        return ExecutionState(running=described["status"] == RUNNING, started_at=described["startDate"])


# SendTaskSuccess/SendTaskFailure's errors for a token no task waits on any more (botocore
# `stepfunctions/2016-11-23/service-2.json`): the run ended (timed out, failed, stopped, or the
# local AWS restarted under it) or the token is not one Step Functions issued.
STALE_TOKEN_ERRORS = ("TaskDoesNotExist", "TaskTimedOut", "InvalidToken")


class StepFunctionsTasks:
    """`WaitingTasks`: answers a task that waits for its token."""

    def __init__(self, client: Any) -> None:
        self._stepfunctions = client

    def succeed(self, task_token: str, output: dict[str, Any]) -> None:
        with _still_waiting():
            self._stepfunctions.send_task_success(taskToken=task_token, output=json.dumps(output))

    def fail(self, task_token: str, error: str, cause: str) -> None:
        with _still_waiting():
            self._stepfunctions.send_task_failure(taskToken=task_token, error=error, cause=cause)


@contextmanager
def _still_waiting() -> Iterator[None]:
    try:
        yield
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        if code not in STALE_TOKEN_ERRORS:
            raise
        raise TaskNoLongerWaiting(code) from None
