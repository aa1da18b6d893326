"""Alarm evaluation as CloudWatch does it: statistic per period, metric math, M out of N, missing
data; on the alarms exactly as the CDK stack defines them."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from local.clock import ClockScale
from local.sagemaker.alarms import (
    ALARM,
    INSUFFICIENT_DATA,
    OK,
    AlarmDefinition,
    AlarmMonitor,
    MetricQuery,
    UnsupportedAlarm,
    evaluate,
)
from local.sagemaker.metrics import InvocationMetrics
from tests.support.stack_alarms import stack_alarms

ENDPOINT_DIMENSIONS = (("EndpointName", "ep"), ("VariantName", "AllTraffic"))


def definition(**overrides: Any) -> AlarmDefinition:
    alarm = {
        "AlarmName": "errors",
        "Namespace": "AWS/SageMaker",
        "MetricName": "Invocation5XXErrors",
        "Dimensions": [{"Name": "VariantName", "Value": "AllTraffic"}, {"Name": "EndpointName", "Value": "ep"}],
        "Statistic": "Average",
        "Period": 10,
        "EvaluationPeriods": 3,
        "Threshold": 0.05,
        "ComparisonOperator": "GreaterThanThreshold",
        **overrides,
    }
    return AlarmDefinition.from_describe(alarm)


def math_alarm(expression: str = "IF(invocations > 0, errors / invocations, 0)", **overrides: Any) -> dict[str, Any]:
    def stat(query_id: str, metric: str, statistic: str = "Sum", period: int = 60) -> dict[str, Any]:
        return {
            "Id": query_id,
            "ReturnData": False,
            "MetricStat": {
                "Metric": {
                    "Namespace": "AWS/SageMaker",
                    "MetricName": metric,
                    "Dimensions": [{"Name": "EndpointName", "Value": "ep"}],
                },
                "Period": period,
                "Stat": statistic,
            },
        }

    return {
        "AlarmName": "error-rate",
        "EvaluationPeriods": 3,
        "DatapointsToAlarm": 2,
        "Threshold": 0.05,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching",
        "Metrics": [
            {"Id": "rate", "Expression": expression, "ReturnData": True},
            stat("errors", "Invocation5XXErrors"),
            stat("invocations", "Invocations"),
        ],
        **overrides,
    }


# --- reading definitions ------------------------------------------------------------------------


def test_the_definition_is_read_from_describe_alarms() -> None:
    alarm = definition(DatapointsToAlarm=2, TreatMissingData="breaching")
    (query,) = alarm.queries
    assert query.dimensions == ENDPOINT_DIMENSIONS
    assert (query.metric_name, query.statistic) == ("Invocation5XXErrors", "Average")
    assert (alarm.period, alarm.evaluation_periods, alarm.datapoints_to_alarm) == (10, 3, 2)
    assert alarm.treat_missing_data == "breaching"
    assert definition().datapoints_to_alarm == 3  # defaults to the evaluation periods
    assert definition().treat_missing_data == "missing"


def test_the_stacks_error_rate_alarm_is_metric_math_over_the_endpoints_variant() -> None:
    errors, _ = stack_alarms("fraud-detector")

    alarm = AlarmDefinition.from_describe(errors)

    assert {query.id: (query.metric_name, query.statistic) for query in alarm.queries} == {
        "errors": ("Invocation5XXErrors", "Sum"),
        "invocations": ("Invocations", "Sum"),
    }
    # The dimensions the endpoint's metrics are published with: the alarm can see them.
    assert {query.dimensions for query in alarm.queries} == {
        (("EndpointName", "fraud-detector"), ("VariantName", "AllTraffic"))
    }
    assert [text.text for _, text in alarm.expressions] == ["IF(invocations > 0, errors / invocations, 0)"]
    assert alarm.returned == alarm.expressions[0][0]
    assert (alarm.period, alarm.evaluation_periods, alarm.datapoints_to_alarm) == (60, 3, 2)
    assert (alarm.threshold, alarm.comparison, alarm.treat_missing_data) == (
        0.05,
        "GreaterThanThreshold",
        "notBreaching",
    )


def test_the_stacks_latency_alarm_is_the_p99_of_model_latency_over_the_endpoints_variant() -> None:
    _, latency = stack_alarms("fraud-detector", latency_ms=250)

    alarm = AlarmDefinition.from_describe(latency)
    # The emulator describes an alarm with a percentile with its default Statistic beside it.
    described = AlarmDefinition.from_describe({**latency, "Statistic": "Average"})

    (query,) = alarm.queries
    assert (query.metric_name, query.statistic, query.is_percentile) == ("ModelLatency", "p99", True)
    assert query.dimensions == (("EndpointName", "fraud-detector"), ("VariantName", "AllTraffic"))
    assert alarm.threshold == 250_000  # microseconds, as SageMaker reports ModelLatency
    assert described.queries == alarm.queries


def test_the_published_invocation_metrics_carry_the_dimensions_the_stacks_alarms_filter_on() -> None:
    errors, latency = stack_alarms("fraud-detector")
    wanted = {query.dimensions for props in (errors, latency) for query in AlarmDefinition.from_describe(props).queries}
    metrics = InvocationMetrics()
    metrics.record("us-east-1", "fraud-detector", "AllTraffic", 500, 1200, 300, at=1000.0)

    published = metrics.drain(before=2000.0)["us-east-1"]

    names = {datum["MetricName"] for datum in published}
    assert {"Invocations", "Invocation5XXErrors", "ModelLatency"} <= names
    assert {tuple(sorted((d["Name"], d["Value"]) for d in datum["Dimensions"])) for datum in published} == wanted


def test_a_metric_stat_returned_from_metrics_is_a_single_metric_alarm() -> None:
    alarm = AlarmDefinition.from_describe(
        {
            "AlarmName": "latency",
            "EvaluationPeriods": 1,
            "Threshold": 500000.0,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "Metrics": [
                {
                    "Id": "m1",
                    "ReturnData": True,
                    "MetricStat": {
                        "Metric": {"Namespace": "AWS/SageMaker", "MetricName": "ModelLatency", "Dimensions": []},
                        "Period": 60,
                        "Stat": "P99",
                    },
                }
            ],
        }
    )
    (query,) = alarm.queries
    assert (query.metric_name, query.statistic, alarm.period, alarm.returned) == ("ModelLatency", "p99", 60, "m1")


@pytest.mark.parametrize(
    ("alarm", "message"),
    [
        (
            math_alarm(ComparisonOperator="LessThanLowerOrGreaterThanUpperThreshold"),
            "alarm error-rate: comparison 'LessThanLowerOrGreaterThanUpperThreshold' is not evaluated locally",
        ),
        (
            math_alarm("FILL(errors, 0) / invocations"),
            "alarm error-rate, query rate: metric math expression 'FILL(errors, 0) / invocations': the metric math "
            "function FILL is not supported",
        ),
        (
            math_alarm("errors / requests"),
            "names requests, which is no query id of the alarm (rate, errors, invocations)",
        ),
        (
            math_alarm(Metrics=[*math_alarm()["Metrics"][:1], {**math_alarm()["Metrics"][1], "ReturnData": True}]),
            "exactly one of its Metrics must have ReturnData true, not 2",
        ),
        (
            math_alarm(
                Metrics=[
                    {**query, "Id": "Errors"} if query["Id"] == "errors" else query for query in math_alarm()["Metrics"]
                ]
            ),
            "query id 'Errors' must be unique and start",
        ),
        (
            math_alarm(
                Metrics=[
                    *math_alarm()["Metrics"],
                    {
                        "Id": "late",
                        "ReturnData": False,
                        "MetricStat": {
                            "Metric": {"Namespace": "AWS/SageMaker", "MetricName": "ModelLatency"},
                            "Period": 300,
                            "Stat": "p99",
                        },
                    },
                ]
            ),
            "its queries use different periods ([60, 300])",
        ),
        (
            math_alarm(
                Metrics=[
                    {**query, "MetricStat": {**query["MetricStat"], "Stat": "tm99"}}
                    if query["Id"] == "errors"
                    else query
                    for query in math_alarm()["Metrics"]
                ]
            ),
            "the statistic tm99 of query errors is not evaluated locally",
        ),
        (
            math_alarm(
                "other",
                Metrics=[
                    *math_alarm("other")["Metrics"],
                    {"Id": "other", "Expression": "rate * 2", "ReturnData": False},
                ],
            ),
            "cycle (rate -> other -> rate)",
        ),
        (
            math_alarm(Metrics=[*math_alarm()["Metrics"], {"Id": "odd", "ReturnData": False}]),
            "query odd has neither MetricStat nor Expression",
        ),
        (
            {"AlarmName": "bare", "ComparisonOperator": "GreaterThanThreshold", "Threshold": 1.0},
            "alarm bare: query m1 names no metric, statistic or period",
        ),
    ],
)
def test_alarms_that_cannot_be_evaluated_locally_are_refused_by_name(alarm: dict[str, Any], message: str) -> None:
    with pytest.raises(UnsupportedAlarm) as refused:
        AlarmDefinition.from_describe(alarm)
    assert message in str(refused.value)


# --- judging ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "overrides", "state"),
    [
        ([0.1, 0.2, 0.3], {}, ALARM),
        ([0.1, 0.01, 0.3], {}, OK),  # 3 of 3 needed
        ([0.1, 0.01, 0.3], {"DatapointsToAlarm": 2}, ALARM),
        ([0.0, 0.05, 0.0], {}, OK),  # equal to the threshold is not greater
        ([0.0, 0.05, 0.0], {"ComparisonOperator": "GreaterThanOrEqualToThreshold", "DatapointsToAlarm": 1}, ALARM),
        ([None, None, None], {}, INSUFFICIENT_DATA),
        ([None, None, 0.3], {"DatapointsToAlarm": 1}, ALARM),  # missing: judged on what is there
        ([None, None, 0.01], {}, OK),
        ([None, None, 0.3], {"TreatMissingData": "breaching"}, ALARM),
        ([None, None, 0.3], {"TreatMissingData": "notBreaching"}, OK),
        ([None, None, None], {"TreatMissingData": "ignore"}, INSUFFICIENT_DATA),
        ([0.5, 0.0, 0.0, 0.0], {"EvaluationPeriods": 3, "DatapointsToAlarm": 1}, OK),  # only the newest 3
        ([0.01, 0.02, 0.03], {"ComparisonOperator": "LessThanThreshold"}, ALARM),
    ],
)
def test_m_out_of_n_with_missing_data(values: list[float | None], overrides: dict[str, Any], state: str) -> None:
    verdict = evaluate(definition(**overrides), values)
    assert verdict.state == state
    if state == ALARM:
        assert verdict.reason.startswith("Threshold Crossed: ")


def test_a_query_places_datapoints_in_their_periods() -> None:
    alarm = definition()
    (query,) = alarm.queries
    points = [
        {"Timestamp": dt.datetime.fromtimestamp(1000, dt.UTC), "Average": 0.5},
        {"Timestamp": dt.datetime.fromtimestamp(1020, dt.UTC), "Average": 0.0},
        {"Timestamp": dt.datetime.fromtimestamp(990, dt.UTC), "Average": 9.0},  # before the window
    ]
    assert alarm.values({"m1": query.series(points)}, end=1030) == [0.5, None, 0.0]
    latency = MetricQuery.build("latency", "m1", "AWS/SageMaker", "ModelLatency", [], "p99", 10)
    assert latency.series([{"Timestamp": 1010.0, "ExtendedStatistics": {"p99": 7.0}}]) == {1010: 7.0}


@pytest.mark.parametrize(
    ("errors", "invocations", "state"),
    [
        # per 60s period: 3 errors in 10, 0 in 40, then a quiet minute: 1 of 3 breaches, 2 are needed
        ({0: 3.0, 60: 0.0}, {0: 10.0, 60: 40.0}, OK),
        # 3 in 10, 4 in 40, 0 in 40: 2 of 3 breach (0.3, 0.1 > 0.05)
        ({0: 3.0, 60: 4.0, 120: 0.0}, {0: 10.0, 60: 40.0, 120: 40.0}, ALARM),
        # no traffic at all: no datapoint, not breaching
        ({}, {}, OK),
        # errors without invocations (cannot divide): dropped, not breaching
        ({0: 3.0, 60: 3.0}, {}, OK),
        # 2 of 40 and 2 of 40: exactly 0.05 is not greater than the threshold
        ({0: 2.0, 60: 2.0, 120: 2.0}, {0: 40.0, 60: 40.0, 120: 40.0}, OK),
    ],
)
def test_the_error_rate_is_computed_per_period_and_judged(
    errors: dict[int, float], invocations: dict[int, float], state: str
) -> None:
    alarm = AlarmDefinition.from_describe(math_alarm())

    values = alarm.values({"errors": errors, "invocations": invocations}, end=180)
    verdict = evaluate(alarm, values)

    assert verdict.state == state
    if state == ALARM:
        assert "IF(invocations > 0, errors / invocations, 0) over 60s periods" in verdict.reason


def test_expressions_may_build_on_each_other() -> None:
    alarm = AlarmDefinition.from_describe(
        math_alarm(
            "percent",
            Metrics=[
                *math_alarm()["Metrics"][1:],
                {"Id": "ratio", "Expression": "errors / invocations", "ReturnData": False},
                {"Id": "percent", "Expression": "ratio * 100", "ReturnData": True},
            ],
            Threshold=5.0,
        )
    )

    assert alarm.values({"errors": {0: 1.0}, "invocations": {0: 10.0, 60: 5.0}}, end=180) == [10.0, 0.0, None]


class FakeCloudWatch:
    """DescribeAlarms and GetMetricStatistics of alarms and their datapoints (by metric name)."""

    def __init__(self, alarms: list[dict[str, Any]], datapoints: dict[str, list[dict[str, Any]]]) -> None:
        self.alarms = alarms
        self.datapoints = datapoints
        self.requests: list[dict[str, Any]] = []
        self.states: list[tuple[str, str]] = []

    def describe_alarms(self, AlarmNames: list[str], AlarmTypes: list[str]) -> dict[str, Any]:
        return {"MetricAlarms": [alarm for alarm in self.alarms if alarm["AlarmName"] in AlarmNames]}

    def get_metric_statistics(self, **request: Any) -> dict[str, Any]:
        self.requests.append(request)
        start, end = request["StartTime"].timestamp(), request["EndTime"].timestamp()
        return {
            "Datapoints": [
                p for p in self.datapoints.get(request["MetricName"], []) if start <= p["Timestamp"].timestamp() < end
            ]
        }

    def set_alarm_state(self, AlarmName: str, StateValue: str, StateReason: str) -> None:
        self.states.append((AlarmName, StateValue))


def stamp(seconds: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


def test_the_monitor_asks_for_the_alarms_metric_and_dimensions_over_settled_periods() -> None:
    alarm = {
        "AlarmName": "errors",
        "Namespace": "AWS/SageMaker",
        "MetricName": "Invocation5XXErrors",
        "Dimensions": [{"Name": "EndpointName", "Value": "ep"}],
        "Statistic": "Sum",
        "Period": 5,
        "EvaluationPeriods": 2,
        "DatapointsToAlarm": 1,
        "Threshold": 0.0,
        "ComparisonOperator": "GreaterThanThreshold",
    }
    cloudwatch = FakeCloudWatch(
        [alarm],
        {"Invocation5XXErrors": [{"Timestamp": stamp(1005), "Sum": 3.0}, {"Timestamp": stamp(1015), "Sum": 9.0}]},
    )
    monitor = AlarmMonitor(cloudwatch)

    found = monitor.first_in_alarm(["errors", "missing-alarm"], now=1016.0)

    request = cloudwatch.requests[0]
    assert request["Dimensions"] == [{"Name": "EndpointName", "Value": "ep"}]
    assert request["Statistics"] == ["Sum"] and request["Period"] == 5
    # 1016 - 2s to settle = 1014: the periods [1000, 1005) and [1005, 1010) are judged, not [1010, 1015).
    assert (request["StartTime"].timestamp(), request["EndTime"].timestamp()) == (1000.0, 1010.0)
    assert found is not None and found[1].state == ALARM
    monitor.publish_state(*found)
    assert cloudwatch.states == [("errors", "ALARM")]
    assert monitor.first_in_alarm(["missing-alarm"], now=1016.0) is None


def test_the_monitor_fetches_each_query_of_the_stacks_error_rate_alarm_and_evaluates_it() -> None:
    errors, latency = stack_alarms("ep")
    cloudwatch = FakeCloudWatch(
        [errors, latency],
        {
            "Invocation5XXErrors": [{"Timestamp": stamp(60), "Sum": 1.0}, {"Timestamp": stamp(120), "Sum": 6.0}],
            "Invocations": [
                {"Timestamp": stamp(0), "Sum": 50.0},
                {"Timestamp": stamp(60), "Sum": 10.0},
                {"Timestamp": stamp(120), "Sum": 30.0},
            ],
            "ModelLatency": [{"Timestamp": stamp(120), "ExtendedStatistics": {"p99": 20_000.0}}],
        },
    )
    monitor = AlarmMonitor(cloudwatch)

    verdicts = {
        alarm.name: monitor.check(alarm, now=182.0)
        for alarm in monitor.definitions([latency["AlarmName"], errors["AlarmName"]])
    }

    # Periods [0, 60), [60, 120), [120, 180): rates 0, 0.1, 0.2: two breach.
    assert verdicts[errors["AlarmName"]].state == ALARM
    assert verdicts[errors["AlarmName"]].reason.startswith(
        "Threshold Crossed: 2 out of the last 3 datapoints [0, 0.1, 0.2]"
    )
    assert verdicts[latency["AlarmName"]].state == OK  # one period at 20 ms, the rest missing: not breaching
    asked = {
        (r["MetricName"], tuple(r.get("Statistics") or r.get("ExtendedStatistics") or ())) for r in cloudwatch.requests
    }
    assert asked == {("ModelLatency", ("p99",)), ("Invocation5XXErrors", ("Sum",)), ("Invocations", ("Sum",))}
    assert all(
        r["Dimensions"] == [{"Name": "EndpointName", "Value": "ep"}, {"Name": "VariantName", "Value": "AllTraffic"}]
        for r in cloudwatch.requests
    )


def test_the_monitor_refuses_an_alarm_it_cannot_judge() -> None:
    cloudwatch = FakeCloudWatch([math_alarm("RATE(errors)")], {})
    with pytest.raises(UnsupportedAlarm, match="the metric math function RATE is not supported"):
        AlarmMonitor(cloudwatch).first_in_alarm(["error-rate"], now=1000.0)


def test_at_a_clock_scale_the_stacks_alarm_judges_scaled_periods_once_each() -> None:
    # At 1/60 the stack's one-minute error-rate alarm is judged over 1 s periods: the same three
    # periods, two of them breaching, as in the unscaled test above, a minute compressed into a second.
    errors, _ = stack_alarms("ep")
    cloudwatch = FakeCloudWatch(
        [errors],
        {
            "Invocation5XXErrors": [{"Timestamp": stamp(1), "Sum": 1.0}, {"Timestamp": stamp(2), "Sum": 6.0}],
            "Invocations": [
                {"Timestamp": stamp(0), "Sum": 50.0},
                {"Timestamp": stamp(1), "Sum": 10.0},
                {"Timestamp": stamp(2), "Sum": 30.0},
            ],
        },
    )
    monitor = AlarmMonitor(cloudwatch, ClockScale.parse("1/60"))
    (alarm,) = monitor.definitions([errors["AlarmName"]])

    verdict = monitor.check(alarm, now=5.0)  # 5 - 2 s to settle: the periods [0, 1), [1, 2), [2, 3)

    assert monitor.period(alarm) == 1
    assert {request["Period"] for request in cloudwatch.requests} == {1}
    assert {(r["StartTime"].timestamp(), r["EndTime"].timestamp()) for r in cloudwatch.requests} == {(0.0, 3.0)}
    assert verdict.state == ALARM and "2 out of the last 3 datapoints [0, 0.1, 0.2]" in verdict.reason
    asked = len(cloudwatch.requests)
    assert monitor.check(alarm, now=5.9) == verdict and len(cloudwatch.requests) == asked  # same period
    monitor.check(alarm, now=6.0)  # the next period settled: judged again
    assert len(cloudwatch.requests) == 2 * asked
