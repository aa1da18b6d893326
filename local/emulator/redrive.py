"""Step Functions `RedriveExecution`, which the emulator lacks, as AWS runs it.

Sources: the API reference (RedriveExecution, DescribeExecution, ExecutionRedrivenEventDetails), botocore's
`stepfunctions/2016-11-23/service-2.json` (errors `ExecutionDoesNotExist`, `ExecutionNotRedrivable`,
`ExecutionLimitExceeded`, `InvalidArn`, `ValidationException`; `ClientToken` 1-64 of `[!-~]`; the
`redriveStatusReason` wordings) and the developer guide, "Redriving executions":
- only a Standard execution that is FAILED, ABORTED or TIMED_OUT, that stopped less than 14 days ago
  (within a year of its start, with fewer than 24,999 history events), can be redriven; SUCCEEDED and
  RUNNING ones are refused with `ExecutionNotRedrivable` and DescribeExecution's reason;
- the execution keeps its ARN, input and definition (the one it started with, even after an update);
  it continues from the unsuccessful state, with the input that state had, and the states that
  succeeded are not run again; the history gets `ExecutionRedriven` (its `redriveCount`) and goes on;
- `redriveCount` and `redriveDate` in DescribeExecution and ListExecutions, `redriveStatus` and
  `redriveStatusReason` in DescribeExecution, `$$.Execution.RedriveCount` (and `RedriveTime`) in the
  redriven states;
- a repeated `clientToken` (the SDKs send one) within 15 minutes answers the same redrive again.

Known difference: the emulator does not record a Parallel's branches or a Map's iterations, so a redrive of
either runs the whole state again (AWS re-runs only the failed branches and iterations); the pipeline's
definition has neither. Pinned in `tests/contract/emulator/test_redrive.py`.
"""

from __future__ import annotations

import contextvars
import copy
import json
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from local.emulator.seam import error_response, json_response, replace, require, service
from local.emulator.stepfunctions import STATE_HANDLERS

REDRIVABLE_STATUSES = frozenset({"FAILED", "ABORTED", "TIMED_OUT"})
REDRIVABLE_PERIOD = timedelta(days=14)
MAX_OPEN_TIME = timedelta(days=365)
MAX_HISTORY_EVENTS = 24_999
CLIENT_TOKEN_LIFETIME = timedelta(minutes=15)
CLIENT_TOKENS_KEPT = 10
_CLIENT_TOKEN = re.compile(r"[!-~]{1,64}")
_EXECUTION_ARN = re.compile(r"arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:execution:[^:]+:[^:]+")
# Private fields of the emulator's execution record (kept with its state, never answered).
_DEFINITION = "_retrainDefinition"
_TOKENS = "_retrainRedriveTokens"


def parse_time(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def stamp(moment: datetime) -> str:
    """The emulator's own ISO format (milliseconds, Z)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def not_redrivable_reason(record: dict[str, Any], state_machine_type: str, now: datetime) -> str | None:
    """Why RedriveExecution refuses this execution now (DescribeExecution's `redriveStatusReason`), or None."""
    status = record["status"]
    if record.get("sync") or state_machine_type == "EXPRESS":
        return "Execution of an EXPRESS state machine cannot be redriven"
    if status not in REDRIVABLE_STATUSES:
        return f"Execution is {status} and cannot be redriven"
    if record.get("stopDate") and now - parse_time(record["stopDate"]) > REDRIVABLE_PERIOD:
        return "Execution redrivable period exceeded"
    if now - parse_time(record["startDate"]) > MAX_OPEN_TIME:
        return "Execution has exceeded the max execution time"
    if len(record.get("events", ())) >= MAX_HISTORY_EVENTS:
        return "Execution history event limit exceeded"
    return None


def resume_point(events: list[dict[str, Any]]) -> tuple[str, Any] | None:
    """The state the execution did not leave successfully and the input it entered with: the last state
    entered with no exit after it (a caught error exits its state: the catcher's target is then the one)."""
    open_state: tuple[str, Any] | None = None
    for event in events:
        if event["type"].endswith("StateEntered"):
            details = event["stateEnteredEventDetails"]
            open_state = (details["name"], json.loads(details.get("input") or "{}"))
        elif event["type"].endswith("StateExited") and open_state is not None:
            open_state = None if event["stateExitedEventDetails"]["name"] == open_state[0] else open_state
    return open_state


class Redrive:
    """`RedriveExecution` and the redrive fields of DescribeExecution and ListExecutions (module doc)."""

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()

    def install(self) -> None:
        sfn = service("stepfunctions")
        for name in ("_executions", "_state_machines", "_add_event", "_fail_execution", "_ExecutionError"):
            require(sfn, name)
        for name in ("_emit_execution_status_event", "_apply_input_path", "_apply_output_path", "_fail_state_error"):
            require(sfn, name)
        for name in STATE_HANDLERS.values():
            require(sfn, name)
        replace(sfn, "handle_request", self._with_redrive_action, "redrive")
        replace(sfn, "_start_execution", self._keeping_definition, "redrive")
        replace(sfn, "_stop_execution", self._detaching_on_stop, "redrive")
        replace(sfn, "_describe_execution", self._described, "redrive")
        replace(sfn, "_list_executions", self._listed, "redrive")

    # --- the API ---------------------------------------------------------------------------------

    def _with_redrive_action(self, original: Callable[..., Any]) -> Callable[..., Any]:
        finalize = require(service("stepfunctions"), "_finalize_response")

        async def handle(method: str, path: str, headers: dict[str, str], body: bytes, params: dict[str, Any]) -> Any:
            if headers.get("x-amz-target", "").rsplit(".", 1)[-1] != "RedriveExecution":
                return await original(method, path, headers, body, params)
            try:
                data = json.loads(body) if body else {}
            except ValueError:
                return error_response("SerializationException", "Invalid JSON", 400)
            return finalize(self.redrive(data if isinstance(data, dict) else {}))

        return handle

    def redrive(self, data: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        sfn = service("stepfunctions")
        arn, token = data.get("executionArn"), data.get("clientToken")
        if not isinstance(arn, str):
            return error_response(
                "ValidationException",
                "1 validation error detected: Value null at 'executionArn' failed to satisfy constraint: "
                "Member must not be null",
            )
        if token is not None and not (isinstance(token, str) and _CLIENT_TOKEN.fullmatch(token)):
            return error_response(
                "ValidationException",
                "1 validation error detected: Value at 'clientToken' failed to satisfy constraint: Member must "
                "have length between 1 and 64 and satisfy regular expression pattern: [!-~]+",
            )
        if not _EXECUTION_ARN.fullmatch(arn):
            return error_response("InvalidArn", f"Invalid Arn: '{arn}'")
        with self._lock:
            record = sfn._executions.get(arn)
            if record is None:
                return error_response("ExecutionDoesNotExist", f"Execution Does Not Exist: '{arn}'")
            now = self._clock()
            repeated = self._repeated(record, token, now)
            if repeated is not None:
                return json_response({"redriveDate": repeated})
            machine = sfn._state_machines.get(record["stateMachineArn"]) or {}
            reason = not_redrivable_reason(record, machine.get("type", "STANDARD"), now)
            if reason is not None:
                return error_response("ExecutionNotRedrivable", reason)
            redrive_date = self._start(sfn, record, now)
            if token is not None:
                tokens = [*record.get(_TOKENS, []), {"token": token, "redriveDate": redrive_date, "at": stamp(now)}]
                record[_TOKENS] = tokens[-CLIENT_TOKENS_KEPT:]
        return json_response({"redriveDate": redrive_date})

    @staticmethod
    def _repeated(record: dict[str, Any], token: Any, now: datetime) -> str | None:
        for used in record.get(_TOKENS, []):
            if used["token"] == token and now - parse_time(used["at"]) <= CLIENT_TOKEN_LIFETIME:
                return str(used["redriveDate"])
        return None

    def _start(self, sfn: Any, record: dict[str, Any], now: datetime) -> str:
        definition = json.loads(record.get(_DEFINITION) or sfn._state_machines[record["stateMachineArn"]]["definition"])
        resume = resume_point(record["events"])
        if resume is None:  # it failed before entering a state: all of it again
            resume = (definition.get("StartAt"), json.loads(record.get("input") or "{}"))
        redrive_date = stamp(now)
        count = int(record.get("redriveCount", 0)) + 1
        record.update(status="RUNNING", stopDate=None, output=None, error=None, cause=None, redriveCount=count)
        record["redriveDate"] = redrive_date
        sfn._add_event(record, "ExecutionRedriven", {"executionRedrivenEventDetails": {"redriveCount": count}})
        sfn._emit_execution_status_event(record)
        context = {
            "QueryLanguage": definition.get("QueryLanguage", "JSONPath"),
            "Execution": {
                "Id": record["executionArn"],
                "Input": json.loads(record.get("input") or "{}"),
                "Name": record["name"],
                "StartTime": record["startDate"],
                "RedriveCount": count,
                "RedriveTime": redrive_date,
            },
            "StateMachine": {"Id": record["stateMachineArn"], "Name": record["stateMachineArn"].rsplit(":", 1)[-1]},
            "variables": {},
        }
        drive = contextvars.copy_context()  # the request's account and region scope the engine's stores
        threading.Thread(
            target=drive.run, args=(self._drive, sfn, record, definition, resume, context), daemon=True
        ).start()
        return redrive_date

    # --- the engine, from the resume point -------------------------------------------------------

    @staticmethod
    def _drive(
        sfn: Any,
        record: dict[str, Any],
        definition: dict[str, Any],
        resume: tuple[str | None, Any],
        ctx: dict[str, Any],
    ) -> None:
        """The engine's top-level loop (`_run_execution`), entered at the resume point: the same history
        events, state handlers (with the project's fixes on them) and ends."""
        states: dict[str, Any] = definition.get("States", {})
        name: str | None = resume[0]
        data = resume[1]
        try:
            while name and record["status"] == "RUNNING":
                state = states.get(name)
                if not state:
                    raise sfn._ExecutionError("States.Runtime", f"State '{name}' not found in definition")
                kind = state.get("Type")
                ctx["State"] = {"Name": name, "EnteredTime": stamp(datetime.now(UTC)), "RetryCount": 0}
                sfn._add_event(
                    record,
                    f"{kind}StateEntered",
                    {"stateEnteredEventDetails": {"name": name, "input": json.dumps(data)}},
                )
                if kind == "Succeed":
                    data = sfn._apply_output_path(state, sfn._apply_input_path(state, data, ctx), ctx)
                    next_name = None
                elif kind == "Fail":
                    raise sfn._ExecutionError(*sfn._fail_state_error(state, data, ctx))
                elif kind in STATE_HANDLERS:
                    handler = getattr(sfn, STATE_HANDLERS[kind])
                    if kind in ("Task", "Parallel", "Map"):
                        data, next_name = handler(state, data, record, ctx)
                    else:
                        data, next_name = handler(state, data, ctx)
                else:
                    raise sfn._ExecutionError("States.Runtime", f"Unknown state type: {kind}")
                sfn._add_event(
                    record,
                    f"{kind}StateExited",
                    {"stateExitedEventDetails": {"name": name, "output": json.dumps(data)}},
                )
                name = next_name
            if record["status"] == "RUNNING":
                output = json.dumps(data)
                record.update(status="SUCCEEDED", output=output, stopDate=stamp(datetime.now(UTC)))
                sfn._add_event(record, "ExecutionSucceeded", {"executionSucceededEventDetails": {"output": output}})
                sfn._emit_execution_status_event(record)
        except sfn._ExecutionError as error:
            sfn._fail_execution(record, error.error, error.cause)
        except Exception as error:  # the engine's own last resort, as `_run_execution` has it
            sfn._fail_execution(record, "States.Runtime", str(error))

    # --- what the other actions answer -----------------------------------------------------------

    @staticmethod
    def _keeping_definition(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
        """A redriven execution runs the definition it started with, even after UpdateStateMachine."""
        sfn = service("stepfunctions")

        def start(data: Any) -> Any:
            response = original(data)
            if response[0] == 200:
                record = sfn._executions.get(json.loads(response[2])["executionArn"])
                machine = sfn._state_machines.get(record["stateMachineArn"]) if record else None
                if record is not None and machine is not None:
                    record[_DEFINITION] = machine["definition"]
            return response

        return start

    @staticmethod
    def _detaching_on_stop(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
        """A stopped execution's history ends at `ExecutionAborted`. The engine's thread of it only looks at
        the status between states, so a state still running would add its events later, and after a
        redrive (RUNNING again) drive on beside the redriven one: it keeps the record it had, the store a copy."""
        sfn = service("stepfunctions")

        def stop(data: Any) -> Any:
            response = original(data)
            arn = data.get("executionArn") if isinstance(data, dict) else None
            record = sfn._executions.get(arn) if response[0] == 200 and arn else None
            if record is not None:
                sfn._executions[arn] = copy.deepcopy(record)
            return response

        return stop

    def _described(self, original: Callable[[Any], Any]) -> Callable[[Any], Any]:
        sfn = service("stepfunctions")

        def describe(data: Any) -> Any:
            response = original(data)
            record = sfn._executions.get(data.get("executionArn")) if response[0] == 200 else None
            if record is None:
                return response
            machine = sfn._state_machines.get(record["stateMachineArn"]) or {}
            reason = not_redrivable_reason(record, machine.get("type", "STANDARD"), self._clock())
            described = json.loads(response[2])
            described["redriveCount"] = int(record.get("redriveCount", 0))
            if record.get("redriveDate"):
                described["redriveDate"] = record["redriveDate"]
            described["redriveStatus"] = "REDRIVABLE" if reason is None else "NOT_REDRIVABLE"
            if reason is not None:
                described["redriveStatusReason"] = reason
            return json_response(described)

        return describe

    @staticmethod
    def _listed(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
        sfn = service("stepfunctions")

        def list_executions(data: Any) -> Any:
            response = original(data)
            if response[0] != 200:
                return response
            listed = json.loads(response[2])
            for item in listed.get("executions", []):
                record = sfn._executions.get(item["executionArn"]) or {}
                item["redriveCount"] = int(record.get("redriveCount", 0))
                if record.get("redriveDate"):
                    item["redriveDate"] = record["redriveDate"]
            return json_response(listed)

        return list_executions
