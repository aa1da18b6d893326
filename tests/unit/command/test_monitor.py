"""`retrain monitor`: the schedule's last execution, its violations, each feature's drift and the drift alarms'
states; a one-line error when monitoring is off, the schedule does not exist yet or has not run."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from cli.commands.monitor_cmd import MonitoringUnavailable, read_report, report_lines
from cli.main import main
from tests.support.datasets import config_file
from tests.support.fake_stack import FakeStack

ENDPOINT = "fraud-detector"
SCHEDULE = "fraud-detector-data-quality"
SCHEDULED = dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.UTC)
OUTPUT = f"s3://bucket/monitoring/{ENDPOINT}/2026/11/26/09"
VIOLATIONS = [
    {
        "feature_name": "account_age_days",
        "constraint_check_type": "baseline_drift_check",
        "description": "Baseline drift distance 0.21 exceeds threshold 0.1",
    },
    {"feature_name": "amount", "constraint_check_type": "data_type_check", "description": "..."},
]


class SageMaker:
    def __init__(self, schedule: dict[str, Any] | None, executions: list[dict[str, Any]] | None = None) -> None:
        self.schedule = schedule
        self.executions = executions or []  # ListMonitoringExecutions' summaries, newest first

    def list_monitoring_executions(self, **request: Any) -> dict[str, Any]:
        assert request["MonitoringScheduleName"] == SCHEDULE
        assert (request["SortBy"], request["SortOrder"]) == ("ScheduledTime", "Descending")
        return {"MonitoringExecutionSummaries": self.executions[: request["MaxResults"]]}

    def describe_monitoring_schedule(self, MonitoringScheduleName: str) -> dict[str, Any]:
        assert MonitoringScheduleName == SCHEDULE
        if self.schedule is None:
            error = {"Error": {"Code": "ResourceNotFound", "Message": "Could not find"}}
            raise ClientError(error, "DescribeMonitoringSchedule")
        return self.schedule

    def describe_processing_job(self, ProcessingJobName: str) -> dict[str, Any]:
        assert ProcessingJobName == "model-monitoring-202611260900-abc"
        return {"ProcessingOutputConfig": {"Outputs": [{"S3Output": {"S3Uri": OUTPUT}}]}}


QUALITY = {
    "window": {"start": "2026-11-26T08:00:00Z", "end": "2026-11-26T09:00:00Z"},
    "metric": "average_precision",
    "value": 0.0312,
    "labelled_predictions": 412,
    "predictions": 450,
    "min_labelled_predictions": 100,
    "judged": True,
    "note": "",
}


class S3:
    def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:
        uri = f"s3://{Bucket}/{Key}"
        if uri == f"{OUTPUT}/model_quality.json":
            return {"Body": io.BytesIO(json.dumps(QUALITY).encode())}
        assert uri == f"{OUTPUT}/constraint_violations.json"
        return {"Body": io.BytesIO(json.dumps({"violations": VIOLATIONS}).encode())}


class Paginator:
    def __init__(self, page: dict[str, Any]) -> None:
        self.page = page

    def paginate(self, **request: Any) -> list[dict[str, Any]]:
        assert request["AlarmNamePrefix"] == f"{SCHEDULE}-drift"
        return [self.page]


class CloudWatch:
    def __init__(self) -> None:
        self.queries: list[dict[str, Any]] = []

    def get_paginator(self, name: str) -> Paginator:
        assert name == "describe_alarms"
        features = [("account_age_days", "ALARM"), ("amount", "OK")]
        return Paginator(
            {
                "MetricAlarms": [
                    {
                        "AlarmName": f"{SCHEDULE}-drift-{feature}",
                        "MetricName": f"feature_baseline_drift_{feature}",
                        "StateValue": state,
                        "Threshold": 0.1,
                    }
                    for feature, state in features
                ],
                "CompositeAlarms": [{"AlarmName": f"{SCHEDULE}-drift", "StateValue": "ALARM"}],
            }
        )

    def describe_alarms(self, AlarmNames: list[str], AlarmTypes: list[str]) -> dict[str, Any]:
        assert AlarmNames == [f"{SCHEDULE}-quality"] and AlarmTypes == ["MetricAlarm"]
        return {"MetricAlarms": [{"AlarmName": AlarmNames[0], "StateValue": "ALARM", "Threshold": 0.2}]}

    def get_metric_statistics(self, **query: Any) -> dict[str, Any]:
        self.queries.append(query)
        value = 0.21 if query["MetricName"].endswith("account_age_days") else 0.01
        older = {"Timestamp": SCHEDULED - dt.timedelta(minutes=5), "Maximum": 0.5}
        return {"Datapoints": [{"Timestamp": SCHEDULED, "Maximum": value}, older]}


def described(**execution: Any) -> dict[str, Any]:
    schedule: dict[str, Any] = {
        "MonitoringScheduleName": SCHEDULE,
        "MonitoringScheduleStatus": "Scheduled",
        "MonitoringScheduleConfig": {"ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"}},
    }
    if execution:
        schedule["LastMonitoringExecutionSummary"] = execution
    return schedule


def test_the_last_execution_its_violations_and_the_drift_alarms_are_shown() -> None:
    sagemaker = SageMaker(
        described(
            MonitoringExecutionStatus="CompletedWithViolations",
            ScheduledTime=SCHEDULED,
            LastModifiedTime=SCHEDULED + dt.timedelta(seconds=40),
            ProcessingJobArn="arn:aws:sagemaker:us-east-1:123456789012:processing-job/model-monitoring-202611260900-abc",
        )
    )
    cloudwatch = CloudWatch()
    report = read_report(sagemaker, S3(), cloudwatch, ENDPOINT)
    lines = report_lines(report)

    assert lines[:4] == [
        f"monitoring schedule {SCHEDULE}: Scheduled (cron(0 * ? * * *))",
        "last execution: CompletedWithViolations, scheduled 2026-11-26 09:00:00Z",
        f"  violations: {OUTPUT}/constraint_violations.json (2)",
        f"drift alarm {SCHEDULE}-drift: ALARM",
    ]
    assert lines[-2:] == [
        "live quality: average_precision 0.031 over 412 labelled predictions of 450 "
        "(window 2026-11-26T08:00:00Z to 2026-11-26T09:00:00Z)",
        f"quality alarm {SCHEDULE}-quality: ALARM (threshold 0.2)",
    ]
    table = [line.split() for line in lines[4:-2]]
    assert table == [
        ["feature", "drift", "threshold", "alarm", "violations"],
        ["account_age_days", "0.210", "0.1", "ALARM", "baseline_drift_check"],
        ["amount", "0.010", "0.1", "OK", "data_type_check"],
    ]
    # the feature's metric of this schedule, about the execution's time
    query = cloudwatch.queries[0]
    assert query["Dimensions"] == [
        {"Name": "Endpoint", "Value": ENDPOINT},
        {"Name": "MonitoringSchedule", "Value": SCHEDULE},
    ]
    assert query["StartTime"] < SCHEDULED < query["EndTime"]


def test_an_execution_under_way_leaves_the_last_finished_ones_results_shown() -> None:
    # The schedule starts its next execution while the alarms still say what the last finished one found.
    finished = {
        "MonitoringExecutionStatus": "CompletedWithViolations",
        "ScheduledTime": SCHEDULED,
        "LastModifiedTime": SCHEDULED + dt.timedelta(seconds=40),
        "ProcessingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:processing-job/model-monitoring-202611260900-abc",
    }
    under_way = {"MonitoringExecutionStatus": "InProgress", "ScheduledTime": SCHEDULED + dt.timedelta(hours=1)}
    stopped = {"MonitoringExecutionStatus": "Stopped", "ScheduledTime": SCHEDULED + dt.timedelta(minutes=30)}
    sagemaker = SageMaker(described(**under_way), [under_way, stopped, finished])

    lines = report_lines(read_report(sagemaker, S3(), CloudWatch(), ENDPOINT))

    assert lines[1:4] == [
        "last finished execution: CompletedWithViolations, scheduled 2026-11-26 09:00:00Z",
        "  a newer one is InProgress, scheduled 2026-11-26 10:00:00Z: its results are not in yet",
        f"  violations: {OUTPUT}/constraint_violations.json (2)",
    ]
    assert lines[-2].startswith("live quality: average_precision 0.031 over 412 labelled predictions")


def test_the_first_execution_under_way_is_shown_as_it_is() -> None:
    under_way = {"MonitoringExecutionStatus": "InProgress", "ScheduledTime": SCHEDULED}
    lines = report_lines(read_report(SageMaker(described(**under_way), [under_way]), S3(), CloudWatch(), ENDPOINT))
    assert lines[1] == "last execution: InProgress, scheduled 2026-11-26 09:00:00Z"
    assert not any(line.startswith(("  violations:", "live quality:")) for line in lines)


def test_a_failed_execution_shows_its_reason_and_no_violations_file() -> None:
    sagemaker = SageMaker(
        described(MonitoringExecutionStatus="Failed", ScheduledTime=SCHEDULED, FailureReason="Job inputs had no data")
    )
    lines = report_lines(read_report(sagemaker, S3(), CloudWatch(), ENDPOINT))
    assert lines[1:3] == ["last execution: Failed, scheduled 2026-11-26 09:00:00Z", "  failure: Job inputs had no data"]
    assert not any("violations:" in line for line in lines)


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        (None, f"endpoint {ENDPOINT} has no monitoring schedule {SCHEDULE} yet: a run creates it"),
        (described(), f"monitoring schedule {SCHEDULE} has not run yet (it runs cron(0 * ? * * *))"),
    ],
)
def test_nothing_to_show_is_a_one_line_error(schedule: dict[str, Any] | None, message: str) -> None:
    with pytest.raises(MonitoringUnavailable) as error:
        read_report(SageMaker(schedule), S3(), CloudWatch(), ENDPOINT)
    assert str(error.value).startswith(message) and "\n" not in str(error.value)


def test_monitoring_off_is_a_one_line_error(
    stack: FakeStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = config_file(tmp_path, dataset=None)
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            'schedule_expression = "cron(0 * ? * * *)"', 'schedule_expression = ""', 1
        ),
        encoding="utf-8",
    )
    assert main(["monitor", "--config", str(path)]) == 2
    complaint = capsys.readouterr().err
    assert complaint.startswith('retrain: monitoring is off ([monitoring] schedule_expression = "" in ')
    assert complaint.count("\n") == 1
