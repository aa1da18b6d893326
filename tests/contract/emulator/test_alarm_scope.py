"""A metric alarm judges its own metric only, over its periods at the local AWS's clock scale.

AWS: "a metric is uniquely identified by a namespace, metric name, and zero or more dimensions" (CloudWatch
user guide, "CloudWatch concepts", Dimensions:
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_concepts.html#Dimension), and an
alarm "watches a single metric" over its `Period`, judging the last `EvaluationPeriods` of them ("Using Amazon
CloudWatch alarms", "Evaluating an alarm"). Locally the periods last `Period * SAGEMAKER_CLOCK_SCALE` seconds
(`local.emulator.alarm_evaluation`), as the local SageMaker's monitoring schedules run on that clock.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import pytest

from local.clock import ClockScale
from tests.support.local_aws import RunningLocalAws
from tests.support.monitoring import put_drift_alarm

pytestmark = pytest.mark.local

NAMESPACE = "aws/sagemaker/Endpoints/data-metrics"


def publish(cloudwatch: Any, metric: str, dimensions: list[dict[str, str]], value: float, at: float) -> None:
    datum = {
        "MetricName": metric,
        "Dimensions": dimensions,
        "Value": value,
        "Timestamp": dt.datetime.fromtimestamp(at, dt.UTC),
    }
    cloudwatch.put_metric_data(Namespace=NAMESPACE, MetricData=[datum])


def state(cloudwatch: Any, name: str) -> dict[str, Any]:
    return dict(cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0])


def dimensions_of(endpoint: str, schedule: str) -> list[dict[str, str]]:
    return [{"Name": "Endpoint", "Value": endpoint}, {"Name": "MonitoringSchedule", "Value": schedule}]


def test_an_alarm_ignores_its_metric_name_in_other_dimension_sets(aws_clients: Any, unique_name: str) -> None:
    cloudwatch = aws_clients.client("cloudwatch")
    metric = f"feature_baseline_drift_{unique_name}"
    mine, other = dimensions_of(unique_name, f"{unique_name}-dq"), dimensions_of(unique_name, f"{unique_name}-x")
    alarm = f"{unique_name}-drift-amount"
    put_drift_alarm(cloudwatch, alarm, metric, mine)

    now = time.time()
    publish(cloudwatch, metric, other, 0.9, now)  # another schedule of the endpoint drifts
    publish(cloudwatch, metric, mine[:1], 0.9, now)  # the endpoint alone: another metric too
    assert state(cloudwatch, alarm)["StateValue"] == "INSUFFICIENT_DATA"

    publish(cloudwatch, metric, mine, 0.02, now)
    assert state(cloudwatch, alarm)["StateValue"] == "OK"

    publish(cloudwatch, metric, list(reversed(mine)), 0.42, time.time())  # the same set, in another order
    found = state(cloudwatch, alarm)
    assert found["StateValue"] == "ALARM"
    # CloudWatch's StateReasonData of a threshold alarm, which the drift starter reads the value from
    assert json.loads(found["StateReasonData"])["recentDatapoints"] == [0.42]


def test_an_alarm_judges_its_periods_at_the_clock_scale(
    aws_clients: Any, unique_name: str, local_aws: RunningLocalAws
) -> None:
    assert local_aws.process.clock_scale is not None
    scale = ClockScale.parse(local_aws.process.clock_scale)
    period = scale.period(3600)
    if period >= 3600:
        pytest.skip(f"the session's local AWS runs at clock scale {scale}: no scaled period to tell apart")
    cloudwatch = aws_clients.client("cloudwatch")
    metric = f"feature_baseline_drift_{unique_name}"
    dimensions = dimensions_of(unique_name, f"{unique_name}-dq")
    alarm = f"{unique_name}-drift-amount"
    put_drift_alarm(cloudwatch, alarm, metric, dimensions)

    now = time.time()
    # A drifted run a scaled hour and a half ago: within an hour of this machine's clock, not of the alarm's.
    publish(cloudwatch, metric, dimensions, 0.9, now - 1.5 * period)
    assert state(cloudwatch, alarm)["StateValue"] == "INSUFFICIENT_DATA"
    publish(cloudwatch, metric, dimensions, 0.02, now)
    assert state(cloudwatch, alarm)["StateValue"] == "OK"
    publish(cloudwatch, metric, dimensions, 0.3, now - 0.5 * period)  # inside the newest scaled hour
    found = state(cloudwatch, alarm)
    assert found["StateValue"] == "ALARM"
    reason = json.loads(found["StateReasonData"])
    assert (reason["period"], reason["statistic"], reason["recentDatapoints"]) == (3600, "Maximum", [0.3])


def test_the_reason_data_carries_each_evaluated_period_with_its_sample_count(
    aws_clients: Any, unique_name: str
) -> None:
    # CloudWatch's StateReasonData lists `evaluatedDatapoints` (timestamp, sampleCount, value: the CloudWatch user
    # guide's "Alarm events and EventBridge" examples); the quality alarm's starter reads the number of labelled
    # predictions from the SampleCount of the statistic set the monitoring job publishes.
    cloudwatch = aws_clients.client("cloudwatch")
    metric = f"model_quality_{unique_name}"
    dimensions = dimensions_of(unique_name, f"{unique_name}-dq")
    alarm = f"{unique_name}-quality"
    put_drift_alarm(
        cloudwatch, alarm, metric, dimensions, statistic="Minimum", threshold=0.2, operator="LessThanThreshold"
    )
    statistics = {"SampleCount": 412.0, "Sum": 0.05 * 412, "Minimum": 0.05, "Maximum": 0.05}
    datum = {"MetricName": metric, "Dimensions": dimensions, "StatisticValues": statistics, "Timestamp": time.time()}
    cloudwatch.put_metric_data(Namespace=NAMESPACE, MetricData=[datum])

    found = state(cloudwatch, alarm)
    assert found["StateValue"] == "ALARM"
    [evaluated] = json.loads(found["StateReasonData"])["evaluatedDatapoints"]
    assert (evaluated["sampleCount"], evaluated["value"]) == (412.0, 0.05)
    assert evaluated["timestamp"].endswith("+0000")
