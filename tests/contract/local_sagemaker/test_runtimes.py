"""A SageMaker job runs with its image's packages, never the project's environment.

The SageMaker scikit-learn 1.2-1 image (aws/sagemaker-scikit-learn-container, branch 1.2-1:
docker/1.2-1/base/Dockerfile.cpu, requirements.txt) has no matplotlib and no pydantic: on AWS a script
that imports one fails, and so it must here (local/sagemaker/profiles/sklearn-1.2-1.toml,
local/runtime/isolation.py).
"""

from __future__ import annotations

import pytest

from tests.support.polling import wait_until
from tests.support.sagemaker import (
    SageMakerWorld,
    finished_processing,
    finished_training,
    processing_request,
    targz,
    training_request,
)

pytestmark = pytest.mark.local

# pydantic is installed here (the project depends on it) and is not in the image; matplotlib was the case
# that broke evaluate.py, and may not be installed here at all.
LACKING = "import pydantic\nprint('validated')\n"
PROVIDED = "import sklearn, pandas, numpy, scipy, pyarrow, boto3\nprint('imported')\n"


def test_a_training_script_importing_a_package_the_image_lacks_fails_the_job(
    world: SageMakerWorld, unique_name: str
) -> None:
    # sagemaker-training 4.8.0 (errors.py, ExecuteUserScriptError) quotes the script's stderr in FailureReason.
    world.put(f"{unique_name}/train.tar.gz", targz({"train.py": LACKING}))
    request = training_request(world, unique_name)
    request["HyperParameters"]["sagemaker_submit_directory"] = f'"s3://{world.bucket}/{unique_name}/train.tar.gz"'
    world.sm.create_training_job(**request)
    job = finished_training(world, unique_name)

    assert job["TrainingJobStatus"] == "Failed"
    assert "ModuleNotFoundError: No module named 'pydantic'" in job["FailureReason"]


def test_a_training_script_importing_the_images_packages_runs(world: SageMakerWorld, unique_name: str) -> None:
    world.put(f"{unique_name}/train.tar.gz", targz({"train.py": PROVIDED}))
    request = training_request(world, unique_name)
    request["HyperParameters"]["sagemaker_submit_directory"] = f'"s3://{world.bucket}/{unique_name}/train.tar.gz"'
    world.sm.create_training_job(**request)
    job = finished_training(world, unique_name)

    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")


def test_a_processing_script_importing_a_package_the_image_lacks_fails_the_job(
    world: SageMakerWorld, unique_name: str
) -> None:
    world.put(f"{unique_name}/process.py", LACKING.encode())
    request = processing_request(world, unique_name, ["python3"], ["/opt/ml/processing/input/code/process.py"])
    request["ProcessingInputs"][0]["S3Input"]["S3Uri"] = f"s3://{world.bucket}/{unique_name}/process.py"
    world.sm.create_processing_job(**request)
    job = finished_processing(world, unique_name)

    # A processing job's failure text is its message file, which a script that cannot import never writes:
    # the error is in the job's log (aws/sagemaker-spark-container test_sagemaker_spark_errors.py).
    assert job["ProcessingJobStatus"] == "Failed"
    assert job["FailureReason"] == "AlgorithmError: See job logs for more information"
    # The job's last lines are shipped when its log closes, after the job is marked Failed.
    group, logs = "/aws/sagemaker/ProcessingJobs", world.client("logs")
    wait_until(
        lambda: any(
            "ModuleNotFoundError: No module named 'pydantic'" in event["message"]
            for stream in logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=unique_name)["logStreams"]
            for event in logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"])["events"]
        ),
        10,
        "the import error in the job's log",
    )
