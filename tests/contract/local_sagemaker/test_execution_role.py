"""The SageMaker execution role: SageMaker assumes the job's role and moves the job's data as it.

Sources: SageMaker developer guide, "How to use SageMaker AI execution roles" (the role must trust
`sagemaker.amazonaws.com`; CreateTrainingJob needs s3:GetObject / s3:ListBucket on the inputs and
s3:PutObject on the output path); CreateTrainingJob's ValidationException "Could not assume role <arn>.
Please ensure that the role exists and allows principal 'sagemaker.amazonaws.com' to assume the role.";
a training job's FailureReason when its role cannot read an input, "ClientError: Data download
failed:Unable to download object s3://... (AccessDenied: ...)"; S3's access denied message, which names
the session, action and resource ("User: arn:aws:sts::<account>:assumed-role/<role>/SageMaker is not
authorized to perform: s3:GetObject on resource: "arn:aws:s3:::<bucket>/<key>" because no
identity-based policy allows the s3:GetObject action").
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from botocore.exceptions import ClientError

from tests.support.iam import RoleFactory, denial, s3_reads, s3_writes
from tests.support.sagemaker import (
    SageMakerWorld,
    finished_processing,
    finished_training,
    processing_request,
    training_request,
)

pytestmark = pytest.mark.local


def denied(role_arn: str, action: str, resource: str) -> str:
    return re.escape(denial(role_arn, "SageMaker", action, resource, quoted=True))


def test_a_training_job_whose_role_may_read_its_inputs_and_write_its_output_completes(
    world: SageMakerWorld, unique_name: str, execution_role: Callable[..., str]
) -> None:
    role = execution_role(*s3_reads(world.bucket, "code/", "data/"), s3_writes(world.bucket, "training/"))
    world.sm.create_training_job(**{**training_request(world, unique_name, alpha="0.5"), "RoleArn": role})

    job = finished_training(world, unique_name)

    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")


def test_a_training_job_whose_role_cannot_read_its_input_fails_naming_role_action_and_resource(
    world: SageMakerWorld, unique_name: str, execution_role: Callable[..., str]
) -> None:
    role = execution_role(*s3_reads(world.bucket, "code/"), s3_writes(world.bucket, "training/"))  # no data/
    world.sm.create_training_job(**{**training_request(world, unique_name, alpha="0.5"), "RoleArn": role})

    job = finished_training(world, unique_name)

    assert job["TrainingJobStatus"] == "Failed"
    resource = f"arn:aws:s3:::{world.bucket}/data/train/part-0.csv"
    assert re.fullmatch(
        re.escape(f"ClientError: Data download failed:Unable to download object s3://{world.bucket}/data/train/")
        + r"part-0\.csv \(AccessDenied: "
        + denied(role, "s3:GetObject", resource)
        + r"\)",
        job["FailureReason"],
    ), job["FailureReason"]


def test_a_training_job_whose_role_cannot_write_its_output_fails(
    world: SageMakerWorld, unique_name: str, execution_role: Callable[..., str]
) -> None:
    role = execution_role(*s3_reads(world.bucket, "code/", "data/"))
    world.sm.create_training_job(**{**training_request(world, unique_name, alpha="0.5"), "RoleArn": role})

    job = finished_training(world, unique_name)

    assert job["TrainingJobStatus"] == "Failed"
    resource = f"arn:aws:s3:::{world.bucket}/training/{unique_name}/output/model.tar.gz"
    assert job["FailureReason"].startswith("ClientError: Data upload failed:Unable to upload object")
    assert re.search(denied(role, "s3:PutObject", resource), job["FailureReason"]), job["FailureReason"]


def test_a_processing_job_whose_role_cannot_list_its_input_fails(
    world: SageMakerWorld, unique_name: str, execution_role: Callable[..., str]
) -> None:
    role = execution_role({"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{world.bucket}/*"})
    request = processing_request(
        world,
        unique_name,
        ["python3", "/opt/ml/processing/input/code/process.py"],
        ["--input", "/opt/ml/processing/input/data", "--output", "/opt/ml/processing/output"],
    )
    world.sm.create_processing_job(**{**request, "RoleArn": role})

    job = finished_processing(world, unique_name)

    assert job["ProcessingJobStatus"] == "Failed"
    assert job["FailureReason"].startswith(
        f"ClientError: Failed to download data. ListObjectsV2 failed for s3://{world.bucket}/code/process.py"
    ), job["FailureReason"]
    assert re.search(denied(role, "s3:ListBucket", f"arn:aws:s3:::{world.bucket}"), job["FailureReason"])


def test_a_job_whose_role_does_not_trust_sagemaker_is_refused(
    world: SageMakerWorld, unique_name: str, roles: RoleFactory
) -> None:
    role = roles.create("states.amazonaws.com", *s3_reads(world.bucket, ""))

    with pytest.raises(ClientError) as refused:
        world.sm.create_training_job(**{**training_request(world, unique_name, alpha="0.5"), "RoleArn": role})

    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert refused.value.response["Error"]["Message"] == (
        f"Could not assume role {role}. Please ensure that the role exists and allows principal "
        "'sagemaker.amazonaws.com' to assume the role."
    )


def test_an_endpoint_whose_model_role_cannot_read_the_model_data_fails(
    world: SageMakerWorld, unique_name: str, execution_role: Callable[..., str]
) -> None:
    role = execution_role(*s3_reads(world.bucket, "code/"))  # not models/
    world.create_config(unique_name, world.create_model(unique_name, "v1", role_arn=role))
    world.sm.create_endpoint(EndpointName=unique_name, EndpointConfigName=unique_name)

    endpoint = world.endpoint_status(unique_name, "Failed")

    resource = f"arn:aws:s3:::{world.bucket}/models/{unique_name}/model.tar.gz"
    assert re.search(denied(role, "s3:GetObject", resource), endpoint["FailureReason"]), endpoint["FailureReason"]


def test_a_blue_green_update_whose_model_role_cannot_read_the_rollback_alarms_is_refused(
    world: SageMakerWorld, unique_name: str, execution_role: Callable[..., str]
) -> None:
    # Developer guide, deployment-guardrails-configuration: "Ensure that your IAM execution role has
    # permission to perform the cloudwatch:DescribeAlarms action on the auto-rollback alarms you specify."
    world.create_config(f"{unique_name}-v1", world.create_model(f"{unique_name}-v1", "v1"))
    world.sm.create_endpoint(EndpointName=unique_name, EndpointConfigName=f"{unique_name}-v1")
    world.endpoint_status(unique_name, "InService")
    role = execution_role(*s3_reads(world.bucket, "code/", "models/"))
    world.create_config(f"{unique_name}-v2", world.create_model(f"{unique_name}-v2", "v2", role_arn=role))
    alarm = f"{unique_name}-errors"

    world.sm.update_endpoint(
        EndpointName=unique_name,
        EndpointConfigName=f"{unique_name}-v2",
        DeploymentConfig={
            "BlueGreenUpdatePolicy": {
                "TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0},
                "MaximumExecutionTimeoutInSeconds": 600,
            },
            "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": alarm}]},
        },
    )
    endpoint = world.update_refused(unique_name, "the update to end")

    assert endpoint["EndpointConfigName"] == f"{unique_name}-v1"
    action, resource = "cloudwatch:DescribeAlarms", f"arn:aws:cloudwatch:us-east-1:000000000000:alarm:{alarm}"
    assert denial(role, "SageMaker", action, resource) in endpoint["FailureReason"], endpoint["FailureReason"]
