"""Endpoints, the model registry and finished jobs survive a restart of the local AWS; jobs it interrupted end
Failed by name."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from local.aws import LocalAws
from local.home import StateDirectory
from tests.support.polling import wait_until
from tests.support.sagemaker import (
    INFERENCE_SCRIPT,
    PROCESS_SCRIPT,
    TRAIN_SCRIPT,
    SageMakerWorld,
    finished_training,
    processing_request,
    targz,
    training_request,
)

pytestmark = pytest.mark.local


@pytest.fixture
def own_local_aws(tmp_path: Path) -> Iterator[LocalAws]:
    """A local AWS of this test's own: it is stopped and started again, which the shared one must not be."""
    aws = LocalAws(StateDirectory(tmp_path / "home"), port=0)
    aws.start()
    try:
        yield aws
    finally:
        aws.stop()


def test_a_restart_keeps_endpoints_answering(own_local_aws: LocalAws) -> None:
    process = own_local_aws.running()
    assert process is not None
    world = SageMakerWorld(process.endpoint, "restart-test")
    world.client("s3").create_bucket(Bucket=world.bucket)
    world.put("code/inference.tar.gz", targz({"inference.py": INFERENCE_SCRIPT}))
    world.create_model("model-v1", "v1", factor=3)
    world.create_config("config-v1", "model-v1")
    world.sm.create_endpoint(EndpointName="survivor", EndpointConfigName="config-v1")
    world.endpoint_status("survivor", "InService")
    world.sm.create_model_package_group(ModelPackageGroupName="survivors")
    world.sm.create_model_package(
        ModelPackageGroupName="survivors",
        InferenceSpecification={
            "Containers": [{"Image": "sklearn"}],
            "SupportedContentTypes": ["application/json"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
    )
    assert world.invoke("survivor", {"x": 2}) == {"version": "v1", "score": 6}

    own_local_aws.stop()
    restarted = own_local_aws.start()
    world = SageMakerWorld(restarted.endpoint, "restart-test")

    def answers() -> dict[str, object] | None:
        try:
            return world.invoke("survivor", {"x": 2})
        except ClientError as error:  # 503 while its model server starts again
            if error.response["Error"]["Code"] != "ServiceUnavailable":
                raise
            return None

    assert wait_until(answers, 60, "the endpoint to answer after the restart") == {"version": "v1", "score": 6}
    endpoint = world.sm.describe_endpoint(EndpointName="survivor")
    assert endpoint["EndpointStatus"] == "InService"
    assert endpoint["EndpointConfigName"] == "config-v1"
    packages = world.sm.list_model_packages(ModelPackageGroupName="survivors")["ModelPackageSummaryList"]
    assert [package["ModelPackageVersion"] for package in packages] == [1]


def _job_processes(state: Path) -> set[int]:
    """The job processes working in this home's local SageMaker (their working folders are under `work/`)."""
    found: set[int] = set()
    for entry in Path("/proc").iterdir():
        try:
            cwd = os.readlink(entry / "cwd") if entry.name.isdigit() else ""
        except OSError:
            continue
        if cwd.startswith(str(state / "emulator" / "sagemaker" / "work")):
            found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_kill_9_fails_the_jobs_it_interrupted_by_name_and_keeps_finished_ones(own_local_aws: LocalAws) -> None:
    """On AWS a job goes on whatever happens to its caller; locally its process goes with the local AWS that
    ran it. After a `kill -9` and a start, a job that was InProgress is Failed (SecondaryStatus Failed,
    TrainingEndTime/ProcessingEndTime set) with a FailureReason naming the restart (DescribeTrainingJob's
    `FailureReason`, botocore sagemaker-2017-07-24 `FailureReason`), its process is ended, and its name stays
    taken (CreateTrainingJob refuses it with ResourceInUse, so Step Functions' Find<Kind>Job reconciles with
    it rather than training twice); a job that completed before the kill stays Completed with its model."""
    process = own_local_aws.running()
    assert process is not None
    world = SageMakerWorld(process.endpoint, "restart-jobs")
    world.client("s3").create_bucket(Bucket=world.bucket)
    world.put("code/train.tar.gz", targz({"train.py": TRAIN_SCRIPT}))
    world.put("code/process.py", PROCESS_SCRIPT.encode())
    world.put("data/train/part-0.csv", b"1,0\n2,1\n")
    world.sm.create_training_job(**training_request(world, "finished", alpha="1"))
    done = finished_training(world, "finished")
    assert done["TrainingJobStatus"] == "Completed"
    world.sm.create_training_job(**training_request(world, "interrupted", alpha="1", mode="sleep"))
    world.sm.create_processing_job(
        **processing_request(
            world, "interrupted-eval", ["python3", "-c", "import time, sys; time.sleep(float(sys.argv[1]))"], ["60"]
        )
    )
    wait_until(
        lambda: world.sm.describe_training_job(TrainingJobName="interrupted")["SecondaryStatus"] == "Training",
        60,
        "the job to be training",
    )
    state = own_local_aws.home.root
    processes = wait_until(lambda: len(found := _job_processes(state)) >= 2 and found, 60, "both jobs' processes")

    os.kill(process.pid, signal.SIGKILL)
    own_local_aws.wait()
    world = SageMakerWorld(own_local_aws.start().endpoint, "restart-jobs")

    job = world.sm.describe_training_job(TrainingJobName="interrupted")
    assert (job["TrainingJobStatus"], job["SecondaryStatus"]) == ("Failed", "Failed")
    assert "restarted while the job was running" in job["FailureReason"] and "TrainingEndTime" in job
    evaluation = world.sm.describe_processing_job(ProcessingJobName="interrupted-eval")
    assert evaluation["ProcessingJobStatus"] == "Failed" and "restarted" in evaluation["FailureReason"]
    wait_until(lambda: not any(_alive(pid) for pid in processes), 30, f"the jobs' processes {processes} to end")
    kept = world.sm.describe_training_job(TrainingJobName="finished")
    assert kept["TrainingJobStatus"] == "Completed"
    assert kept["ModelArtifacts"] == done["ModelArtifacts"]
    with pytest.raises(ClientError) as refused:
        world.sm.create_training_job(**training_request(world, "interrupted", alpha="1"))
    assert refused.value.response["Error"]["Code"] == "ResourceInUse"
