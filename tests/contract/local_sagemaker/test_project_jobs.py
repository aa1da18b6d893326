"""The project's own entry points (jobs/train.py, evaluate.py, inference.py) on the local SageMaker,
submitted the way the pipeline submits them: sourcedir.tar.gz in S3, script mode, SKLearn serving."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.polling import wait_until
from tests.support.sagemaker import IMAGE, ROLE_ARN, SageMakerWorld, targz

pytestmark = pytest.mark.local

JOBS = Path(__file__).resolve().parents[3] / "jobs"


@pytest.fixture(scope="module")
def processed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.support.jobs import demo_data, write_processed  # prepare_data's output, without Spark

    return write_processed(tmp_path_factory.mktemp("processed"), demo_data.DEFAULT_START, days=6, rows_per_day=400)


def upload_folder(world: SageMakerWorld, folder: Path, prefix: str) -> str:
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            world.put(f"{prefix}/{path.relative_to(folder).as_posix()}", path.read_bytes())
    return f"s3://{world.bucket}/{prefix}"


def test_train_evaluate_and_serve_the_project_model(world: SageMakerWorld, unique_name: str, processed: Path) -> None:
    sourcedir = world.put(
        f"{unique_name}/code/sourcedir.tar.gz", targz({path.name: path.read_bytes() for path in JOBS.glob("*.py")})
    )
    data = upload_folder(world, processed, f"{unique_name}/processed")
    hyperparameters = {"max_iter": "50", "learning_rate": "0.1", "early_stopping": "false", "random_state": "42"}
    world.sm.create_training_job(
        TrainingJobName=f"{unique_name}-train",
        RoleArn=ROLE_ARN,
        AlgorithmSpecification={
            "TrainingImage": IMAGE,
            "TrainingInputMode": "File",
            "MetricDefinitions": [
                {"Name": "validation:average_precision", "Regex": "validation:average_precision=([0-9.]+)"}
            ],
        },
        HyperParameters={
            "sagemaker_program": json.dumps("train.py"),
            "sagemaker_submit_directory": json.dumps(sourcedir),
            **hyperparameters,
        },
        InputDataConfig=[
            {
                "ChannelName": channel,
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"{data}/{channel}/"}},
            }
            for channel in ("train", "validation")
        ],
        OutputDataConfig={"S3OutputPath": f"s3://{world.bucket}/{unique_name}/models"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 300},
    )
    training = wait_until(
        lambda: (
            (d := world.sm.describe_training_job(TrainingJobName=f"{unique_name}-train"))["TrainingJobStatus"]
            in ("Completed", "Failed", "Stopped")
            and d
        ),
        180,
        "train.py",
    )
    assert training["TrainingJobStatus"] == "Completed", training.get("FailureReason")
    model_uri = training["ModelArtifacts"]["S3ModelArtifacts"]
    assert [m["MetricName"] for m in training.get("FinalMetricDataList", [])] == ["validation:average_precision"]

    code_prefix = f"s3://{world.bucket}/{unique_name}/evaluation-code/"
    for path in JOBS.glob("*.py"):
        world.put(f"{unique_name}/evaluation-code/{path.name}", path.read_bytes())
    inputs: list[dict[str, Any]] = [
        {
            "InputName": name,
            "S3Input": {
                "S3Uri": uri,
                "LocalPath": f"/opt/ml/processing/input/{name}",
                "S3DataType": "S3Prefix",
                "S3InputMode": "File",
            },
        }
        for name, uri in (
            ("code", code_prefix),
            ("model", model_uri),
            ("test", f"{data}/test/"),
            ("train", f"{data}/train/"),
        )
    ]
    world.sm.create_processing_job(
        ProcessingJobName=f"{unique_name}-eval",
        RoleArn=ROLE_ARN,
        AppSpecification={
            "ImageUri": IMAGE,
            "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/evaluate.py"],
            "ContainerArguments": [
                "--model-dir",
                "/opt/ml/processing/input/model",
                "--test-dir",
                "/opt/ml/processing/input/test",
                "--train-dir",
                "/opt/ml/processing/input/train",
                "--output-dir",
                "/opt/ml/processing/output/evaluation",
                "--champion-model-uri",
                "none",
            ],
        },
        ProcessingResources={
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 10}
        },
        ProcessingInputs=inputs,
        ProcessingOutputConfig={
            "Outputs": [
                {
                    "OutputName": "evaluation",
                    "S3Output": {
                        "S3Uri": f"s3://{world.bucket}/{unique_name}/evaluation",
                        "LocalPath": "/opt/ml/processing/output/evaluation",
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ]
        },
    )
    evaluation_job = wait_until(
        lambda: (
            (d := world.sm.describe_processing_job(ProcessingJobName=f"{unique_name}-eval"))["ProcessingJobStatus"]
            in ("Completed", "Failed", "Stopped")
            and d
        ),
        180,
        "evaluate.py",
    )
    assert evaluation_job["ProcessingJobStatus"] == "Completed", evaluation_job.get("FailureReason")
    evaluation = json.loads(world.get(f"s3://{world.bucket}/{unique_name}/evaluation/evaluation.json"))
    assert evaluation["champion"] is None and 0.0 <= evaluation["candidate"]["roc_auc"] <= 1.0
    # The baseline came out with the evaluation, one feature per request column the model reads.
    statistics = json.loads(world.get(f"s3://{world.bucket}/{unique_name}/evaluation/baseline/statistics.json"))
    model = evaluation["model"]
    inputs = [column for column in model["feature_columns"] if column in model["raw_columns"]]
    assert [feature["name"] for feature in statistics["features"]] == inputs

    # Served as the pipeline serves it: registered, then a model made from the package version.
    world.sm.create_model_package_group(ModelPackageGroupName=unique_name)
    package_arn = world.sm.create_model_package(
        ModelPackageGroupName=unique_name,
        ModelApprovalStatus="PendingManualApproval",
        InferenceSpecification={
            "Containers": [
                {
                    "Image": IMAGE,
                    "ModelDataUrl": model_uri,
                    "Environment": {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": sourcedir},
                }
            ],
            "SupportedContentTypes": ["text/csv", "application/json"],
            "SupportedResponseMIMETypes": ["application/json", "text/csv"],
        },
    )["ModelPackageArn"]
    world.sm.update_model_package(ModelPackageArn=package_arn, ModelApprovalStatus="Approved")
    world.sm.create_model(
        ModelName=unique_name, ExecutionRoleArn=ROLE_ARN, PrimaryContainer={"ModelPackageName": package_arn}
    )
    world.create_config(unique_name, unique_name)
    world.sm.create_endpoint(EndpointName=unique_name, EndpointConfigName=unique_name)
    endpoint = world.endpoint_status(unique_name, "InService", "Failed", timeout=90)
    assert endpoint["EndpointStatus"] == "InService", endpoint.get("FailureReason")

    from tests.support.jobs import demo_data

    day = demo_data.generate_day(demo_data.DEFAULT_START, demo_data.DEFAULT_SEED, 3).frame()
    rows = json.loads(day.drop(columns=["is_fraud"]).to_json(orient="records", date_format="iso"))
    answer = world.runtime.invoke_endpoint(
        EndpointName=unique_name, ContentType="application/json", Body=json.dumps({"instances": rows})
    )
    predictions = json.loads(answer["Body"].read())["predictions"]
    assert len(predictions) == 3 and all(0.0 <= p["score"] <= 1.0 and p["label"] in (0, 1) for p in predictions)
