"""SageMaker in the emulator's Step Functions engine, as Step Functions integrates it on AWS.

Optimized integrations (`arn:aws:states:::sagemaker:<action>`): `createTrainingJob` and
`createProcessingJob`, with `.sync` waiting for the job's terminal status (a `Failed` or `Stopped`
job fails the task with `States.TaskFailed` and the Describe output, `FailureReason` included, as
its cause), and `createModel`, `createEndpointConfig`, `createEndpoint`, `updateEndpoint`. Their
request and response are the API's; an API error fails the task with
`SageMaker.AmazonSageMakerException`. SDK integrations (`arn:aws:states:::aws-sdk:sagemaker:<action>`)
go through the engine's own JSON-protocol dispatcher to this service's handler.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from local.sagemaker.api import ControlPlane
from local.sagemaker.errors import SageMakerError

PREFIX = "arn:aws:states:::sagemaker:"
_ACTIONS = {
    "createTrainingJob": ("CreateTrainingJob", "DescribeTrainingJob", "TrainingJobName", "TrainingJobStatus"),
    "createProcessingJob": ("CreateProcessingJob", "DescribeProcessingJob", "ProcessingJobName", "ProcessingJobStatus"),
    "createModel": ("CreateModel", None, None, None),
    "createEndpointConfig": ("CreateEndpointConfig", None, None, None),
    "createEndpoint": ("CreateEndpoint", None, None, None),
    "updateEndpoint": ("UpdateEndpoint", None, None, None),
}
SYNC_POLL_SECONDS = 0.5
_TIMESTAMP_FIELDS = {
    "CreationTime",
    "LastModifiedTime",
    "TrainingStartTime",
    "TrainingEndTime",
    "StartTime",
    "EndTime",
    "ProcessingStartTime",
    "ProcessingEndTime",
    "Timestamp",
    "ResolutionTime",
}


def _epoch_millis(value: Any) -> Any:
    """Step Functions shows an optimized integration's timestamps as epoch milliseconds."""
    if isinstance(value, dict):
        return {
            key: (
                round(item * 1000)
                if key in _TIMESTAMP_FIELDS and isinstance(item, int | float)
                else _epoch_millis(item)
            )
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_epoch_millis(item) for item in value]
    return value


class StepFunctionsIntegration:
    def __init__(self, control_plane: ControlPlane, execution_error: type[Exception], scope: Any) -> None:
        self._control_plane = control_plane
        self._execution_error = execution_error  # the engine's own task error class
        self._scope = scope  # () -> (region, account) of the running execution

    def __call__(self, resource: str, parameters: dict[str, Any]) -> Any:
        action = resource[len(PREFIX) :]
        sync = action.endswith(".sync")
        action = action.removesuffix(".sync").removesuffix(".waitForTaskToken")
        entry = _ACTIONS.get(action)
        if entry is None or (sync and entry[1] is None):
            raise self._execution_error(
                "States.Runtime",
                f"{resource} is not a SageMaker integration of the local AWS; supported: "
                + ", ".join(f"sagemaker:{name}" + (" (.sync)" if spec[1] else "") for name, spec in _ACTIONS.items()),
            )
        operation, describe, name_key, status_key = entry
        region, account = self._scope()
        result = self._call(operation, parameters, region, account)
        if not sync:
            return _epoch_millis(result)
        assert describe is not None and name_key is not None and status_key is not None
        name = parameters.get(name_key)
        while True:
            description = self._call(describe, {name_key: name}, region, account)
            status = description.get(status_key)
            if status == "Completed":
                return _epoch_millis(description)
            if status in ("Failed", "Stopped"):
                raise self._execution_error("States.TaskFailed", json.dumps(_epoch_millis(description)))
            time.sleep(SYNC_POLL_SECONDS)

    def _call(self, operation: str, parameters: Any, region: str, account: str) -> dict[str, Any]:
        try:
            return self._control_plane.call(operation, parameters, region, account)
        except SageMakerError as error:
            raise self._execution_error(
                "SageMaker.AmazonSageMakerException",
                f"{error.message} (Service: AmazonSageMaker; Status Code: {error.status}; Error Code: {error.code}; "
                f"Request ID: {uuid.uuid4()}; Proxy: null)",
            ) from None
