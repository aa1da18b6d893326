"""Glue jobs run for real, with their arguments on argv, and Step Functions waits for them.

The emulator alone passes arguments as environment variables, marks a Spark job SUCCEEDED without
running it, and has no `glue:startJobRun.sync` integration (`GlueJobs` fixes all three).
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from local.aws import LocalAws
from local.glue_runner import failure_reason
from local.home import StateDirectory
from tests.support.emulator import ROLE_ARN, StateMachineRunner, create_spark_job, finished_job_run, stage_spark_job
from tests.support.polling import PROCESS_START_BOUND, wait_until

pytestmark = [pytest.mark.local, pytest.mark.spark, pytest.mark.slow]

JOB_FILES = Path(__file__).parent / "glue_job"
INPUT_CSV = b"id,k,amount\n1,a,10.0\n2,b,3.5\n3,a,7.25\n"


def sync_definition(job_name: str) -> dict[str, object]:
    return {
        "StartAt": "PrepareData",
        "States": {
            "PrepareData": {
                "Type": "Task",
                "Resource": "arn:aws:states:::glue:startJobRun.sync",
                "Parameters": {"JobName": job_name, "Arguments.$": "$.arguments"},
                "ResultSelector": {"id.$": "$.Id", "state.$": "$.JobRunState"},
                "ResultPath": "$.prepared",
                "Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.failure", "Next": "Failed"}],
                "End": True,
            },
            "Failed": {"Type": "Pass", "End": True},
        },
    }


@pytest.fixture
def spark_job(aws_clients, unique_name: str) -> tuple[str, str]:
    """A Spark job whose script and --extra-py-files live in S3, and a bucket with input data."""
    s3 = aws_clients.client("s3")
    stage_spark_job(s3, unique_name, JOB_FILES / "spark_job.py", JOB_FILES / "contract_schema.py", INPUT_CSV)
    create_spark_job(
        aws_clients.client("glue"),
        unique_name,
        f"s3://{unique_name}/code/spark_job.py",
        **{
            "--extra-py-files": f"s3://{unique_name}/code/lib.zip",
            "--input": f"s3://{unique_name}/landing/",
            "--required": "id,k",
        },
    )
    return unique_name, unique_name


def test_spark_job_reads_and_writes_s3_and_step_functions_waits(
    spark_job: tuple[str, str], machines: StateMachineRunner, aws_clients
) -> None:
    job_name, bucket = spark_job
    s3 = aws_clients.client("s3")
    # A stale object under the output prefix: the job's overwrite must remove it, as on S3.
    s3.put_object(Bucket=bucket, Key="processed/run-1/counts/stale.parquet", Body=b"old")
    # A Spark run starts a JVM: bounded as a process start on a loaded machine is (120 s timed out at a load of 25).
    execution = machines.run(
        sync_definition(job_name),
        {"arguments": {"--output": f"s3://{bucket}/processed/run-1/"}},
        timeout=PROCESS_START_BOUND,
    )
    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output["prepared"]["state"] == "SUCCEEDED"
    run_id = execution.output["prepared"]["id"]

    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=bucket, Prefix="processed/run-1/")["Contents"]]
    counts = [key for key in keys if key.startswith("processed/run-1/counts/part-") and key.endswith(".parquet")]
    assert counts, keys
    assert "processed/run-1/counts/_SUCCESS" in keys
    assert "processed/run-1/counts/stale.parquet" not in keys
    assert not [key for key in keys if key.endswith(".crc")]
    meta_key = next(key for key in keys if key.startswith("processed/run-1/meta/part-"))
    meta = json.loads(s3.get_object(Bucket=bucket, Key=meta_key)["Body"].read())
    assert meta == {"job_name": job_name, "run_id": run_id}

    run = aws_clients.client("glue").get_job_run(JobName=job_name, RunId=run_id)["JobRun"]
    assert run["JobRunState"] == "SUCCEEDED"
    assert run["Arguments"] == {"--output": f"s3://{bucket}/processed/run-1/"}


def test_a_failed_job_fails_the_task_with_the_scripts_error(
    machines: StateMachineRunner, aws_clients, unique_name: str
) -> None:
    """The `.sync` integration ends on the run's state and ErrorMessage, whatever the job's kind: a Python shell
    job checks its input as the Spark job does, without a JVM. How a Spark run's error becomes its ErrorMessage
    (on a warm driver, among Spark's log lines) is pinned in test_glue_warm.py and test_glue_runtime.py."""
    s3, glue = aws_clients.client("s3"), aws_clients.client("glue")
    stage_spark_job(s3, unique_name, JOB_FILES / "shell_check.py", JOB_FILES / "contract_schema.py", INPUT_CSV)
    glue.create_job(
        Name=unique_name,
        Role=ROLE_ARN,
        Command={"Name": "pythonshell", "ScriptLocation": f"s3://{unique_name}/code/shell_check.py"},
        DefaultArguments={
            "--extra-py-files": f"s3://{unique_name}/code/lib.zip",
            "--input": f"s3://{unique_name}/landing/",
            "--required": "id,k",
        },
    )
    execution = machines.run(
        sync_definition(unique_name), {"arguments": {"--required": "id,k,merchant_category"}}, timeout=120
    )
    assert execution.status == "SUCCEEDED", execution.cause
    failure = execution.output["failure"]
    assert failure["Error"] == "States.TaskFailed"
    cause = json.loads(failure["Cause"])
    assert cause["JobRunState"] == "FAILED"
    assert cause["ErrorMessage"] == "SchemaMismatch: columns ['merchant_category'] are missing from landing/"
    run = glue.get_job_run(JobName=unique_name, RunId=cause["Id"])["JobRun"]
    assert run["ErrorMessage"] == cause["ErrorMessage"]


def test_python_shell_job_gets_merged_arguments_on_argv(aws_clients, unique_name: str) -> None:
    s3, glue = aws_clients.client("s3"), aws_clients.client("glue")
    s3.create_bucket(Bucket=unique_name)
    s3.upload_file(str(JOB_FILES / "shell_job.py"), unique_name, "code/shell_job.py")
    glue.create_job(
        Name=unique_name,
        Role=ROLE_ARN,
        Command={"Name": "pythonshell", "ScriptLocation": f"s3://{unique_name}/code/shell_job.py"},
        DefaultArguments={"--bucket": unique_name, "--mode": "default", "--kept": "yes"},
    )
    run_id = glue.start_job_run(JobName=unique_name, Arguments={"--mode": "override"})["JobRunId"]
    run = finished_job_run(glue, unique_name, run_id)
    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
    argv = json.loads(s3.get_object(Bucket=unique_name, Key="argv.json")["Body"].read())
    pairs = dict(zip(argv[::2], argv[1::2], strict=True))
    assert pairs == {
        "--bucket": unique_name,
        "--mode": "override",
        "--kept": "yes",
        "--JOB_NAME": unique_name,
        "--JOB_RUN_ID": run_id,
    }


SPARK_NOISE = (
    'Setting default log level to "WARN".\n'
    "26/11/22 00:08:44 WARN NativeCodeLoader: Unable to load native-hadoop library for your platform\n"
)


@pytest.mark.parametrize(
    ("output", "reason"),
    [
        (
            SPARK_NOISE + "Traceback (most recent call last):\n"
            '  File "job.py", line 3, in <module>\n    raise SchemaMismatch("x")\n'
            "retrain.errors.SchemaMismatch: column amount has type string, expected double\n"
            "26/11/22 00:08:50 INFO ShutdownHookManager: Shutdown hook called\n",
            "SchemaMismatch: column amount has type string, expected double",
        ),
        (
            SPARK_NOISE + "DataQualityError: 12 usable rows remain, at least 100 are needed\n"
            "26/11/22 00:08:50 INFO ShutdownHookManager: Shutdown hook called\n",
            "DataQualityError: 12 usable rows remain, at least 100 are needed",
        ),
        ("", "the job script exited with code 3"),
    ],
)
def test_the_failure_reason_is_the_scripts_last_error(output: str, reason: str) -> None:
    assert failure_reason(output, 3) == reason


def test_a_run_beyond_max_concurrent_runs_is_refused(aws_clients, unique_name: str) -> None:
    """The pipeline's job allows one run at a time (`ExecutionProperty`, AWS's default too)."""
    s3, glue = aws_clients.client("s3"), aws_clients.client("glue")
    s3.create_bucket(Bucket=unique_name)
    s3.upload_file(str(JOB_FILES / "gated_job.py"), unique_name, "code/gated_job.py")
    glue.create_job(
        Name=unique_name,
        Role=ROLE_ARN,
        Command={"Name": "pythonshell", "ScriptLocation": f"s3://{unique_name}/code/gated_job.py"},
        DefaultArguments={"--bucket": unique_name},
    )
    assert glue.get_job(JobName=unique_name)["Job"]["ExecutionProperty"] == {"MaxConcurrentRuns": 1}

    first = glue.start_job_run(JobName=unique_name)["JobRunId"]
    with pytest.raises(ClientError, match="ConcurrentRunsExceededException"):
        glue.start_job_run(JobName=unique_name)

    s3.put_object(Bucket=unique_name, Key="release", Body=b"")
    run = finished_job_run(glue, unique_name, first)
    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
    # A finished run no longer counts.
    second = glue.start_job_run(JobName=unique_name)["JobRunId"]
    assert second != first


def running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_job_run_going_on_ends_when_the_local_aws_stops(tmp_path: Path) -> None:
    """`retrain local down` ends every run with the emulator: no job (nor its JVM) outlives the local AWS.
    A restart then records the run FAILED (`local.emulator.glue`); here only that its process is gone."""
    aws = LocalAws(StateDirectory(tmp_path / "home"), port=0)
    aws.start()
    pid_file = tmp_path / "job.pid"
    try:
        clients = aws.clients()
        s3, glue = clients.client("s3"), clients.client("glue")
        s3.create_bucket(Bucket="lingering")
        s3.upload_file(str(JOB_FILES / "lingering_job.py"), "lingering", "code/lingering_job.py")
        glue.create_job(
            Name="lingering",
            Role=ROLE_ARN,
            Command={"Name": "pythonshell", "ScriptLocation": "s3://lingering/code/lingering_job.py"},
            DefaultArguments={"--pid-file": str(pid_file)},
        )
        glue.start_job_run(JobName="lingering")
        wait_until(pid_file.exists, PROCESS_START_BOUND, "the job run's process")
        pid = int(pid_file.read_text())
        aws.stop()
        wait_until(lambda: not running(pid), 30, "the job run's process to end with the local AWS")
    finally:
        aws.stop()
        if pid_file.exists() and running(int(pid_file.read_text())):
            os.kill(int(pid_file.read_text()), signal.SIGKILL)
