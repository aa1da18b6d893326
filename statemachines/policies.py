"""Retry policies, timeouts and result trimming shared by every Task of the definition.

Transient errors are retried with exponential backoff and full jitter, a bounded number of times.
Domain errors (`retrain.errors`) are never listed here, so they go straight to the Catch.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel

from statemachines.sdk_extensions import JitteredRetry

# Error names as Step Functions reports them for each integration.
# Lambda's service errors as the Step Functions developer guide lists them ("Handle Lambda service
# exceptions": ClientExecutionTimeoutException, ServiceException, AWSLambdaException, SdkClientException),
# and its throttling.
LAMBDA_TRANSIENT = (
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
)
GLUE_TRANSIENT = (
    "Glue.ConcurrentRunsExceededException",
    "Glue.ThrottlingException",
    "Glue.InternalServiceException",
    "Glue.OperationTimeoutException",
)
# Optimized SageMaker integrations report every API error as AmazonSageMakerException (throttling
# included); SDK integrations report the exception's own name.
SAGEMAKER_TRANSIENT = (
    "SageMaker.AmazonSageMakerException",
    "SageMaker.ThrottlingException",
    "SageMaker.InternalFailure",
    "SageMaker.ServiceUnavailable",
)
DYNAMODB_TRANSIENT = (
    "DynamoDB.ProvisionedThroughputExceededException",
    "DynamoDB.ThrottlingException",
    "DynamoDB.InternalServerErrorException",
    "DynamoDB.RequestLimitExceeded",
)


def transient_retry(errors: Iterable[str], max_attempts: int = 3) -> JitteredRetry:
    return JitteredRetry(
        error_equals=list(errors),
        interval_seconds=2,
        backoff_rate=2.0,
        max_attempts=max_attempts,
        max_delay_seconds=60,
        jitter_strategy="FULL",
    )


class Timeouts:
    """State timeouts in seconds: backstops above the limits the jobs enforce themselves."""

    LAMBDA = 120
    SDK_CALL = 120
    GLUE_JOB = 24 * 3600 + 600  # Glue's own job timeout (retrain.toml) is at most 24 h
    SAGEMAKER_JOB = 24 * 3600 + 600  # MaxRuntimeInSeconds is at most 24 h (retrain.toml)
    ENDPOINT_CALL = 300


def select_fields(model: type[BaseModel], prefix: str = "$.Payload") -> dict[str, str]:
    """A ResultSelector that keeps exactly the fields of a contract model."""
    return {f"{name}.$": f"{prefix}.{name}" for name in model.model_fields}
