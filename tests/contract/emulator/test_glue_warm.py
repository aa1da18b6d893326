"""A Spark job run on a warm standby driver is the run a cold start does, and shares nothing with the last.

The local Glue runner keeps a standby driver (Python with its SparkSession built) for the next run
(`local.runtime.standby`); these tests pin that the script computes the same thing and sees the same
argv, that a run sees no temp view, cached table or module global of the run before it, that a failing
script still fails with its named error and its traceback, and that no standby (nor its JVM) outlives
the local AWS that started it, stopped or killed.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import zipfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from local.aws import LocalAws
from local.glue_runner import GlueJobRun, GlueRunOutcome, LocalGlueJobRunner
from local.home import StateDirectory
from tests.support.emulator import create_spark_job, stage_spark_job
from tests.support.polling import wait_until

pytestmark = [pytest.mark.local, pytest.mark.spark, pytest.mark.slow]

JOB_FILES = Path(__file__).parent / "glue_job"
INPUT_CSV = b"id,k,amount\n1,a,10.0\n2,b,3.5\n3,a,7.25\n"
MISSING = "SchemaMismatch: columns ['merchant_category'] are missing from landing/"
# Nothing here reaches S3: every location is a file:// one.
NO_S3 = "http://127.0.0.1:9"
START_SECONDS = 300  # a JVM's start on a busy 2-core machine


@pytest.fixture
def local_job(tmp_path: Path) -> Path:
    """The probe script, its --extra-py-files zip and a landing folder, on local disk."""
    code = tmp_path / "code"
    code.mkdir()
    shutil.copy(JOB_FILES / "probe_job.py", code / "probe_job.py")
    with zipfile.ZipFile(code / "lib.zip", "w") as zipped:
        zipped.write(JOB_FILES / "contract_schema.py", "contract_schema.py")
    landing = tmp_path / "landing" / "2024-01-01"
    landing.mkdir(parents=True)
    (landing / "part-0.csv").write_bytes(INPUT_CSV)
    return tmp_path


def probe_run(root: Path, run_id: str, **arguments: str) -> GlueJobRun:
    return GlueJobRun(
        job_name="probe",
        run_id=run_id,
        command_name="glueetl",
        script_location=(root / "code" / "probe_job.py").as_uri(),
        arguments={
            "--extra-py-files": (root / "code" / "lib.zip").as_uri(),
            "--JOB_NAME": "probe",
            "--JOB_RUN_ID": run_id,
            "--input": (root / "landing").as_uri() + "/",
            "--output": (root / "out" / run_id).as_uri() + "/",
            **arguments,
        },
        timeout_minutes=10,
    )


def report(root: Path, run_id: str) -> dict[str, object]:
    part = next((root / "out" / run_id / "report").glob("part-*"))
    return json.loads(part.read_text())  # type: ignore[no-any-return]


def counts(root: Path, run_id: str) -> list[tuple[str, int]]:
    table = pq.read_table(root / "out" / run_id / "counts")
    return sorted(zip(table.column("k").to_pylist(), table.column("n").to_pylist(), strict=True))


def log(outcome: GlueRunOutcome) -> str:
    assert outcome.log_path is not None
    return outcome.log_path.read_text(encoding="utf-8", errors="replace")


def never() -> bool:
    return False


def test_warm_runs_compute_what_a_cold_run_does_share_nothing_and_fail_by_name(local_job: Path) -> None:
    root = local_job
    warm_runner = LocalGlueJobRunner(NO_S3, root / "runs", root / "logs", standbys=1)
    try:
        warm_runner.warm(probe_run(root, "jr_any"))
        first = warm_runner.run(probe_run(root, "jr_first"), never)
        second = warm_runner.run(probe_run(root, "jr_second", **{"--required": "id,k,merchant_category"}), never)
    finally:
        warm_runner.close()
    cold = LocalGlueJobRunner(NO_S3, root / "runs", root / "logs", standbys=0).run(probe_run(root, "jr_cold"), never)

    assert first.state == "SUCCEEDED", first.error_message
    assert cold.state == "SUCCEEDED", cold.error_message
    # The warm run's script found its session built; the cold one built its own. Same result, same argv.
    assert report(root, "jr_first")["session_before_script"] is True
    assert report(root, "jr_cold")["session_before_script"] is False
    assert counts(root, "jr_first") == counts(root, "jr_cold") == [("a", 2), ("b", 1)]
    for run_id in ("jr_first", "jr_cold"):
        assert report(root, run_id)["argv"] == [
            "--JOB_NAME", "probe", "--JOB_RUN_ID", run_id,
            "--input", (root / "landing").as_uri() + "/", "--output", (root / "out" / run_id).as_uri() + "/",
        ]  # fmt: skip
    # The log holds the whole process's output, Spark's start included, as a cold run's does.
    for outcome in (first, cold):
        assert "probe: counted 3 rows" in log(outcome)
        assert 'Setting default log level to "WARN"' in log(outcome)

    # The second run found none of what the first left behind, on a warm driver of its own.
    second_report = report(root, "jr_second")
    assert second_report["session_before_script"] is True
    assert second_report["temp_views"] == second_report["cached"] == []
    assert second_report["module_global"] is None
    # ... and failed as a cold run fails: its error by name, its traceback from the script's own frame.
    assert second.state == "FAILED"
    assert second.error_message == MISSING
    assert "standby_driver" not in log(second)
    assert f'Traceback (most recent call last):\n  File "{root / "code" / "probe_job.py"}"' in log(second)
    # Closing the runner ends its standby: nothing waits any more, no standby file is left.
    assert warm_runner.standbys.waiting() == []
    assert not list((root / "logs").glob(".standby-*"))


def processes_of(home: StateDirectory, marker: bytes = b"") -> list[int]:
    """The processes whose command line names this home (and `marker`): the emulator, standbys, JVMs."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if str(home.root).encode() in command and marker in command:
            found.append(int(entry.name))
    return found


def test_a_job_runs_warm_and_no_standby_outlives_the_local_aws_stopped_or_killed(tmp_path: Path) -> None:
    home = StateDirectory(tmp_path / "home")
    aws = LocalAws(home, port=0)
    process = aws.start()
    try:
        clients = aws.clients()
        s3, glue = clients.client("s3"), clients.client("glue")
        bucket = "probe-data"
        stage_spark_job(s3, bucket, JOB_FILES / "probe_job.py", JOB_FILES / "contract_schema.py", INPUT_CSV)
        # Creating the job starts its driver. Its GlueVersion (5.0, as the stack's) picks what it may import.
        create_spark_job(
            glue,
            "probe",
            f"s3://{bucket}/code/probe_job.py",
            **{"--extra-py-files": f"s3://{bucket}/code/lib.zip", "--input": f"s3://{bucket}/landing/"},
        )
        run_id = glue.start_job_run(JobName="probe", Arguments={"--output": f"s3://{bucket}/out/"})["JobRunId"]
        run = wait_until(
            lambda: (
                (r := glue.get_job_run(JobName="probe", RunId=run_id)["JobRun"])["JobRunState"]
                in ("SUCCEEDED", "FAILED", "ERROR")
                and r
            ),
            START_SECONDS,
            "the probe job run",
        )
        assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
        keys = [item["Key"] for item in s3.list_objects_v2(Bucket=bucket, Prefix="out/report/")["Contents"]]
        part = next(key for key in keys if "/part-" in key)
        assert json.loads(s3.get_object(Bucket=bucket, Key=part)["Body"].read())["session_before_script"] is True

        # The next run's standby, its JVM up; `local down` ends it with the emulator.
        wait_until(lambda: processes_of(home, b"SparkSubmit"), START_SECONDS, "the next standby's JVM")
        aws.stop()
        wait_until(lambda: not processes_of(home), 60, "no process of the stopped local AWS")

        # A restart starts one for the persisted job; a killed emulator takes it along too.
        process = aws.start()
        wait_until(lambda: processes_of(home, b"SparkSubmit"), START_SECONDS, "the restarted job's standby JVM")
        os.kill(process.pid, signal.SIGKILL)
        wait_until(lambda: not processes_of(home), 60, "no process of the killed local AWS")
    finally:
        aws.stop()
