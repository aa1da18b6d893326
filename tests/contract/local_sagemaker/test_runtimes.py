"""A SageMaker job runs with its image's packages, never the project's environment.

The SageMaker scikit-learn 1.2-1 image (aws/sagemaker-scikit-learn-container, branch 1.2-1:
docker/1.2-1/base/Dockerfile.cpu, requirements.txt) has no matplotlib and no pydantic: on AWS a script
that imports one fails, and so it must here. A job runs on the interpreter of the image's isolated
environment (local/sagemaker/profiles/sklearn-1.2-1.toml, local/runtime/environments.py), with the
image's versions.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from local.sagemaker.images import ContainerRuntimes
from tests.support.polling import wait_until
from tests.support.sagemaker import (
    IMAGE,
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


def train_with(world: SageMakerWorld, name: str, script: str) -> dict[str, Any]:
    """A training job of `script` as its train.py, once it has ended."""
    world.put(f"{name}/train.tar.gz", targz({"train.py": script}))
    request = training_request(world, name)
    request["HyperParameters"]["sagemaker_submit_directory"] = f'"s3://{world.bucket}/{name}/train.tar.gz"'
    world.sm.create_training_job(**request)
    return finished_training(world, name)


def test_a_training_script_importing_a_package_the_image_lacks_fails_the_job(
    world: SageMakerWorld, unique_name: str
) -> None:
    # sagemaker-training 4.8.0 (errors.py, ExecuteUserScriptError) quotes the script's stderr in FailureReason.
    job = train_with(world, unique_name, LACKING)

    assert job["TrainingJobStatus"] == "Failed"
    assert "ModuleNotFoundError: No module named 'pydantic'" in job["FailureReason"]


def test_a_training_script_importing_the_images_packages_runs(world: SageMakerWorld, unique_name: str) -> None:
    job = train_with(world, unique_name, PROVIDED)

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
    wait_logged(world, "/aws/sagemaker/ProcessingJobs", unique_name, "ModuleNotFoundError: No module named 'pydantic'")


def wait_logged(world: SageMakerWorld, group: str, job: str, text: str) -> None:
    # The job's last lines are shipped when its log closes, after the job's status is set.
    logs = world.client("logs")
    wait_until(
        lambda: any(
            text in event["message"]
            for stream in logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=job)["logStreams"]
            for event in logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"])["events"]
        ),
        10,
        f"{text!r} in the job's log",
    )


def test_a_training_script_runs_on_the_images_versions_not_the_projects(
    world: SageMakerWorld, unique_name: str
) -> None:
    # The project's environment has a newer scikit-learn, pandas and numpy: a script that ran on it would
    # pass locally on APIs the image lacks. The isolated environment has the image's (the profile's [local]).
    script = (
        "import sklearn, numpy, pyarrow, boto3, sys\n"
        "print('versions', sklearn.__version__, numpy.__version__, pyarrow.__version__, boto3.__version__)\n"
        "print('isolated', sys.prefix != sys.base_prefix)\n"
    )
    job = train_with(world, unique_name, script)

    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    wait_logged(world, "/aws/sagemaker/TrainingJobs", unique_name, "versions 1.2.1 1.24.1 14.0.1 1.28.57")
    wait_logged(world, "/aws/sagemaker/TrainingJobs", unique_name, "isolated True")


# Fits and saves a model with the image's scikit-learn (run on the isolated environment's interpreter).
FIT = """
import sys, joblib
from sklearn.linear_model import LogisticRegression
joblib.dump(LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1]), sys.argv[1])
"""
SERVE = """
import os, joblib, sklearn

def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))

def predict_fn(data, model):
    return {"sklearn": sklearn.__version__, "predictions": model.predict(data.reshape(-1, 1)).tolist()}

def output_fn(prediction, accept):
    import json
    return json.dumps(prediction)
"""


def test_the_model_server_loads_a_model_of_the_images_scikit_learn(
    world: SageMakerWorld, unique_name: str, tmp_path: Path
) -> None:
    # A model saved by scikit-learn 1.2.1 (what the image's training job writes) is served by 1.2.1.
    interpreter = ContainerRuntimes().interpreter(IMAGE)
    subprocess.run([interpreter, "-c", FIT, str(tmp_path / "model.joblib")], check=True, timeout=120)
    model_uri = world.put(
        f"{unique_name}/model.tar.gz", targz({"model.joblib": (tmp_path / "model.joblib").read_bytes()})
    )
    code_uri = world.put(f"{unique_name}/code.tar.gz", targz({"inference.py": SERVE}))
    world.create_model(unique_name, "v1", model_uri=model_uri, code_uri=code_uri)
    world.create_config(unique_name, unique_name, 1)
    world.sm.create_endpoint(EndpointName=unique_name, EndpointConfigName=unique_name)
    try:
        world.endpoint_status(unique_name, "InService")
        answer = world.runtime.invoke_endpoint(
            EndpointName=unique_name, Body="[0.0, 3.0]", ContentType="application/json"
        )
        assert json.loads(answer["Body"].read()) == {"sklearn": "1.2.1", "predictions": [0, 1]}
    finally:
        world.sm.delete_endpoint(EndpointName=unique_name)
