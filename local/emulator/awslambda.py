"""Lambda: a handler's exception reaches the caller with its class name; a function imports what its zip,
its layers and its runtime give it; no async event is lost to a throttle.

Gaps closed:
- `LambdaErrorTypes`: the emulator's Python worker reports every handler exception as
  `Runtime.HandlerError`, which makes a definition's `Retry`/`Catch` by error name dead code locally.
  AWS reports the exception's class name as `errorType` (Invoke and Step Functions alike), and
  failures of the service itself as `Lambda.ServiceException` / `Lambda.TooManyRequestsException`.
  A handler that cannot be loaded is the runtime client's `Runtime.ImportModuleError` ("Unable to
  import module 'm': ..."), `Runtime.HandlerNotFound` or `Runtime.UserCodeSyntaxError`.
  Pinned by `tests/contract/emulator/test_lambda_errors.py` and `test_lambda_runtime.py`.
- `FunctionEnvironments`: the emulator's Python worker runs on the emulator's interpreter and sees every
  package of the project's environment; on AWS a function sees its zip, its layers and the runtime's boto3.
  Each worker runs on an isolated environment of its runtime and layers instead. Pinned by
  `tests/contract/emulator/test_lambda_runtime.py`.
- `AsyncInvocationQueue`: the emulator runs an EventBridge rule's Lambda target once, and an async
  invocation that meets the function's reserved concurrency is throttled and dropped after its
  retries. On AWS, EventBridge invokes Lambda asynchronously, and for a throttle (429) "Lambda returns
  the event to the queue and attempts to run the function again for up to 6 hours. The retry interval
  increases exponentially from 1 second after the first attempt to a maximum of 5 minutes" (Lambda
  developer guide, invocation-async-error-handling); throttles do not count as the function's retry
  attempts. Pinned by `tests/contract/emulator/test_lambda_async.py`.
"""

from __future__ import annotations

import contextvars
import itertools
import json
import re
import threading
import time
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local.emulator.seam import ExtensionError, execution_error, lambda_runtime, replace, require, service, set_constant
from local.runtime.environments import (
    BUILD_COMMAND,
    EnvironmentSpec,
    RuntimeEnvironments,
    build_each,
    combined_spec,
)

PROFILES = Path(__file__).with_name("profiles")
RUNTIME_PROFILE = PROFILES / "lambda-python3.11.toml"
LAYER_PROFILES = (PROFILES / "lambda-layer-powertools-python-v3.toml",)


class LambdaErrorTypes:
    """AWS reports a handler's exception as `errorType` = its class name (`SchemaMismatch`); the
    emulator's Python worker reports every exception as `Runtime.HandlerError`."""

    # The worker script's line that reports a handler exception, as the emulator ships it...
    _WORKER_ERROR = 'json.dumps({"status": "error", "error": str(e), "trace": traceback.format_exc()})'
    # ...and with the class name and the stack trace the AWS Python runtime reports (frames below
    # the worker's own call of the handler).
    _WORKER_ERROR_FIXED = (
        'json.dumps({"status": "error", "error": str(e), "trace": traceback.format_exc(), '
        '"errorType": type(e).__name__, '
        '"stackTrace": traceback.format_list(traceback.extract_tb(e.__traceback__))[1:]})'
    )

    # The worker's report of a handler it could not load (import or attribute error alike)...
    _INIT_ERROR = 'json.dumps({"status": "error", "error": str(e)})'
    # ...and with the runtime's own error type and message, which the emulator carries as the text of its
    # `Worker init failed: ...` error (see `_typed_warm_execution`).
    _INIT_ERROR_FIXED = 'json.dumps({"status": "error", "error": _retrain_init_fault(e, module_name, handler_name)})'
    # awslambdaric bootstrap.py (`_get_handler`, `run`), the Python runtime's client: how Lambda reports a handler
    # it cannot load. `Runtime.ImportModuleError` whatever the module that is missing.
    _INIT_FAULT = """
def _retrain_init_fault(error, module_name, handler_name):
    if isinstance(error, AttributeError) and module_name in sys.modules:
        return "Runtime.HandlerNotFound: Handler '%s' missing on module '%s'" % (handler_name, module_name)
    if isinstance(error, ImportError):
        return "Runtime.ImportModuleError: Unable to import module '%s': %s" % (module_name, error)
    if isinstance(error, SyntaxError):
        return "Runtime.UserCodeSyntaxError: Syntax error in module '%s': %s" % (module_name, error)
    return "%s: %s" % (type(error).__name__, error)
"""
    _RUN = "\ndef run():"
    _INIT_FAILED = "Worker init failed: "

    def __init__(self) -> None:
        self._last = threading.local()

    def install(self) -> None:
        runtime = lambda_runtime()
        script = require(runtime, "_PYTHON_WORKER_SCRIPT")
        if self._WORKER_ERROR_FIXED not in script:
            if any(script.count(line) != 1 for line in (self._WORKER_ERROR, self._INIT_ERROR, self._RUN)):
                raise ExtensionError("the emulator's Python Lambda worker no longer reports errors as expected")
            script = script.replace(self._WORKER_ERROR, self._WORKER_ERROR_FIXED)
            script = script.replace(self._INIT_ERROR, self._INIT_ERROR_FIXED)
            # After the worker's own `import sys, json, ...` line, which the fault function uses.
            set_constant(runtime, "_PYTHON_WORKER_SCRIPT", script.replace(self._RUN, self._INIT_FAULT + self._RUN))
        worker_class = require(runtime, "Worker")
        replace(worker_class, "invoke", self._recording_invoke)
        replace(service("lambda_svc"), "_execute_function_warm", self._typed_warm_execution)
        replace(service("stepfunctions"), "_call_lambda", self._service_errors)

    def _recording_invoke(self, original: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
        last = self._last

        def invoke(worker: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
            response = original(worker, *args, **kwargs)
            last.response = response
            return response

        return invoke

    def _typed_warm_execution(self, original: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
        last = self._last

        def execute(func: dict[str, Any], event: Any, request_id: str) -> dict[str, Any]:
            last.response = None
            result = original(func, event, request_id)
            body = result.get("body") if isinstance(result, dict) else None
            if not (isinstance(result, dict) and result.get("error") and isinstance(body, dict)):
                return result
            if result.get("throttle"):
                return result
            response = last.response
            if response is not None and response.get("errorType"):
                body["errorType"] = response["errorType"]
                body["stackTrace"] = response.get("stackTrace", [])
            elif response is not None and response.get("error") == "Worker process died":
                body["errorType"] = "Runtime.ExitError"
            elif response is None and str(body.get("errorMessage", "")).startswith(self._INIT_FAILED):
                error_type, _, message = body["errorMessage"].removeprefix(self._INIT_FAILED).partition(": ")
                body.update(errorType=error_type, errorMessage=message, stackTrace=[])
            elif response is None:
                body["errorType"] = "Lambda.ServiceException"
            return result

        return execute

    @staticmethod
    def _service_errors(original: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
        failure = execution_error()

        def call_lambda(func_ref: Any, event: Any) -> Any:
            try:
                return original(func_ref, event)
            except failure as error:
                if error.error == "Lambda.Unknown" and '"TooManyRequestsException"' in str(error.cause):
                    raise failure("Lambda.TooManyRequestsException", error.cause) from None
                raise
            except Exception as error:  # the emulator itself failed to run the function
                cause = json.dumps({"errorMessage": str(error), "errorType": "ServiceException"})
                raise failure("Lambda.ServiceException", cause) from None

        return call_lambda


# Set while the emulator runs an asynchronous invocation (it copies the context into its thread).
_ASYNC_INVOCATION: contextvars.ContextVar[bool] = contextvars.ContextVar("async_invocation", default=False)
# AWS's default MaximumEventAgeInSeconds (PutFunctionEventInvokeConfig).
DEFAULT_MAX_EVENT_AGE = 21_600


class AsyncInvocationQueue:
    """Asynchronous invocations as Lambda's internal queue runs them: every EventBridge target through
    the async path, and a throttled event retried (1 s, doubling, at most 5 min apart) until its
    maximum event age, without using up the function's `MaximumRetryAttempts`."""

    def __init__(
        self, first_delay: float = 1.0, max_delay: float = 300.0, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.first_delay, self.max_delay, self._sleep = first_delay, max_delay, sleep

    def install(self) -> None:
        functions = service("lambda_svc")
        replace(functions, "invoke_async_with_retry", self._marked_async)
        replace(functions, "_execute_function", self._throttles_retried_when_async)
        replace(service("eventbridge"), "_dispatch_to_lambda", self._through_the_async_queue)

    @staticmethod
    def _marked_async(original: Callable[[dict[str, Any], Any], None]) -> Callable[[dict[str, Any], Any], None]:
        def invoke_async(func: dict[str, Any], event: Any) -> None:
            token = _ASYNC_INVOCATION.set(True)
            try:
                original(func, event)  # copies this context into the thread that runs the event
            finally:
                _ASYNC_INVOCATION.reset(token)

        return invoke_async

    def _throttles_retried_when_async(
        self, original: Callable[[dict[str, Any], Any], dict[str, Any]]
    ) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
        def execute(func: dict[str, Any], event: Any) -> dict[str, Any]:
            result = original(func, event)
            if not _ASYNC_INVOCATION.get():
                return result  # a synchronous Invoke gets its 429 at once, as on AWS
            deadline = time.monotonic() + _max_event_age(func)
            delay = self.first_delay
            while isinstance(result, dict) and result.get("throttle") and time.monotonic() + delay < deadline:
                self._sleep(delay)
                delay = min(delay * 2, self.max_delay)
                result = original(func, event)
            return result

        return execute

    @staticmethod
    def _through_the_async_queue(original: Callable[[str, Any], None]) -> Callable[[str, Any], None]:
        functions = service("lambda_svc")

        def dispatch(arn: str, payload: Any) -> None:
            try:
                event = json.loads(payload)
            except (json.JSONDecodeError, TypeError):
                event = {"body": payload}
            func, config, _ = functions._get_func_record_for_ref(arn)
            if not func or not config:
                original(arn, payload)  # the emulator logs the missing function
                return
            functions.invoke_async_with_retry(functions._execution_record_for_config(func, config), event)

        return dispatch


def _max_event_age(func: dict[str, Any]) -> float:
    config = func.get("event_invoke_config") or (func.get("event_invoke_configs") or {}).get("$LATEST") or {}
    return float(config.get("MaximumEventAgeInSeconds", DEFAULT_MAX_EVENT_AGE))


@dataclass(frozen=True)
class LayerProfile:
    """A public layer the local AWS does not hold: the layer version ARNs it stands for and what it ships."""

    arn: re.Pattern[str]
    environment: EnvironmentSpec

    @classmethod
    def load(cls, path: Path) -> LayerProfile:
        pattern = tomllib.loads(path.read_text(encoding="utf-8"))["profile"].get("layer_arn")
        if not isinstance(pattern, str):
            raise ValueError(f"layer profile {path}: add [profile] layer_arn, a regular expression of its version ARNs")
        return cls(re.compile(pattern), EnvironmentSpec.from_profile(path))


class FunctionEnvironments:
    """A Python function runs on an isolated environment of its runtime and its layers; nothing of this machine's.

    On AWS a function sees its zip, its layers and the runtime's boto3 (and its dependencies). Each Python
    worker of the emulator runs on the interpreter of an isolated environment (`local.runtime.environments`)
    holding the runtime profile's pins plus those of each public layer the function names that the local AWS
    does not hold (the Powertools layer): one environment per layer set, built by `retrain local runtimes` (and
    by a deploy) and cached. The zip and the layers the local AWS holds are extracted in the worker's own folder
    and put on its path by the worker itself, as before; the emulator's `PYTHONPATH` is not the function's. A
    package outside them fails to import with the interpreter's own error, which the worker reports as AWS
    does, `Runtime.ImportModuleError` (`LambdaErrorTypes`). Pinned by `tests/contract/emulator/test_lambda_runtime.py`.

    The worker's bootstrap is the emulator's own script (`_PYTHON_WORKER_SCRIPT`, which `LambdaErrorTypes`
    edits), written into the worker's folder and run as a file: it imports the standard library only (and
    botocore when the environment has it, for the emulator's invocation-depth header), so it runs on the
    environment's interpreter as it is. Only the interpreter changes: the emulator asks
    `_detect_runtime_binary` for it while it spawns a worker, and that answers the environment's Python for
    the worker this thread is spawning. Nothing of the emulator is copied into the project or put on the
    worker's path. A function whose environment is not built fails at once, naming `retrain local runtimes`:
    a worker never waits on the package index.
    """

    def __init__(
        self, runtime: EnvironmentSpec, layers: Sequence[LayerProfile], cache: RuntimeEnvironments | None = None
    ) -> None:
        self.runtime, self.layers = runtime, tuple(layers)
        self.cache = cache or RuntimeEnvironments()
        self._spawning = threading.local()

    @classmethod
    def from_profiles(cls, cache: RuntimeEnvironments | None = None) -> FunctionEnvironments:
        layers = [LayerProfile.load(path) for path in LAYER_PROFILES]
        return cls(EnvironmentSpec.from_profile(RUNTIME_PROFILE), layers, cache)

    def install(self) -> None:
        runtime = lambda_runtime()
        replace(runtime, "_detect_runtime_binary", self._environment_interpreter)
        replace(require(runtime, "Worker"), "_spawn", self._spawn_in_environment)

    def spec(self, config: Mapping[str, Any]) -> EnvironmentSpec:
        """The environment of a function's runtime and the layer profiles its `Layers` name."""
        arns = [ref if isinstance(ref, str) else str(ref.get("Arn", "")) for ref in config.get("Layers") or []]
        return self._with([layer for layer in self.layers if any(layer.arn.match(arn) for arn in arns)])

    def every_spec(self) -> list[EnvironmentSpec]:
        """The environment of every layer set a function can name: what `retrain local runtimes` builds."""
        sizes = range(len(self.layers) + 1)
        return [self._with(subset) for size in sizes for subset in itertools.combinations(self.layers, size)]

    def _with(self, layers: Sequence[LayerProfile]) -> EnvironmentSpec:
        if not layers:
            return self.runtime
        specs = [self.runtime, *(layer.environment for layer in layers)]
        return combined_spec("+".join(spec.name for spec in specs), specs)

    def interpreter(self, config: Mapping[str, Any]) -> str:
        """The Python a function's worker runs on; a one-line error naming the build command when it is missing."""
        spec = self.spec(config)
        if not self.cache.is_built(spec):
            raise RuntimeError(
                f"the runtime environment {spec.name} of function {config.get('FunctionName', '?')} is not built "
                f"(looked in {self.cache.location(spec)}); run `{BUILD_COMMAND}` once (it needs the package index), "
                "then invoke the function again"
            )
        return self.cache.interpreter(spec)

    @staticmethod
    def environment(config: Mapping[str, Any]) -> dict[str, str]:
        """The variables a worker gets on top of the function's: its own `PYTHONPATH`, never the emulator's (an
        empty one is no path at all to Python)."""
        variables = (config.get("Environment") or {}).get("Variables") or {}
        return {"PYTHONPATH": str(variables.get("PYTHONPATH", ""))}

    def _environment_interpreter(self, original: Callable[[str], tuple[str, str]]) -> Callable[[str], tuple[str, str]]:
        spawning = self._spawning

        def detect(runtime: str) -> tuple[str, str]:
            binary, script = original(runtime)
            interpreter = getattr(spawning, "interpreter", None)
            return (interpreter, script) if interpreter and runtime.startswith("python") else (binary, script)

        return detect

    def _spawn_in_environment(self, original: Callable[[Any], None]) -> Callable[[Any], None]:
        interpreter, environment, spawning = self.interpreter, self.environment, self._spawning

        def spawn(worker: Any) -> None:
            config = worker.config
            if not str(config.get("Runtime", "")).startswith("python"):
                return original(worker)
            spawning.interpreter = interpreter(config)
            # The worker's process environment is the function's variables over the emulator's own.
            settings = dict(config.get("Environment") or {})
            settings["Variables"] = {**(settings.get("Variables") or {}), **environment(config)}
            worker.config = {**config, "Environment": settings}
            try:
                return original(worker)
            finally:
                worker.config = config
                spawning.interpreter = None

        return spawn


def build_function_environments(report: Callable[[str], None]) -> list[Path]:
    """The isolated environment of the Lambda runtime with every layer set, each built unless it is."""
    return build_each(FunctionEnvironments.from_profiles().every_spec(), report)
