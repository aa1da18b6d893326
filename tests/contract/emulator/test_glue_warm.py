"""A Spark job run on a warm standby driver is the run a cold start does, and shares nothing with the last.

The local Glue runner keeps a standby driver (Python with its SparkSession built) for the next run
(`local.runtime.standby`); these tests pin that the script computes the same thing and sees the same
argv, on the same runtime, that a run sees no temp view, cached table or module global of the run before
it, that a failing script still fails with its named error and its traceback, and that no standby (nor its
JVM) outlives the local AWS that started it, stopped or killed.

The runtime, cold and warm alike: AWS Glue 5.0 "includes the following Python modules out of the box" (Using
Python libraries with AWS Glue, "Python modules already provided in AWS Glue"): pandas 2.2.2, numpy 1.26.4,
pyarrow 17.0.0, boto3 1.34.131, ... and no scikit-learn (Glue 4.0 had it). So a job sees those versions, in its
driver and in the Python workers Spark starts, all on the isolated environment built from
local/emulator/profiles/glue-5.0.toml (`GlueImports`), and importing scikit-learn (installed on this machine
for the SageMaker jobs) raises the interpreter's ModuleNotFoundError.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import zipfile
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from local.aws import LocalAws
from local.glue_runner import PROFILES, GlueImports, GlueJobRun, GlueRunOutcome, LocalGlueJobRunner
from local.home import StateDirectory
from local.runtime.environments import EnvironmentSpec, RuntimeEnvironments
from tests.support.emulator import create_spark_job, stage_spark_job
from tests.support.iam import RoleFactory
from tests.support.polling import wait_until

pytestmark = [pytest.mark.local, pytest.mark.spark, pytest.mark.slow]

JOB_FILES = Path(__file__).parent / "glue_job"
INPUT_CSV = b"id,k,amount\n1,a,10.0\n2,b,3.5\n3,a,7.25\n"
MISSING = "SchemaMismatch: columns ['merchant_category'] are missing from landing/"
# Nothing here reaches S3: every location is a file:// one.
NO_S3 = "http://127.0.0.1:9"
START_SECONDS = 300  # a JVM's start on a busy 2-core machine
# AWS Glue 5.0's documented versions ("Python modules already provided in AWS Glue").
GLUE_5_VERSIONS = {"boto3": "1.34.131", "numpy": "1.26.4", "pandas": "2.2.2", "pyarrow": "17.0.0"}
NOT_PROVIDED = "ModuleNotFoundError: No module named 'sklearn'"


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


def test_a_warm_run_computes_what_a_cold_one_does_on_glue_5_shares_nothing_and_fails_by_name(
    local_job: Path,
) -> None:
    root = local_job
    runner = LocalGlueJobRunner(NO_S3, root / "runs", root / "logs", standbys=1, imports=GlueImports(root / "runtimes"))
    try:
        # No standby waits yet: the first run starts cold, and the next run's driver starts after it.
        cold = runner.run(probe_run(root, "jr_cold"), never)
        warm = runner.run(probe_run(root, "jr_warm", **{"--required": "id,k,merchant_category"}), never)
    finally:
        runner.close()

    assert cold.state == "SUCCEEDED", cold.error_message
    # The warm run's script found its session built; the cold one built its own. Same result, same argv.
    assert report(root, "jr_warm")["session_before_script"] is True
    assert report(root, "jr_cold")["session_before_script"] is False
    assert counts(root, "jr_warm") == counts(root, "jr_cold") == [("a", 2), ("b", 1)]
    for run_id, required in (("jr_cold", []), ("jr_warm", ["--required", "id,k,merchant_category"])):
        assert report(root, run_id)["argv"] == [
            "--JOB_NAME", "probe", "--JOB_RUN_ID", run_id,
            "--input", (root / "landing").as_uri() + "/", "--output", (root / "out" / run_id).as_uri() + "/",
            *required,
        ]  # fmt: skip
    # The log holds the whole process's output, Spark's start included, as a cold run's does.
    for outcome in (warm, cold):
        assert "probe: counted 3 rows" in log(outcome)
        assert 'Setting default log level to "WARN"' in log(outcome)
    # Both on Glue 5.0's runtime: its versions, the driver and Spark's Python workers in its environment.
    profile = EnvironmentSpec.from_profile(PROFILES / "glue-5.0.toml")
    environment = os.path.realpath(RuntimeEnvironments().location(profile))
    for run_id in ("jr_cold", "jr_warm"):
        runtime = report(root, run_id)["runtime"]
        assert isinstance(runtime, dict)
        assert runtime["versions"] == GLUE_5_VERSIONS
        assert os.path.realpath(runtime["driver"]) == os.path.realpath(runtime["worker"]) == environment
        assert runtime["sklearn"] == NOT_PROVIDED

    # The warm run found none of what the cold one left behind (a temp view, a cached table, a module global).
    warm_report = report(root, "jr_warm")
    assert warm_report["temp_views"] == warm_report["cached"] == []
    assert warm_report["module_global"] is None
    # ... and failed as a cold run fails: its error by name, its traceback from the script's own frame.
    assert warm.state == "FAILED"
    assert warm.error_message == MISSING
    assert "standby_driver" not in log(warm)
    assert f'Traceback (most recent call last):\n  File "{root / "code" / "probe_job.py"}"' in log(warm)
    # Closing the runner ends the standby started after the warm run: nothing waits, no standby file is left.
    assert runner.standbys.waiting() == []
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


def probe_job_run(s3: Any, glue: Any, bucket: str, output: str) -> dict[str, object]:
    """A run of the `probe` job to its end, SUCCEEDED; its report."""
    run_id = glue.start_job_run(JobName="probe", Arguments={"--output": f"s3://{bucket}/{output}/"})["JobRunId"]
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
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=bucket, Prefix=f"{output}/report/")["Contents"]]
    part = next(key for key in keys if "/part-" in key)
    return dict(json.loads(s3.get_object(Bucket=bucket, Key=part)["Body"].read()))


def test_a_job_of_a_role_runs_warm_before_and_after_a_restart_and_no_standby_outlives_the_local_aws(
    tmp_path: Path,
) -> None:
    home = StateDirectory(tmp_path / "home")
    aws = LocalAws(home, port=0)
    process = aws.start()
    try:
        clients = aws.clients()
        s3, glue = clients.client("s3"), clients.client("glue")
        bucket = "probe-data"
        stage_spark_job(s3, bucket, JOB_FILES / "probe_job.py", JOB_FILES / "contract_schema.py", INPUT_CSV)
        # The job runs with its role's session, as on Glue: the driver's environment holds that session's keys, so
        # a standby must be started with them for a run to find it.
        role = RoleFactory(clients.client("iam"), "probe").create(
            "glue.amazonaws.com",
            {"Effect": "Allow", "Action": "s3:*", "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]},
        )
        # Creating the job starts its driver. Its GlueVersion (5.0, as the stack's) picks what it may import.
        create_spark_job(
            glue,
            "probe",
            f"s3://{bucket}/code/probe_job.py",
            role=role,
            **{"--extra-py-files": f"s3://{bucket}/code/lib.zip", "--input": f"s3://{bucket}/landing/"},
        )
        assert probe_job_run(s3, glue, bucket, "out")["session_before_script"] is True

        # The next run's standby, its JVM up; `local down` ends it with the emulator.
        wait_until(lambda: processes_of(home, b"SparkSubmit"), START_SECONDS, "the next standby's JVM")
        aws.stop()
        wait_until(lambda: not processes_of(home), 60, "no process of the stopped local AWS")

        # A restart starts one for the persisted job, once IAM and STS are loaded as well: the first run after the
        # restart finds it (it started without the role's session, and the run went cold, before the fix).
        process = aws.start()
        clients = aws.clients()
        s3, glue = clients.client("s3"), clients.client("glue")
        assert probe_job_run(s3, glue, bucket, "after-restart")["session_before_script"] is True

        # A killed emulator takes its standby along too.
        wait_until(lambda: processes_of(home, b"SparkSubmit"), START_SECONDS, "the next standby's JVM")
        os.kill(process.pid, signal.SIGKILL)
        wait_until(lambda: not processes_of(home), 60, "no process of the killed local AWS")
    finally:
        aws.stop()
