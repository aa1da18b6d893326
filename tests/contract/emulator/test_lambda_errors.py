"""A Lambda's exception reaches its caller under the exception's class name, as on AWS.

The emulator alone reports every handler exception as `Runtime.HandlerError`, which would make the
definition's `Retry`/`Catch` by domain error name dead code locally (`LambdaErrorTypes` fixes it).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.emulator import FunctionFactory, StateMachineRunner

pytestmark = pytest.mark.local

RAISES_DOMAIN_ERROR = """
from retrain.errors import SchemaMismatch


def handler(event, context):
    if event.get("fail"):
        raise SchemaMismatch("column amount is missing from landing/2024-01-01/part-0.csv")
    return {"ok": True}
"""

# On AWS the function's zip carries the core it imports, as the stack's code asset does (infra/functions.py).
CORE = Path(__file__).resolve().parents[3] / "retrain"
WITH_THE_CORE = {f"retrain/{name}": (CORE / name).read_text(encoding="utf-8") for name in ("__init__.py", "errors.py")}

RAISES_BUILTIN = """
def handler(event, context):
    raise KeyError("bucket")
"""


def test_invoke_reports_the_exception_class_as_error_type(functions: FunctionFactory, aws_clients) -> None:
    functions.create("domain", RAISES_DOMAIN_ERROR, WITH_THE_CORE)
    response = aws_clients.client("lambda").invoke(FunctionName=f"{functions.prefix}-domain", Payload=b'{"fail": true}')
    payload = json.loads(response["Payload"].read())
    assert response.get("FunctionError") == "Unhandled"
    assert payload["errorType"] == "SchemaMismatch"
    assert payload["errorMessage"] == "column amount is missing from landing/2024-01-01/part-0.csv"
    assert any("handler.py" in frame for frame in payload["stackTrace"])


def test_step_functions_retries_and_catches_by_class_name(
    functions: FunctionFactory, machines: StateMachineRunner
) -> None:
    arn = functions.create("domain", RAISES_DOMAIN_ERROR, WITH_THE_CORE)
    execution = machines.run(
        {
            "StartAt": "Check",
            "States": {
                "Check": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {"FunctionName": arn, "Payload.$": "$"},
                    "Retry": [{"ErrorEquals": ["SchemaMismatch"], "MaxAttempts": 1, "IntervalSeconds": 1}],
                    "Catch": [{"ErrorEquals": ["SchemaMismatch"], "ResultPath": "$.error", "Next": "Caught"}],
                    "End": True,
                },
                "Caught": {"Type": "Pass", "End": True},
            },
        },
        {"fail": True},
    )
    assert execution.status == "SUCCEEDED"
    assert execution.output["error"]["Error"] == "SchemaMismatch"
    cause = json.loads(execution.output["error"]["Cause"])
    assert cause["errorType"] == "SchemaMismatch"
    assert cause["errorMessage"].startswith("column amount is missing")
    # One try, one retry, both failing by name.
    assert [e["taskFailedEventDetails"]["error"] for e in execution.events("TaskFailed")] == ["SchemaMismatch"] * 2


def test_builtin_exceptions_keep_their_name_and_fail_the_execution(
    functions: FunctionFactory, machines: StateMachineRunner
) -> None:
    arn = functions.create("builtin", RAISES_BUILTIN)
    execution = machines.run(
        {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": arn, "End": True}}},
    )
    assert execution.status == "FAILED"
    assert execution.error == "KeyError"


def test_a_missing_function_is_a_lambda_service_error(machines: StateMachineRunner, unique_name: str) -> None:
    missing = f"arn:aws:lambda:us-east-1:000000000000:function:{unique_name}-absent"
    execution = machines.run(
        {
            "StartAt": "T",
            "States": {
                "T": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {"FunctionName": missing, "Payload": {}},
                    "End": True,
                }
            },
        }
    )
    assert execution.status == "FAILED"
    assert execution.error == "Lambda.ResourceNotFoundException"


def test_a_throttled_function_is_lambda_too_many_requests(
    functions: FunctionFactory, machines: StateMachineRunner, aws_clients
) -> None:
    arn = functions.create("throttled", RAISES_DOMAIN_ERROR, WITH_THE_CORE)
    aws_clients.client("lambda").put_function_concurrency(
        FunctionName=f"{functions.prefix}-throttled", ReservedConcurrentExecutions=0
    )
    execution = machines.run(
        {
            "StartAt": "T",
            "States": {
                "T": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {"FunctionName": arn, "Payload": {}},
                    "Catch": [{"ErrorEquals": ["Lambda.TooManyRequestsException"], "Next": "Throttled"}],
                    "End": True,
                },
                "Throttled": {"Type": "Succeed"},
            },
        }
    )
    assert execution.status == "SUCCEEDED", execution.cause
