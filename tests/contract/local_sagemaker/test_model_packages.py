"""Models created from the model registry, as the pipeline's CreateModel state creates them:
`PrimaryContainer: {ModelPackageName: <version ARN>}` runs the package's inference container."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.sagemaker import IMAGE, ROLE_ARN, SageMakerWorld, targz

pytestmark = pytest.mark.local


def register(world: SageMakerWorld, group: str, version: str, **behaviour: Any) -> str:
    """A package version whose container is a model (model.json) served by the test inference script."""
    model_uri = world.put(
        f"registry/{group}/{version}/model.tar.gz", targz({"model.json": json.dumps({"version": version, **behaviour})})
    )
    return str(
        world.sm.create_model_package(
            ModelPackageGroupName=group,
            ModelPackageDescription=f"candidate {version}",
            InferenceSpecification={
                "Containers": [
                    {
                        "Image": IMAGE,
                        "ModelDataUrl": model_uri,
                        "Environment": {
                            "SAGEMAKER_PROGRAM": "inference.py",
                            "SAGEMAKER_SUBMIT_DIRECTORY": f"s3://{world.bucket}/code/inference.tar.gz",
                        },
                    }
                ],
                "SupportedContentTypes": ["application/json"],
                "SupportedResponseMIMETypes": ["application/json"],
            },
        )["ModelPackageArn"]
    )


def test_a_model_from_a_package_version_serves_the_packages_model(world: SageMakerWorld, unique_name: str) -> None:
    world.sm.create_model_package_group(ModelPackageGroupName=unique_name)
    register(world, unique_name, "v1", factor=2)
    arn = register(world, unique_name, "v2", factor=5)
    world.sm.update_model_package(
        ModelPackageArn=arn, ModelApprovalStatus="Approved", ApprovalDescription="approved by ml-lead"
    )

    model_arn = world.sm.create_model(
        ModelName=unique_name, ExecutionRoleArn=ROLE_ARN, PrimaryContainer={"ModelPackageName": arn}
    )["ModelArn"]
    world.create_config(unique_name, unique_name)
    world.sm.create_endpoint(EndpointName=unique_name, EndpointConfigName=unique_name)
    endpoint = world.endpoint_status(unique_name, "InService", "Failed", timeout=90)

    assert endpoint["EndpointStatus"] == "InService", endpoint.get("FailureReason")
    assert world.invoke(unique_name, {"x": 3}) == {"version": "v2", "score": 15}
    # DescribeModel shows the container as it was given; the image deployed is the package's.
    described = world.sm.describe_model(ModelName=unique_name)
    assert described["ModelArn"] == model_arn
    assert described["PrimaryContainer"] == {"ModelPackageName": arn}
    assert endpoint["ProductionVariants"][0]["DeployedImages"][0]["SpecifiedImage"] == IMAGE


def test_containers_may_name_the_package_and_add_environment(world: SageMakerWorld, unique_name: str) -> None:
    world.sm.create_model_package_group(ModelPackageGroupName=unique_name)
    arn = register(world, unique_name, "v1", factor=3)  # still PendingManualApproval: no condition on that

    world.sm.create_model(
        ModelName=unique_name,
        ExecutionRoleArn=ROLE_ARN,
        Containers=[{"ModelPackageName": f"{unique_name}/1", "Environment": {"SAGEMAKER_MODEL_SERVER_TIMEOUT": "30"}}],
    )
    world.create_config(unique_name, unique_name)
    world.sm.create_endpoint(EndpointName=unique_name, EndpointConfigName=unique_name)
    endpoint = world.endpoint_status(unique_name, "InService", "Failed", timeout=90)

    assert endpoint["EndpointStatus"] == "InService", endpoint.get("FailureReason")
    assert world.invoke(unique_name, {"x": 2}) == {"version": "v1", "score": 6}
    assert world.sm.describe_model(ModelName=unique_name)["Containers"] == [
        {"ModelPackageName": f"{unique_name}/1", "Environment": {"SAGEMAKER_MODEL_SERVER_TIMEOUT": "30"}}
    ]
    assert arn.endswith(f"model-package/{unique_name}/1")


@pytest.mark.parametrize("version", ["9", None])
def test_a_package_that_does_not_exist_is_refused(world: SageMakerWorld, unique_name: str, version: str | None) -> None:
    world.sm.create_model_package_group(ModelPackageGroupName=unique_name)
    arn = register(world, unique_name, "v1")
    missing = f"{arn.rsplit('/', 1)[0]}/{version}" if version else arn.rsplit("/", 1)[0]

    with pytest.raises(ClientError) as refused:
        world.sm.create_model(
            ModelName=unique_name, ExecutionRoleArn=ROLE_ARN, PrimaryContainer={"ModelPackageName": missing}
        )

    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert refused.value.response["Error"]["Message"] == f"ModelPackage {missing} does not exist."
    with pytest.raises(ClientError):
        world.sm.describe_model(ModelName=unique_name)
