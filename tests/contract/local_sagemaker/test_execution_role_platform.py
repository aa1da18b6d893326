"""What SageMaker does as the execution role besides moving a job's data: it pulls the image, writes the
logs and the endpoint's data capture.

Sources: SageMaker developer guide, "How to use SageMaker AI execution roles" ("CreateTrainingJob API:
Execution Role Permissions": ecr:GetAuthorizationToken (on "*"), ecr:BatchCheckLayerAvailability,
ecr:GetDownloadUrlForLayer, ecr:BatchGetImage, logs:CreateLogGroup, logs:CreateLogStream, logs:PutLogEvents;
CreateTrainingJob's `RoleArn`: "download a Docker image ..., write logs to Amazon CloudWatch Logs"). AWS's
refusals as reported from AWS: a job's CreateTrainingJob ValidationException "Access denied for repository:
<repository> in registry ID: <registry>. Please check if your ECR repository and image exist and role <arn>
has proper pull permissions for SageMaker: ecr:BatchCheckLayerAvailability, ecr:BatchGetImage,
ecr:GetDownloadUrlForLayer" (wpilibsuite/DetectCoral#37, aws/sagemaker-spark-container#158); an endpoint's
FailureReason "The role '<arn>' does not have BatchGetImage permission for the image: '<image>'."
(aws/sagemaker-tensorflow-serving-container#182, huggingface/notebooks#385). A role that may not write its logs
or its capture fails nothing AWS documents: the logs are not in CloudWatch Logs, the capture is lost, the
endpoint keeps serving.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.iam import RoleFactory, ecr_pulls, s3_reads, s3_writes, sagemaker_log_writes
from tests.support.polling import wait_until
from tests.support.sagemaker import (
    IMAGE,
    IMAGE_REPOSITORY_ARN,
    SageMakerWorld,
    finished_training,
    processing_request,
    training_request,
)

pytestmark = pytest.mark.local

PULL_REFUSAL = (
    "Access denied for repository: sagemaker-scikit-learn in registry ID: 683313688378. Please check if your ECR "
    "repository and image exist and role {role} has proper pull permissions for SageMaker: "
    "ecr:BatchCheckLayerAvailability, ecr:BatchGetImage, ecr:GetDownloadUrlForLayer"
)


def no_pull_role(roles: RoleFactory, world: SageMakerWorld) -> str:
    """A role SageMaker may assume that may move every object of the test bucket but not pull the image."""
    return roles.create(
        "sagemaker.amazonaws.com", *s3_reads(world.bucket, ""), s3_writes(world.bucket, ""), sagemaker_log_writes()
    )


def test_a_training_job_whose_role_cannot_pull_its_image_is_refused(
    world: SageMakerWorld, unique_name: str, roles: RoleFactory
) -> None:
    role = no_pull_role(roles, world)

    with pytest.raises(ClientError) as refused:
        world.sm.create_training_job(**{**training_request(world, unique_name, alpha="0.5"), "RoleArn": role})

    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert refused.value.response["Error"]["Message"] == PULL_REFUSAL.format(role=role)
    with pytest.raises(ClientError, match="Requested resource not found"):
        world.sm.describe_training_job(TrainingJobName=unique_name)


def test_a_training_job_whose_role_may_not_get_ecrs_authorization_token_is_refused(
    world: SageMakerWorld, unique_name: str, roles: RoleFactory
) -> None:
    # sagemaker-roles, "CreateTrainingJob API: Execution Role Permissions": ecr:GetAuthorizationToken on "*"; a pull
    # from ECR authenticates with the registry's token (ECR user guide, "Private registry authentication").
    role = roles.create(
        "sagemaker.amazonaws.com",
        *s3_reads(world.bucket, ""),
        s3_writes(world.bucket, ""),
        sagemaker_log_writes(),
        *ecr_pulls(IMAGE_REPOSITORY_ARN, token=False),
    )

    with pytest.raises(ClientError) as refused:
        world.sm.create_training_job(**{**training_request(world, unique_name, alpha="0.5"), "RoleArn": role})

    assert refused.value.response["Error"]["Message"] == PULL_REFUSAL.format(role=role)


def test_a_processing_job_whose_role_cannot_pull_its_image_is_refused(
    world: SageMakerWorld, unique_name: str, roles: RoleFactory
) -> None:
    role = no_pull_role(roles, world)
    request = processing_request(
        world,
        unique_name,
        ["python3", "/opt/ml/processing/input/code/process.py"],
        ["--input", "/opt/ml/processing/input/data", "--output", "/opt/ml/processing/output"],
    )

    with pytest.raises(ClientError) as refused:
        world.sm.create_processing_job(**{**request, "RoleArn": role})

    assert refused.value.response["Error"]["Message"] == PULL_REFUSAL.format(role=role)


def test_an_endpoint_whose_model_role_cannot_pull_the_image_fails(
    world: SageMakerWorld, unique_name: str, roles: RoleFactory
) -> None:
    role = no_pull_role(roles, world)
    world.create_config(unique_name, world.create_model(unique_name, "v1", role_arn=role))
    world.sm.create_endpoint(EndpointName=unique_name, EndpointConfigName=unique_name)

    endpoint = world.endpoint_status(unique_name, "Failed")

    expected = f"The role '{role}' does not have BatchGetImage permission for the image: '{IMAGE}'."
    assert endpoint["FailureReason"] == expected


def job_log_streams(world: SageMakerWorld, job: str) -> list[str]:
    logs = world.client("logs")
    try:
        found = logs.describe_log_streams(logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=f"{job}/")
    except logs.exceptions.ResourceNotFoundException:
        return []
    return [stream["logStreamName"] for stream in found["logStreams"]]


@pytest.mark.parametrize("may_write_logs", [True, False], ids=["logs-allowed", "logs-refused"])
def test_a_job_writes_cloudwatch_logs_only_when_its_role_may(
    world: SageMakerWorld, unique_name: str, execution_role: Callable[..., str], may_write_logs: bool
) -> None:
    grants: list[dict[str, Any]] = [*s3_reads(world.bucket, "code/", "data/"), s3_writes(world.bucket, "training/")]
    role = execution_role(*grants, *([sagemaker_log_writes()] if may_write_logs else []))
    world.sm.create_training_job(**{**training_request(world, unique_name, alpha="0.5"), "RoleArn": role})

    job = finished_training(world, unique_name)

    # The job's outcome does not depend on its logs; where they go does (shipped when the job's stream closes).
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    assert bool(job_log_streams(world, unique_name)) is may_write_logs


def test_a_capture_the_model_role_cannot_write_is_lost_and_the_endpoint_keeps_serving(
    world: SageMakerWorld, unique_name: str, execution_role: Callable[..., str]
) -> None:
    reads = s3_reads(world.bucket, "code/", "models/")
    writer = execution_role(*reads, s3_writes(world.bucket, f"capture-{unique_name}/allowed/"))
    endpoints = {"refused": execution_role(*reads), "allowed": writer}
    for case, role in endpoints.items():
        name = f"{unique_name}-{case}"
        capture = {
            "InitialSamplingPercentage": 100,
            "DestinationS3Uri": f"s3://{world.bucket}/capture-{unique_name}/{case}",
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        }
        world.create_config(name, world.create_model(name, "v1", role_arn=role), DataCaptureConfig=capture)
        world.sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    for case in endpoints:
        world.endpoint_status(f"{unique_name}-{case}", "InService")

    # The refused endpoint's invocation is buffered first, so it is written no later than the allowed one's.
    answers = [world.invoke(f"{unique_name}-{case}", {"x": 1}) for case in ("refused", "allowed")]

    def listed(case: str) -> list[dict[str, Any]]:
        prefix = f"capture-{unique_name}/{case}/"
        return list(world.client("s3").list_objects_v2(Bucket=world.bucket, Prefix=prefix).get("Contents", []))

    wait_until(lambda: listed("allowed"), 30.0, "the allowed endpoint's capture")
    assert listed("refused") == []
    assert all(answer for answer in answers)
    assert world.sm.describe_endpoint(EndpointName=f"{unique_name}-refused")["EndpointStatus"] == "InService"
