"""The SageMaker integrations of the local Step Functions engine, as the pipeline uses them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.monitoring import schedule_config
from tests.support.polling import wait_until
from tests.support.sagemaker import ROLE_ARN, SageMakerWorld, processing_request, training_request

pytestmark = pytest.mark.local

SFN_ROLE = "arn:aws:iam::000000000000:role/sfn-contract-test"


def run(world: SageMakerWorld, name: str, definition: dict[str, Any], timeout: float = 90) -> dict[str, Any]:
    sfn = world.client("stepfunctions")
    machine = sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=SFN_ROLE)
    execution = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], input="{}")["executionArn"]
    return wait_until(
        lambda: (d := sfn.describe_execution(executionArn=execution))["status"] != "RUNNING" and d,
        timeout,
        f"execution of {name}",
    )


def task(resource: str, parameters: dict[str, Any], next_state: str | None, **extra: Any) -> dict[str, Any]:
    state: dict[str, Any] = {"Type": "Task", "Resource": resource, "Parameters": parameters, **extra}
    if next_state:
        state["Next"] = next_state
    else:
        state["End"] = True
    return state


def test_sync_jobs_and_deployment_tasks_run_through_step_functions(world: SageMakerWorld, unique_name: str) -> None:
    training = training_request(world, f"{unique_name}-train", alpha="0.5")
    processing = processing_request(
        world,
        f"{unique_name}-eval",
        ["python3"],
        [
            "/opt/ml/processing/input/code/process.py",
            "--input",
            "/opt/ml/processing/input/data",
            "--output",
            "/opt/ml/processing/output/evaluation",
        ],
    )
    model_container = {
        "Image": "sklearn",
        "ModelDataUrl.$": "$.training.ModelArtifacts.S3ModelArtifacts",
        "Environment": {
            "SAGEMAKER_PROGRAM": "inference.py",
            "SAGEMAKER_SUBMIT_DIRECTORY": f"s3://{world.bucket}/code/inference.tar.gz",
        },
    }
    group = f"{unique_name}-group"
    world.sm.create_model_package_group(ModelPackageGroupName=group)
    # In the pipeline's order: the candidate is registered and approved, and the model is made from
    # the package version.
    definition = {
        "StartAt": "TrainCandidate",
        "States": {
            "TrainCandidate": task(
                "arn:aws:states:::sagemaker:createTrainingJob.sync",
                training,
                "DescribeTraining",
                ResultSelector={"ModelArtifacts.$": "$.ModelArtifacts", "TrainingJobStatus.$": "$.TrainingJobStatus"},
                ResultPath="$.training",
            ),
            "DescribeTraining": task(
                "arn:aws:states:::aws-sdk:sagemaker:describeTrainingJob",
                {"TrainingJobName": f"{unique_name}-train"},
                "EvaluateCandidate",
                ResultSelector={"SecondaryStatus.$": "$.SecondaryStatus"},
                ResultPath="$.described",
            ),
            "EvaluateCandidate": task(
                "arn:aws:states:::sagemaker:createProcessingJob.sync",
                processing,
                "RegisterCandidate",
                ResultSelector={"ProcessingJobStatus.$": "$.ProcessingJobStatus"},
                ResultPath="$.evaluation",
            ),
            "RegisterCandidate": task(
                "arn:aws:states:::aws-sdk:sagemaker:createModelPackage",
                {
                    "ModelPackageGroupName": group,
                    "ModelApprovalStatus": "PendingManualApproval",
                    "InferenceSpecification": {
                        "Containers": [model_container],
                        "SupportedContentTypes": ["application/json"],
                        "SupportedResponseMIMETypes": ["application/json"],
                    },
                },
                "Approve",
                ResultPath="$.package",
            ),
            "Approve": task(
                "arn:aws:states:::aws-sdk:sagemaker:updateModelPackage",
                {
                    "ModelPackageArn.$": "$.package.ModelPackageArn",
                    "ModelApprovalStatus": "Approved",
                    "ApprovalDescription": "approved by the contract test",
                },
                "CreateModel",
                ResultPath="$.approved",
            ),
            "CreateModel": task(
                "arn:aws:states:::sagemaker:createModel",
                {
                    "ModelName": f"{unique_name}-model",
                    "ExecutionRoleArn": ROLE_ARN,
                    "PrimaryContainer": {"ModelPackageName.$": "$.package.ModelPackageArn"},
                },
                "CreateEndpointConfig",
                ResultPath="$.model",
            ),
            "CreateEndpointConfig": task(
                "arn:aws:states:::sagemaker:createEndpointConfig",
                {
                    "EndpointConfigName": f"{unique_name}-config",
                    "ProductionVariants": [
                        {
                            "VariantName": "AllTraffic",
                            "ModelName": f"{unique_name}-model",
                            "InitialInstanceCount": 1,
                            "InstanceType": "ml.m5.large",
                        }
                    ],
                },
                "CreateEndpoint",
                ResultPath="$.config",
            ),
            "CreateEndpoint": task(
                "arn:aws:states:::sagemaker:createEndpoint",
                {"EndpointName": unique_name, "EndpointConfigName": f"{unique_name}-config"},
                "DescribeEndpoint",
                ResultPath="$.endpoint",
            ),
            "DescribeEndpoint": task(
                "arn:aws:states:::aws-sdk:sagemaker:describeEndpoint",
                {"EndpointName": unique_name},
                None,
                ResultSelector={"EndpointStatus.$": "$.EndpointStatus"},
                ResultPath="$.described_endpoint",
            ),
        },
    }
    execution = run(world, unique_name, definition)

    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    output = json.loads(execution["output"])
    assert output["training"]["TrainingJobStatus"] == "Completed"
    assert output["training"]["ModelArtifacts"]["S3ModelArtifacts"].endswith(
        f"/{unique_name}-train/output/model.tar.gz"
    )
    assert output["described"] == {"SecondaryStatus": "Completed"}
    assert output["evaluation"] == {"ProcessingJobStatus": "Completed"}
    assert output["model"]["ModelArn"].endswith(f":model/{unique_name}-model")
    assert output["endpoint"]["EndpointArn"].endswith(f":endpoint/{unique_name}")
    assert output["package"]["ModelPackageArn"].endswith(f":model-package/{group}/1")
    assert output["described_endpoint"]["EndpointStatus"] in ("Creating", "InService")
    package = world.sm.describe_model_package(ModelPackageName=output["package"]["ModelPackageArn"])
    assert package["ModelApprovalStatus"] == "Approved"
    assert package["ApprovalDescription"] == "approved by the contract test"
    world.endpoint_status(unique_name, "InService")
    assert world.invoke(unique_name, {"x": 4}) == {"version": "trained", "score": 2.0}


def test_a_failed_job_fails_its_sync_task_with_the_reason(world: SageMakerWorld, unique_name: str) -> None:
    training = training_request(world, f"{unique_name}-train", alpha="1", mode="fail")
    definition = {
        "StartAt": "TrainCandidate",
        "States": {
            "TrainCandidate": task(
                "arn:aws:states:::sagemaker:createTrainingJob.sync",
                training,
                None,
                Catch=[{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.failure", "Next": "Evaluate"}],
            ),
            "Evaluate": task(
                "arn:aws:states:::sagemaker:createProcessingJob.sync",
                processing_request(
                    world,
                    f"{unique_name}-eval",
                    ["python3"],
                    [
                        "/opt/ml/processing/input/code/process.py",
                        "--input",
                        "/opt/ml/processing/input/data",
                        "--output",
                        "/opt/ml/processing/output/evaluation",
                        "--fail",
                        "--message-file",
                        "/opt/ml/output/message",
                    ],
                ),
                None,
            ),
        },
    }
    execution = run(world, unique_name, definition)

    assert execution["status"] == "FAILED"
    assert execution["error"] == "States.TaskFailed"
    cause = json.loads(execution["cause"])
    assert cause["ProcessingJobStatus"] == "Failed"
    assert cause["FailureReason"] == "AlgorithmError: See job logs for more information"
    assert cause["ExitMessage"].startswith("EvaluationFailed: ")
    history = world.client("stepfunctions").get_execution_history(
        executionArn=execution["executionArn"], maxResults=1000
    )["events"]
    caught = next(
        json.loads(event["taskFailedEventDetails"]["cause"]) for event in history if event["type"] == "TaskFailed"
    )
    assert caught["TrainingJobStatus"] == "Failed"
    assert "TrainingScriptFailed: the training channel holds no usable rows" in caught["FailureReason"]


def test_an_api_error_fails_an_optimized_task_as_on_aws(world: SageMakerWorld, unique_name: str) -> None:
    world.create_model(unique_name, "v1")
    definition = {
        "StartAt": "CreateModel",
        "States": {
            "CreateModel": task(
                "arn:aws:states:::sagemaker:createModel",
                {"ModelName": unique_name, "ExecutionRoleArn": ROLE_ARN, "PrimaryContainer": {"Image": "sklearn"}},
                None,
            )
        },
    }
    execution = run(world, unique_name, definition)

    assert execution["status"] == "FAILED"
    assert execution["error"] == "SageMaker.AmazonSageMakerException"
    assert "Cannot create already existing model" in execution["cause"]
    assert "Error Code: ValidationException" in execution["cause"]


NOT_FOUND = "SageMaker.ResourceNotFoundException"


def test_an_sdk_task_names_a_modeled_error_with_the_exception_suffix(world: SageMakerWorld, unique_name: str) -> None:
    # Developer guide, "AWS SDK service integrations": the error is <Service>.<Error>, with the Exception
    # suffix even where the API's (botocore's `ResourceNotFound` of UpdateMonitoringSchedule) has none.
    config = schedule_config(world, unique_name, f"s3://{world.bucket}/baseline", f"s3://{world.bucket}/code.tar.gz")
    definition = {
        "StartAt": "ScheduleMonitoring",
        "States": {
            "ScheduleMonitoring": task(
                "arn:aws:states:::aws-sdk:sagemaker:updateMonitoringSchedule",
                {"MonitoringScheduleName": unique_name, "MonitoringScheduleConfig": config},
                None,
                Catch=[
                    {
                        "ErrorEquals": ["SageMaker.ResourceNotFoundException"],
                        "ResultPath": "$.missing",
                        "Next": "Missing",
                    }
                ],
            ),
            "Missing": {"Type": "Succeed"},
        },
    }
    execution = run(world, unique_name, definition)

    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    missing = json.loads(execution["output"])["missing"]
    assert missing["Error"] == NOT_FOUND
    assert f"Could not find monitoring schedule {unique_name}" in missing["Cause"]
