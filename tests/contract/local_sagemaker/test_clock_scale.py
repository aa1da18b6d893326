"""SageMaker's rollout clocks at the local AWS's clock scale (`local.clock`): the values AWS accepts,
compressed by one factor, with the guardrail intact.

The rollout is the README cycle's: `[deployment]` of retrain.toml as the definition passes it to
UpdateEndpoint (`DeploymentConfig`: `BlueGreenUpdatePolicy` with its `TrafficRoutingConfiguration`,
`TerminationWaitInSeconds` and `MaximumExecutionTimeoutInSeconds`, SageMaker API reference) and the
stack's rollback alarms as synthesized (one-minute periods, 2 of 3 datapoints). AWS's rules they
follow: each traffic step bakes `WaitIntervalInSeconds` while the alarms are watched
(`TrafficRoutingConfig`), the old fleet stays `TerminationWaitInSeconds` after the last step
(`BlueGreenUpdatePolicy`), and an alarm is evaluated once per period over its last
`EvaluationPeriods` datapoints (CloudWatch user guide, "Evaluating an alarm").
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from local.clock import ClockScale
from local.sagemaker.alarms import ALARM, OK, AlarmMonitor, AlarmVerdict
from local.sagemaker.metrics import InvocationMetrics
from local.sagemaker.traffic import plan_traffic
from retrain.config import RetrainConfig, load_config
from retrain.planning import traffic_routing
from tests.support.local_aws import RunningLocalAws
from tests.support.polling import wait_until
from tests.support.sagemaker import Load, SageMakerWorld
from tests.support.stack_alarms import put_request, stack_alarms

pytestmark = pytest.mark.local

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def config() -> RetrainConfig:
    return load_config(ROOT / "retrain.toml")


@pytest.fixture(scope="module")
def clock(local_aws: RunningLocalAws) -> ClockScale:
    """The scale the session's local AWS runs at, as it recorded it."""
    assert local_aws.process.clock_scale is not None
    return ClockScale.parse(local_aws.process.clock_scale)


def readme_rollout(config: RetrainConfig, alarms: tuple[str, ...]) -> dict[str, Any]:
    """The DeploymentConfig of the README cycle's canary, from retrain.toml as the run plans it."""
    deployment = config.deployment
    return {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": traffic_routing(config, "CANARY", deployment.wait_interval_seconds),
            "TerminationWaitInSeconds": deployment.termination_wait_seconds,
            "MaximumExecutionTimeoutInSeconds": deployment.maximum_execution_timeout_seconds,
        },
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": alarm} for alarm in alarms]},
    }


def deployed_alarms(world: SageMakerWorld, endpoint: str) -> tuple[str, str]:
    names = []
    for properties in stack_alarms(endpoint):
        world.client("cloudwatch").put_metric_alarm(**put_request(properties))
        names.append(properties["AlarmName"])
    return names[0], names[1]


def serving(world: SageMakerWorld, name: str, model: str, version: str, **behaviour: Any) -> None:
    world.create_model(model, version, **behaviour)
    # retrain.toml's instance count: AWS sizes the canary against it.
    world.create_config(model, model, load_config(ROOT / "retrain.toml").deployment.initial_instance_count)
    if version == "v1":
        world.sm.create_endpoint(EndpointName=name, EndpointConfigName=model)
        world.endpoint_status(name, "InService")


def test_a_scaled_canary_bakes_each_wait_interval_times_the_scale(
    world: SageMakerWorld, unique_name: str, config: RetrainConfig, clock: ClockScale
) -> None:
    serving(world, unique_name, f"{unique_name}-v1", "v1")
    serving(world, unique_name, f"{unique_name}-v2", "v2")
    rollout = readme_rollout(config, deployed_alarms(world, unique_name))
    seen: dict[str, float] = {}  # status message -> when it started (the local SageMaker's clock)

    def done() -> dict[str, Any] | None:
        endpoint = world.sm.describe_endpoint(EndpointName=unique_name)
        for variant in endpoint.get("PendingDeploymentSummary", {}).get("ProductionVariants", []):
            for status in variant.get("VariantStatus", []):
                seen.setdefault(status["StatusMessage"], status["StartTime"].timestamp())
        return endpoint if endpoint["EndpointStatus"] == "InService" else None

    world.sm.update_endpoint(EndpointName=unique_name, EndpointConfigName=f"{unique_name}-v2", DeploymentConfig=rollout)
    endpoint = wait_until(done, 120, "the canary rollout", interval=0.05)

    assert endpoint["EndpointConfigName"] == f"{unique_name}-v2" and "FailureReason" not in endpoint
    wait, termination = config.deployment.wait_interval_seconds, config.deployment.termination_wait_seconds
    instances = config.deployment.initial_instance_count
    label = plan_traffic(rollout["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"], instances)[0].label
    canary = seen[f"Baking period started ({label}, {clock.shown(wait)})"]
    final = seen[f"Baking period started (remaining traffic, {clock.shown(wait)})"]
    old_fleet = seen[f"Waiting {clock.shown(termination)} before terminating the old fleet"]
    ended = endpoint["LastModifiedTime"].timestamp()
    # Each clock, AWS's value times the scale; the slack is the local work between them (a traffic
    # switch, an alarm evaluation, stopping the old fleet), never a clock.
    for started, stopped, aws_seconds in (
        (canary, final, wait),
        (final, old_fleet, wait),
        (old_fleet, ended, termination),
    ):
        assert clock.seconds(aws_seconds) <= stopped - started < clock.seconds(aws_seconds) + 1.5


def test_a_bad_canary_is_rolled_back_at_the_same_scale(
    world: SageMakerWorld, unique_name: str, config: RetrainConfig, clock: ClockScale
) -> None:
    # The README cycle's rollout and alarms, unchanged; the new model fails every request it gets.
    serving(world, unique_name, f"{unique_name}-v1", "v1")
    serving(world, unique_name, f"{unique_name}-v2", "v2", fails_on_probe=True)
    errors_alarm, latency_alarm = deployed_alarms(world, unique_name)
    rollout = readme_rollout(config, (errors_alarm, latency_alarm))
    bake = clock.seconds(config.deployment.wait_interval_seconds)

    with Load(world, unique_name, {"x": 1, "probe": True}) as load:
        wait_until(lambda: sum(load.versions.values()) > 20, 20, "traffic on the old model")
        world.sm.update_endpoint(
            EndpointName=unique_name, EndpointConfigName=f"{unique_name}-v2", DeploymentConfig=rollout
        )
        started = time.monotonic()
        rolled_back = world.update_refused(unique_name, "the rollback", timeout=120)
        elapsed = time.monotonic() - started

    assert load.failures, "the canary took some of the traffic"
    assert rolled_back["EndpointConfigName"] == f"{unique_name}-v1"
    reason = rolled_back["FailureReason"]
    assert f"CloudWatch alarm {errors_alarm} went into ALARM during " in reason, reason
    # Caught before the new fleet had all traffic for good: within the two scaled bakes.
    assert "before terminating the old fleet" not in reason and elapsed < 2 * bake + 10


PERIODS = (  # per one-minute period: invocations, of them 5XX errors, model latency (ms)
    (100, 0, 20),
    (100, 10, 20),
    (100, 0, 600),
    (100, 0, 20),
    (100, 20, 700),
    (50, 10, 800),
    (0, 0, 0),  # no traffic
    (100, 0, 20),
)


def publish(world: SageMakerWorld, endpoint: str, start: int, period: float) -> None:
    """The periods' requests as the local SageMaker publishes them, `period` seconds apart, two
    bursts each (at the period's start and half way through)."""
    metrics = InvocationMetrics()
    for index, (invocations, errors, latency_ms) in enumerate(PERIODS):
        for request in range(invocations):
            at = start + index * period + (period / 2 if request % 2 else 0.0)
            status = 500 if request < errors else 200
            metrics.record("us-east-1", endpoint, "AllTraffic", status, latency_ms * 1000, 100, at=at)
    data = metrics.drain(float("inf"))["us-east-1"]
    for first in range(0, len(data), 500):
        world.client("cloudwatch").put_metric_data(Namespace="AWS/SageMaker", MetricData=data[first : first + 500])


def test_scaled_alarm_evaluation_matches_unscaled_evaluation_on_time_compressed_data(
    world: SageMakerWorld, unique_name: str
) -> None:
    minute = ClockScale.parse("1/60")
    now = int(time.time())
    unscaled_start = now - 3600 - now % 60  # the periods as AWS sees them, an hour ago
    scaled_start = now - 600 - now % 60  # the same, a minute compressed into a second
    publish(world, f"{unique_name}-aws", unscaled_start, 60)
    publish(world, f"{unique_name}-local", scaled_start, 1)
    deployed_alarms(world, f"{unique_name}-aws")
    deployed_alarms(world, f"{unique_name}-local")
    cloudwatch = world.client("cloudwatch")
    aws, local = AlarmMonitor(cloudwatch), AlarmMonitor(cloudwatch, minute)
    aws_alarms = aws.definitions([f"{unique_name}-aws-invocation-errors", f"{unique_name}-aws-model-latency"])
    local_alarms = local.definitions([f"{unique_name}-local-invocation-errors", f"{unique_name}-local-model-latency"])

    def verdicts(monitor: AlarmMonitor, alarms: list[Any], start: int, period: int) -> list[list[AlarmVerdict]]:
        # Evaluated at the end of each period from the third on, once its datapoints settled.
        return [
            [monitor.check(alarm, now=start + end * period + AlarmMonitor.SETTLE_SECONDS) for alarm in alarms]
            for end in range(3, len(PERIODS) + 1)
        ]

    on_aws = verdicts(aws, aws_alarms, unscaled_start, 60)
    at_scale = verdicts(local, local_alarms, scaled_start, minute.period(60))

    assert at_scale == on_aws  # states and reasons: the same datapoints, judged the same way
    assert [errors.state for errors, _ in on_aws] == [OK, OK, OK, ALARM, ALARM, OK]
    assert [latency.state for _, latency in on_aws] == [OK, OK, ALARM, ALARM, ALARM, OK]
