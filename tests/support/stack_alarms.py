"""The endpoint alarms exactly as the CDK stack defines them (`infra/monitoring.py`), synthesized,
so the local evaluator is tested on what the stack deploys and not on a copy of it."""

from __future__ import annotations

import copy
from functools import lru_cache
from typing import Any


@lru_cache(maxsize=4)
def _synthesized(endpoint: str, errors: str, latency: str, error_rate: float, latency_ms: int) -> dict[str, Any]:
    from aws_cdk import App, Stack
    from aws_cdk import aws_sns as sns
    from aws_cdk.assertions import Template

    from infra.monitoring import EndpointAlarms
    from retrain.config import DeploymentConfig

    stack = Stack(App(), "Alarms")
    deployment = DeploymentConfig(
        endpoint_name=endpoint,
        alarm_names=[errors, latency],
        error_rate_threshold=error_rate,
        latency_p99_threshold_ms=latency_ms,
    )
    EndpointAlarms(stack, "EndpointAlarms", deployment=deployment, topic=sns.Topic(stack, "Topic"))
    resources = Template.from_stack(stack).to_json()["Resources"]
    return {
        resource["Properties"]["AlarmName"]: resource["Properties"]
        for resource in resources.values()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
    }


def stack_alarms(
    endpoint: str, *, error_rate: float = 0.05, latency_ms: int = 500
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The error-rate and the latency alarm's template properties (copies: callers may change them)."""
    errors, latency = f"{endpoint}-invocation-errors", f"{endpoint}-model-latency"
    found = _synthesized(endpoint, errors, latency, error_rate, latency_ms)
    return copy.deepcopy(found[errors]), copy.deepcopy(found[latency])


def put_request(properties: dict[str, Any]) -> dict[str, Any]:
    """The alarm as PutMetricAlarm parameters: the template's properties are PutMetricAlarm's members;
    actions and tags refer to the stack and are left out."""
    return {
        key: value
        for key, value in copy.deepcopy(properties).items()
        if key not in ("AlarmActions", "OKActions", "InsufficientDataActions", "Tags")
    }
