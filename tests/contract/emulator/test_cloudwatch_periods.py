"""The emulator's CloudWatch serves high-resolution periods: what a scaled rollout alarm reads.

At the local AWS's clock scale (default 1/60) the stack's one-minute rollback alarms are judged over
1 s periods of the endpoint metrics, which the local SageMaker publishes per second with
`StorageResolution` 1. On AWS, GetMetricStatistics serves such high-resolution metrics in periods of
1, 5, 10, 30 s or any multiple of 60 (API reference, GetMetricStatistics, `Period`; botocore's model:
an integer, at least 1), each datapoint the statistic of the values whose timestamps fall in
[period start, period start + Period).
"""

from __future__ import annotations

import datetime as dt
import math
import time
from typing import Any

import pytest

from local.clients import LocalClients

pytestmark = pytest.mark.local


def stamp(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


def statistics(cloudwatch: Any, dimensions: list[dict[str, str]], start: float, period: int) -> dict[int, Any]:
    points = cloudwatch.get_metric_statistics(
        Namespace="AWS/SageMaker",
        MetricName="Invocations",
        Dimensions=dimensions,
        StartTime=stamp(start),
        EndTime=stamp(start + 6),
        Period=period,
        Statistics=["Sum", "SampleCount"],
        ExtendedStatistics=["p99"],
    )["Datapoints"]
    return {int(point["Timestamp"].timestamp()): point for point in points}


def test_one_second_periods_hold_each_seconds_values(aws_clients: LocalClients, unique_name: str) -> None:
    cloudwatch = aws_clients.client("cloudwatch")
    dimensions = [{"Name": "EndpointName", "Value": unique_name}, {"Name": "VariantName", "Value": "AllTraffic"}]
    start = math.floor(time.time()) - 60  # aligned to a minute: one- and two-second periods start on it
    start -= start % 60
    data = [
        # as the local SageMaker publishes: per second, a distribution of the second's requests
        {"Timestamp": stamp(start + second), "Values": [1.0], "Counts": [float(second + 1)]}
        for second in range(4)
    ]
    data.append({"Timestamp": stamp(start + 4.5), "Values": [7.0], "Counts": [1.0]})  # inside second 4
    cloudwatch.put_metric_data(
        Namespace="AWS/SageMaker",
        MetricData=[
            {"MetricName": "Invocations", "Dimensions": dimensions, "Unit": "None", "StorageResolution": 1, **datum}
            for datum in data
        ],
    )

    per_second = statistics(cloudwatch, dimensions, start, 1)
    per_two = statistics(cloudwatch, dimensions, start, 2)

    assert sorted(per_second) == [start + second for second in range(5)]
    assert [per_second[start + s]["Sum"] for s in range(5)] == [1.0, 2.0, 3.0, 4.0, 7.0]
    assert [per_second[start + s]["SampleCount"] for s in range(5)] == [1.0, 2.0, 3.0, 4.0, 1.0]
    assert per_second[start + 4]["ExtendedStatistics"]["p99"] == 7.0
    assert {t: p["Sum"] for t, p in per_two.items()} == {start: 3.0, start + 2: 7.0, start + 4: 7.0}
