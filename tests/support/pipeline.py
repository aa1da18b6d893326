"""A driver of the deployed pipeline on a local AWS of its own, the way a user drives it: `retrain ...`
commands in subprocesses, and the clients to look at what they did."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest

from cli.executions import read_timeline
from cli.landing import append_demo_days, landing_keys
from cli.pipeline import DeployedPipeline, read_stack_outputs
from local.aws import LocalAws
from local.home import StateDirectory
from retrain.config import load_config
from retrain.runs import Timeline
from retrain.state_table import PARTITION_KEY, SORT_KEY, WATERMARK, approval_key
from retrain.watermark import partition_date
from tests.support.capture_format import capture_records
from tests.support.polling import wait_until
from tests.support.starter import bring_to_rest

ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT = 600.0
GLUE_ACTIVE = frozenset({"STARTING", "RUNNING", "STOPPING", "WAITING"})


class Command:
    """A `retrain` process whose output is read while it runs, so a test can wait for a line."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self._stdout: list[str] = []
        self._stderr: list[str] = []
        self._readers = [
            threading.Thread(target=self._drain, args=(stream, lines), daemon=True)
            for stream, lines in ((process.stdout, self._stdout), (process.stderr, self._stderr))
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _drain(stream: IO[str] | None, lines: list[str]) -> None:
        if stream is not None:
            lines.extend(iter(stream.readline, ""))

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    @property
    def stderr(self) -> str:
        return "".join(self._stderr)

    def wait(self, timeout: float) -> int:
        code = self.process.wait(timeout=timeout)
        for reader in self._readers:
            reader.join(timeout=10)
        return code

    def communicate(self, timeout: float = RUN_TIMEOUT) -> tuple[str, str]:
        """Wait for the end; everything it printed on stdout and on stderr."""
        self.wait(timeout)
        return "".join(self._stdout), self.stderr

    def wait_for_stderr(self, text: str, timeout: float) -> None:
        """Until the process has printed `text` on stderr; fails at once if it ends without it."""

        def printed() -> bool:
            if text in self.stderr:
                return True
            if self.process.poll() is not None:
                self.wait(timeout=10)
                if text not in self.stderr:
                    pytest.fail(f"`retrain` ended ({self.returncode}) without printing {text!r}:\n{self.stderr}")
                return True
            return False

        wait_until(printed, timeout, f"`retrain` to print {text!r}")


@dataclass
class LocalPipeline:
    aws: LocalAws
    env: dict[str, str]
    _pipeline: DeployedPipeline | None = field(default=None, init=False)

    @property
    def pipeline(self) -> DeployedPipeline:
        if self._pipeline is None:
            clients = self.aws.clients()
            config = load_config(ROOT / "retrain.toml")
            self._pipeline = DeployedPipeline(config, clients, read_stack_outputs(clients, config.pipeline.name))
        return self._pipeline

    def client(self, service: str) -> Any:
        return self.pipeline.client(service)

    def retrain(self, *args: str) -> Command:
        return Command(
            subprocess.Popen(
                [sys.executable, "-m", "cli", *args],
                cwd=ROOT,
                env=self.env,
                text=True,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL,
            )
        )

    def run(self, *args: str) -> tuple[int, dict[str, Any], str]:
        """`retrain run --json ...` to its end: exit code, the JSON summary, what it printed on stderr."""
        process = self.retrain("run", "--json", *args)
        stdout, stderr = process.communicate(timeout=RUN_TIMEOUT)
        assert process.returncode is not None
        return process.returncode, json.loads(stdout) if stdout.strip() else {}, stderr

    def timeline(self, summary: dict[str, Any]) -> Timeline:
        return read_timeline(self.pipeline, summary["execution_arn"])

    def endpoint(self) -> dict[str, Any]:
        return dict(self.client("sagemaker").describe_endpoint(EndpointName=self.pipeline.endpoint_name))

    def captured(self, inference_id: str, timeout: float = 60.0) -> tuple[str, dict[str, Any]]:
        """The capture file key and record of the invocation sent with `inference_id`, once written."""
        pipeline, s3 = self.pipeline, self.client("s3")
        prefix = f"{pipeline.config.data.capture_prefix}{pipeline.endpoint_name}/"

        def find() -> tuple[str, dict[str, Any]] | None:
            for item in s3.list_objects_v2(Bucket=pipeline.bucket, Prefix=prefix).get("Contents", []):
                body = s3.get_object(Bucket=pipeline.bucket, Key=item["Key"])["Body"].read()
                for record in capture_records(body):
                    if record["eventMetadata"].get("inferenceId") == inference_id:
                        return item["Key"], record
            return None

        return wait_until(find, timeout, f"the capture of invocation {inference_id} under {prefix}")

    def new_data_trigger(self, *, enabled: bool) -> None:
        """Turn the pipeline's new-data rule on or off, as an operator pauses it in the console."""
        rule = f"{self.pipeline.config.pipeline.name}-new-data"
        events = self.client("events")
        (events.enable_rule if enabled else events.disable_rule)(Name=rule)

    def land_days(self, days: int) -> None:
        """New data without a run: the test starts its own run, with its own input.

        The new-data rule is turned off first and stays off (the test that is about triggers turns
        it back on): otherwise every landing starts a run whose Glue job the test must stop and wait
        out, a whole Spark run for nothing. S3 sends its events to EventBridge after the put
        returns, so turning the rule back on right after the landing could still let them start one.
        """
        self.new_data_trigger(enabled=False)
        append_demo_days(self.client("s3"), self.pipeline.bucket, self.pipeline.config, days=days)
        self.settle()

    def settle(self) -> None:
        """No run going, no trigger queued, and the Glue job free for the test's own run."""
        bring_to_rest(
            self.client,
            machine_arn=self.pipeline.state_machine_arn,
            table=self.pipeline.state_table,
            pipeline=self.pipeline.config.pipeline.name,
            starter=self.pipeline.outputs["StarterFunctionName"],
        )
        # A run stopped once it reached PrepareData leaves its Glue job run going, and the job takes one
        # run at a time (the test's own run would fail with ConcurrentRunsExceeded): wait for it to end.
        glue, job = self.client("glue"), self.pipeline.outputs["GlueJobName"]
        wait_until(
            lambda: not any(run["JobRunState"] in GLUE_ACTIVE for run in glue.get_job_runs(JobName=job)["JobRuns"]),
            300,
            "the stopped run's Glue job run to end",
        )

    def watermark_item(self) -> dict[str, Any]:
        """The state table's WATERMARK item ({} before the first run that used its data)."""
        pipeline = self.pipeline
        item: dict[str, Any] = (
            self.client("dynamodb")
            .get_item(
                TableName=pipeline.state_table,
                Key={PARTITION_KEY: {"S": pipeline.config.pipeline.name}, SORT_KEY: {"S": WATERMARK}},
            )
            .get("Item", {})
        )
        return item

    def new_keys(self) -> list[str]:
        """The landed data objects after the watermark: what no run has trained on yet."""
        pipeline = self.pipeline
        watermark = self.watermark_item().get("key", {}).get("S", "")
        prefix = pipeline.config.data.landing_prefix
        return [
            key
            for key in landing_keys(self.client("s3"), pipeline.bucket, prefix, watermark)
            if partition_date(key, prefix)
        ]

    def ensure_new_days(self, days: int) -> None:
        """At least `days` days of new data: lands the ones missing (a rejected or rolled-back
        candidate leaves its days untrained on, and they count)."""
        prefix = self.pipeline.config.data.landing_prefix
        missing = days - len({partition_date(key, prefix) for key in self.new_keys()})
        if missing > 0:
            self.land_days(missing)

    def discard_new_days(self) -> None:
        """No new data: deletes the days landed after the watermark that no run trained on (a rejected
        or rolled-back candidate leaves its days). Later landings write the same days again."""
        s3 = self.client("s3")
        for key in self.new_keys():
            s3.delete_object(Bucket=self.pipeline.bucket, Key=key)

    def approval_status(self, execution_name: str) -> str | None:
        item = self.approval_request(execution_name)
        return item["status"]["S"] if item else None

    def approval_request(self, execution_name: str) -> dict[str, Any]:
        """The run's APPROVAL item as the state table holds it ({} when the run never asked)."""
        item: dict[str, Any] = (
            self.client("dynamodb")
            .get_item(
                TableName=self.pipeline.state_table,
                Key={
                    PARTITION_KEY: {"S": self.pipeline.config.pipeline.name},
                    SORT_KEY: {"S": approval_key(execution_name)},
                },
            )
            .get("Item", {})
        )
        return item

    def pending_run(self) -> str:
        """The name of the run that waits for approval."""
        sfn = self.client("stepfunctions")

        def waiting() -> str | None:
            for execution in sfn.list_executions(
                stateMachineArn=self.pipeline.state_machine_arn, statusFilter="RUNNING"
            )["executions"]:
                if self.approval_status(execution["name"]) == "PENDING":
                    return str(execution["name"])
            return None

        return str(wait_until(waiting, 300, "a run waiting for approval"))


@contextmanager
def started_pipeline(root: Path, port: int = 0, environment: dict[str, str] | None = None) -> Iterator[LocalPipeline]:
    """A local AWS of its own under `root` (on `port`; 0: any free one; `environment`: extra variables of the
    emulator process), and its driver; stopped at the end."""
    home = StateDirectory(root)
    aws = LocalAws(home, port=port, environment=environment)
    process = aws.start()
    env = {**os.environ, "RETRAIN_HOME": str(home.root), "RETRAIN_LOCAL_PORT": str(process.port), "CI": "true"}
    try:
        yield LocalPipeline(aws, env)
    finally:
        aws.stop()
