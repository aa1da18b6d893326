"""Small builders for the emulator contract tests: Lambdas from source text, and state machines run to
their end (polling with a bound instead of sleeping)."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local.clients import LocalClients
from tests.support.polling import wait_until

ROLE_ARN = "arn:aws:iam::000000000000:role/contract-test"

# A function for a `lambda:invoke.waitForTaskToken` state: it puts its task token into S3 (`token`, `bucket`).
STORES_TOKEN = """
import boto3

def handler(event, context):
    boto3.client("s3").put_object(Bucket=event["bucket"], Key="token", Body=event["token"].encode())
    return {}
"""


def stored_token(s3: Any, bucket: str, timeout: float = 20) -> str:
    """The task token the `STORES_TOKEN` function put into `bucket`, once it has."""
    return str(
        wait_until(
            lambda: (
                s3.list_objects_v2(Bucket=bucket).get("KeyCount")
                and s3.get_object(Bucket=bucket, Key="token")["Body"].read().decode()
            ),
            timeout,
            "the task token",
        )
    )


def invoke(aws_clients: LocalClients, function_arn: str, payload: dict[str, Any]) -> dict[str, Any]:
    """A function's result, invoked synchronously (a function error fails the test)."""
    response = aws_clients.client("lambda").invoke(FunctionName=function_arn, Payload=json.dumps(payload))
    result = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, result
    return dict(result)


def stage_spark_job(s3: Any, bucket: str, script: Path, module: Path, landing_csv: bytes) -> None:
    """A bucket holding a Glue job's `code/<script>`, `code/lib.zip` (its --extra-py-files, with `module`)
    and one landing file, `landing/2024-01-01/part-0.csv`."""
    s3.create_bucket(Bucket=bucket)
    s3.upload_file(str(script), bucket, f"code/{script.name}")
    library = io.BytesIO()
    with zipfile.ZipFile(library, "w") as zipped:
        zipped.write(module, module.name)
    s3.put_object(Bucket=bucket, Key="code/lib.zip", Body=library.getvalue())
    s3.put_object(Bucket=bucket, Key="landing/2024-01-01/part-0.csv", Body=landing_csv)


def create_spark_job(glue: Any, name: str, script_uri: str, *, role: str = ROLE_ARN, **default_arguments: str) -> None:
    """A Glue 5.0 Spark job of `script_uri` run as `role`, sized as the stack's PrepareData is."""
    glue.create_job(
        Name=name,
        Role=role,
        Command={"Name": "glueetl", "ScriptLocation": script_uri, "PythonVersion": "3"},
        GlueVersion="5.0",
        WorkerType="G.1X",
        NumberOfWorkers=2,
        Timeout=10,
        DefaultArguments=default_arguments,
    )


def finished_job_run(glue: Any, job_name: str, run_id: str, timeout: float = 60) -> dict[str, Any]:
    """The job run once it has ended (SUCCEEDED, FAILED or ERROR)."""
    return wait_until(
        lambda: (
            (run := glue.get_job_run(JobName=job_name, RunId=run_id)["JobRun"])["JobRunState"]
            in ("SUCCEEDED", "FAILED", "ERROR")
            and run
        ),
        timeout,
        f"Glue job run {run_id} to end",
    )


@dataclass
class FunctionFactory:
    """Creates Python Lambdas from source text: `handler.py` and, in the same zip, any other `files`."""

    clients: LocalClients
    prefix: str

    def create(
        self, name: str, source: str, files: dict[str, str] | None = None, role: str = ROLE_ARN, **config: Any
    ) -> str:
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as zipped:
            zipped.writestr("handler.py", source)
            for path, text in (files or {}).items():
                zipped.writestr(path, text)
        function_name = f"{self.prefix}-{name}"
        response = self.clients.client("lambda").create_function(
            FunctionName=function_name,
            Runtime="python3.11",
            Role=role,
            Handler="handler.handler",
            Code={"ZipFile": archive.getvalue()},
            Timeout=30,
            **config,
        )
        return str(response["FunctionArn"])


@dataclass
class Execution:
    arn: str
    status: str
    output: Any
    error: str | None
    cause: str | None
    history: list[dict[str, Any]]

    def events(self, event_type: str) -> list[dict[str, Any]]:
        return [event for event in self.history if event["type"] == event_type]


@dataclass
class StateMachineRunner:
    """Creates state machines and runs executions to their end."""

    clients: LocalClients
    prefix: str

    @property
    def sfn(self) -> Any:
        return self.clients.client("stepfunctions")

    def create(self, definition: dict[str, Any], name: str = "machine") -> str:
        response = self.sfn.create_state_machine(
            name=f"{self.prefix}-{name}", definition=json.dumps(definition), roleArn=ROLE_ARN
        )
        return str(response["stateMachineArn"])

    def start(self, machine_arn: str, execution_input: Any = None, name: str | None = None) -> str:
        request: dict[str, Any] = {"stateMachineArn": machine_arn, "input": json.dumps(execution_input or {})}
        if name:
            request["name"] = name
        return str(self.sfn.start_execution(**request)["executionArn"])

    def wait(self, execution_arn: str, timeout: float = 30.0) -> Execution:
        described = wait_until(
            lambda: (d := self.sfn.describe_execution(executionArn=execution_arn))["status"] != "RUNNING" and d,
            timeout,
            f"execution {execution_arn} to finish",
        )
        history = self.sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
        output = json.loads(described["output"]) if described.get("output") else None
        return Execution(
            execution_arn, described["status"], output, described.get("error"), described.get("cause"), history
        )

    def run(self, definition: dict[str, Any], execution_input: Any = None, timeout: float = 30.0) -> Execution:
        return self.wait(self.start(self.create(definition), execution_input), timeout)
