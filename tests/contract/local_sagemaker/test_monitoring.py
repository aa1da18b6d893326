"""Monitoring schedules of the local SageMaker: the API as botocore's model and the SageMaker API reference
describe it (`CreateMonitoringSchedule`, `ScheduleConfig`), and each execution run as Model Monitor runs a
"bring your own container" job (model-monitor-byoc-contract-inputs/-outputs, -byoc-cloudwatch): the project's
`jobs/monitor.py` in the scikit-learn image's isolated environment over the endpoint's captured data, its
`constraint_violations.json` in the schedule's S3 output and its metrics in CloudWatch under Model Monitor's
names (`tests/support/monitor_format.py` holds the formats)."""

from __future__ import annotations

import datetime as dt
import importlib
import json
from typing import Any

import jsonschema
import numpy as np
import pandas as pd
import pytest
from botocore.exceptions import ClientError

from local.clock import ClockScale
from tests.support.capture_format import capture_records
from tests.support.iam import RoleFactory, ecr_pulls, s3_reads, s3_writes, sagemaker_log_writes
from tests.support.local_aws import RunningLocalAws
from tests.support.monitor_format import CONSTRAINT_VIOLATIONS_SCHEMA
from tests.support.monitoring import capturing_csv_endpoint, jobs_sourcedir, run_monitoring_schedule, schedule_config
from tests.support.polling import wait_until
from tests.support.sagemaker import IMAGE_REPOSITORY_ARN, SageMakerWorld

pytestmark = pytest.mark.local

COLUMNS = ["amount", "device_type", "account_age_days"]
# Where Model Monitor's data-quality metrics of an endpoint are (model-monitor-interpreting-cloudwatch; the
# built-in container's namespace, which the BYOC page leaves to the platform).
NAMESPACE = "aws/sagemaker/Endpoints/data-metrics"
EXECUTION_TIMEOUT = 300.0  # the job starts a Python of the image's environment, on a shared machine
TERMINAL = ("Completed", "CompletedWithViolations", "Failed", "Stopped")


def transactions(seed: int, rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "amount": rng.gamma(2.0, 30.0, rows).round(2),
            "device_type": rng.choice(["ios", "android", "web"], rows, p=[0.5, 0.3, 0.2]),
            "account_age_days": rng.integers(1, 2000, rows),
        }
    )


@pytest.fixture(scope="module")
def monitored(world: SageMakerWorld) -> dict[str, str]:
    """The jobs' sourcedir and a baseline of the training-like data, in S3."""
    import tests.support.jobs  # noqa: F401 - puts jobs/ on sys.path, for the jobs' own bare imports

    baseline = importlib.import_module("baseline")
    statistics, constraints = baseline.data_quality_baseline(transactions(seed=1, rows=2000), COLUMNS)
    world.put("monitoring-baseline/statistics.json", json.dumps(statistics).encode())
    world.put("monitoring-baseline/constraints.json", json.dumps(constraints).encode())
    return {
        "baseline": f"s3://{world.bucket}/monitoring-baseline",
        "sourcedir": jobs_sourcedir(world, "monitoring-code/sourcedir.tar.gz"),
    }


def send_traffic(world: SageMakerWorld, endpoint: str, capture_prefix: str, frame: pd.DataFrame) -> None:
    """`frame` as CSV requests of 100 rows, then wait until the platform has written their capture."""
    chunks = [frame.iloc[start : start + 100] for start in range(0, len(frame), 100)]
    for chunk in chunks:
        body = chunk.to_csv(header=False, index=False)
        world.runtime.invoke_endpoint(EndpointName=endpoint, Body=body, ContentType="text/csv")

    def written() -> bool:
        listed = world.client("s3").list_objects_v2(Bucket=world.bucket, Prefix=f"{capture_prefix}/")
        keys = [item["Key"] for item in listed.get("Contents", [])]
        return sum(len(capture_records(world.get(f"s3://{world.bucket}/{key}"))) for key in keys) >= len(chunks)

    wait_until(written, 30, f"the capture of {len(chunks)} requests")


def finished(world: SageMakerWorld, schedule: str, processing_job_arn: str) -> dict[str, Any]:
    def summary() -> dict[str, Any] | None:
        last = world.sm.describe_monitoring_schedule(MonitoringScheduleName=schedule).get(
            "LastMonitoringExecutionSummary", {}
        )
        if last.get("ProcessingJobArn") == processing_job_arn and last["MonitoringExecutionStatus"] in TERMINAL:
            return last
        executions = world.sm.list_monitoring_executions(MonitoringScheduleName=schedule, MaxResults=100)
        for execution in executions["MonitoringExecutionSummaries"]:
            if (
                execution.get("ProcessingJobArn") == processing_job_arn
                and execution["MonitoringExecutionStatus"] in TERMINAL
            ):
                return execution
        return None

    return wait_until(summary, EXECUTION_TIMEOUT, f"the monitoring execution {processing_job_arn}")


def monitor_once(
    world: SageMakerWorld, monitored: dict[str, str], name: str, traffic: pd.DataFrame
) -> tuple[dict[str, Any], dict[str, Any], str]:
    """A schedule on a capturing endpoint that received `traffic`, run now: (execution, processing job, name)."""
    capture_prefix = f"capture-{name}"
    endpoint = capturing_csv_endpoint(world, name, capture_prefix)
    schedule = f"{name}-data-quality"
    world.sm.create_monitoring_schedule(
        MonitoringScheduleName=schedule,
        MonitoringScheduleConfig=schedule_config(world, endpoint, monitored["baseline"], monitored["sourcedir"]),
    )
    send_traffic(world, endpoint, capture_prefix, traffic)
    started = run_monitoring_schedule(world, schedule)
    execution = finished(world, schedule, started["ProcessingJobArn"])
    job = world.sm.describe_processing_job(ProcessingJobName=started["ProcessingJobArn"].rsplit("/", 1)[-1])
    return execution, job, schedule


def report(world: SageMakerWorld, job: dict[str, Any], name: str) -> dict[str, Any]:
    output = job["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
    return json.loads(world.get(f"{output}/{name}"))


def test_drifted_traffic_completes_with_violations_in_model_monitors_formats_and_metrics(
    world: SageMakerWorld, monitored: dict[str, str], unique_name: str
) -> None:
    drifted = transactions(seed=3, rows=400).assign(amount=lambda f: (f["amount"] * 3).round(2))

    execution, job, schedule = monitor_once(world, monitored, unique_name, drifted)

    assert execution["MonitoringExecutionStatus"] == "CompletedWithViolations", execution.get("FailureReason")
    assert execution["EndpointName"] == unique_name and execution["MonitoringType"] == "DataQuality"
    # The container contract's environment reached the job (model-monitor-byoc-contract-inputs).
    environment = job["Environment"]
    assert environment["sagemaker_endpoint_name"] == unique_name
    assert environment["sagemaker_monitoring_schedule_name"] == schedule
    assert environment["publish_cloudwatch_metrics"] == "Enabled"
    assert job["MonitoringScheduleArn"].endswith(f"monitoring-schedule/{schedule}")
    violations = report(world, job, "constraint_violations.json")
    jsonschema.validate(violations, CONSTRAINT_VIOLATIONS_SCHEMA)
    assert ("amount", "baseline_drift_check") in {
        (v["feature_name"], v["constraint_check_type"]) for v in violations["violations"]
    }
    assert report(world, job, "statistics.json")["dataset"]["item_count"] == 400
    # Model Monitor's metric names, namespace and dimensions (model-monitor-interpreting-cloudwatch).
    dimensions = [{"Name": "Endpoint", "Value": unique_name}, {"Name": "MonitoringSchedule", "Value": schedule}]
    cloudwatch = world.client("cloudwatch")
    names = {
        metric["MetricName"]
        for metric in cloudwatch.list_metrics(Namespace=NAMESPACE, Dimensions=dimensions)["Metrics"]
    }
    assert {f"feature_baseline_drift_{column}" for column in COLUMNS} <= names
    assert "feature_data_amount" in names and "feature_non_null_device_type" in names
    stamp = pd.Timestamp(job["Environment"]["end_time"]).to_pydatetime()
    drift = cloudwatch.get_metric_statistics(
        Namespace=NAMESPACE,
        MetricName="feature_baseline_drift_amount",
        Dimensions=dimensions,
        StartTime=stamp - pd.Timedelta(minutes=5),
        EndTime=stamp + pd.Timedelta(minutes=5),
        Period=60,
        Statistics=["Maximum"],
    )["Datapoints"]
    assert drift and max(point["Maximum"] for point in drift) > 0.1


def test_training_like_traffic_completes_without_violations(
    world: SageMakerWorld, monitored: dict[str, str], unique_name: str
) -> None:
    execution, job, _ = monitor_once(world, monitored, unique_name, transactions(seed=2, rows=400))

    assert execution["MonitoringExecutionStatus"] == "Completed", execution.get("FailureReason")
    assert report(world, job, "constraint_violations.json") == {"violations": []}


def test_schedules_are_described_listed_rescheduled_against_a_new_baseline_and_deleted(
    world: SageMakerWorld, monitored: dict[str, str], unique_name: str
) -> None:
    endpoint = capturing_csv_endpoint(world, unique_name, f"capture-{unique_name}")
    schedule = f"{unique_name}-data-quality"
    config = schedule_config(world, endpoint, monitored["baseline"], monitored["sourcedir"])
    arn = world.sm.create_monitoring_schedule(MonitoringScheduleName=schedule, MonitoringScheduleConfig=config)[
        "MonitoringScheduleArn"
    ]

    described = world.sm.describe_monitoring_schedule(MonitoringScheduleName=schedule)
    assert (described["MonitoringScheduleArn"], described["MonitoringScheduleStatus"]) == (arn, "Scheduled")
    assert described["EndpointName"] == endpoint and described["MonitoringType"] == "DataQuality"
    [summary] = world.sm.list_monitoring_schedules(EndpointName=endpoint)["MonitoringScheduleSummaries"]
    assert summary["MonitoringScheduleName"] == schedule

    newer = schedule_config(world, endpoint, f"s3://{world.bucket}/newer-baseline", monitored["sourcedir"])
    world.sm.update_monitoring_schedule(MonitoringScheduleName=schedule, MonitoringScheduleConfig=newer)
    baseline = world.sm.describe_monitoring_schedule(MonitoringScheduleName=schedule)["MonitoringScheduleConfig"][
        "MonitoringJobDefinition"
    ]["BaselineConfig"]
    assert baseline["ConstraintsResource"]["S3Uri"] == f"s3://{world.bucket}/newer-baseline/constraints.json"

    with pytest.raises(ClientError) as taken:
        world.sm.create_monitoring_schedule(MonitoringScheduleName=schedule, MonitoringScheduleConfig=config)
    assert taken.value.response["Error"]["Code"] == "ResourceInUse"
    world.sm.delete_monitoring_schedule(MonitoringScheduleName=schedule)
    with pytest.raises(ClientError) as gone:
        world.sm.describe_monitoring_schedule(MonitoringScheduleName=schedule)
    assert gone.value.response["Error"]["Code"] == "ResourceNotFound"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        # API reference, ScheduleConfig: hourly, daily at an hour, every N hours, or NOW.
        (lambda c: c["ScheduleConfig"].update(ScheduleExpression="rate(1 hour)"), "is not supported"),
        (lambda c: c["ScheduleConfig"].update(ScheduleExpression="NOW"), "NOW needs DataAnalysisStartTime"),
        (lambda c: c["ScheduleConfig"].update(ScheduleExpression="cron(0 25 ? * * *)"), "the hour is 0-23"),
        # botocore: MonitoringOutputs has at most one member; ImageUri at most 255 characters.
        (
            lambda c: c["MonitoringJobDefinition"]["MonitoringOutputConfig"]["MonitoringOutputs"].append(
                {"S3Output": {"S3Uri": "s3://b/x", "LocalPath": "/opt/ml/processing/x"}}
            ),
            "monitoringOutputs",
        ),
        (lambda c: c["MonitoringJobDefinition"]["MonitoringAppSpecification"].update(ImageUri="x" * 256), "imageUri"),
    ],
    ids=["rate-expression", "now-without-window", "hour-out-of-range", "two-outputs", "long-image-uri"],
)
def test_a_request_aws_refuses_is_a_validation_exception(
    world: SageMakerWorld, monitored: dict[str, str], unique_name: str, change: Any, message: str
) -> None:
    world.create_model(f"{unique_name}-v1", "v1")
    world.create_config(f"{unique_name}-v1", f"{unique_name}-v1")
    world.sm.create_endpoint(EndpointName=unique_name, EndpointConfigName=f"{unique_name}-v1")
    config = schedule_config(world, unique_name, monitored["baseline"], monitored["sourcedir"])
    change(config)

    with pytest.raises(ClientError) as refused:
        world.sm.create_monitoring_schedule(MonitoringScheduleName=f"{unique_name}-dq", MonitoringScheduleConfig=config)

    error = refused.value.response["Error"]
    assert error["Code"] == "ValidationException" and message in error["Message"]


def test_an_hourly_schedule_runs_by_itself_on_the_scaled_hour(
    world: SageMakerWorld, monitored: dict[str, str], unique_name: str, local_aws: RunningLocalAws
) -> None:
    assert local_aws.process.clock_scale is not None
    scale = ClockScale.parse(local_aws.process.clock_scale)
    hour = scale.seconds(3600)
    if hour > 120:
        pytest.skip(f"the session's local AWS runs at clock scale {scale}: an hour is {hour:g}s")
    endpoint = capturing_csv_endpoint(world, unique_name, f"capture-{unique_name}")
    schedule = f"{unique_name}-data-quality"
    world.sm.create_monitoring_schedule(
        MonitoringScheduleName=schedule,
        MonitoringScheduleConfig=schedule_config(world, endpoint, monitored["baseline"], monitored["sourcedir"]),
    )

    def executed() -> list[dict[str, Any]]:
        found = world.sm.list_monitoring_executions(MonitoringScheduleName=schedule)["MonitoringExecutionSummaries"]
        return [execution for execution in found if execution["MonitoringExecutionStatus"] in TERMINAL]

    [execution, *_] = wait_until(executed, 2 * hour + EXECUTION_TIMEOUT, f"a run of {schedule} by its schedule")
    # On the hour of AWS's clock, which runs from the local AWS's UTC midnight at the scale.
    scheduled = execution["ScheduledTime"].timestamp()
    midnight = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
    assert (scheduled - midnight) % hour == pytest.approx(0, abs=1e-3) or (scheduled - midnight) % hour == (
        pytest.approx(hour, abs=1e-3)
    )
    # No traffic in the hour before: the execution fails as Model Monitor's does for an empty window.
    assert (execution["MonitoringExecutionStatus"], execution.get("FailureReason")) == (
        "Failed",
        "Job inputs had no data",
    )


# A schedule's jobs run as its job definition's role (SageMaker developer guide, sagemaker-roles: the role pulls the
# image, ecr:GetAuthorizationToken on "*" and the repository's layers, and "publish metrics to Amazon CloudWatch",
# cloudwatch:PutMetricData, which takes the `cloudwatch:namespace` condition key: Service Authorization Reference,
# Amazon CloudWatch). AWS documents no failure for metrics the role may not publish: they are missing.
def monitoring_role(roles: RoleFactory, world: SageMakerWorld, *more: dict[str, Any], token: bool = True) -> str:
    return roles.create(
        "sagemaker.amazonaws.com",
        *s3_reads(world.bucket, ""),
        s3_writes(world.bucket, ""),
        sagemaker_log_writes(),
        *ecr_pulls(IMAGE_REPOSITORY_ARN, token=token),
        *more,
    )


def test_an_execution_whose_role_cannot_pull_the_monitoring_image_fails(
    world: SageMakerWorld, monitored: dict[str, str], unique_name: str, roles: RoleFactory
) -> None:
    role = monitoring_role(roles, world, token=False)
    endpoint = capturing_csv_endpoint(world, unique_name, f"capture-{unique_name}")
    config = schedule_config(world, endpoint, monitored["baseline"], monitored["sourcedir"])
    config["MonitoringJobDefinition"]["RoleArn"] = role
    schedule = f"{unique_name}-data-quality"
    world.sm.create_monitoring_schedule(MonitoringScheduleName=schedule, MonitoringScheduleConfig=config)

    execution = run_monitoring_schedule(world, schedule)

    assert execution["MonitoringExecutionStatus"] == "Failed"
    assert execution["FailureReason"].startswith("Access denied for repository: sagemaker-scikit-learn")
    assert f"role {role} has proper pull permissions" in execution["FailureReason"]


@pytest.mark.parametrize("may_publish", [True, False], ids=["metrics-allowed", "metrics-refused"])
def test_an_executions_metrics_are_published_only_when_its_role_may(
    world: SageMakerWorld, monitored: dict[str, str], unique_name: str, roles: RoleFactory, may_publish: bool
) -> None:
    publish = {
        "Effect": "Allow",
        "Action": "cloudwatch:PutMetricData",
        "Resource": "*",
        "Condition": {"StringEquals": {"cloudwatch:namespace": NAMESPACE}},
    }
    role = monitoring_role(roles, world, *([publish] if may_publish else []))
    capture_prefix = f"capture-{unique_name}"
    endpoint = capturing_csv_endpoint(world, unique_name, capture_prefix)
    config = schedule_config(world, endpoint, monitored["baseline"], monitored["sourcedir"])
    config["MonitoringJobDefinition"]["RoleArn"] = role
    schedule = f"{unique_name}-data-quality"
    world.sm.create_monitoring_schedule(MonitoringScheduleName=schedule, MonitoringScheduleConfig=config)
    send_traffic(world, endpoint, capture_prefix, transactions(seed=3, rows=200))

    started = run_monitoring_schedule(world, schedule)
    execution = finished(world, schedule, started["ProcessingJobArn"])

    # The execution's outcome does not depend on its metrics; whether they are in CloudWatch does.
    assert execution["MonitoringExecutionStatus"] in ("Completed", "CompletedWithViolations"), execution
    dimensions = [{"Name": "Endpoint", "Value": endpoint}, {"Name": "MonitoringSchedule", "Value": schedule}]
    metrics = world.client("cloudwatch").list_metrics(Namespace=NAMESPACE, Dimensions=dimensions)["Metrics"]
    assert bool(metrics) is may_publish
