"""The emulator's CloudWatch keeps the `Metrics` of a metric math alarm.

An automatic-rollback alarm is often metric math: the project's error-rate alarm divides the
`Invocation5XXErrors` sum by the `Invocations` sum. The emulator's `PutMetricAlarm` drops the
request's `Metrics` and describes the alarm with made-up single-metric defaults (`Statistic`
Average, `Period` 60, no metric), so nothing could evaluate it. This keeps the queries on the stored
alarm and leaves the single-metric members out, as `DescribeAlarms` shows such an alarm on AWS; the
deployment controller's evaluator (`local.sagemaker.alarms`) reads them back from there.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

# The members of a single-metric alarm: AWS refuses them beside Metrics and never describes them with it.
SINGLE_METRIC_MEMBERS = ("MetricName", "Namespace", "Statistic", "ExtendedStatistic", "Dimensions", "Period", "Unit")
_FLAT_KEY = re.compile(r"Metrics\.member\.\d+(\.|$)")
_MARK = "__retrain_metric_math_alarms__"

Handler = Callable[..., tuple[int, dict[str, str], bytes]]


def _unflatten(params: dict[str, Any]) -> list[dict[str, Any]]:
    """`Metrics.member.1.MetricStat.Metric.Dimensions.member.1.Name=...` (query protocol) as a list."""
    root: dict[Any, Any] = {}
    for key, raw in params.items():
        if not _FLAT_KEY.match(key):
            continue
        value = raw[0] if isinstance(raw, list) else raw
        parts = key.split(".")
        node = root
        for part in parts[:-1]:
            if part != "member":  # "member.<n>" is the n-th element of a list
                node = node.setdefault(int(part) if part.isdigit() else part, {})
        node[parts[-1]] = value

    def shaped(node: Any, name: str = "") -> Any:
        if not isinstance(node, dict):
            if name == "ReturnData":
                return str(node).lower() == "true"
            return int(node) if name == "Period" else node
        if node and all(isinstance(key, int) for key in node):
            return [shaped(node[index]) for index in sorted(node)]
        return {key: shaped(item, key) for key, item in node.items()}

    metrics = shaped(root).get("Metrics", [])
    return metrics if isinstance(metrics, list) else []


def requested_metrics(params: dict[str, Any], body: dict[str, Any], structured: bool) -> list[dict[str, Any]] | None:
    if structured:
        metrics = body.get("Metrics")
        return list(metrics) if metrics else None
    return _unflatten(params) or None


def request_problem(metrics: list[dict[str, Any]], request: dict[str, Any]) -> str | None:
    """Why PutMetricAlarm refuses these Metrics, as AWS would refuse them; None when it does not."""
    alongside = [name for name in SINGLE_METRIC_MEMBERS if request.get(name)]
    if alongside:
        return (f"Metrics cannot be combined with {', '.join(alongside)}: a metric math alarm names its metrics "
                "in its MetricStat queries.")
    for index, query in enumerate(metrics, start=1):
        if not query.get("Id"):
            return f"Metrics.member.{index}.Id is required."
        if bool(query.get("MetricStat")) == bool(query.get("Expression")):
            return f"Metrics.member.{index} ({query['Id']}) must have exactly one of MetricStat and Expression."
    returned = [query["Id"] for query in metrics if query.get("ReturnData", True)]
    if len(returned) != 1:
        return (f"Exactly one element of the Metrics list must have ReturnData true (the alarm's time series); "
                f"{len(returned)} do ({', '.join(returned) or 'none'}).")
    return None


class MetricMathAlarms:
    """Wraps the emulator CloudWatch's PutMetricAlarm handler (once, however often installed)."""

    def install(self) -> None:
        from ministack import app

        cloudwatch = app._get_module("cloudwatch")
        original: Handler = cloudwatch._put_metric_alarm
        if getattr(original, _MARK, False):
            return

        def put_metric_alarm(params: dict[str, Any], body: dict[str, Any], is_cbor: bool,
                             is_json: bool = False) -> tuple[int, dict[str, str], bytes]:
            structured = is_cbor or is_json
            metrics = requested_metrics(params, body, structured)
            if metrics is None:
                return original(params, body, is_cbor, is_json)
            request = body if structured else {name: cloudwatch._p(params, name) for name in SINGLE_METRIC_MEMBERS}
            problem = request_problem(metrics, request)
            if problem is not None:
                return cloudwatch._error("ValidationError", problem, 400, use_json=is_json, use_cbor=is_cbor)
            response = original(params, body, is_cbor, is_json)
            name = body.get("AlarmName") if structured else cloudwatch._p(params, "AlarmName")
            alarm = cloudwatch._alarms.get(name)
            if response[0] < 300 and alarm is not None:
                alarm["Metrics"] = metrics
                for member in SINGLE_METRIC_MEMBERS:
                    alarm.pop(member, None)
            return response

        setattr(put_metric_alarm, _MARK, True)
        put_metric_alarm.__wrapped__ = original  # type: ignore[attr-defined]
        cloudwatch._put_metric_alarm = put_metric_alarm
