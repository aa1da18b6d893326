"""Whole retrain cycles on the embedded local AWS, driven the way a user drives them: `retrain run`.

The tests share one local AWS, as the life of one pipeline: a first champion, no new data, a canary
promotion, then bad input and schema-broken data (the cycles whose candidate never reaches production
are in test_guarded_cycles.py, on a local AWS of their own). Each asserts the outcome, the execution
history and the endpoint. Each arranges what it needs (a champion, the days it lands), so any one of
them passes alone and in any order: the first run happens once, for whichever test needs a champion
first, and is recorded for the test of the first run.
"""

from __future__ import annotations

import json

import pytest

from cli.landing import new_data_window
from cli.replay import landed_requests, newest_day_keys
from retrain.monitoring import monitoring_schedule_name
from tests.support.cycles import FirstRun, read_s3, states
from tests.support.faults import faults_on, history, recovered, task_failures, transient
from tests.support.pipeline import RUN_TIMEOUT, LocalPipeline

pytestmark = [pytest.mark.local, pytest.mark.slow]


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
    # Its lineage names what started the run and why (a drift run: the alarm, features and values).
    described = local.client("stepfunctions").describe_execution(executionArn=summary["execution_arn"])
    trigger = json.loads(described["input"])
    assert package["ModelPackageDescription"] == (
        f"Candidate trained by execution {summary['execution_name']} (trigger {trigger['trigger']}: "
        f"{trigger.get('reason', '')})"
    )
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
    """...approved where ML leads work: the candidate's package set to Approved in the Model Registry
    (`aws sagemaker update-model-package`, as the approval message prints it) resumes the waiting run."""
    before = local.endpoint()["EndpointConfigName"]
    local.ensure_new_days(15)  # the demo stream drifts: a model of newer days beats the champion on them
    # The fault matrix's whole-cycle cell of UpdateEndpoint (docs/fault-matrix.md): its first call is
    # throttled and its second fails with a 5xx; the Retry takes both and the canary goes on.
    with faults_on(local, transient("UpdateEndpoint")):
        process = local.retrain("run", "--json", "--approve", "wait")
        process.wait_for_stderr("retrain approve", RUN_TIMEOUT)  # fails at once if the run ends without asking
        name = local.pending_run()
        request = local.approval_request(name)
        local.client("sagemaker").update_model_package(
            ModelPackageArn=request["model_package_arn"]["S"],
            ModelApprovalStatus="Approved",
            ApprovalDescription="AP up on the drifted days",
        )
        stdout, stderr = process.communicate(timeout=RUN_TIMEOUT)
    summary = json.loads(stdout)
    assert process.returncode == 0, stderr
    assert summary["outcome"] == "Promoted"
    # Who and why, from the package, recorded with the run (and in the package, by PromoteChampion).
    recorded = local.approval_request(name)
    assert recorded["status"]["S"] == "APPROVED" and recorded["answer"]["S"] == "approve"
    assert recorded["reason"]["S"] == "AP up on the drifted days"
    package = local.client("sagemaker").describe_model_package(ModelPackageName=request["model_package_arn"]["S"])
    by = package["LastModifiedBy"]
    assert recorded["approved_by"]["S"] == f"{by['UserProfileName']} ({by['UserProfileArn']})"
    assert "AP up on the drifted days" in package["ApprovalDescription"]
    metric = local.pipeline.config.promotion.metric
    assert summary["champion"] is not None
    assert summary["candidate"][metric] > summary["champion"][metric]
    timeline = local.timeline(summary)
    assert "UpdateEndpoint" in states(timeline) and "CreateEndpoint" not in states(timeline)
    update = timeline.last_visit("UpdateEndpoint")
    assert update is not None and update.input["run"]["deployment"]["traffic_routing"]["Type"] == "CANARY"
    update_errors = task_failures(history(local, summary["execution_arn"]))["UpdateEndpoint"]
    assert recovered(update_errors) and len(update_errors) == 2, update_errors
    endpoint = local.endpoint()
    assert endpoint["EndpointStatus"] == "InService" and endpoint["EndpointConfigName"] != before
    # The new fleet captures its traffic as the old one did: the newest landed day, replayed.
    replayed = local.retrain("invoke", "--replay", "1", "--batch-size", "1", "--max-requests", "5")
    printed, complaint = replayed.communicate(timeout=120)
    assert replayed.returncode == 0, complaint
    assert "replayed 5 landed rows of 1 day(s)" in printed and "5 answered" in printed
    pipeline = local.pipeline
    _, keys = newest_day_keys(local.client("s3"), pipeline.bucket, pipeline.config.data.landing_prefix, 1)
    inference_id, request = next(landed_requests(local.client("s3"), pipeline.bucket, keys, pipeline.config))
    assert local.captured(inference_id)[1]["captureData"]["endpointInput"]["data"] == request
    assert "new fleet" in stderr  # the traffic split was shown during the canary


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
