"""Whole retrain cycles on the embedded local AWS, driven the way a user drives them: `retrain run`.

The tests share one local AWS and run in order, as the life of one pipeline: a first champion,
no new data, a rejected candidate, a canary promotion, a worse candidate kept out, a candidate
that errors under traffic and is rolled back, then bad input and schema-broken data. Each asserts
the outcome, the execution history and the endpoint.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from local.aws import LocalAws
from local.home import StateDirectory
from retrain.cli.landing import append_demo_days, sample_request
from retrain.cli.pipeline import DeployedPipeline, read_stack_outputs
from retrain.cli.runs_cmd import read_timeline
from retrain.config import load_config
from retrain.runs import Timeline
from retrain.state_table import PARTITION_KEY, SORT_KEY, approval_key
from tests.support.polling import wait_until

pytestmark = [pytest.mark.local, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT = 600.0




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

    def retrain(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "retrain.cli", *args],
            cwd=ROOT,
            env=self.env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
        )

    def run(self, *args: str) -> tuple[int, dict[str, Any], str]:
        """`retrain run --json ...` to its end: exit code, the JSON summary, what it printed on stderr."""
        process = self.retrain("run", "--json", *args)
        stdout, stderr = process.communicate(timeout=RUN_TIMEOUT)
        return process.returncode, json.loads(stdout) if stdout.strip() else {}, stderr

    def timeline(self, summary: dict[str, Any]) -> Timeline:
        return read_timeline(self.pipeline, summary["execution_arn"])

    def endpoint(self) -> dict[str, Any]:
        return dict(self.client("sagemaker").describe_endpoint(EndpointName=self.pipeline.endpoint_name))

    def land_days(self, days: int) -> None:
        """New data without the run it triggers: the test starts its own run, with its own input."""
        append_demo_days(self.client("s3"), self.pipeline.bucket, self.pipeline.config, days=days)
        sfn = self.client("stepfunctions")

        def triggered() -> list[dict[str, Any]]:
            return list(
                sfn.list_executions(stateMachineArn=self.pipeline.state_machine_arn, statusFilter="RUNNING")[
                    "executions"
                ]
            )

        # The trigger may start a run (or refuse, if its 15-minute name is taken): stop any that starts.
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            for execution in triggered():
                sfn.stop_execution(executionArn=execution["executionArn"], cause="test starts its own run")
            time.sleep(0.5)
        assert not triggered()

    def approval_status(self, execution_name: str) -> str | None:
        item = (
            self.client("dynamodb")
            .get_item(
                TableName=self.pipeline.state_table,
                Key={
                    PARTITION_KEY: {"S": self.pipeline.config.pipeline.name},
                    SORT_KEY: {"S": approval_key(execution_name)},
                },
            )
            .get("Item")
        )
        return item["status"]["S"] if item else None

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


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPipeline]:
    home = StateDirectory(tmp_path_factory.mktemp("retrain-cycles"))
    aws = LocalAws(home, port=0)
    process = aws.start()
    env = {**os.environ, "RETRAIN_HOME": str(home.root), "RETRAIN_LOCAL_PORT": str(process.port), "CI": "true"}
    try:
        yield LocalPipeline(aws, env)
    finally:
        aws.stop()


def states(timeline: Timeline) -> list[str]:
    return [visit.name for visit in timeline.visits]


def test_first_run_promotes_the_first_champion(local: LocalPipeline) -> None:
    code, summary, stderr = local.run("--approve", "auto")
    assert code == 0, stderr
    assert summary["outcome"] == "Promoted" and summary["status"] == "SUCCEEDED"
    assert summary["champion"] is None and summary["candidate"]["average_precision"] > 0.2
    assert "landing was empty" in stderr and "no champion yet" in " ".join(summary["reasons"])
    timeline = local.timeline(summary)
    visited = states(timeline)
    for state in (
        "ValidateInput",
        "PrepareData",
        "TrainCandidate",
        "EvaluateCandidate",
        "RegisterCandidate",
        "RequestApproval",
        "CreateEndpoint",
        "PromoteChampion",
        "Promoted",
    ):
        assert state in visited
    assert "UpdateEndpoint" not in visited
    endpoint = local.endpoint()
    assert endpoint["EndpointStatus"] == "InService"
    assert endpoint["EndpointConfigName"].endswith("-config")
    assert summary["endpoint"] == endpoint["EndpointName"]
    assert {"ValidateInput", "PrepareData", "TrainCandidate"} <= set(summary["state_seconds"])
    # The summary's example request is one the endpoint answers.
    answer = local.client("sagemaker-runtime").invoke_endpoint(
        EndpointName=summary["endpoint"], ContentType="text/csv", Body=summary["sample_request"]
    )
    assert "predictions" in json.loads(answer["Body"].read())


def test_no_new_data_ends_quietly(local: LocalPipeline) -> None:
    before = local.endpoint()["EndpointConfigName"]
    code, summary, stderr = local.run("--approve", "auto")
    assert code == 0, stderr
    assert summary["outcome"] == "NoNewData"
    assert states(local.timeline(summary))[-1] == "NoNewData"
    assert local.endpoint()["EndpointConfigName"] == before


def test_a_rejection_leaves_production_untouched(local: LocalPipeline) -> None:
    before = local.endpoint()["EndpointConfigName"]
    local.land_days(15)
    process = local.retrain("run", "--json", "--approve", "wait")
    name = local.pending_run()
    reject = local.retrain("reject", name, "--reason", "candidate under review by risk team", "--as", "test-lead")
    assert reject.wait(timeout=60) == 0, reject.communicate()[1]
    stdout, stderr = process.communicate(timeout=RUN_TIMEOUT)
    summary = json.loads(stdout)
    assert process.returncode != 0
    assert summary["outcome"] == "Rejected" and summary["error"] == "ApprovalRejected"
    assert "candidate under review by risk team" in summary["cause"]
    assert "retrain approve" in stderr  # --approve wait printed the commands
    assert local.endpoint()["EndpointConfigName"] == before
    assert local.approval_status(name) == "REJECTED"
    package = local.client("sagemaker").list_model_packages(
        ModelPackageGroupName=local.pipeline.outputs["ModelPackageGroupName"], SortOrder="Descending"
    )["ModelPackageSummaryList"][0]
    assert package["ModelApprovalStatus"] == "Rejected"


def test_newer_drifted_data_is_promoted_by_canary(local: LocalPipeline) -> None:
    before = local.endpoint()["EndpointConfigName"]
    code, summary, stderr = local.run("--approve", "auto")
    assert code == 0, stderr
    assert summary["outcome"] == "Promoted"
    metric = local.pipeline.config.promotion.metric
    assert summary["champion"] is not None
    assert summary["candidate"][metric] > summary["champion"][metric]
    timeline = local.timeline(summary)
    assert "UpdateEndpoint" in states(timeline) and "CreateEndpoint" not in states(timeline)
    update = timeline.last_visit("UpdateEndpoint")
    assert update is not None and update.input["run"]["deployment"]["traffic_routing"]["Type"] == "CANARY"
    endpoint = local.endpoint()
    assert endpoint["EndpointStatus"] == "InService" and endpoint["EndpointConfigName"] != before
    assert "new fleet" in stderr  # the traffic split was shown during the canary


def test_a_worse_candidate_is_kept_out(local: LocalPipeline) -> None:
    before = local.endpoint()["EndpointConfigName"]
    local.land_days(5)
    weak = {"hyperparameters": {"max_iter": 1, "max_leaf_nodes": 2, "learning_rate": 0.01}}
    code, summary, stderr = local.run("--approve", "auto", "--input", json.dumps(weak))
    assert code == 0, stderr
    assert summary["outcome"] == "KeptChampion"
    assert any("champion" in reason for reason in summary["reasons"])
    visited = states(local.timeline(summary))
    assert "AdvanceWatermark" in visited and "RegisterCandidate" not in visited
    assert local.endpoint()["EndpointConfigName"] == before


def _break_the_model(local: LocalPipeline, model_data_url: str) -> None:
    """Replace the candidate's model with an unfitted copy: it loads and passes the health check,
    then fails every prediction (a 5xx), like a model that breaks under real traffic."""
    import joblib
    from sklearn.base import clone

    bucket, key = model_data_url.removeprefix("s3://").split("/", 1)
    s3 = local.client("s3")
    archive = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    with tempfile.TemporaryDirectory() as scratch:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
            tar.extractall(scratch, filter="data")
        model = Path(scratch) / "model.joblib"
        joblib.dump(clone(joblib.load(model)), model)
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            for path in sorted(Path(scratch).iterdir()):
                tar.add(path, arcname=path.name)
    s3.put_object(Bucket=bucket, Key=key, Body=buffer.getvalue())


class Traffic:
    """Steady requests to the endpoint from a background thread, bounded in time."""

    def __init__(self, local: LocalPipeline, seconds: float) -> None:
        self.local, self.seconds = local, seconds
        self.answers: list[tuple[float, bool]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._send, daemon=True)

    def _send(self) -> None:
        runtime = self.local.client("sagemaker-runtime")
        body = sample_request(self.local.pipeline.config)
        deadline = time.monotonic() + self.seconds
        while not self.stop.is_set() and time.monotonic() < deadline:
            try:
                runtime.invoke_endpoint(
                    EndpointName=self.local.pipeline.endpoint_name, ContentType="text/csv", Body=body
                )
                self.answers.append((time.monotonic(), True))
            except Exception:
                self.answers.append((time.monotonic(), False))
            time.sleep(0.05)

    def __enter__(self) -> Traffic:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=30)


def test_a_candidate_that_errors_under_traffic_is_rolled_back(local: LocalPipeline) -> None:
    before = local.endpoint()["EndpointConfigName"]
    local.land_days(20)
    # A longer canary step than the local default, so the 10-second rollback alarms can fire in it.
    process = local.retrain("run", "--json", "--approve", "wait", "--input", json.dumps({"wait_interval_seconds": 90}))
    name = local.pending_run()
    arn = local.pipeline.execution_arn(name)
    approval_input = read_timeline(local.pipeline, arn).last_visit("RequestApproval")
    assert approval_input is not None
    _break_the_model(local, approval_input.input["training"]["model_data_url"])
    with Traffic(local, seconds=RUN_TIMEOUT) as traffic:
        approve = local.retrain("approve", name, "--reason", "ship it", "--as", "test-lead")
        assert approve.wait(timeout=60) == 0, approve.communicate()[1]
        stdout, stderr = process.communicate(timeout=RUN_TIMEOUT)
        ended = time.monotonic()
        # The champion keeps answering after the rollback.
        wait_until(lambda: len([a for a in traffic.answers if a[0] > ended]) >= 20, 60, "requests after the run")
    summary = json.loads(stdout)
    assert process.returncode != 0, stderr
    assert summary["outcome"] == "RolledBack" and summary["error"] == "DeploymentRolledBack"
    assert "RecordRollback" in states(local.timeline(summary))
    endpoint = local.endpoint()
    assert endpoint["EndpointStatus"] == "InService" and endpoint["EndpointConfigName"] == before
    assert "alarm" in endpoint.get("FailureReason", "").lower()
    assert all(ok for at, ok in traffic.answers if at > ended)
    assert any(ok for at, ok in traffic.answers if at <= ended)


def test_malformed_execution_input_fails_early_and_names_the_field(local: LocalPipeline) -> None:
    before = local.endpoint()["EndpointConfigName"]
    code, summary, stderr = local.run("--approve", "auto", "--input", json.dumps({"approval_timeout_seconds": "soon"}))
    assert code != 0
    assert summary["outcome"] == "Failed" and summary["error"] == "InvalidExecutionInput"
    assert "approval_timeout_seconds" in summary["cause"]
    visited = states(local.timeline(summary))
    assert visited[0] == "ValidateInput" and "CheckForNewData" not in visited
    assert local.endpoint()["EndpointConfigName"] == before
    assert "Traceback" not in stderr


def test_schema_broken_data_fails_with_the_column_named(local: LocalPipeline) -> None:
    before = local.endpoint()["EndpointConfigName"]
    pipeline = local.pipeline
    prefix = pipeline.config.data.landing_prefix
    # A day whose export lost the `amount` column.
    header = [c for c in pipeline.config.dataset.schema_ if c != "amount"]
    row = "tx-x,2031-01-01T10:00:00Z,c1,grocery,1.0,10,web,false,0"
    body = ",".join(header) + "\n" + "\n".join(row for _ in range(50)) + "\n"
    key = f"{prefix}date=2031-01-01/part-00000.csv"
    s3 = local.client("s3")
    s3.put_object(Bucket=pipeline.bucket, Key=key, Body=body.encode())
    try:  # the new-data trigger may start the run; `retrain run` then follows it
        code, summary, stderr = local.run("--approve", "auto")
    finally:
        s3.delete_object(Bucket=pipeline.bucket, Key=key)
    assert code != 0, stderr
    assert summary["outcome"] == "Failed" and summary["error"] == "SchemaMismatch"
    assert "amount" in summary["cause"]
    assert states(local.timeline(summary))[-1] == "PipelineFailed"
    assert local.endpoint()["EndpointConfigName"] == before
