"""Metric math alarms: PutMetricAlarm's Metrics in both of its protocols, and one check for the API and templates."""

from __future__ import annotations

from typing import Any

import pytest

from local.emulator.cloudwatch import MetricMathAlarmTemplates, metrics_problem, request_problem, requested_metrics

ERRORS = {
    "Id": "errors",
    "ReturnData": False,
    "MetricStat": {
        "Metric": {
            "Namespace": "AWS/SageMaker",
            "MetricName": "Invocation5XXErrors",
            "Dimensions": [{"Name": "EndpointName", "Value": "ep"}, {"Name": "VariantName", "Value": "AllTraffic"}],
        },
        "Period": 60,
        "Stat": "Sum",
    },
}
RATE = {"Id": "rate", "Expression": "errors / 10", "ReturnData": True}


def test_the_query_protocol_spells_metrics_as_flattened_members() -> None:
    params = {
        "Action": ["PutMetricAlarm"],
        "AlarmName": ["a"],
        "Metrics.member.1.Id": ["rate"],
        "Metrics.member.1.Expression": ["errors / 10"],
        "Metrics.member.1.ReturnData": ["true"],
        "Metrics.member.2.Id": ["errors"],
        "Metrics.member.2.ReturnData": ["false"],
        "Metrics.member.2.MetricStat.Metric.Namespace": ["AWS/SageMaker"],
        "Metrics.member.2.MetricStat.Metric.MetricName": ["Invocation5XXErrors"],
        "Metrics.member.2.MetricStat.Metric.Dimensions.member.1.Name": ["EndpointName"],
        "Metrics.member.2.MetricStat.Metric.Dimensions.member.1.Value": ["ep"],
        "Metrics.member.2.MetricStat.Metric.Dimensions.member.2.Name": ["VariantName"],
        "Metrics.member.2.MetricStat.Metric.Dimensions.member.2.Value": ["AllTraffic"],
        "Metrics.member.2.MetricStat.Period": ["60"],
        "Metrics.member.2.MetricStat.Stat": ["Sum"],
    }
    assert requested_metrics(params, {}, structured=False) == [RATE, ERRORS]
    assert requested_metrics({"AlarmName": ["a"]}, {}, structured=False) is None


def test_the_json_and_cbor_protocols_carry_them_as_they_are() -> None:
    assert requested_metrics({}, {"Metrics": [RATE, ERRORS]}, structured=True) == [RATE, ERRORS]
    assert requested_metrics({}, {"MetricName": "Invocations"}, structured=True) is None


@pytest.mark.parametrize(
    ("metrics", "request_members", "problem"),
    [
        ([RATE, ERRORS], {}, None),
        (
            [RATE, ERRORS],
            {"MetricName": "Invocations", "Period": 60},
            "Metrics cannot be combined with MetricName, Period",
        ),
        (
            [RATE, {**ERRORS, "ReturnData": True}],
            {},
            "Exactly one element of the Metrics list must have ReturnData "
            "true (the alarm's time series); 2 do (rate, errors).",
        ),
        ([{**RATE, "ReturnData": False}, ERRORS], {}, "0 do (none)"),
        (
            [RATE, {**ERRORS, "Expression": "1"}],
            {},
            "Metrics.member.2 (errors) must have exactly one of MetricStat and Expression.",
        ),
        ([{"Expression": "1"}], {}, "Metrics.member.1.Id is required."),
    ],
)
def test_what_aws_refuses_is_refused(
    metrics: list[dict[str, Any]], request_members: dict[str, Any], problem: str | None
) -> None:
    found = request_problem(metrics, request_members)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


@pytest.mark.parametrize(
    ("metrics", "props", "template_words"),
    [
        ([RATE, ERRORS], {"Period": 60}, "Metrics cannot be combined with Period"),
        ([RATE, {**ERRORS, "ReturnData": "true"}], {}, "exactly one of Metrics must have ReturnData true"),
        ([{**RATE, "ReturnData": "false"}, ERRORS], {}, "exactly one of Metrics must have ReturnData true"),
        ([RATE, {**ERRORS, "Expression": "1"}], {}, r"Metrics\[2\] \(errors\) needs exactly one of MetricStat"),
        ([{"Expression": "1"}], {}, r"Metrics\[1\].Id is required"),
        ("errors / 10", {}, "Metrics must be a list of MetricDataQuery objects"),
    ],
)
def test_a_template_is_refused_by_the_same_check_in_its_own_words(
    metrics: Any, props: dict[str, Any], template_words: str
) -> None:
    with pytest.raises(ValueError, match=f"alarm a: {template_words}"):
        MetricMathAlarmTemplates().queries("a", metrics, {**props, "Metrics": metrics})
    assert metrics_problem(metrics, props) is not None


def test_a_template_query_takes_the_api_shape() -> None:
    template = [
        {**RATE, "ReturnData": "true"},
        {**ERRORS, "ReturnData": "false", "MetricStat": {**ERRORS["MetricStat"], "Period": "60"}},
    ]
    assert MetricMathAlarmTemplates().queries("a", template, {}) == [RATE, ERRORS]
