"""The local AWS killed (`kill -9`) in the middle of a whole retrain cycle, and started again: what survives,
how the run ends and how it resumes (docs/architecture.md, "State that survives a crash").

On AWS a run goes on whatever happens to its caller; locally the engine's threads and a callback's task
token live in the killed process, so a run that was in a Task ends FAILED with `Local.EmulatorCrashed`
naming the state (local/emulator/durability.py), and `retrain redrive RUN` resumes it there. Each test
starts a manual run of the deployed pipeline, waits on the condition itself (the state entered, the Glue
job run RUNNING, the training job InProgress, the approval asked), kills the local AWS, starts it again
and asserts:

- the state table (champion, watermark, approval requests) holds exactly what it held before the kill,
  and no job process (Glue's Spark driver and JVM, SageMaker's job) from before the kill is left;
- the run is FAILED with the named error, naming the state it was in;
- after `retrain redrive` (and `retrain approve`) the run ends as a run that never crashed ends (Promoted,
  or KeptChampion when its candidate does not beat the champion; the approval case must be Promoted), with
  one successful Glue job run and one completed training job and evaluation job for the run: the states
  before the one killed are not run again, and the job the kill interrupted is FAILED with a message
  naming the stop or the restart.

They share one local AWS (on a fixed port: the restarted one answers where the killed one did) and the
first run's champion; each lands the days it needs, so any one passes alone and in any order.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local.runtime.process import processes_working_under
from tests.support.cycles import FirstRun, states
from tests.support.pipeline import RUN_TIMEOUT, LocalPipeline, started_pipeline
from tests.support.polling import wait_until

pytestmark = [pytest.mark.local, pytest.mark.slow]

CRASHED = "Local.EmulatorCrashed"
# Days of the drifting demo stream a candidate beats the champion on (tests/local/test_cycles.py).
NEW_DAYS = 15


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def local(first_run_home: tuple[Path, FirstRun]) -> Iterator[LocalPipeline]:
    """The module's local AWS (on a copy of the first run's home, tests/local/conftest.py) on a port of its
    own that stays the same across a restart."""
    with started_pipeline(first_run_home[0], free_port()) as pipeline:
        yield pipeline


def job_processes(home: Path) -> set[int]:
    """The local job processes working in this home: Glue runs (their scratch folders) and SageMaker jobs."""
    return processes_working_under(home / "tmp" / "glue-runs") | processes_working_under(
        home / "emulator" / "sagemaker" / "work"
    )


def alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def kill_and_restart(local: LocalPipeline) -> set[int]:
    """`kill -9` the local AWS, start it again on the same home and port; the job processes it had."""
    process = local.aws.running()
    assert process is not None
    before = job_processes(local.aws.home.root)
    os.kill(process.pid, signal.SIGKILL)
    local.aws.wait()
    assert local.aws.running() is None
    local.aws.start()
    return before


def state_items(local: LocalPipeline) -> list[dict[str, Any]]:
    pipeline = local.pipeline
    items: list[dict[str, Any]] = local.client("dynamodb").scan(TableName=pipeline.state_table)["Items"]
    return sorted(items, key=lambda item: json.dumps(item, sort_keys=True))


def landed(local: LocalPipeline) -> list[tuple[str, str]]:
    """The landing prefix's objects (key, ETag): the records the runs train on."""
    pipeline, s3 = local.pipeline, local.client("s3")
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=pipeline.bucket, Prefix=pipeline.config.data.landing_prefix
    )
    return sorted((item["Key"], item["ETag"]) for page in pages for item in page.get("Contents", []))


def start_run(local: LocalPipeline) -> tuple[str, str]:
    """A manual run on new days (the new-data rule is off): its name and ARN."""
    local.ensure_new_days(NEW_DAYS)
    name = f"crash-{uuid.uuid4().hex[:8]}"
    arn = local.client("stepfunctions").start_execution(
        stateMachineArn=local.pipeline.state_machine_arn, name=name, input=json.dumps({"trigger": "manual"})
    )["executionArn"]
    return name, arn


def entered(local: LocalPipeline, arn: str, state: str) -> bool:
    events = local.client("stepfunctions").get_execution_history(executionArn=arn, maxResults=1000)["events"]
    return any(event.get("stateEnteredEventDetails", {}).get("name") == state for event in events)


def ended(local: LocalPipeline, arn: str) -> dict[str, Any]:
    sfn = local.client("stepfunctions")
    described: dict[str, Any] = wait_until(
        lambda: (d := sfn.describe_execution(executionArn=arn))["status"] != "RUNNING" and d,
        RUN_TIMEOUT,
        "the run to end",
    )
    return described


def retrain(local: LocalPipeline, *args: str) -> tuple[int, str, str]:
    command = local.retrain(*args)
    stdout, stderr = command.communicate(timeout=120)
    assert command.returncode is not None
    return command.returncode, stdout, stderr


def sagemaker_jobs(local: LocalPipeline, kind: str, name: str) -> dict[str, dict[str, Any]]:
    """The run's SageMaker jobs of `kind` (Training, Processing), described, by name."""
    sagemaker, snake = local.client("sagemaker"), kind.lower()
    listed = getattr(sagemaker, f"list_{snake}_jobs")(MaxResults=100)[f"{kind}JobSummaries"]
    describe = getattr(sagemaker, f"describe_{snake}_job")
    return {
        job[f"{kind}JobName"]: describe(**{f"{kind}JobName": job[f"{kind}JobName"]})
        for job in listed
        if name in job[f"{kind}JobName"]
    }


def training_jobs(local: LocalPipeline, name: str) -> dict[str, dict[str, Any]]:
    return sagemaker_jobs(local, "Training", name)


def processing_jobs(local: LocalPipeline, name: str) -> dict[str, dict[str, Any]]:
    return sagemaker_jobs(local, "Processing", name)


def glue_runs(local: LocalPipeline, name: str) -> list[dict[str, Any]]:
    glue, job = local.client("glue"), local.pipeline.outputs["GlueJobName"]
    return [
        run
        for run in glue.get_job_runs(JobName=job, MaxResults=200)["JobRuns"]
        if name in json.dumps(run.get("Arguments", {}))
    ]


def token_of(local: LocalPipeline, name: str) -> str:
    return str(local.approval_request(name).get("task_token", {}).get("S", ""))


def redrive_and_approve(local: LocalPipeline, name: str, arn: str, old_token: str = "") -> dict[str, Any]:
    """`retrain redrive`, then `retrain approve` once the redriven run asks (with a token of its own): its end.
    A candidate that does not beat the champion ends the run KeptChampion without asking, as the first run
    would have ended."""
    code, stdout, stderr = retrain(local, "redrive", name)
    assert code == 0, stderr
    assert f"redriving {name} (redrive 1)" in stdout and CRASHED in stdout, stdout
    sfn = local.client("stepfunctions")

    def asks_or_ends() -> bool:
        if sfn.describe_execution(executionArn=arn)["status"] != "RUNNING":
            return True
        return local.approval_status(name) == "PENDING" and token_of(local, name) not in ("", old_token)

    wait_until(asks_or_ends, RUN_TIMEOUT, "the redriven run to ask for approval or end")
    if sfn.describe_execution(executionArn=arn)["status"] == "RUNNING":
        code, stdout, stderr = retrain(local, "approve", name, "--reason", "crash test")
        assert code == 0, stderr
    return ended(local, arn)


def assert_crashed_in(local: LocalPipeline, arn: str, state: str) -> None:
    described = ended(local, arn)
    assert (described["status"], described.get("error")) == ("FAILED", CRASHED), described
    assert f"in state '{state}'" in described.get("cause", ""), described
    timeline = local.timeline({"execution_arn": arn})
    assert states(timeline)[-1] == state


def crash_in(local: LocalPipeline, arn: str, state: str, *, job_running: bool) -> None:
    """Kill the local AWS while the run is in `state`, start it again: the state table and the landed records
    are as they were, the run is FAILED naming the state, and no job process of the killed one (a job's, or
    a Glue standby's) is left."""
    before, records = state_items(local), landed(local)

    processes = kill_and_restart(local)

    assert state_items(local) == before and landed(local) == records
    assert_crashed_in(local, arn, state)
    assert processes or not job_running, "no job process was found running before the kill"
    wait_until(lambda: not any(alive(pid) for pid in processes), 60, f"the job processes {processes} to end")


def assert_finished(local: LocalPipeline, described: dict[str, Any], name: str, *outcomes: str) -> str:
    """The redriven run ended as a run that never crashed ends, with one job of each kind that completed."""
    timeline = local.timeline({"execution_arn": described["executionArn"]})
    assert described["status"] == "SUCCEEDED", (described, states(timeline))
    assert timeline.outcome in outcomes, states(timeline)
    assert local.client("stepfunctions").describe_execution(executionArn=described["executionArn"])["redriveCount"] == 1
    assert [run["JobRunState"] for run in glue_runs(local, name)].count("SUCCEEDED") == 1
    completed = [job for job in training_jobs(local, name).values() if job["TrainingJobStatus"] == "Completed"]
    assert len(completed) == 1, training_jobs(local, name)
    evaluated = [job for job in processing_jobs(local, name).values() if job["ProcessingJobStatus"] == "Completed"]
    assert len(evaluated) == 1, processing_jobs(local, name)
    if timeline.outcome == "Promoted":
        assert local.approval_status(name) == "APPROVED"
        package = local.approval_request(name)["model_package_arn"]["S"]
        status = local.client("sagemaker").describe_model_package(ModelPackageName=package)["ModelApprovalStatus"]
        assert status == "Approved"
    return str(timeline.outcome)


@pytest.mark.usefixtures("champion")
def test_a_kill_while_waiting_for_approval_names_the_cause_and_a_redrive_asks_again(local: LocalPipeline) -> None:
    name, arn = start_run(local)
    sfn = local.client("stepfunctions")
    wait_until(
        lambda: (
            local.approval_status(name) == "PENDING" or sfn.describe_execution(executionArn=arn)["status"] != "RUNNING"
        ),
        RUN_TIMEOUT,
        "the run to ask for approval",
    )
    assert local.approval_status(name) == "PENDING", local.timeline({"execution_arn": arn}).outcome
    token = token_of(local, name)
    package = local.approval_request(name)["model_package_arn"]["S"]

    crash_in(local, arn, "RequestApproval", job_running=False)

    described = sfn.describe_execution(executionArn=arn)
    assert "waiting for its task token" in described["cause"] and "retrain redrive" in described["cause"]
    # The approver's answer cannot reach the killed run: one line that says what to do, no traceback.
    code, _, stderr = retrain(local, "approve", name, "--reason", "too late")
    assert code != 0 and "Traceback" not in stderr and len(stderr.strip().splitlines()) == 1, stderr
    assert f"retrain redrive {name}" in stderr, stderr
    # The request is still open (the candidate can still be approved once the run asks again), and the
    # package says so as the registry does; nothing was half answered.
    assert local.approval_status(name) == "PENDING" and token_of(local, name) == token
    sagemaker = local.client("sagemaker")
    assert sagemaker.describe_model_package(ModelPackageName=package)["ModelApprovalStatus"] == "PendingManualApproval"

    ended_ = redrive_and_approve(local, name, arn, old_token=token)

    assert_finished(local, ended_, name, "Promoted")
    asked = local.approval_request(name)
    assert asked["model_package_arn"]["S"] == package  # the same candidate, asked again
    assert asked["notified_redrive"]["N"] == "1"  # and the ML leads were told so: the first message's run stopped
    assert len(training_jobs(local, name)) == 1  # nothing before the approval ran again


@pytest.mark.usefixtures("champion")
def test_a_kill_in_prepare_data_fails_the_run_by_name_and_a_redrive_finishes_it(local: LocalPipeline) -> None:
    name, arn = start_run(local)
    glue, job = local.client("glue"), local.pipeline.outputs["GlueJobName"]
    wait_until(lambda: entered(local, arn, "PrepareData"), RUN_TIMEOUT, "the run to enter PrepareData")
    running = wait_until(
        lambda: next((r for r in glue.get_job_runs(JobName=job)["JobRuns"] if r["JobRunState"] == "RUNNING"), None),
        RUN_TIMEOUT,
        "the run's Glue job run to be RUNNING",
    )

    crash_in(local, arn, "PrepareData", job_running=True)

    interrupted = glue.get_job_run(JobName=job, RunId=running["Id"])["JobRun"]
    assert interrupted["JobRunState"] == "FAILED" and "stopped while this job run was running" in interrupted.get(
        "ErrorMessage", ""
    )
    assert training_jobs(local, name) == {}

    described = redrive_and_approve(local, name, arn)

    assert_finished(local, described, name, "Promoted", "KeptChampion")
    # The job run the kill interrupted, and the redrive's own, which succeeded.
    assert sorted(run["JobRunState"] for run in glue_runs(local, name)) == ["FAILED", "SUCCEEDED"]


@pytest.mark.usefixtures("champion")
def test_a_kill_in_train_candidate_fails_the_job_by_name_and_a_redrive_trains_once(local: LocalPipeline) -> None:
    name, arn = start_run(local)
    sagemaker = local.client("sagemaker")

    def training() -> str | None:
        jobs = sagemaker.list_training_jobs(StatusEquals="InProgress")["TrainingJobSummaries"]
        return next((job["TrainingJobName"] for job in jobs if name in job["TrainingJobName"]), None)

    interrupted = wait_until(training, RUN_TIMEOUT, "the run's training job to be InProgress")

    crash_in(local, arn, "TrainCandidate", job_running=True)

    # On AWS the job would go on without its caller; locally its process went with the local AWS, and the
    # restart says so in the job's record (local/sagemaker/service.py, `start`).
    job = sagemaker.describe_training_job(TrainingJobName=interrupted)
    assert job["TrainingJobStatus"] == "Failed" and "restarted while the job was running" in job["FailureReason"]
    assert processing_jobs(local, name) == {}

    described = redrive_and_approve(local, name, arn)

    assert_finished(local, described, name, "Promoted", "KeptChampion")
    jobs = training_jobs(local, name)
    assert sorted(jobs) == sorted([interrupted, interrupted.removesuffix("-0") + "-1"]), jobs
    assert len(processing_jobs(local, name)) == 1
    assert [run["JobRunState"] for run in glue_runs(local, name)] == ["SUCCEEDED"]  # PrepareData kept its result
