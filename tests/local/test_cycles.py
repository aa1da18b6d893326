"""Whole retrain cycles on the embedded local AWS, driven the way a user drives them: `retrain run`.

The tests share one local AWS, as the life of one pipeline: a first champion, no new data, a
canary promotion, a worse candidate kept out, a candidate that errors under traffic and is rolled
back, a rejected candidate whose run's end starts a follow-up for the data landed meanwhile, then
bad input and schema-broken data. Each asserts the outcome, the
execution history and the endpoint. Each arranges what it needs (a champion, the days it lands), so
any one of them passes alone and in any order: the first run happens once, for whichever test needs
a champion first, and is recorded for the test of the first run.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cli.executions import read_timeline
from cli.landing import append_demo_days, new_data_window, sample_request
from cli.replay import landed_requests, newest_day_keys
from local.aws import LocalAws
from local.home import StateDirectory
from retrain.monitoring import monitoring_schedule_name
from retrain.runs import Timeline
from tests.support.pipeline import RUN_TIMEOUT, LocalPipeline
from tests.support.polling import wait_until
from tests.support.sagemaker import IMAGE
from tests.support.starter import starter_decisions

pytestmark = [pytest.mark.local, pytest.mark.slow]


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


@dataclass(frozen=True)
class FirstRun:
    code: int
    summary: dict[str, Any]
    stderr: str
    endpoint: dict[str, Any]  # as the run left it


@pytest.fixture(scope="module")
def first_run(local: LocalPipeline) -> FirstRun:
    """The pipeline's first run, on the fresh local AWS: `retrain run` deploys the stack, lands demo
    days (the landing prefix is empty) and promotes the first champion."""
    code, summary, stderr = local.run("--approve", "auto")
    return FirstRun(code, summary, stderr, local.endpoint() if code == 0 else {})


@pytest.fixture
def champion(first_run: FirstRun) -> None:
    """A champion serves the endpoint (the first run's, or one promoted since)."""
    assert first_run.code == 0, f"the first run failed: {first_run.stderr}"


def read_s3(local: LocalPipeline, uri: str) -> bytes:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bytes(local.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def states(timeline: Timeline) -> list[str]:
    return [visit.name for visit in timeline.visits]


def test_first_run_promotes_the_first_champion(local: LocalPipeline, first_run: FirstRun) -> None:
    code, summary, stderr = first_run.code, first_run.summary, first_run.stderr
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
    endpoint = first_run.endpoint
    assert endpoint["EndpointStatus"] == "InService"
    assert endpoint["EndpointConfigName"].endswith("-config")
    assert summary["endpoint"] == endpoint["EndpointName"]
    assert {"ValidateInput", "PrepareData", "TrainCandidate"} <= set(summary["state_seconds"])
    # The summary's example request is one the endpoint answers...
    answer = local.client("sagemaker-runtime").invoke_endpoint(
        EndpointName=summary["endpoint"], ContentType="text/csv", Body=summary["sample_request"], InferenceId="first"
    )
    answered = answer["Body"].read()
    assert "predictions" in json.loads(answered)
    # ...and the endpoint captured it, as its config asks, in SageMaker's layout and format.
    key, record = local.captured("first")
    assert key.startswith(f"{local.pipeline.config.data.capture_prefix}{summary['endpoint']}/AllTraffic/")
    assert record["captureData"]["endpointInput"]["data"] == summary["sample_request"]
    assert record["captureData"]["endpointInput"]["encoding"] == "CSV"
    assert json.loads(record["captureData"]["endpointOutput"]["data"]) == json.loads(answered)
    # The champion's package names its own data-quality baseline, in Model Monitor's formats.
    sagemaker = local.client("sagemaker")
    listed = sagemaker.list_model_packages(
        ModelPackageGroupName=local.pipeline.outputs["ModelPackageGroupName"],
        SortBy="CreationTime",
        SortOrder="Ascending",
    )["ModelPackageSummaryList"]
    package = sagemaker.describe_model_package(ModelPackageName=listed[0]["ModelPackageArn"])  # the first run's
    quality = package["DriftCheckBaselines"]["ModelDataQuality"]
    statistics = json.loads(read_s3(local, quality["Statistics"]["S3Uri"]))
    constraints = json.loads(read_s3(local, quality["Constraints"]["S3Uri"]))
    inputs = [feature["name"] for feature in statistics["features"]]
    assert inputs == [feature["name"] for feature in constraints["features"]]
    dataset = local.pipeline.config.dataset
    assert inputs == [
        column
        for column in dataset.schema_
        if column not in (dataset.target, dataset.id_column, dataset.timestamp_column, *dataset.exclude_columns)
    ]
    # Promoted, the endpoint got its monitoring schedule (created: there was none), on this champion's baseline.
    assert {"ScheduleMonitoring", "CreateMonitoringSchedule"} <= set(visited)
    schedule = sagemaker.describe_monitoring_schedule(
        MonitoringScheduleName=monitoring_schedule_name(summary["endpoint"])
    )
    assert schedule["MonitoringScheduleStatus"] == "Scheduled"
    config = schedule["MonitoringScheduleConfig"]
    assert config["ScheduleConfig"]["ScheduleExpression"] == local.pipeline.config.monitoring.schedule_expression
    monitored = config["MonitoringJobDefinition"]
    assert monitored["BaselineConfig"]["ConstraintsResource"]["S3Uri"] == quality["Constraints"]["S3Uri"]
    assert monitored["BaselineConfig"]["StatisticsResource"]["S3Uri"] == quality["Statistics"]["S3Uri"]
    assert monitored["MonitoringInputs"][0]["EndpointInput"]["EndpointName"] == summary["endpoint"]


@pytest.mark.usefixtures("champion")
def test_no_new_data_ends_quietly(local: LocalPipeline) -> None:
    local.discard_new_days()
    assert new_data_window(local.pipeline) is None
    before = local.endpoint()["EndpointConfigName"]
    code, summary, stderr = local.run("--approve", "auto")
    assert code == 0, stderr
    assert summary["outcome"] == "NoNewData"
    assert states(local.timeline(summary))[-1] == "NoNewData"
    assert local.endpoint()["EndpointConfigName"] == before


@pytest.mark.usefixtures("champion")
def test_newer_drifted_data_is_promoted_by_canary(local: LocalPipeline) -> None:
    before = local.endpoint()["EndpointConfigName"]
    local.ensure_new_days(15)  # the demo stream drifts: a model of newer days beats the champion on them
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
    # The new fleet captures its traffic as the old one did: the newest landed day, replayed.
    replayed = local.retrain("invoke", "--replay", "1", "--max-requests", "5")
    printed, complaint = replayed.communicate(timeout=120)
    assert replayed.returncode == 0, complaint
    assert "replayed 5 landed rows of 1 day(s)" in printed and "5 answered" in printed
    pipeline = local.pipeline
    _, keys = newest_day_keys(local.client("s3"), pipeline.bucket, pipeline.config.data.landing_prefix, 1)
    inference_id, request = next(landed_requests(local.client("s3"), pipeline.bucket, keys, pipeline.config))
    assert local.captured(inference_id)[1]["captureData"]["endpointInput"]["data"] == request
    assert "new fleet" in stderr  # the traffic split was shown during the canary


@pytest.mark.usefixtures("champion")
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
    then fails every prediction (a 5xx), like a model that breaks under real traffic. Done in the
    image's environment (scikit-learn 1.2.1): the model was pickled there."""
    from local.sagemaker.images import ContainerRuntimes

    bucket, key = model_data_url.removeprefix("s3://").split("/", 1)
    s3 = local.client("s3")
    archive = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    with tempfile.TemporaryDirectory() as scratch:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
            tar.extractall(scratch, filter="data")
        model = Path(scratch) / "model.joblib"
        unfit = (
            "import sys, joblib; from sklearn.base import clone; "
            "joblib.dump(clone(joblib.load(sys.argv[1])), sys.argv[1])"
        )
        environment = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
        interpreter = ContainerRuntimes().interpreter(IMAGE)
        subprocess.run([interpreter, "-c", unfit, str(model)], cwd=scratch, env=environment, check=True, timeout=120)
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


@pytest.mark.usefixtures("champion")
def test_a_candidate_that_errors_under_traffic_is_rolled_back(local: LocalPipeline) -> None:
    before = local.endpoint()["EndpointConfigName"]
    local.land_days(20)
    # The README cycle's rollout timings and alarms, at the local AWS's clock scale.
    process = local.retrain("run", "--json", "--approve", "wait")
    # Fails at once, with what the run printed, if it ends without asking for approval.
    process.wait_for_stderr("retrain approve", RUN_TIMEOUT)
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


@pytest.mark.usefixtures("champion")
def test_a_rejection_leaves_production_untouched_and_data_landed_meanwhile_is_trained_by_a_follow_up(
    local: LocalPipeline,
) -> None:
    """An ML lead rejects a candidate: its run fails `Rejected` with the reason, the package is
    rejected and the endpoint keeps the champion. No schedule involved: days that land while the run
    waits for the lead are queued by the starter, and the run's end starts the follow-up run that
    trains on them. (One test: the rejected run is the one the follow-up follows, which saves a
    whole training cycle.)"""
    before = local.endpoint()["EndpointConfigName"]
    local.land_days(3)
    process = local.retrain("run", "--json", "--approve", "wait")
    # The run prints the commands when its follower sees RequestApproval waiting; an answer sent
    # before that ends the wait unseen, and they are never printed. Answer once they are.
    process.wait_for_stderr("retrain approve", RUN_TIMEOUT)
    first = local.pending_run()
    starter = local.pipeline.outputs["StarterFunctionName"]
    seen = len(starter_decisions(local.client("logs"), starter))
    local.new_data_trigger(enabled=True)  # the days above landed minutes ago: their events are long gone
    append_demo_days(local.client("s3"), local.pipeline.bucket, local.pipeline.config, days=2)
    newest = max(local.new_keys())

    def queued() -> list[dict[str, Any]]:
        fresh = starter_decisions(local.client("logs"), starter)[seen:]
        return [d for d in fresh if d["trigger"] == "new-data" and d["queued"]]

    assert [d["running"] for d in wait_until(lambda: len(queued()) >= 2 and queued(), 120, "the triggers")] == [
        [first],
        [first],
    ]
    reject = local.retrain("reject", first, "--reason", "candidate under review by risk team", "--as", "test-lead")
    assert reject.wait(timeout=60) == 0, reject.communicate()[1]
    stdout, stderr = process.communicate(timeout=RUN_TIMEOUT)
    summary = json.loads(stdout)
    assert process.returncode != 0
    assert summary["outcome"] == "Rejected" and summary["error"] == "ApprovalRejected"
    assert "candidate under review by risk team" in summary["cause"]
    assert "retrain approve" in stderr  # --approve wait printed the commands
    assert local.endpoint()["EndpointConfigName"] == before
    assert local.approval_status(first) == "REJECTED"
    packages = local.client("sagemaker").list_model_packages(
        ModelPackageGroupName=local.pipeline.outputs["ModelPackageGroupName"]
    )["ModelPackageSummaryList"]
    [package] = [p for p in packages if p.get("ModelPackageDescription", "").endswith(f"execution {first}")]
    assert package["ModelApprovalStatus"] == "Rejected"

    follow_up = f"next-{first}"
    wait_until(lambda: local.approval_status(follow_up) == "PENDING", RUN_TIMEOUT, "the follow-up to ask for approval")
    arn = local.pipeline.state_machine_arn.replace(":stateMachine:", ":execution:") + f":{follow_up}"
    timeline = read_timeline(local.pipeline, arn)
    assert json.loads(local.client("stepfunctions").describe_execution(executionArn=arn)["input"])["trigger"] == (
        "follow-up"
    )
    check = timeline.last_visit("CheckForNewData")
    assert check is not None and check.output["data"]["new_watermark"] == newest  # it trains on the newest day
    assert "TrainCandidate" in states(timeline)
    reject = local.retrain("reject", follow_up, "--reason", "test over", "--as", "test-lead")
    assert reject.wait(timeout=60) == 0, reject.communicate()[1]
    wait_until(lambda: read_timeline(local.pipeline, arn).status != "RUNNING", 120, "the follow-up to end")
    assert local.endpoint()["EndpointConfigName"] == before


@pytest.mark.usefixtures("champion")
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


@pytest.mark.usefixtures("champion")
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
