"""Models created from a model package run the package's container, resolved from the registry."""

from __future__ import annotations

from typing import Any

import pytest

from local.sagemaker.errors import SageMakerError
from local.sagemaker.model_containers import ModelContainers
from local.sagemaker.registry import ModelRegistry
from local.sagemaker.store import StateStore

REGION, ACCOUNT = "us-east-1", "000000000000"
PACKAGE_CONTAINER = {
    "Image": "sklearn:1.2",
    "ModelDataUrl": "s3://models/candidate/model.tar.gz",
    "Environment": {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "s3://code/"},
}


@pytest.fixture
def registry() -> ModelRegistry:
    registry = ModelRegistry(StateStore(None))
    registry.create_group({"ModelPackageGroupName": "fraud"}, REGION, ACCOUNT)
    return registry


def package(registry: ModelRegistry, **request: Any) -> str:
    request.setdefault(
        "InferenceSpecification",
        {
            "Containers": [PACKAGE_CONTAINER],
            "SupportedContentTypes": ["application/json"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
    )
    return str(
        registry.create_package({"ModelPackageGroupName": "fraud", **request}, REGION, ACCOUNT)["ModelPackageArn"]
    )


def model(**containers: Any) -> dict[str, Any]:
    return {"ModelName": "m", "_Region": REGION, "_Account": ACCOUNT, **containers}


def test_a_package_model_runs_the_packages_container_whatever_its_approval(registry: ModelRegistry) -> None:
    arn = package(registry)  # PendingManualApproval
    containers = ModelContainers(registry)
    containers.check({"PrimaryContainer": {"ModelPackageName": arn}}, REGION, ACCOUNT)

    running = containers.primary(model(PrimaryContainer={"ModelPackageName": arn}))

    assert {key: running[key] for key in ("Image", "ModelDataUrl", "Environment")} == PACKAGE_CONTAINER


def test_the_package_may_be_named_by_group_and_version_and_in_containers(registry: ModelRegistry) -> None:
    package(registry)
    second = package(
        registry,
        InferenceSpecification={
            "Containers": [{**PACKAGE_CONTAINER, "ModelDataUrl": "s3://models/v2/model.tar.gz"}],
            "SupportedContentTypes": ["application/json"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
    )
    assert second.endswith("model-package/fraud/2")

    running = ModelContainers(registry).primary(model(Containers=[{"ModelPackageName": "fraud/2"}]))

    assert running["ModelDataUrl"] == "s3://models/v2/model.tar.gz"


def test_an_environment_beside_the_package_goes_on_top_of_the_packages(registry: ModelRegistry) -> None:
    arn = package(registry)
    running = ModelContainers(registry).primary(
        model(
            PrimaryContainer={
                "ModelPackageName": arn,
                "Environment": {"SAGEMAKER_PROGRAM": "serve.py", "LOG_LEVEL": "debug"},
            }
        )
    )
    assert running["Environment"] == {
        "SAGEMAKER_PROGRAM": "serve.py",
        "SAGEMAKER_SUBMIT_DIRECTORY": "s3://code/",
        "LOG_LEVEL": "debug",
    }


def test_an_additional_inference_specification_is_picked_by_name(registry: ModelRegistry) -> None:
    arn = package(
        registry,
        AdditionalInferenceSpecifications=[
            {"Name": "gpu", "Containers": [{"Image": "sklearn-gpu", "ModelDataUrl": "s3://models/gpu.tar.gz"}]}
        ],
    )
    containers = ModelContainers(registry)

    running = containers.primary(model(PrimaryContainer={"ModelPackageName": arn, "InferenceSpecificationName": "gpu"}))

    assert running["Image"] == "sklearn-gpu"
    with pytest.raises(
        SageMakerError,
        match="InferenceSpecificationName tpu is not an additional inference "
        r"specification of model package .*fraud/1 \(it has: gpu\)",
    ):
        containers.check(
            {"PrimaryContainer": {"ModelPackageName": arn, "InferenceSpecificationName": "tpu"}}, REGION, ACCOUNT
        )


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "arn:aws:sagemaker:us-east-1:000000000000:model-package/fraud/9",
            "ModelPackage arn:aws:sagemaker:us-east-1:000000000000:model-package/fraud/9 does not exist.",
        ),
        ("fraud", "ModelPackage arn:aws:sagemaker:us-east-1:000000000000:model-package/fraud does not exist."),
        ("other/1", "ModelPackage arn:aws:sagemaker:us-east-1:000000000000:model-package/other/1 does not exist."),
    ],
)
def test_an_unknown_package_is_a_validation_error(registry: ModelRegistry, name: str, message: str) -> None:
    package(registry)
    with pytest.raises(SageMakerError) as refused:
        ModelContainers(registry).check({"Containers": [{"ModelPackageName": name}]}, REGION, ACCOUNT)
    assert (refused.value.code, refused.value.message) == ("ValidationException", message)


def test_a_package_without_an_inference_container_cannot_make_a_model(registry: ModelRegistry) -> None:
    arn = package(registry, InferenceSpecification=None)
    with pytest.raises(SageMakerError, match=r"PrimaryContainer: model package .* has no inference specification"):
        ModelContainers(registry).check({"PrimaryContainer": {"ModelPackageName": arn}}, REGION, ACCOUNT)


def test_a_model_with_its_own_container_runs_it(registry: ModelRegistry) -> None:
    own = {"Image": "custom", "ModelDataUrl": "s3://m/model.tar.gz"}
    assert ModelContainers(registry).primary(model(PrimaryContainer=own)) == own
    assert ModelContainers(registry).primary(model(Containers=[own, {"Image": "second"}])) == own
