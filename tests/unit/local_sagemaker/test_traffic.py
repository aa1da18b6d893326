"""The traffic plans of SageMaker's blue/green traffic routing modes, and the sizes SageMaker refuses.

The limits are botocore's `sagemaker/2017-07-24/service-2.json`, `TrafficRoutingConfig`: CanarySize
"must be less than or equal to 50% of the variant's total instance count", LinearStepSize "must be
10-50% of the variant's total instance count"; `BlueGreenUpdatePolicy.MaximumExecutionTimeoutInSeconds`
"should be larger than the total waiting time".
"""

from __future__ import annotations

import pytest

from local.sagemaker.traffic import TrafficPlanError, TrafficStep, check_timeout, plan_traffic


def canary(kind: str, value: int, wait: int = 5) -> dict[str, object]:
    return {"Type": "CANARY", "WaitIntervalInSeconds": wait, "CanarySize": {"Type": kind, "Value": value}}


def linear(kind: str, value: int, wait: int = 2) -> dict[str, object]:
    return {"Type": "LINEAR", "WaitIntervalInSeconds": wait, "LinearStepSize": {"Type": kind, "Value": value}}


def test_all_at_once_shifts_everything_then_bakes() -> None:
    assert plan_traffic({"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 30}, 2) == [
        TrafficStep(1.0, 30.0, "all at once")
    ]


def test_no_routing_configuration_is_all_at_once_without_baking() -> None:
    assert plan_traffic(None, 1) == [TrafficStep(1.0, 0.0, "all at once")]


def test_a_canary_percent_is_rounded_up_to_whole_instances_then_the_whole_fleet() -> None:
    steps = plan_traffic(canary("CAPACITY_PERCENT", 10), 4)
    assert [(step.green_share, step.bake_seconds) for step in steps] == [(0.25, 5.0), (1.0, 5.0)]
    assert [step.green_share for step in plan_traffic(canary("CAPACITY_PERCENT", 50), 2)] == [0.5, 1.0]


def test_canary_by_instance_count_is_that_share_of_the_new_fleet() -> None:
    assert [step.green_share for step in plan_traffic(canary("INSTANCE_COUNT", 1), 4)] == [0.25, 1.0]


@pytest.mark.parametrize(
    ("routing", "instances"),
    [
        (canary("CAPACITY_PERCENT", 10), 1),  # retrain.toml's rollout before: one instance has no canary
        (canary("INSTANCE_COUNT", 1), 1),
        (canary("CAPACITY_PERCENT", 60), 10),
        (canary("INSTANCE_COUNT", 3), 4),
    ],
)
def test_a_canary_above_half_of_the_variant_is_refused(routing: dict[str, object], instances: int) -> None:
    with pytest.raises(TrafficPlanError, match=r"CanarySize .* less than or equal to 50% of the variant's total"):
        plan_traffic(routing, instances)


@pytest.mark.parametrize(
    ("size", "instances", "shares"),
    [
        (("CAPACITY_PERCENT", 25), 4, [0.25, 0.5, 0.75, 1.0]),
        (("CAPACITY_PERCENT", 40), 5, [0.4, 0.8, 1.0]),
        (("INSTANCE_COUNT", 2), 5, [0.4, 0.8, 1.0]),
        (("CAPACITY_PERCENT", 50), 2, [0.5, 1.0]),
    ],
)
def test_linear_steps_add_the_step_size_until_all_traffic(
    size: tuple[str, int], instances: int, shares: list[float]
) -> None:
    steps = plan_traffic(linear(*size), instances)
    assert [step.green_share for step in steps] == pytest.approx(shares)
    assert all(step.bake_seconds == 2 for step in steps)
    assert steps[-1].green_share == 1.0


@pytest.mark.parametrize(
    ("size", "instances"),
    [
        (("CAPACITY_PERCENT", 25), 1),
        (("CAPACITY_PERCENT", 5), 20),
        (("INSTANCE_COUNT", 1), 20),
        (("INSTANCE_COUNT", 3), 4),
    ],
)
def test_a_linear_step_outside_10_to_50_percent_of_the_variant_is_refused(
    size: tuple[str, int], instances: int
) -> None:
    with pytest.raises(TrafficPlanError, match=r"LinearStepSize .* 10-50% of the variant's total instance count"):
        plan_traffic(linear(*size), instances)


@pytest.mark.parametrize(
    ("routing", "message"),
    [
        ({"Type": "CANARY", "WaitIntervalInSeconds": 1}, "CANARY traffic routing needs CanarySize"),
        ({"Type": "LINEAR", "WaitIntervalInSeconds": 1}, "LINEAR traffic routing needs LinearStepSize"),
        (canary("CAPACITY_PERCENT", 150), "CanarySize.Value is a percent"),
        (linear("BATCHES", 1), "LinearStepSize.Type must be CAPACITY_PERCENT or INSTANCE_COUNT"),
        ({"Type": "SOMETIMES", "WaitIntervalInSeconds": 1}, "must be ALL_AT_ONCE, CANARY or LINEAR"),
    ],
)
def test_a_routing_configuration_that_cannot_be_planned_names_the_field(
    routing: dict[str, object], message: str
) -> None:
    with pytest.raises(TrafficPlanError, match=message):
        plan_traffic(routing, 2)


def test_the_execution_timeout_must_exceed_the_waits() -> None:
    policy = {
        "TrafficRoutingConfiguration": canary("CAPACITY_PERCENT", 50, wait=600),
        "TerminationWaitInSeconds": 120,
        "MaximumExecutionTimeoutInSeconds": 720,
    }
    with pytest.raises(TrafficPlanError, match=r"MaximumExecutionTimeoutInSeconds \(720\) must be larger .* \(720\)"):
        check_timeout(policy)
    check_timeout({**policy, "MaximumExecutionTimeoutInSeconds": 721})
    check_timeout({"TrafficRoutingConfiguration": canary("CAPACITY_PERCENT", 50)})
