"""Step Functions: the engine features the pipeline's definition relies on that the emulator lacks.

Gaps closed (`StepFunctionsFixes`), each pinned in `tests/contract/emulator/test_stepfunctions_engine.py`:
- `$$.Execution.RedriveCount` resolves (0 on a first drive; a redrive, `local/emulator/redrive.py`, sets it) —
  `test_context_object_intrinsics_and_result_selector`;
- `TimeoutSecondsPath` — `test_timeout_seconds_path_times_the_callback_out`,
  `test_a_bad_timeout_seconds_path_fails_by_name`;
- Retry with `MaxDelaySeconds` and `JitterStrategy` (`RetryBackoff`) — `test_retry_with_full_jitter_and_max_delay`,
  `test_retry_backoff_follows_aws`;
- `IsPresent` counts a field holding null as present (`JsonPathPresence`) —
  `test_choice_is_present_counts_a_null_field_as_present`;
- a failing Lambda of a `lambda:invoke.waitForTaskToken` state fails the state instead of leaving it
  waiting — `test_a_failing_callback_lambda_fails_the_state_at_once`;
- StartExecution refuses an input over 262,144 bytes (botocore `stepfunctions/2016-11-23/service-2.json`,
  `SensitiveData` max 262144) — `test_an_execution_input_over_256_kb_is_refused`;
- a state's input or output, or a connector's input or result, over 262,144 bytes fails the state with
  `States.DataLimitExceeded`, which `States.ALL` does not catch and a Retry or Catch naming it does, the
  state's own included (`DataLimits`) — `test_data_limit.py`.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable
from typing import Any

from local.emulator.seam import execution_error, replace, require, service

# An execution's input, and each state's input and output (Step Functions quotas, "Maximum input or
# output size for a task, state, or execution": 256 KB of UTF-8); `DataLimits` checks the states'.
MAX_PAYLOAD_BYTES = 262_144
DATA_LIMIT_EXCEEDED = "States.DataLimitExceeded"
# The engine's handler of each state type (what `DataLimits` bounds and a redrive resumes with).
STATE_HANDLERS = {
    "Pass": "_execute_pass",  # the engine's handler name, not a password  # nosec B105
    "Task": "_execute_task",
    "Choice": "_execute_choice",
    "Wait": "_execute_wait",
    "Parallel": "_execute_parallel",
    "Map": "_execute_map",
}


def payload_bytes(value: Any) -> int:
    """The size Step Functions counts: the JSON text's UTF-8 bytes."""
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


class DataLimits:
    """`States.DataLimitExceeded` where Step Functions reports it ("Handling errors in Step Functions
    workflows", error names): a connector's output, a state's output, or a state's input (after
    Parameters, which is what a connector is sent) over the payload quota. It is a terminal error that
    `States.ALL` (nor `States.TaskFailed`) does not catch or retry; a Retry or Catch naming it does, the
    state's own included: a Task whose result, placed by ResultPath, makes its output too large is retried
    or caught by its own Retry or Catch (the engine applies those before the state's output is known)."""

    def install(self) -> None:
        sfn = service("stepfunctions")
        for name in ("_find_matching_retrier", "_find_matching_catcher", "_apply_catcher", "_scaled_sleep"):
            require(sfn, name)
        require(sfn, "_state_query_language")
        error = execution_error()
        for name in STATE_HANDLERS.values():
            replace(sfn, name, lambda original: self._bounded_state(original, error), "data-limit")
        replace(sfn, "_invoke_resource", lambda original: self._bounded_connector(original, error), "data-limit")
        replace(sfn, "_invoke_with_callback", lambda original: self._bounded_connector(original, error), "data-limit")
        replace(sfn, "_error_matches", self._terminal, "data-limit")

    @staticmethod
    def check(value: Any, what: str, error: Any) -> None:
        if payload_bytes(value) > MAX_PAYLOAD_BYTES:
            raise error(
                DATA_LIMIT_EXCEEDED,
                f"The {what} with a size exceeding the maximum number of bytes service limit.",
            )

    def _bounded_state(self, original: Callable[..., Any], error: Any) -> Callable[..., Any]:
        def execute(state_def: dict[str, Any], raw_input: Any, *rest: Any) -> Any:
            ctx = rest[-1] if rest else None
            name = (ctx or {}).get("State", {}).get("Name", "") if isinstance(ctx, dict) else ""
            self.check(raw_input, f"state '{name}' has an input", error)
            retry_counts: dict[int, int] = {}
            while True:
                output, next_name = original(state_def, raw_input, *rest)
                try:
                    self.check(output, f"state '{name}' returned an output", error)
                except error as exceeded:
                    if self._retried(state_def, retry_counts):
                        continue
                    caught = self._caught(state_def, raw_input, ctx, exceeded)
                    if caught is None:
                        raise
                    return caught
                return output, next_name

        return execute

    @staticmethod
    def _retried(state_def: dict[str, Any], retry_counts: dict[int, int]) -> bool:
        """Whether a retrier of the state names the error and has attempts left; it waits as the engine does."""
        sfn = service("stepfunctions")
        retrier, index = sfn._find_matching_retrier(state_def.get("Retry", []), DATA_LIMIT_EXCEEDED, retry_counts)
        if retrier is None:
            return False
        count = retry_counts.get(index, 0)
        delay = float(retrier.get("IntervalSeconds", 1)) * float(retrier.get("BackoffRate", 2.0)) ** count
        sfn._scaled_sleep(min(delay, 60))
        retry_counts[index] = count + 1
        return True

    @staticmethod
    def _caught(state_def: dict[str, Any], raw_input: Any, ctx: Any, exceeded: Any) -> tuple[Any, str] | None:
        """The output and next state of the state's catcher naming the error; None when none does."""
        sfn = service("stepfunctions")
        catcher = sfn._find_matching_catcher(state_def.get("Catch", []), DATA_LIMIT_EXCEEDED)
        if catcher is None:
            return None
        error_output = {"Error": exceeded.error, "Cause": exceeded.cause}
        language = sfn._state_query_language(state_def, ctx)
        return sfn._apply_catcher(catcher, raw_input, ctx, language, error_output), str(catcher["Next"])

    def _bounded_connector(self, original: Callable[..., Any], error: Any) -> Callable[..., Any]:
        def invoke(resource: str, input_data: Any, *rest: Any) -> Any:
            self.check(input_data, f"state/task '{resource}' was given an input", error)
            result = original(resource, input_data, *rest)
            self.check(result, f"state/task '{resource}' returned a result", error)
            return result

        return invoke

    @staticmethod
    def _terminal(original: Callable[[list[str], str], bool]) -> Callable[[list[str], str], bool]:
        def matches(error_equals: list[str], error: str) -> bool:
            if error == DATA_LIMIT_EXCEEDED:
                return error in error_equals
            return bool(original(error_equals, error))

        return matches


class RetryBackoff:
    """A retrier's delay as AWS computes it: IntervalSeconds x BackoffRate^n, capped by
    MaxDelaySeconds, and with `JitterStrategy: FULL` a uniform draw between 0 and that."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self.rng = rng or random.Random()  # retry jitter, not a secret  # nosec B311

    def delay(self, retrier: dict[str, Any], retries_done: int) -> float:
        delay = float(retrier.get("IntervalSeconds", 1)) * float(retrier.get("BackoffRate", 2.0)) ** retries_done
        if "MaxDelaySeconds" in retrier:
            delay = min(delay, float(retrier["MaxDelaySeconds"]))
        if retrier.get("JitterStrategy", "NONE") == "FULL":
            delay = self.rng.uniform(0.0, delay)
        return delay


class JsonPathPresence:
    """Whether a path selects a field at all (a field holding null is present)."""

    def __init__(self, parse_tokens: Callable[[str], Any]) -> None:
        self._parse = parse_tokens

    def present(self, path: str, data: Any, ctx: Any) -> bool:
        if path.startswith("$$"):
            data, path = ctx or {}, path[1:]
        if path == "$":
            return True
        tokens = self._parse(path)
        if tokens is None:
            return False
        current = data
        for kind, value in tokens:
            selects = (kind == "field" and isinstance(current, dict) and value in current) or (
                kind == "index" and isinstance(current, list) and -len(current) <= value < len(current)
            )
            if not selects:
                return False
            current = current[value]
        return True


class StepFunctionsFixes:
    """The engine's functions wrapped so the definition's features behave as on AWS (see the module doc)."""

    def __init__(self, backoff: RetryBackoff | None = None) -> None:
        self.backoff = backoff or RetryBackoff()
        self._callback = threading.local()

    def install(self) -> None:
        sfn = service("stepfunctions")
        replace(sfn, "_resolve_ctx_path", self._context_with_redrive_count)
        replace(sfn, "_find_matching_retrier", self._aws_backoff)
        replace(sfn, "_execute_task", self._timeout_seconds_path)
        presence = JsonPathPresence(require(sfn, "_parse_jsonpath_tokens"))
        replace(sfn, "_evaluate_rule", lambda original: self._is_present(original, presence), "is-present")
        require(sfn, "_task_tokens")
        replace(sfn, "_invoke_with_callback", self._remember_callback)
        replace(sfn, "_call_lambda", self._fail_callback_on_lambda_error)
        error_response = require(sfn, "error_response_json")
        replace(sfn, "_start_execution", lambda original: self._bounded_input(original, error_response), "input-size")

    @staticmethod
    def _bounded_input(original: Callable[[Any], Any], error_response: Callable[..., Any]) -> Callable[[Any], Any]:
        def start(data: Any) -> Any:
            text = data.get("input") if isinstance(data, dict) else None
            if isinstance(text, str) and len(text.encode()) > MAX_PAYLOAD_BYTES:
                return error_response(
                    "ValidationException",
                    "1 validation error detected: Value at 'input' failed to satisfy constraint: "
                    f"Member must have length less than or equal to {MAX_PAYLOAD_BYTES}",
                    400,
                )
            return original(data)

        return start

    def _remember_callback(self, original: Callable[..., Any]) -> Callable[..., Any]:
        callback = self._callback

        def invoke(resource: str, input_data: Any, token: str, state_def: dict[str, Any]) -> Any:
            asynchronous = isinstance(input_data, dict) and input_data.get("InvocationType") == "Event"
            callback.token = None if asynchronous else token
            try:
                return original(resource, input_data, token, state_def)
            finally:
                callback.token = None

        return invoke

    def _fail_callback_on_lambda_error(self, original: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
        """A `lambda:invoke.waitForTaskToken` state invokes the function synchronously: when the
        function fails, the state fails with its error at once (the emulator ignored the error and
        waited for a token that never comes)."""
        sfn = service("stepfunctions")
        failure = execution_error()
        callback = self._callback

        def call_lambda(func_ref: Any, event: Any) -> Any:
            try:
                return original(func_ref, event)
            except failure as error:
                token = getattr(callback, "token", None)
                waiting = sfn._task_tokens.get(token) if token else None
                if waiting is not None:
                    waiting["error"] = {"Error": error.error, "Cause": error.cause}
                    waiting["event"].set()
                raise

        return call_lambda

    @staticmethod
    def _context_with_redrive_count(original: Callable[[str, Any], Any]) -> Callable[[str, Any], Any]:
        # The engine's own drive is the first one; a redrive (local/emulator/redrive.py) puts its count in the context.
        def resolve(path: str, ctx: Any) -> Any:
            execution = ctx.get("Execution") if isinstance(ctx, dict) else None
            if isinstance(execution, dict):
                execution.setdefault("RedriveCount", 0)
            return original(path, ctx)

        return resolve

    def _aws_backoff(self, original: Callable[..., tuple[Any, int]]) -> Callable[..., tuple[Any, int]]:
        backoff = self.backoff

        # The engine sleeps IntervalSeconds x BackoffRate^n and ignores MaxDelaySeconds and
        # JitterStrategy: hand it a retrier whose interval is already the AWS delay.
        def find(retriers: list[dict[str, Any]], error: str, retry_counts: dict[int, int]) -> tuple[Any, int]:
            retrier, index = original(retriers, error, retry_counts)
            if retrier is None:
                return retrier, index
            delay = backoff.delay(retrier, retry_counts.get(index, 0))
            return {**retrier, "IntervalSeconds": delay, "BackoffRate": 1.0}, index

        return find

    @staticmethod
    def _timeout_seconds_path(original: Callable[..., Any]) -> Callable[..., Any]:
        sfn = service("stepfunctions")

        def execute(state_def: dict[str, Any], raw_input: Any, execution: Any, ctx: Any) -> Any:
            path = state_def.get("TimeoutSecondsPath")
            if isinstance(path, str):
                value = sfn._resolve_path_or_ctx(path, raw_input, ctx)
                if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                    raise execution_error()(
                        "States.Runtime",
                        f"TimeoutSecondsPath {path} must select a positive integer, got {json.dumps(value)}",
                    )
                state_def = {k: v for k, v in state_def.items() if k != "TimeoutSecondsPath"}
                state_def["TimeoutSeconds"] = value
            return original(state_def, raw_input, execution, ctx)

        return execute

    @staticmethod
    def _is_present(original: Callable[..., bool], presence: JsonPathPresence) -> Callable[..., bool]:
        def evaluate(rule: dict[str, Any], data: Any, ctx: Any = None) -> bool:
            if "IsPresent" in rule and isinstance(rule.get("Variable"), str):
                return presence.present(rule["Variable"], data, ctx) == bool(rule["IsPresent"])
            return bool(original(rule, data, ctx))

        return evaluate
