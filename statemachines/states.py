"""State factories that know no stage of the cycle: a task with its timeout, retry and trimmed result,
the catch-all to the failure path, a domain error the definition detects itself, a best-effort notice.

Every Task built here retries only the transient errors of its integration (`statemachines/policies.py`)
and returns only what its `ResultSelector` keeps.
"""

from __future__ import annotations

from typing import Any

from stepfunctions.steps import Catch, Pass
from stepfunctions.steps.states import State

from statemachines.placeholders import Placeholder
from statemachines.policies import LAMBDA_TRANSIENT, SAGEMAKER_TRANSIENT, Timeouts, transient_retry
from statemachines.sdk_extensions import TrimmedTask

# Every SageMaker resource a run creates carries the execution that created it.
EXECUTION_TAG_KEY = "retrain:execution"


def execution_tags() -> list[dict[str, str]]:
    """The `Tags` parameter of a SageMaker create call: the execution's name under `EXECUTION_TAG_KEY`."""
    return [{"Key": EXECUTION_TAG_KEY, "Value.$": "$$.Execution.Name"}]


def catch_all(next_step: State, result_path: str = "$.error") -> Catch:
    """Every error not handled otherwise lands in `result_path` and goes to `next_step`."""
    return Catch(error_equals=["States.ALL"], next_step=next_step, result_path=result_path)


def lambda_task(
    name: str,
    function: Placeholder,
    payload: dict[str, Any],
    result_selector: dict[str, str],
    result_path: str | None,
    comment: str,
) -> TrimmedTask:
    return TrimmedTask(
        name,
        comment=comment,
        resource="arn:aws:states:::lambda:invoke",
        parameters={"FunctionName": function.token, "Payload": payload},
        result_selector=result_selector,
        result_path=result_path,
        timeout_seconds=Timeouts.LAMBDA,
        retry=transient_retry(LAMBDA_TRANSIENT, max_attempts=4),
    )


def sagemaker_task(
    name: str,
    action: str,
    parameters: dict[str, Any],
    result_selector: dict[str, str] | None,
    result_path: str | None,
    comment: str,
    timeout_seconds: int,
    integration: str = "sagemaker",
) -> TrimmedTask:
    """A SageMaker optimized integration (`createModel`, `createTrainingJob.sync`, ...), or with
    `integration="aws-sdk:sagemaker"` any API call (see `sagemaker_sdk_task`)."""
    return TrimmedTask(
        name,
        comment=comment,
        resource=f"arn:aws:states:::{integration}:{action}",
        parameters=parameters,
        result_selector=result_selector,
        result_path=result_path,
        timeout_seconds=timeout_seconds,
        retry=transient_retry(SAGEMAKER_TRANSIENT),
    )


def sagemaker_sdk_task(
    name: str,
    action: str,
    parameters: dict[str, Any],
    result_selector: dict[str, str] | None,
    result_path: str | None,
    comment: str,
) -> TrimmedTask:
    """A SageMaker API call through the AWS SDK integration (any action, e.g. `describeEndpoint`);
    `result_selector=None` for a call that answers nothing (with `result_path=None`)."""
    return sagemaker_task(
        name,
        action,
        parameters,
        result_selector,
        result_path,
        comment,
        Timeouts.SDK_CALL,
        integration="aws-sdk:sagemaker",
    )


def describe_endpoint_whole(name: str, result_path: str, comment: str) -> TrimmedTask:
    """DescribeEndpoint of the run's endpoint, its whole answer under `<result_path>.described`.

    Whole: FailureReason and PendingDeploymentSummary are there only sometimes, and a ResultSelector
    that misses a field fails with States.Runtime, which no Catch takes; a Choice looks for them.
    """
    return sagemaker_sdk_task(
        name,
        "describeEndpoint",
        parameters={"EndpointName.$": "$.run.deployment.endpoint_name"},
        result_selector={"described.$": "$"},
        result_path=result_path,
        comment=comment,
    )


def reject_package(name: str, description: str, comment: str) -> TrimmedTask:
    """Marks the run's candidate package (`$.package.arn`) Rejected; `description` is an intrinsic
    (`States.Format(...)`) that says why. The state's output is its input."""
    return sagemaker_sdk_task(
        name,
        "updateModelPackage",
        parameters={
            "ModelPackageArn.$": "$.package.arn",
            "ModelApprovalStatus": "Rejected",
            "ApprovalDescription.$": description,
        },
        result_selector={"arn.$": "$.ModelPackageArn"},
        result_path=None,
        comment=comment,
    )


def fail_with(name: str, error: str, cause: str, failure: State) -> Pass:
    """A Pass that records a domain error the definition itself detects, then goes to the failure path."""
    record = Pass(name, comment=cause, parameters={"Error": error, "Cause": cause}, result_path="$.error")
    record.next(failure)
    return record


def notice(
    name: str,
    payload: dict[str, Any],
    comment: str,
    then: State,
    result_selector: dict[str, str] | None = None,
    result_path: str = "$.notified",
) -> TrimmedTask:
    """A message to the team (the Notify function) that cannot change the run's outcome.

    Sent or not, the run goes on to `then`; a failed send is kept in `$.notify_error`.
    """
    task = lambda_task(
        name,
        Placeholder.NOTIFY_FUNCTION_ARN,
        payload=payload,
        result_selector=result_selector or {"message_id.$": "$.Payload.message_id"},
        result_path=result_path,
        comment=comment,
    )
    task.add_catch(catch_all(then, result_path="$.notify_error"))
    task.next(then)
    return task
