"""`retrain monitor`: the endpoint's last monitoring results (docs/monitoring.md).

The data-quality schedule's status and last execution (status, time, its `constraint_violations.json`), each
model input's drift distance from that execution's `feature_baseline_drift_<feature>` metric beside its
violations, and the drift alarms' states: the composite `<schedule>-drift` and one a feature; the live value of
the promotion metric the execution judged (its `model_quality.json`) and the quality alarm's state.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from cli.pipeline import DeployedPipeline
from retrain.config import DEFAULT_CONFIG_FILE
from retrain.errors import RetrainError
from retrain.monitoring import monitoring_schedule_name
from retrain.quality_alarm import quality_alarm_name

VIOLATIONS_FILE = "constraint_violations.json"
QUALITY_FILE = "model_quality.json"  # jobs/monitor.py's, beside the violations
DRIFT_METRIC_PREFIX = "feature_baseline_drift_"
# The monitoring job stamps its metrics with its window's end, about the execution's scheduled time.
METRIC_SEARCH_SECONDS = 600
# An execution with results to show (MonitoringExecutionStatus, botocore's sagemaker model); Pending, InProgress
# and Stopping have none yet, Stopped none at all.
FINISHED = ("Completed", "CompletedWithViolations", "Failed")


class MonitoringUnavailable(RetrainError):
    """No monitoring results to show; the message says why and what to do."""


@dataclass
class FeatureDrift:
    feature: str
    alarm: str
    alarm_state: str
    threshold: float | None
    value: float | None = None
    checks: list[str] = field(default_factory=list)  # the violations' constraint_check_type


@dataclass
class MonitoringReport:
    schedule: str
    status: str
    expression: str
    execution: dict[str, Any]
    violations_uri: str | None
    violations: list[dict[str, Any]]
    composite: tuple[str, str] | None  # (name, state)
    features: list[FeatureDrift]
    quality: dict[str, Any] | None = None  # the execution's model_quality.json
    quality_alarm: tuple[str, str, float | None] | None = None  # (name, state, threshold)
    newer: dict[str, Any] | None = None  # an execution under way since `execution`, whose results are not in yet


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("monitor", help="the endpoint's last monitoring results and drift alarms")
    parser.add_argument("--config", default=DEFAULT_CONFIG_FILE)
    parser.set_defaults(handler=monitor)


def monitor(args: argparse.Namespace) -> int:
    pipeline = DeployedPipeline.connect(args.config)
    if not pipeline.config.monitoring.schedule_expression:
        raise MonitoringUnavailable(
            f'monitoring is off ([monitoring] schedule_expression = "" in {args.config}); set it, e.g. '
            '"cron(0 * ? * * *)", then `retrain deploy` and promote a champion with `retrain run`'
        )
    report = read_report(
        pipeline.client("sagemaker"), pipeline.client("s3"), pipeline.client("cloudwatch"), pipeline.endpoint_name
    )
    for line in report_lines(report):
        print(line)
    return 0


def read_report(sagemaker: Any, s3: Any, cloudwatch: Any, endpoint: str) -> MonitoringReport:
    schedule = monitoring_schedule_name(endpoint)
    try:
        described = sagemaker.describe_monitoring_schedule(MonitoringScheduleName=schedule)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in ("ResourceNotFound", "ValidationException"):
            raise
        raise MonitoringUnavailable(
            f"endpoint {endpoint} has no monitoring schedule {schedule} yet: a run creates it when it promotes a "
            "champion (`retrain run`)"
        ) from None
    expression = described["MonitoringScheduleConfig"]["ScheduleConfig"]["ScheduleExpression"]
    execution = described.get("LastMonitoringExecutionSummary")
    if not execution:
        raise MonitoringUnavailable(
            f"monitoring schedule {schedule} has not run yet (it runs {expression}); look again after its next run"
        )
    # The schedule's last execution may be one just started: its results are not in yet, so the last results are
    # the newest finished execution's (a schedule runs again while its alarms still say what that one found).
    newer = None
    if execution.get("MonitoringExecutionStatus") not in FINISHED:
        finished = last_finished_execution(sagemaker, schedule)
        if finished is not None:
            newer, execution = execution, finished
    violations_uri = violations_location(sagemaker, execution)
    violations = read_violations(s3, violations_uri) if violations_uri else []
    quality = read_json(s3, violations_uri.rsplit("/", 1)[0] + "/" + QUALITY_FILE) if violations_uri else None
    composite, features = alarm_states(cloudwatch, schedule)
    by_feature: dict[str, list[str]] = {}
    for violation in violations:
        check = str(violation.get("constraint_check_type"))
        by_feature.setdefault(str(violation.get("feature_name")), []).append(check)
    for feature in features:
        feature.checks = by_feature.pop(feature.feature, [])
        feature.value = newest_drift(cloudwatch, endpoint, schedule, feature.feature, execution)
    features += [FeatureDrift(name, "", "", None, None, checks) for name, checks in sorted(by_feature.items())]
    return MonitoringReport(
        schedule,
        described.get("MonitoringScheduleStatus", "?"),
        expression,
        execution,
        violations_uri,
        violations,
        composite,
        features,
        quality,
        quality_alarm_state(cloudwatch, schedule),
        newer,
    )


def last_finished_execution(sagemaker: Any, schedule: str) -> dict[str, Any] | None:
    """The newest of the schedule's recent executions that has results; None when none of them has."""
    recent = sagemaker.list_monitoring_executions(
        MonitoringScheduleName=schedule, SortBy="ScheduledTime", SortOrder="Descending", MaxResults=10
    ).get("MonitoringExecutionSummaries", [])
    return next((item for item in recent if item.get("MonitoringExecutionStatus") in FINISHED), None)


def read_json(s3: Any, uri: str) -> dict[str, Any] | None:
    """A small JSON document the execution uploaded; None when it wrote none (live quality off)."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    try:
        document = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except (ClientError, ValueError):
        return None
    return document if isinstance(document, dict) else None


def quality_alarm_state(cloudwatch: Any, schedule: str) -> tuple[str, str, float | None] | None:
    name = quality_alarm_name(schedule)
    found = cloudwatch.describe_alarms(AlarmNames=[name], AlarmTypes=["MetricAlarm"]).get("MetricAlarms", [])
    if not found:
        return None
    threshold = found[0].get("Threshold")
    return name, str(found[0].get("StateValue", "?")), None if threshold is None else float(threshold)


def quality_lines(report: MonitoringReport) -> list[str]:
    lines: list[str] = []
    quality = report.quality
    if quality is not None:
        window = quality.get("window") or {}
        span = f"window {window.get('start', '?')} to {window.get('end', '?')}"
        if quality.get("value") is not None:
            lines.append(
                f"live quality: {quality.get('metric')} {float(quality['value']):.3f} over "
                f"{quality.get('labelled_predictions')} labelled predictions of {quality.get('predictions')} ({span})"
            )
        else:
            lines.append(f"live quality: {quality.get('metric')} not judged: {quality.get('note')} ({span})")
    if report.quality_alarm is not None:
        name, state, threshold = report.quality_alarm
        lines.append(f"quality alarm {name}: {state}" + ("" if threshold is None else f" (threshold {threshold:g})"))
    return lines


def violations_location(sagemaker: Any, execution: Mapping[str, Any]) -> str | None:
    """The execution's `constraint_violations.json`: its processing job's output, as Model Monitor uploads it."""
    arn = execution.get("ProcessingJobArn")
    if not arn or execution.get("MonitoringExecutionStatus") not in ("Completed", "CompletedWithViolations"):
        return None
    job = sagemaker.describe_processing_job(ProcessingJobName=str(arn).rsplit("/", 1)[-1])
    outputs = (job.get("ProcessingOutputConfig") or {}).get("Outputs") or []
    if not outputs:
        return None
    return f"{outputs[0]['S3Output']['S3Uri'].rstrip('/')}/{VIOLATIONS_FILE}"


def read_violations(s3: Any, uri: str) -> list[dict[str, Any]]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError:
        return []
    try:
        return list(json.loads(body).get("violations") or [])
    except (ValueError, AttributeError):
        raise RetrainError(f"{uri} is not Model Monitor's violations JSON; look at it with `aws s3 cp`") from None


def alarm_states(cloudwatch: Any, schedule: str) -> tuple[tuple[str, str] | None, list[FeatureDrift]]:
    """(the composite drift alarm's name and state, the feature alarms) of the schedule's drift alarms."""
    composite_name, prefix = f"{schedule}-drift", f"{schedule}-drift-"
    composite: tuple[str, str] | None = None
    features: list[FeatureDrift] = []
    pages = cloudwatch.get_paginator("describe_alarms").paginate(
        AlarmNamePrefix=composite_name, AlarmTypes=["MetricAlarm", "CompositeAlarm"]
    )
    for page in pages:
        for alarm in page.get("CompositeAlarms", []):
            if alarm["AlarmName"] == composite_name:
                composite = (composite_name, alarm.get("StateValue", "?"))
        for alarm in page.get("MetricAlarms", []):
            metric = str(alarm.get("MetricName", ""))
            if alarm["AlarmName"].startswith(prefix) and metric.startswith(DRIFT_METRIC_PREFIX):
                threshold = alarm.get("Threshold")
                features.append(
                    FeatureDrift(
                        metric.removeprefix(DRIFT_METRIC_PREFIX),
                        alarm["AlarmName"],
                        alarm.get("StateValue", "?"),
                        None if threshold is None else float(threshold),
                    )
                )
    return composite, sorted(features, key=lambda item: item.feature)


def newest_drift(
    cloudwatch: Any, endpoint: str, schedule: str, feature: str, execution: Mapping[str, Any]
) -> float | None:
    """The drift distance the execution published for `feature` (the newest datapoint about its time)."""
    scheduled = _seconds(execution.get("ScheduledTime"))
    finished = _seconds(execution.get("LastModifiedTime")) or scheduled
    if scheduled is None or finished is None:
        return None
    points = cloudwatch.get_metric_statistics(
        Namespace="aws/sagemaker/Endpoints/data-metrics",
        MetricName=f"{DRIFT_METRIC_PREFIX}{feature}",
        Dimensions=[{"Name": "Endpoint", "Value": endpoint}, {"Name": "MonitoringSchedule", "Value": schedule}],
        StartTime=dt.datetime.fromtimestamp(scheduled - METRIC_SEARCH_SECONDS, dt.UTC),
        EndTime=dt.datetime.fromtimestamp(max(finished, scheduled) + 60, dt.UTC),
        Period=60,
        Statistics=["Maximum"],
    ).get("Datapoints", [])
    if not points:
        return None
    return float(max(points, key=lambda point: point["Timestamp"])["Maximum"])


def _seconds(value: Any) -> float | None:
    if isinstance(value, dt.datetime):
        return value.timestamp()
    return float(value) if isinstance(value, (int, float)) else None


def _when(value: Any) -> str:
    seconds = _seconds(value)
    return "?" if seconds is None else dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def report_lines(report: MonitoringReport) -> list[str]:
    execution = report.execution
    lines = [
        f"monitoring schedule {report.schedule}: {report.status} ({report.expression})",
        f"last execution: {execution.get('MonitoringExecutionStatus', '?')}, scheduled "
        f"{_when(execution.get('ScheduledTime'))}",
    ]
    if report.newer is not None:
        lines[1] = f"last finished execution: {lines[1].removeprefix('last execution: ')}"
        lines.append(
            f"  a newer one is {report.newer.get('MonitoringExecutionStatus', '?')}, scheduled "
            f"{_when(report.newer.get('ScheduledTime'))}: its results are not in yet"
        )
    if execution.get("FailureReason"):
        lines.append(f"  failure: {execution['FailureReason']}")
    if report.violations_uri:
        lines.append(f"  violations: {report.violations_uri} ({len(report.violations)})")
    if report.composite:
        lines.append(f"drift alarm {report.composite[0]}: {report.composite[1]}")
    else:
        lines.append(f"drift alarm {report.schedule}-drift: not found (deploy the stack with monitoring on)")
    lines.extend(feature_table(report.features))
    lines.extend(quality_lines(report))
    return lines


def feature_table(features: Sequence[FeatureDrift]) -> list[str]:
    if not features:
        return []
    rows = [("feature", "drift", "threshold", "alarm", "violations")] + [
        (
            item.feature,
            "-" if item.value is None else f"{item.value:.3f}",
            "-" if item.threshold is None else f"{item.threshold:g}",
            item.alarm_state or "-",
            ", ".join(item.checks) or "-",
        )
        for item in features
    ]
    widths = [max(len(row[index]) for row in rows) for index in range(4)]
    return [
        ("  " + "  ".join(cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True)) + "  " + row[4])
        for row in rows
    ]
