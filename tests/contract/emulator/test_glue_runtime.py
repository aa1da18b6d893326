"""A Glue Spark job runs on what its Glue version provides, never on this machine's environment.

AWS Glue 5.0 "includes the following Python modules out of the box" (Using Python libraries with AWS Glue,
"Python modules already provided in AWS Glue"): pandas 2.2.2, numpy 1.26.4, pyarrow 17.0.0, boto3 1.34.131, ...
and no scikit-learn (Glue 4.0 had it). So a job sees those versions, in its driver and in the Python workers
Spark starts, and a script importing scikit-learn fails with the interpreter's ModuleNotFoundError, which
becomes the run's ErrorMessage (`GlueImports`: the isolated environment built from
local/emulator/profiles/glue-5.0.toml), on a warm standby driver as on a cold start.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from local.glue_runner import PROFILES, GlueImports, GlueJobRun, LocalGlueJobRunner
from local.runtime.environments import BUILD_COMMAND, EnvironmentSpec, RuntimeEnvironments
from tests.support.emulator import create_spark_job, finished_job_run

pytestmark = [pytest.mark.local, pytest.mark.spark, pytest.mark.slow]

# scikit-learn is installed here (the SageMaker jobs need it) and is not among Glue 5.0's modules.
IMPORTS_SKLEARN = """
from pyspark.sql import SparkSession

print("warm driver:", SparkSession.getActiveSession() is not None, flush=True)
import pandas, numpy, pyarrow, boto3
import sklearn
"""
NOT_PROVIDED = "ModuleNotFoundError: No module named 'sklearn'"
# What the driver and a Python worker of Spark's see.
SHOWS_RUNTIME = """
import json, sys
import boto3, numpy, pandas, pyarrow
from pyspark.sql import SparkSession

warm = SparkSession.getActiveSession() is not None
spark = SparkSession.builder.getOrCreate()
worker = spark.sparkContext.parallelize([0], 1).map(lambda _: __import__("sys").prefix).collect()[0]
versions = {module.__name__: module.__version__ for module in (boto3, numpy, pandas, pyarrow)}
print("RUNTIME " + json.dumps({"versions": versions, "driver": sys.prefix, "worker": worker, "warm": warm}))
"""
# AWS Glue 5.0's documented versions ("Python modules already provided in AWS Glue").
GLUE_5_VERSIONS = {"boto3": "1.34.131", "numpy": "1.26.4", "pandas": "2.2.2", "pyarrow": "17.0.0"}
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
    aws_clients, unique_name: str
) -> None:
    s3, glue = aws_clients.client("s3"), aws_clients.client("glue")
    s3.create_bucket(Bucket=unique_name)
    s3.put_object(Bucket=unique_name, Key="code/imports.py", Body=IMPORTS_SKLEARN.encode())
    create_spark_job(glue, unique_name, f"s3://{unique_name}/code/imports.py")
    run = finished_job_run(glue, unique_name, glue.start_job_run(JobName=unique_name)["JobRunId"], timeout=300)

    assert run["JobRunState"] == "FAILED"
    assert run["ErrorMessage"] == NOT_PROVIDED


def test_the_guard_holds_on_a_warm_driver(tmp_path: Path) -> None:
    script = tmp_path / "code" / "imports.py"
    script.parent.mkdir()
    script.write_text(IMPORTS_SKLEARN)
    runner = LocalGlueJobRunner(
        NO_S3, tmp_path / "runs", tmp_path / "logs", standbys=1, imports=GlueImports(tmp_path / "runtimes")
    )
    try:
        runner.warm(spark_run(script, "jr_any"))
        outcome = runner.run(spark_run(script, "jr_warm"), never)
    finally:
        runner.close()

    assert outcome.state == "FAILED"
    assert outcome.error_message == NOT_PROVIDED
    assert outcome.log_path is not None
    assert "warm driver: True" in outcome.log_path.read_text(encoding="utf-8")


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


@pytest.mark.parametrize("driver", ["cold", "warm"])
def test_a_spark_job_runs_on_glue_5_versions_in_the_isolated_environment(tmp_path: Path, driver: str) -> None:
    script = tmp_path / "code" / "runtime.py"
    script.parent.mkdir()
    script.write_text(SHOWS_RUNTIME)
    environment = RuntimeEnvironments().location(EnvironmentSpec.from_profile(PROFILES / "glue-5.0.toml"))
    runner = LocalGlueJobRunner(
        NO_S3,
        tmp_path / "runs",
        tmp_path / "logs",
        standbys=1 if driver == "warm" else 0,
        imports=GlueImports(tmp_path / "runtimes"),
    )
    try:
        runner.warm(spark_run(script, "jr_any"))
        outcome = runner.run(spark_run(script, "jr_runtime"), never)
    finally:
        runner.close()

    assert outcome.state == "SUCCEEDED", outcome.error_message
    assert outcome.log_path is not None
    line = next(line for line in outcome.log_path.read_text().splitlines() if line.startswith("RUNTIME "))
    seen = json.loads(line.removeprefix("RUNTIME "))
    assert seen["versions"] == GLUE_5_VERSIONS
    assert os.path.realpath(seen["driver"]) == os.path.realpath(seen["worker"]) == os.path.realpath(environment)
    assert seen["warm"] is (driver == "warm")


def test_a_job_whose_environment_is_not_built_fails_at_once_naming_the_command(tmp_path: Path) -> None:
    script = tmp_path / "code" / "runtime.py"
    script.parent.mkdir()
    script.write_text(SHOWS_RUNTIME)
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
