"""A Glue Spark job runs on what its Glue version provides, never on this machine's environment.

AWS Glue 5.0 "includes the following Python modules out of the box" (Using Python libraries with AWS Glue,
"Python modules already provided in AWS Glue"): pandas 2.2.2, numpy 1.26.4, pyarrow 17.0.0, boto3 1.34.131, ...
and no scikit-learn (Glue 4.0 had it). So a job sees those versions, in its driver and in the Python workers
Spark starts, and a script importing scikit-learn fails with the interpreter's ModuleNotFoundError, which
becomes the run's ErrorMessage (`GlueImports`: the isolated environment built from
local/emulator/profiles/glue-5.0.toml), on a warm standby driver as on a cold start. The versions, the
driver's and the workers' environment and the refused import, warm and cold, are asserted on the runs
test_glue_warm.py makes anyway (its probe job reports them); here, what reaches the run's ErrorMessage.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from local.glue_runner import GlueImports, GlueJobRun, LocalGlueJobRunner
from local.runtime.environments import BUILD_COMMAND, RuntimeEnvironments
from tests.support.emulator import create_spark_job, finished_job_run

if TYPE_CHECKING:
    from tests.support.local_aws import RunningLocalAws

pytestmark = [pytest.mark.local, pytest.mark.spark, pytest.mark.slow]

# scikit-learn is installed here (the SageMaker jobs need it) and is not among Glue 5.0's modules.
IMPORTS_SKLEARN = """
from pyspark.sql import SparkSession

print("warm driver:", SparkSession.getActiveSession() is not None, flush=True)
import pandas, numpy, pyarrow, boto3
import sklearn
"""
NOT_PROVIDED = "ModuleNotFoundError: No module named 'sklearn'"
NO_S3 = "http://127.0.0.1:9"


def spark_run(script: Path, run_id: str, glue_version: str = "5.0", **arguments: str) -> GlueJobRun:
    return GlueJobRun(
        job_name="imports",
        run_id=run_id,
        command_name="glueetl",
        script_location=script.as_uri(),
        arguments={"--JOB_NAME": "imports", "--JOB_RUN_ID": run_id, **arguments},
        timeout_minutes=10,
        glue_version=glue_version,
    )


def never() -> bool:
    return False


def test_a_spark_job_importing_a_module_glue_does_not_provide_fails_with_module_not_found(
    local_aws: RunningLocalAws, aws_clients, unique_name: str
) -> None:
    s3, glue = aws_clients.client("s3"), aws_clients.client("glue")
    s3.create_bucket(Bucket=unique_name)
    s3.put_object(Bucket=unique_name, Key="code/imports.py", Body=IMPORTS_SKLEARN.encode())
    # Creating the job starts its warm driver, which the run then takes.
    create_spark_job(glue, unique_name, f"s3://{unique_name}/code/imports.py")
    run_id = glue.start_job_run(JobName=unique_name)["JobRunId"]
    run = finished_job_run(glue, unique_name, run_id, timeout=300)

    assert run["JobRunState"] == "FAILED"
    assert run["ErrorMessage"] == NOT_PROVIDED
    log = local_aws.home.glue_logs / unique_name / f"{run_id}.log"
    assert "warm driver: True" in log.read_text(encoding="utf-8", errors="replace")


def test_additional_python_modules_are_provided_and_a_version_without_a_profile_is_refused(tmp_path: Path) -> None:
    script = tmp_path / "code" / "imports.py"
    script.parent.mkdir()
    script.write_text("import sklearn\nprint('imported', sklearn.__name__)\n")
    imports = GlueImports(tmp_path / "runtimes")
    runner = LocalGlueJobRunner(NO_S3, tmp_path / "runs", tmp_path / "logs", standbys=0, imports=imports)

    added = runner.run(spark_run(script, "jr_added", **{"--additional-python-modules": "scikit-learn==1.5.2"}), never)
    unknown = runner.run(spark_run(script, "jr_old", glue_version="3.0"), never)

    assert added.state == "SUCCEEDED", added.error_message
    assert unknown.state == "FAILED"
    assert unknown.error_message.startswith("the local Glue has no runtime profile for GlueVersion 3.0; use one")
    shutil.rmtree(tmp_path / "runs", ignore_errors=True)


def test_a_job_whose_environment_is_not_built_fails_at_once_naming_the_command(tmp_path: Path) -> None:
    script = tmp_path / "code" / "runtime.py"
    script.parent.mkdir()
    script.write_text(IMPORTS_SKLEARN)  # never runs: the job fails before it starts
    imports = GlueImports(tmp_path / "runtimes", environments=RuntimeEnvironments(tmp_path / "empty-cache"))
    runner = LocalGlueJobRunner(NO_S3, tmp_path / "runs", tmp_path / "logs", standbys=1, imports=imports)
    try:
        runner.warm(spark_run(script, "jr_any"))
        assert runner.standbys.waiting() == []  # nothing to start a driver on
        outcome = runner.run(spark_run(script, "jr_missing"), never)
    finally:
        runner.close()

    assert outcome.state == "FAILED"
    assert outcome.error_message.startswith("the runtime environment glue-5.0 is not built")
    assert f"run `{BUILD_COMMAND}`" in outcome.error_message
