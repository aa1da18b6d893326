"""Fault injection: a Task state's service call fails the way AWS fails it, on demand, for tests and by hand.

Rules live in `faults.json` in the local AWS's state directory (`{"rules": [...]}`), read again whenever
the file changes, so a test (or a person) sets them while the emulator runs and clears them by deleting
the file. Each rule says which call fails and how:

- `service` / `operation`: the integration's IAM prefix and action (`lambda`/`InvokeFunction`,
  `glue`/`StartJobRun`, `sagemaker`/`CreateTrainingJob`, `dynamodb`/`PutItem`); `state`: the Task
  state making the call; `name_prefix`: the start of the resource the call names (a function, job,
  model, endpoint, package group or table name). Any left out matches every call.
- `fault`: `throttle` (the service's throttling error), `5xx` (its internal error), `permanent`
  (AccessDeniedException in IAM's words, or the `error` and `cause` the rule names: a domain error),
  `timeout` (the call hangs, so the state's own TimeoutSeconds fires; on a `.waitForTaskToken` state the
  call goes through and its answer never comes). The engine times a Task on the wall clock
  (`SFN_WAIT_SCALE` scales Wait states and retry intervals only), so `timeout_scale` runs that
  timeout's clock faster for the faulted call only, e.g. 0.01: 120 s in 1.2 s.
- `count`: how many matching calls fail (then they pass); 0 or absent: every one. `after`: the call
  runs first and its answer is lost (a `.sync` job that finished but whose wait failed).

Errors are named as Step Functions reports them (developer guide, "Handling errors", and the
integration's error prefix): optimized integrations through the AWS SDK for Java v1, whose class for a
code botocore's model has is the code (with `Exception`), otherwise the client's generic exception with
the code in the cause (`local.emulator.task_permissions`); `aws-sdk:` integrations `<Service>.<Code>`.
Throttling codes and statuses are botocore's (Lambda `TooManyRequestsException` 429, SageMaker
`ThrottlingException` 400, Glue `ThrottlingException` 400, DynamoDB
`ProvisionedThroughputExceededException` 400); internal errors: Lambda `ServiceException` 500, SageMaker
`InternalFailure` 500 (the common errors), Glue `InternalServiceException` 500, DynamoDB
`InternalServerError` 500. Pinned in `tests/contract/emulator/test_faults.py`.
"""

from __future__ import annotations

import contextvars
import json
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local.emulator import task_permissions
from local.emulator.iam import Session, identity_denial
from local.emulator.seam import execution_error, get_account_id, get_region, replace, require, service
from local.home import StateDirectory

logger = logging.getLogger("retrain.local")

FAULTS_FILE = "faults.json"
KINDS = ("throttle", "5xx", "permanent", "timeout")
_KEYS = frozenset(
    {"state", "service", "operation", "name_prefix", "fault", "count", "after", "error", "cause", "timeout_scale"}
)
# (code, HTTP status, message) per service and transient kind, as the service answers (module doc).
_TRANSIENT = {
    ("lambda", "throttle"): ("TooManyRequestsException", 429, "Rate Exceeded."),
    ("lambda", "5xx"): ("ServiceException", 500, "An internal error occurred while invoking the function."),
    ("sagemaker", "throttle"): ("ThrottlingException", 400, "Rate exceeded"),
    ("sagemaker", "5xx"): ("InternalFailure", 500, "We encountered an internal error. Please try again."),
    ("glue", "throttle"): ("ThrottlingException", 400, "Rate exceeded"),
    ("glue", "5xx"): ("InternalServiceException", 500, "An internal service error occurred."),
    ("dynamodb", "throttle"): (
        "ProvisionedThroughputExceededException",
        400,
        "The level of configured provisioned throughput for the table was exceeded. "
        "Consider increasing your provisioning level with the UpdateTable API.",
    ),
    ("dynamodb", "5xx"): ("InternalServerError", 500, "Internal server error"),
}
# The request members that name the resource a call is about (for `name_prefix`).
_NAME_MEMBERS = (
    "FunctionName",
    "JobName",
    "TrainingJobName",
    "ProcessingJobName",
    "ModelName",
    "EndpointConfigName",
    "EndpointName",
    "ModelPackageGroupName",
    "ModelPackageName",
    "MonitoringScheduleName",
    "TableName",
)


class FaultRuleError(ValueError):
    """A fault rule that cannot be applied; the message names the rule, the field and the fix."""


@dataclass(frozen=True)
class FaultRule:
    fault: str
    state: str | None = None
    service: str | None = None
    operation: str | None = None
    name_prefix: str | None = None
    count: int = 0
    after: bool = False
    error: str | None = None
    cause: str | None = None
    timeout_scale: float = 1.0

    @classmethod
    def parse(cls, index: int, raw: Any) -> FaultRule:
        where = f"{FAULTS_FILE} rule {index}"
        if not isinstance(raw, dict):
            raise FaultRuleError(f'{where} is not an object; write one like {{"fault": "throttle", "count": 1}}')
        unknown = sorted(set(raw) - _KEYS)
        if unknown:
            raise FaultRuleError(f"{where} has unknown field(s) {unknown}; the fields are {sorted(_KEYS)}")
        if raw.get("fault") not in KINDS:
            raise FaultRuleError(f"{where}: fault {raw.get('fault')!r} is not one of {list(KINDS)}")
        count = raw.get("count", 0)
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise FaultRuleError(f"{where}: count {count!r} must be a whole number >= 0 (0: every call)")
        scale = raw.get("timeout_scale", 1.0)
        if isinstance(scale, bool) or not isinstance(scale, int | float) or not 0 < scale <= 1:
            raise FaultRuleError(f"{where}: timeout_scale {scale!r} must be a number in (0, 1]")
        if (raw.get("error") is None) != (raw.get("cause") is None) or (
            raw.get("error") and raw["fault"] != "permanent"
        ):
            raise FaultRuleError(f"{where}: `error` and `cause` go together, on a `permanent` fault only")
        texts = {k: raw.get(k) for k in ("state", "service", "operation", "name_prefix", "error", "cause")}
        for key, value in texts.items():
            if value is not None and not isinstance(value, str):
                raise FaultRuleError(f"{where}: {key} {value!r} must be a string")
        return cls(
            fault=raw["fault"],
            count=count,
            after=bool(raw.get("after", False)),
            timeout_scale=float(scale),
            **texts,
        )

    def matches(self, state: str, integration: task_permissions.Integration, parameters: Any) -> bool:
        if self.state is not None and self.state != state:
            return False
        if self.service is not None and self.service != integration.service:
            return False
        if self.operation is not None and self.operation != integration.api:
            return False
        return self.name_prefix is None or resource_name(parameters).startswith(self.name_prefix)


def resource_name(parameters: Any) -> str:
    """The name of the resource a call names ('' when none): a function's name, not its ARN."""
    if not isinstance(parameters, dict):
        return ""
    for member in _NAME_MEMBERS:
        value = parameters.get(member)
        if isinstance(value, str):
            return value.split(":function:", 1)[-1].split(":", 1)[0] if ":function:" in value else value
    return ""


def write_rules(home: StateDirectory, rules: list[dict[str, Any]]) -> Path:
    """Set the local AWS's fault rules (checked first: a bad rule raises `FaultRuleError`)."""
    for index, raw in enumerate(rules):
        FaultRule.parse(index, raw)
    path = home.root / FAULTS_FILE
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps({"rules": rules}, indent=2), encoding="utf-8")
    temporary.replace(path)
    return path


def clear_rules(home: StateDirectory) -> None:
    (home.root / FAULTS_FILE).unlink(missing_ok=True)


def service_error(
    integration: task_permissions.Integration, sdk_prefixes: dict[str, str], kind: str
) -> tuple[str, str]:
    """The state's (error, cause) when the service answers a transient `kind` (`throttle`, `5xx`)."""
    code, status, message = _TRANSIENT.get((integration.service, kind)) or _TRANSIENT[("sagemaker", kind)]
    request = uuid.uuid4()
    if integration.sdk:
        prefix = sdk_prefixes.get(integration.service, integration.service[:1].upper() + integration.service[1:])
        return f"{prefix}.{code}", f"{message} (Service: {prefix}, Status Code: {status}, Request ID: {request})"
    prefix, generic, client, _ = require(task_permissions, "_OPTIMIZED_ERRORS").get(
        integration.service, (integration.service.capitalize(), "AmazonServiceException", integration.service, 400)
    )
    modeled = task_permissions.models_error(integration.service, code)
    java = code if code.endswith("Exception") else f"{code}Exception"
    error = f"{prefix}.{java}" if modeled else f"{prefix}.{generic}"
    return error, (
        f"{message} (Service: {client}; Status Code: {status}; Error Code: {code}; Request ID: {request}; Proxy: null)"
    )


class FaultInjection:
    """The engine's connectors fail as the rules in the state directory say (module doc)."""

    def __init__(self, home: StateDirectory) -> None:
        self.path = home.root / FAULTS_FILE
        # The Task state being run and its execution's state machine role ('' outside an execution).
        self._state: contextvars.ContextVar[tuple[str, str, str]] = contextvars.ContextVar(
            "retrain_fault_state", default=("", "", "")
        )
        # Set for a call that hangs: how long it hangs (the engine's timer fires first); None: not hung.
        self._hang: contextvars.ContextVar[float | None] = contextvars.ContextVar("retrain_fault_hang", default=None)
        # Whether the call was matched against the rules already (by the timed wrapper, around the connector).
        self._matched: contextvars.ContextVar[bool] = contextvars.ContextVar("retrain_fault_matched", default=False)
        self._lock = threading.Lock()
        self._signature: tuple[int, int] | None = None
        self._rules: list[FaultRule] = []
        self._problem: str | None = None
        self._used: dict[int, int] = {}
        self._never = threading.Event()  # what a hung call waits for: nothing answers it

    def install(self) -> None:
        sfn = service("stepfunctions")
        self._sdk_prefixes = require(sfn, "_AWS_SDK_ERROR_PREFIX")
        self._machines = require(sfn, "_state_machines")
        replace(sfn, "_execute_task", self._in_state, "faults")
        replace(sfn, "_invoke_resource_with_timeout", self._timed, "faults")
        replace(sfn, "_invoke_resource", self._faulty_invoke, "faults")
        replace(sfn, "_invoke_with_callback", self._faulty_callback, "faults")

    # --- the rules -------------------------------------------------------------------------

    def _load(self) -> None:
        """Read the rules again when the file changed (its counts start over)."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            self._signature, self._rules, self._problem, self._used = None, [], None, {}
            return
        signature = (stat.st_mtime_ns, stat.st_size)
        if signature == self._signature:
            return
        self._signature, self._used, self._problem = signature, {}, None
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            rules = raw.get("rules") if isinstance(raw, dict) else None
            if not isinstance(rules, list):
                raise FaultRuleError(f'{FAULTS_FILE} must be {{"rules": [...]}}')
            self._rules = [FaultRule.parse(index, rule) for index, rule in enumerate(rules)]
        except (ValueError, OSError) as problem:
            self._rules, self._problem = [], f"{FAULTS_FILE}: {problem}"
            logger.error("%s", self._problem)

    def fault_for(self, resource: str, parameters: Any) -> FaultRule | None:
        """The rule the call to `resource` meets (taking one of its count), or None."""
        integration = task_permissions.parse(resource)
        if integration is None:
            return None
        with self._lock:
            self._load()
            if self._problem is not None:
                raise execution_error()("States.Runtime", self._problem)
            for index, rule in enumerate(self._rules):
                if not rule.matches(self._state.get()[0], integration, parameters):
                    continue
                if rule.count and self._used.get(index, 0) >= rule.count:
                    continue
                self._used[index] = self._used.get(index, 0) + 1
                return rule
        return None

    def failure(self, rule: FaultRule, resource: str, parameters: Any) -> Exception:
        integration = task_permissions.parse(resource)
        assert integration is not None  # fault_for matched it
        if rule.error is not None:
            error, cause = rule.error, rule.cause or ""
        elif rule.fault == "permanent":
            _, role_arn, execution_arn = self._state.get()
            session = Session.of(role_arn, execution_arn).arn if role_arn else f"arn:aws:iam::{get_account_id()}:root"
            needed = task_permissions.requirements(resource, parameters, get_region(), get_account_id())
            denied = needed[0].resource if needed else "*"
            message = identity_denial(session, integration.action, denied, explicit=False)
            error, cause = task_permissions.denial_error(integration, self._sdk_prefixes, message)
        else:
            error, cause = service_error(integration, self._sdk_prefixes, rule.fault)
        failure: Exception = execution_error()(error, cause)
        return failure

    # --- the engine's functions, wrapped -----------------------------------------------------

    def _in_state(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def execute(state_def: dict[str, Any], raw_input: Any, execution: Any, ctx: Any) -> Any:
            name = (ctx or {}).get("State", {}).get("Name", "") if isinstance(ctx, dict) else ""
            execution_arn = str(execution.get("executionArn", "")) if isinstance(execution, dict) else ""
            machine = self._machines.get(execution.get("stateMachineArn", "")) if isinstance(execution, dict) else None
            token = self._state.set((str(name), str((machine or {}).get("roleArn") or ""), execution_arn))
            try:
                return original(state_def, raw_input, execution, ctx)
            finally:
                self._state.reset(token)

        return execute

    def _timed(self, original: Callable[[str, Any, Any], Any]) -> Callable[[str, Any, Any], Any]:
        # The rules are met here, where the state's TimeoutSeconds is known: a `timeout` call hangs in the
        # engine's worker (which copies this context) and the engine's own timer fires.
        def invoke(resource: str, input_data: Any, timeout: Any) -> Any:
            rule = self.fault_for(resource, input_data)
            matched = self._matched.set(True)
            try:
                if rule is None:
                    return original(resource, input_data, timeout)
                if rule.fault != "timeout":
                    return self._apply(rule, resource, input_data, lambda: original(resource, input_data, timeout))
                scaled = float(timeout) * rule.timeout_scale
                hang = self._hang.set(scaled + 1.0)
                try:
                    return original(resource, input_data, scaled)
                finally:
                    self._hang.reset(hang)
            finally:
                self._matched.reset(matched)

        return invoke

    def _faulty_invoke(self, original: Callable[[str, Any], Any]) -> Callable[[str, Any], Any]:
        def invoke(resource: str, input_data: Any) -> Any:
            hang = self._hang.get()
            if hang is not None:
                # Outlasts the state's timer, then ends (the engine ignores a timed-out call's result).
                self._never.wait(hang)
                raise execution_error()("States.Timeout", "the hung call was abandoned")
            rule = None if self._matched.get() else self.fault_for(resource, input_data)
            if rule is None:
                return original(resource, input_data)
            if rule.fault == "timeout":
                # A Task without TimeoutSeconds: nothing times it out, as on AWS (it would wait 99999 s).
                raise execution_error()(
                    "States.Runtime", f"{FAULTS_FILE}: a timeout fault needs a state with TimeoutSeconds"
                )
            return self._apply(rule, resource, input_data, lambda: original(resource, input_data))

        return invoke

    def _faulty_callback(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def invoke(resource: str, input_data: Any, token: str, state_def: dict[str, Any]) -> Any:
            rule = self.fault_for(resource, input_data)
            if rule is None:
                return original(resource, input_data, token, state_def)
            if rule.fault == "timeout":
                # A callback's timeout is the answer that never comes: the call goes through, and its wait
                # for the answer runs on the rule's faster clock.
                timeout = float(state_def.get("TimeoutSeconds", 99999)) * rule.timeout_scale
                return original(resource, input_data, token, {**state_def, "TimeoutSeconds": timeout})
            return self._apply(rule, resource, input_data, lambda: original(resource, input_data, token, state_def))

        return invoke

    def _apply(self, rule: FaultRule, resource: str, parameters: Any, call: Callable[[], Any]) -> Any:
        if rule.after:
            call()
        raise self.failure(rule, resource, parameters)
