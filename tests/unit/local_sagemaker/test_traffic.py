"""The traffic plans of SageMaker's blue/green traffic routing modes."""

from __future__ import annotations

import pytest

from local.sagemaker.traffic import TrafficPlanError, TrafficStep, plan_traffic


def test_all_at_once_shifts_everything_then_bakes() -> None:
    assert plan_traffic({"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 30}, 2) == [
        TrafficStep(1.0, 30.0, "all at once")
    ]


def test_no_routing_configuration_is_all_at_once_without_baking() -> None:
    assert plan_traffic(None, 1) == [TrafficStep(1.0, 0.0, "all at once")]


def test_canary_by_capacity_percent_bakes_the_canary_then_the_whole_fleet() -> None:
    steps = plan_traffic(
        {"Type": "CANARY", "WaitIntervalInSeconds": 5, "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10}}, 1
    )
    assert [(step.green_share, step.bake_seconds) for step in steps] == [(0.1, 5.0), (1.0, 5.0)]


def test_canary_by_instance_count_is_that_share_of_the_new_fleet() -> None:
    steps = plan_traffic(
        {"Type": "CANARY", "WaitIntervalInSeconds": 1, "CanarySize": {"Type": "INSTANCE_COUNT", "Value": 1}}, 4
    )
    assert [step.green_share for step in steps] == [0.25, 1.0]


def test_a_canary_as_large_as_the_fleet_is_one_step() -> None:
    steps = plan_traffic(
        {"Type": "CANARY", "WaitIntervalInSeconds": 1, "CanarySize": {"Type": "INSTANCE_COUNT", "Value": 3}}, 2
    )
    assert [step.green_share for step in steps] == [1.0]


@pytest.mark.parametrize(
    ("size", "instances", "shares"),
    [
        ({"Type": "CAPACITY_PERCENT", "Value": 25}, 1, [0.25, 0.5, 0.75, 1.0]),
        ({"Type": "CAPACITY_PERCENT", "Value": 40}, 1, [0.4, 0.8, 1.0]),
        ({"Type": "CAPACITY_PERCENT", "Value": 33}, 1, [0.33, 0.66, 0.99, 1.0]),
        ({"Type": "INSTANCE_COUNT", "Value": 2}, 5, [0.4, 0.8, 1.0]),
        ({"Type": "CAPACITY_PERCENT", "Value": 100}, 1, [1.0]),
    ],
)
def test_linear_steps_add_the_step_size_until_all_traffic(
    size: dict[str, object], instances: int, shares: list[float]
) -> None:
    steps = plan_traffic({"Type": "LINEAR", "WaitIntervalInSeconds": 2, "LinearStepSize": size}, instances)
    assert [step.green_share for step in steps] == pytest.approx(shares)
    assert all(step.bake_seconds == 2 for step in steps)
    assert steps[-1].green_share == 1.0


@pytest.mark.parametrize(
    ("routing", "message"),
    [
        ({"Type": "CANARY", "WaitIntervalInSeconds": 1}, "CANARY traffic routing needs CanarySize"),
        ({"Type": "LINEAR", "WaitIntervalInSeconds": 1}, "LINEAR traffic routing needs LinearStepSize"),
        (
            {"Type": "CANARY", "WaitIntervalInSeconds": 1, "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 150}},
            "CanarySize.Value is a percent",
        ),
        (
            {"Type": "LINEAR", "WaitIntervalInSeconds": 1, "LinearStepSize": {"Type": "BATCHES", "Value": 1}},
            "LinearStepSize.Type must be CAPACITY_PERCENT or INSTANCE_COUNT",
        ),
        ({"Type": "SOMETIMES", "WaitIntervalInSeconds": 1}, "must be ALL_AT_ONCE, CANARY or LINEAR"),
    ],
)
def test_a_routing_configuration_that_cannot_be_planned_names_the_field(
    routing: dict[str, object], message: str
) -> None:
    with pytest.raises(TrafficPlanError, match=message):
        plan_traffic(routing, 2)
