"""Training and processing jobs of the local SageMaker succeed and fail as on AWS."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.support.polling import wait_until
from tests.support.sagemaker import (
    SageMakerWorld,
    finished_processing,
    finished_training,
    processing_request,
    training_request,
    untar,
)

pytestmark = pytest.mark.local


def test_training_job_runs_script_mode_with_the_sagemaker_contract(world: SageMakerWorld, unique_name: str) -> None:
    world.sm.create_training_job(**training_request(world, unique_name, alpha="0.5", **{"model-dir": "/opt/ml/model"}))
    assert world.sm.describe_training_job(TrainingJobName=unique_name)["TrainingJobStatus"] in (
        "InProgress",
        "Completed",
    )
    job = finished_training(world, unique_name)

    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    assert job["SecondaryStatus"] == "Completed"
    assert [t["Status"] for t in job["SecondaryStatusTransitions"]] == [
        "Starting",
        "Downloading",
        "Training",
        "Uploading",
        "Completed",
    ]
    model_uri = f"s3://{world.bucket}/training/{unique_name}/output/model.tar.gz"
    assert job["ModelArtifacts"]["S3ModelArtifacts"] == model_uri
    assert job["FinalMetricDataList"][0]["MetricName"] == "validation:auc"
    assert job["FinalMetricDataList"][0]["Value"] == pytest.approx(0.55)

    seen = json.loads(untar(world.get(model_uri))["seen.json"])
    # The other hyperparameters are the script's arguments, sorted, `/opt/ml` mapped to the work dir.
    assert seen["argv"][:2] == ["--alpha", "0.5"]
    assert seen["argv"][2] == "--model-dir" and seen["argv"][3].endswith("/opt/ml/model")
    assert seen["model_dir_arg"] == seen["env"]["SM_MODEL_DIR"]
    env = seen["env"]
    assert env["SM_CHANNEL_TRAIN"].endswith("/opt/ml/input/data/train")
    assert json.loads(env["SM_CHANNELS"]) == ["train"]
    assert json.loads(env["SM_HPS"]) == {"alpha": 0.5, "model-dir": "/opt/ml/model"}
    assert json.loads(env["SM_HOSTS"]) == ["algo-1"] and env["SM_CURRENT_HOST"] == "algo-1"
    assert int(env["SM_NUM_CPUS"]) >= 1
    assert env["TRAINING_JOB_NAME"] == unique_name
    assert env["AWS_ENDPOINT_URL"] == world.endpoint_url
    assert seen["train_files"] == ["part-0.csv", "part-1.csv"]
    assert seen["hyperparameters_json"]["alpha"] == "0.5"  # the file holds the request's strings
    output = untar(world.get(f"s3://{world.bucket}/training/{unique_name}/output/output.tar.gz"))
    assert json.loads(output["metrics.json"]) == {"alpha": 0.5}

    # The job's last lines are shipped when its log closes, after the job is marked Completed.
    streams = wait_until(
        lambda: world.client("logs").describe_log_streams(
            logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=f"{unique_name}/algo-1-"
        )["logStreams"],
        10,
        "the job's log stream",
    )
    assert len(streams) == 1
    events = wait_until(
        lambda: world.client("logs").get_log_events(
            logGroupName="/aws/sagemaker/TrainingJobs", logStreamName=streams[0]["logStreamName"]
        )["events"],
        10,
        "the job's log events",
    )
    assert any("validation:auc=0.55" in event["message"] for event in events)
    # A job runs on instances that end with it, and their ML storage volume with them (botocore's
    # ResourceConfig.VolumeSizeInGB); what remains is in S3 and the logs: so does its work directory here.
    work = Path(seen["model_dir_arg"]).parents[2]
    assert work.name == unique_name
    wait_until(lambda: not work.exists(), 30, "the job's work directory to be removed")


def test_a_failing_training_script_fails_the_job_with_its_error(world: SageMakerWorld, unique_name: str) -> None:
    world.sm.create_training_job(**training_request(world, unique_name, alpha="1", mode="fail"))
    job = finished_training(world, unique_name)

    assert job["TrainingJobStatus"] == "Failed"
    assert job["SecondaryStatus"] == "Failed"
    reason = job["FailureReason"]
    assert reason.startswith("AlgorithmError: ")
    assert "TrainingScriptFailed: the training channel holds no usable rows" in reason
    assert "ExitCode 1" in reason


def test_stop_and_max_runtime_end_a_training_job(world: SageMakerWorld, unique_name: str) -> None:
    world.sm.create_training_job(**training_request(world, f"{unique_name}-stop", alpha="1", mode="sleep"))
    limited = training_request(world, f"{unique_name}-limit", alpha="1", mode="sleep")
    limited["StoppingCondition"] = {"MaxRuntimeInSeconds": 2}
    world.sm.create_training_job(**limited)
    wait_until(
        lambda: world.sm.describe_training_job(TrainingJobName=f"{unique_name}-stop")["SecondaryStatus"] == "Training",
        30,
        "the job to be training",
    )
    world.sm.stop_training_job(TrainingJobName=f"{unique_name}-stop")
    assert world.sm.describe_training_job(TrainingJobName=f"{unique_name}-stop")["TrainingJobStatus"] in (
        "Stopping",
        "Stopped",
    )

    stopped = finished_training(world, f"{unique_name}-stop")
    limited_job = finished_training(world, f"{unique_name}-limit")

    assert (stopped["TrainingJobStatus"], stopped["SecondaryStatus"]) == ("Stopped", "Stopped")
    assert (limited_job["TrainingJobStatus"], limited_job["SecondaryStatus"]) == ("Stopped", "MaxRuntimeExceeded")
    with pytest.raises(ClientError) as error:
        world.sm.stop_training_job(TrainingJobName=f"{unique_name}-stop")
    assert error.value.response["Error"]["Code"] == "ValidationException"


def test_a_training_job_name_is_unique(world: SageMakerWorld, unique_name: str) -> None:
    world.sm.create_training_job(**training_request(world, unique_name, alpha="1"))
    with pytest.raises(ClientError) as error:
        world.sm.create_training_job(**training_request(world, unique_name, alpha="2"))
    assert error.value.response["Error"]["Code"] == "ResourceInUse"
    assert "Training job names must be unique" in error.value.response["Error"]["Message"]
    finished_training(world, unique_name)


def test_a_missing_input_fails_the_training_job_as_a_client_error(world: SageMakerWorld, unique_name: str) -> None:
    request = training_request(world, unique_name, alpha="1")
    request["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] = f"s3://{world.bucket}/nothing-here/"
    world.sm.create_training_job(**request)
    job = finished_training(world, unique_name)
    assert job["TrainingJobStatus"] == "Failed"
    assert job["FailureReason"].startswith("ClientError: No S3 objects found under S3 URL")


def test_processing_job_maps_container_paths_and_python(world: SageMakerWorld, unique_name: str) -> None:
    # An `sh -c` command string, as pipelines often use: paths and `python3` inside it are mapped too.
    command = (
        "python3 /opt/ml/processing/input/code/process.py --input /opt/ml/processing/input/data "
        "--output /opt/ml/processing/output/evaluation"
    )
    world.sm.create_processing_job(**processing_request(world, unique_name, ["sh", "-c"], [command]))
    job = finished_processing(world, unique_name)

    assert job["ProcessingJobStatus"] == "Completed", job.get("FailureReason")
    report = json.loads(world.get(f"s3://{world.bucket}/processing/{unique_name}/evaluation.json"))
    assert report["rows"] == 3
    assert report["stage"] == "contract"
    assert "/bin/" in report["python"] and report["python"] != "python3"
    assert job["ProcessingStartTime"] <= job["ProcessingEndTime"]


# What DescribeProcessingJob says of a container that exited non-zero, with or without a message file
# (aws/sagemaker-spark-container test/integration/sagemaker/test_sagemaker_spark_errors.py).
ALGORITHM_ERROR = "AlgorithmError: See job logs for more information"


def test_a_failing_processing_script_fails_the_job_with_its_message(world: SageMakerWorld, unique_name: str) -> None:
    # ExitMessage is the first 1 KB of /opt/ml/output/message, never the script's stderr
    # (https://docs.aws.amazon.com/sagemaker/latest/dg/byoc-metadata.html).
    arguments = [
        "/opt/ml/processing/input/code/process.py",
        "--input",
        "/opt/ml/processing/input/data",
        "--output",
        "/opt/ml/processing/output/evaluation",
        "--fail",
        "--message-file",
        "/opt/ml/output/message",
    ]
    world.sm.create_processing_job(**processing_request(world, unique_name, ["python3"], arguments))
    job = finished_processing(world, unique_name)

    assert job["ProcessingJobStatus"] == "Failed"
    assert job["FailureReason"] == ALGORITHM_ERROR
    assert job["ExitMessage"] == "EvaluationFailed: evaluation.json could not be written: the test split is empty"
    with pytest.raises(ClientError) as error:
        world.sm.create_processing_job(**processing_request(world, unique_name, ["python3"], arguments))
    assert error.value.response["Error"]["Code"] == "ResourceInUse"
    summaries = world.sm.list_processing_jobs(NameContains=unique_name)["ProcessingJobSummaries"]
    assert [(s["ProcessingJobName"], s["ProcessingJobStatus"]) for s in summaries] == [(unique_name, "Failed")]


def test_a_processing_scripts_stderr_is_not_its_failure_text(world: SageMakerWorld, unique_name: str) -> None:
    arguments = ["/opt/ml/processing/input/code/process.py", "--input", "/opt/ml/processing/input/data"]
    arguments += ["--output", "/opt/ml/processing/output/evaluation", "--fail"]
    world.sm.create_processing_job(**processing_request(world, unique_name, ["python3"], arguments))
    job = finished_processing(world, unique_name)

    assert job["ProcessingJobStatus"] == "Failed"
    assert job["FailureReason"] == ALGORITHM_ERROR
    assert "ExitMessage" not in job
