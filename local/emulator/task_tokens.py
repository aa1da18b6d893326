"""SendTaskSuccess, SendTaskFailure and SendTaskHeartbeat are authorized on the state machine whose task waits.

The Service Authorization Reference lists no resource type for the three actions (so a policy that grants them
names "*", as the stack's MLLeads role does), yet Step Functions evaluates a callback task's answer against
the state machine of the waiting execution and names it in the refusal: "User: <caller> is not authorized to
perform: states:SendTaskFailure on resource: arn:aws:states:<region>:<account>:stateMachine:<name>"
(NOAA-OWP/hydrovis#837, an EC2 role answering an SSM callback task; aws/aws-cdk#8486, where a maintainer found
the grant works on the state machine's ARN for a Lambda callback and on the activity's for an activity). The
emulator reads no ARN from the request (it carries only `taskToken`) and authorizes it on "*", so its
refusal names no resource. `TaskTokenResources` remembers which state machine each waiting callback token
belongs to and makes that ARN the request's resource. A token the engine does not know (or an activity's)
stays on "*". Pinned in `tests/contract/emulator/test_role_sessions.py`.
"""

from __future__ import annotations

import contextvars
import json
import threading
from collections.abc import Callable
from typing import Any

from local.emulator.seam import iam_actions, replace, service

_ANSWERS = frozenset({"SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat"})
_TARGET = "AWSStepFunctions."


def answered_token(headers: dict[str, str], body: bytes) -> str | None:
    """The taskToken of a SendTask* request (JSON protocol); None for any other Step Functions call."""
    target = headers.get("x-amz-target", "")
    if not target.startswith(_TARGET) or target[len(_TARGET) :] not in _ANSWERS:
        return None
    try:
        token = json.loads(body or b"{}").get("taskToken")
    except (ValueError, AttributeError):
        return None
    return token if isinstance(token, str) else None


class TaskTokenResources:
    """A waiting callback token's state machine is the resource of the calls that answer it (module doc)."""

    def __init__(self) -> None:
        self._machine: contextvars.ContextVar[str] = contextvars.ContextVar("retrain_token_machine", default="")
        self._machines: dict[str, str] = {}
        self._lock = threading.Lock()

    def install(self) -> None:
        sfn = service("stepfunctions")
        replace(sfn, "_execute_task", self._in_execution, "token-resources")
        replace(sfn, "_invoke_with_callback", self._remembering, "token-resources")
        replace(iam_actions(), "extract_resource_arn", self._naming_the_machine, "token-resources")

    def machine_of(self, token: str) -> str | None:
        with self._lock:
            return self._machines.get(token)

    def _in_execution(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def execute(state_def: dict[str, Any], raw_input: Any, execution: Any, ctx: Any) -> Any:
            machine = execution.get("stateMachineArn", "") if isinstance(execution, dict) else ""
            token = self._machine.set(str(machine))
            try:
                return original(state_def, raw_input, execution, ctx)
            finally:
                self._machine.reset(token)

        return execute

    def _remembering(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def invoke(resource: str, input_data: Any, token: str, state_def: dict[str, Any]) -> Any:
            machine = self._machine.get()
            if machine:
                with self._lock:
                    self._machines[token] = machine
            try:
                return original(resource, input_data, token, state_def)
            finally:
                with self._lock:
                    self._machines.pop(token, None)

        return invoke

    def _naming_the_machine(self, original: Callable[..., str]) -> Callable[..., str]:
        # extract_resource_arn(service, method, path, headers, body, params, region, account_id)
        def extract(service_name: str, method: str, path: str, headers: dict[str, str], body: bytes, *rest: Any) -> str:
            resource = original(service_name, method, path, headers, body, *rest)
            if service_name != "states" or resource != "*":
                return resource
            token = answered_token(headers, body)
            return (self.machine_of(token) if token else None) or resource

        return extract
