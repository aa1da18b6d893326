"""Every control-plane response of the local SageMaker matches botocore's output shape, and the
model registry keeps versions and approvals as SageMaker does."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import botocore.session
import pytest
from botocore.exceptions import ClientError
from botocore.validate import ParamValidator

from local.sagemaker.shapes import ShapeChecker
from tests.support.polling import wait_until
from tests.support.sagemaker import (
    SageMakerWorld,
    finished_processing,
    finished_training,
    processing_request,
    training_request,
)

pytestmark = pytest.mark.local

MODEL = botocore.session.get_session().get_service_model("sagemaker")
OPERATIONS = {
    "CreateTrainingJob",
    "DescribeTrainingJob",
    "StopTrainingJob",
    "ListTrainingJobs",
    "CreateProcessingJob",
    "DescribeProcessingJob",
    "StopProcessingJob",
    "ListProcessingJobs",
    "CreateModel",
    "DescribeModel",
    "DeleteModel",
    "ListModels",
    "CreateEndpointConfig",
    "DescribeEndpointConfig",
    "DeleteEndpointConfig",
    "ListEndpointConfigs",
    "CreateEndpoint",
    "UpdateEndpoint",
    "DescribeEndpoint",
    "DeleteEndpoint",
    "ListEndpoints",
    "CreateModelPackageGroup",
    "DescribeModelPackageGroup",
    "ListModelPackageGroups",
    "CreateModelPackage",
    "DescribeModelPackage",
    "UpdateModelPackage",
    "ListModelPackages",
}


class Recorder:
    """Keeps every parsed successful response, by operation."""

    def __init__(self) -> None:
        self.responses: dict[str, list[dict[str, Any]]] = {}

    def __call__(self, http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        if http_response.status_code == 200:
            body = {key: value for key, value in parsed.items() if key != "ResponseMetadata"}
            self.responses.setdefault(model.name, []).append(body)


def test_every_operation_answers_in_its_output_shape(world: SageMakerWorld, unique_name: str) -> None:
    recorder = Recorder()
    sm = world.sm
    sm.meta.events.register("after-call.sagemaker", recorder)
    try:
        exercise_every_operation(world, unique_name)
    finally:
        sm.meta.events.unregister("after-call.sagemaker", recorder)

    assert set(recorder.responses) == OPERATIONS
    checker = ShapeChecker(MODEL, strict_members=True)
    validator = ParamValidator()
    for operation, responses in sorted(recorder.responses.items()):
        shape = MODEL.operation_model(operation).output_shape
        for response in responses:
            if shape is None:
                assert response == {}, operation
                continue
            problems = checker.problems(response, shape)
            assert problems == [], f"{operation}: {problems}"
            report = validator.validate(response, shape)
            assert not report.has_errors(), f"{operation}: {report.generate_report()}"


def exercise_every_operation(world: SageMakerWorld, name: str) -> None:
    sm = world.sm
    sm.create_training_job(**training_request(world, f"{name}-train", alpha="0.5"))
    sm.create_training_job(**training_request(world, f"{name}-stop", alpha="0.5", mode="sleep"))
    wait_until(
        lambda: sm.describe_training_job(TrainingJobName=f"{name}-stop")["SecondaryStatus"] == "Training",
        30,
        "the job to train",
    )
    sm.stop_training_job(TrainingJobName=f"{name}-stop")
    finished_training(world, f"{name}-train")
    finished_training(world, f"{name}-stop")
    sm.describe_training_job(TrainingJobName=f"{name}-stop")
    assert len(sm.list_training_jobs(NameContains=name, MaxResults=1)["TrainingJobSummaries"]) == 1
    pages = sm.get_paginator("list_training_jobs").paginate(NameContains=name, PaginationConfig={"PageSize": 1})
    assert sorted(s["TrainingJobName"] for page in pages for s in page["TrainingJobSummaries"]) == [
        f"{name}-stop",
        f"{name}-train",
    ]

    command = [
        "/opt/ml/processing/input/code/process.py",
        "--input",
        "/opt/ml/processing/input/data",
        "--output",
        "/opt/ml/processing/output/evaluation",
    ]
    sm.create_processing_job(**processing_request(world, f"{name}-eval", ["python3"], command))
    sleeper = processing_request(world, f"{name}-sleep", ["sh", "-c"], ["sleep 60"])
    sm.create_processing_job(**sleeper)
    wait_until(
        lambda: sm.describe_processing_job(ProcessingJobName=f"{name}-sleep").get("ProcessingStartTime"),
        30,
        "the processing job to start",
    )
    sm.stop_processing_job(ProcessingJobName=f"{name}-sleep")
    finished_processing(world, f"{name}-eval")
    assert finished_processing(world, f"{name}-sleep")["ProcessingJobStatus"] == "Stopped"
    sm.list_processing_jobs(NameContains=name, StatusEquals="Completed")

    world.create_model(f"{name}-model", "v1")
    world.create_model(f"{name}-model-2", "v2")
    sm.describe_model(ModelName=f"{name}-model")
    assert [
        m["ModelName"] for m in sm.list_models(NameContains=name, SortBy="Name", SortOrder="Ascending")["Models"]
    ] == [f"{name}-model", f"{name}-model-2"]
    world.create_config(f"{name}-config", f"{name}-model")
    world.create_config(f"{name}-config-2", f"{name}-model-2")
    sm.describe_endpoint_config(EndpointConfigName=f"{name}-config")
    sm.list_endpoint_configs(NameContains=name)
    sm.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-config")
    sm.describe_endpoint(EndpointName=name)  # Creating
    world.endpoint_status(name, "InService")
    sm.update_endpoint(EndpointName=name, EndpointConfigName=f"{name}-config-2")
    sm.describe_endpoint(EndpointName=name)  # Updating
    world.endpoint_status(name, "InService")
    wait_until(
        lambda: sm.describe_endpoint(EndpointName=name)["EndpointConfigName"] == f"{name}-config-2", 30, "the update"
    )
    sm.list_endpoints(NameContains=name, StatusEquals="InService")
    sm.delete_endpoint(EndpointName=name)
    wait_until(lambda: not sm.list_endpoints(NameContains=name)["Endpoints"], 30, "the endpoint's deletion")
    sm.delete_endpoint_config(EndpointConfigName=f"{name}-config")
    sm.delete_model(ModelName=f"{name}-model")

    group = f"{name}-group"
    sm.create_model_package_group(ModelPackageGroupName=group, ModelPackageGroupDescription="contract test")
    sm.describe_model_package_group(ModelPackageGroupName=group)
    sm.list_model_package_groups(NameContains=name)
    arn = sm.create_model_package(
        ModelPackageGroupName=group,
        ModelPackageDescription="candidate",
        CustomerMetadataProperties={"run": name},
        InferenceSpecification={
            "Containers": [{"Image": "sklearn", "ModelDataUrl": "s3://b/model.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        ModelMetrics={
            "ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": "s3://b/evaluation.json"}}
        },
    )["ModelPackageArn"]
    sm.describe_model_package(ModelPackageName=arn)
    sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved", ApprovalDescription="ok")
    sm.describe_model_package(ModelPackageName=arn)
    sm.list_model_packages(ModelPackageGroupName=group)


def test_the_registry_versions_packages_and_records_approvals(world: SageMakerWorld, unique_name: str) -> None:
    sm = world.sm
    group_arn = sm.create_model_package_group(ModelPackageGroupName=unique_name)["ModelPackageGroupArn"]
    assert group_arn == f"arn:aws:sagemaker:us-east-1:000000000000:model-package-group/{unique_name}"
    with pytest.raises(ClientError) as duplicate:
        sm.create_model_package_group(ModelPackageGroupName=unique_name)
    assert duplicate.value.response["Error"]["Code"] == "ValidationException"
    spec = {
        "Containers": [{"Image": "sklearn", "ModelDataUrl": "s3://b/m.tar.gz"}],
        "SupportedContentTypes": ["text/csv"],
        "SupportedResponseMIMETypes": ["application/json"],
    }
    first = sm.create_model_package(
        ModelPackageGroupName=unique_name,
        InferenceSpecification=spec,
        MetadataProperties={"GeneratedBy": "execution-1", "CommitId": "abc123"},
    )
    second = sm.create_model_package(ModelPackageGroupName=unique_name, InferenceSpecification=spec)

    assert first["ModelPackageArn"].endswith(f"model-package/{unique_name}/1")
    assert second["ModelPackageArn"].endswith(f"model-package/{unique_name}/2")
    package = sm.describe_model_package(ModelPackageName=first["ModelPackageArn"])
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    assert package["ModelPackageVersion"] == 1 and package["ModelPackageGroupName"] == unique_name
    assert package["ModelPackageStatus"] == "Completed"
    assert package["MetadataProperties"] == {"GeneratedBy": "execution-1", "CommitId": "abc123"}

    sm.update_model_package(
        ModelPackageArn=first["ModelPackageArn"],
        ModelApprovalStatus="Approved",
        ApprovalDescription="approved by ml-lead: +0.02 average precision",
    )
    approved = sm.describe_model_package(ModelPackageName=first["ModelPackageArn"])
    assert approved["ModelApprovalStatus"] == "Approved"
    assert approved["ApprovalDescription"] == "approved by ml-lead: +0.02 average precision"
    assert approved["LastModifiedTime"] >= approved["CreationTime"]
    listed = sm.list_model_packages(ModelPackageGroupName=unique_name, ModelApprovalStatus="Approved")
    assert [p["ModelPackageVersion"] for p in listed["ModelPackageSummaryList"]] == [1]
    newest = sm.list_model_packages(
        ModelPackageGroupName=unique_name, SortBy="CreationTime", SortOrder="Descending", MaxResults=1
    )["ModelPackageSummaryList"]
    assert newest[0]["ModelPackageVersion"] == 2
    with pytest.raises(ClientError) as missing:
        sm.describe_model_package(ModelPackageName=f"{first['ModelPackageArn'][:-1]}9")
    assert missing.value.response["Error"]["Code"] == "ValidationException"


def test_a_bad_request_is_refused_with_the_field_named(world: SageMakerWorld, unique_name: str) -> None:
    # What boto3 would refuse client-side, sent raw (as a Step Functions task may send it): the
    # service refuses it too, naming each field.
    request = training_request(world, unique_name, alpha="1")
    request["StoppingCondition"] = {"MaxRuntimeInSeconds": 0}
    request["TrainingJobName"] = "not_a valid name"
    http = urllib.request.Request(
        world.endpoint_url,
        data=json.dumps(request).encode(),
        method="POST",
        headers={
            "X-Amz-Target": "SageMaker.CreateTrainingJob",
            "Content-Type": "application/x-amz-json-1.1",
            "Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/sagemaker/aws4_request, "
            "SignedHeaders=host, Signature=0",
        },
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(http, timeout=10)
    body = json.loads(refused.value.read())
    assert refused.value.code == 400
    assert body["__type"] == "ValidationException"
    assert (
        "at 'trainingJobName' failed to satisfy constraint: Member must satisfy regular expression" in body["message"]
    )
    assert "at 'stoppingCondition.maxRuntimeInSeconds'" in body["message"]
    assert body["message"].startswith("2 validation errors detected: ")
    with pytest.raises(ClientError):
        world.sm.describe_training_job(TrainingJobName=unique_name)
