"""Lambda: a handler's exception reaches the caller with its class name.

Gap closed (`LambdaErrorTypes`): the emulator's Python worker reports every handler exception as
`Runtime.HandlerError`, which makes a definition's `Retry`/`Catch` by error name dead code locally.
AWS reports the exception's class name as `errorType` (Invoke and Step Functions alike), and failures
of the service itself as `Lambda.ServiceException` / `Lambda.TooManyRequestsException`.

Pinned by `tests/contract/emulator/test_lambda_errors.py`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from local.emulator.seam import ExtensionError, execution_error, lambda_runtime, replace, require, service, set_constant


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

    def __init__(self) -> None:
        self._last = threading.local()

    def install(self) -> None:
        runtime = lambda_runtime()
        script = require(runtime, "_PYTHON_WORKER_SCRIPT")
        if self._WORKER_ERROR_FIXED not in script:
            if script.count(self._WORKER_ERROR) != 1:
                raise ExtensionError("the emulator's Python Lambda worker no longer reports errors as expected")
            set_constant(runtime, "_PYTHON_WORKER_SCRIPT", script.replace(self._WORKER_ERROR, self._WORKER_ERROR_FIXED))
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
            elif response is None and str(body.get("errorMessage", "")).startswith("Worker init failed"):
                body["errorType"] = (
                    "Runtime.ImportModuleError" if "module" in body["errorMessage"] else "Runtime.Unknown"
                )
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
