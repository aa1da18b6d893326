"""Invocation metrics as SageMaker publishes them to CloudWatch."""

from __future__ import annotations

from typing import Any

from local.sagemaker.metrics import InvocationMetrics


def by_name(data: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for datum in data:
        out.setdefault(datum["MetricName"], []).append(datum)
    return out


def test_a_second_of_requests_becomes_counts_rates_and_latencies() -> None:
    metrics = InvocationMetrics()
    for status, latency in ((200, 1000), (200, 1000), (500, 3000), (404, 2000)):
        metrics.record("us-east-1", "ep", "AllTraffic", status, latency, 150, instances=2, at=100.4)
    metrics.record("us-east-1", "ep", "AllTraffic", 200, 5, 5, at=101.2)  # the next second is not over

    published = metrics.drain(before=101.5)

    data = by_name(published["us-east-1"])
    assert data["Invocations"][0]["Values"] == [1.0] and data["Invocations"][0]["Counts"] == [4.0]
    assert data["Invocation5XXErrors"][0]["Values"] == [0.0, 1.0]
    assert data["Invocation5XXErrors"][0]["Counts"] == [3.0, 1.0]  # Average = 25% error rate
    assert data["Invocation4XXErrors"][0]["Counts"] == [3.0, 1.0]
    assert data["InvocationsPerInstance"][0]["Value"] == 2.0
    model_latency = data["ModelLatency"][0]
    assert model_latency["Unit"] == "Microseconds"
    assert dict(zip(model_latency["Values"], model_latency["Counts"], strict=True)) == {
        1000.0: 2.0,
        2000.0: 1.0,
        3000.0: 1.0,
    }
    assert model_latency["Dimensions"] == [
        {"Name": "EndpointName", "Value": "ep"},
        {"Name": "VariantName", "Value": "AllTraffic"},
    ]
    assert model_latency["Timestamp"].timestamp() == 100
    assert model_latency["StorageResolution"] == 1
    assert metrics.drain(before=101.5) == {}
    assert list(metrics.drain(before=102.0)) == ["us-east-1"]


def test_an_error_free_second_still_reports_zero_errors() -> None:
    metrics = InvocationMetrics()
    metrics.record("eu-west-1", "ep", "v", 200, 10, 1, at=5)
    data = by_name(metrics.drain(before=10)["eu-west-1"])
    assert data["Invocation5XXErrors"][0]["Values"] == [0.0]
    assert data["Invocation5XXErrors"][0]["Counts"] == [1.0]


def test_many_distinct_latencies_are_split_into_datums_of_150() -> None:
    metrics = InvocationMetrics()
    for latency in range(400):
        metrics.record("us-east-1", "ep", "v", 200, latency, 0, at=1)
    data = by_name(metrics.drain(before=5)["us-east-1"])
    assert [len(datum["Values"]) for datum in data["ModelLatency"]] == [150, 150, 100]


def test_the_publisher_gets_every_second_once() -> None:
    sent: list[tuple[str, int]] = []
    metrics = InvocationMetrics(lambda region, data: sent.append((region, len(data))))
    metrics.record("us-east-1", "ep", "v", 200, 10, 1, at=1)
    metrics.flush(before=3)
    metrics.flush(before=4)
    assert sent == [("us-east-1", 6)]  # six metrics of one second, published once
