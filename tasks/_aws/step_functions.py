"""`RetrainExecutions` on the pipeline's state machine (Step Functions)."""

from __future__ import annotations

import json
from typing import Any

from retrain.ports import ExecutionState

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
