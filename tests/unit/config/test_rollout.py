"""The rollout retrain.toml may ask for: only what SageMaker's UpdateEndpoint accepts for the instance count.

botocore `sagemaker/2017-07-24/service-2.json`, `TrafficRoutingConfig`: CanarySize "must be less than or
equal to 50% of the variant's total instance count", LinearStepSize "must be 10-50%"; `BlueGreenUpdatePolicy`:
MaximumExecutionTimeoutInSeconds "should be larger than the total waiting time".
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from retrain.config import parse_config
from retrain.errors import ConfigError

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def document() -> dict[str, Any]:
    return tomllib.loads((ROOT / "retrain.toml").read_text())


def test_the_shipped_rollout_is_a_canary_of_one_instance_of_two(document: dict[str, Any]) -> None:
    deployment = parse_config(document).deployment
    assert (deployment.traffic_routing, deployment.initial_instance_count, deployment.canary_size_percent) == (
        "CANARY",
        2,
        50,
    )


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"initial_instance_count": 1, "canary_size_percent": 10},
            "retrain.toml: deployment: canary_size_percent: a 10% canary step on initial_instance_count = 1 is "
            "1 instance(s); AWS accepts 1-50% of the variant's instances; set canary_size_percent within that and "
            'initial_instance_count = 2 or more, or traffic_routing = "ALL_AT_ONCE"',
        ),
        ({"canary_size_percent": 60}, "canary_size_percent: a 60% canary step"),
        ({"initial_instance_count": 3, "canary_size_percent": 40}, "is 2 instance(s)"),
        ({"traffic_routing": "LINEAR", "linear_step_percent": 5, "initial_instance_count": 20}, "AWS accepts 10-50%"),
        ({"traffic_routing": "LINEAR", "initial_instance_count": 1}, "linear_step_percent: a 50% linear step"),
        (
            {"wait_interval_seconds": 3000, "termination_wait_seconds": 600},
            "maximum_execution_timeout_seconds: 3600 s must exceed wait_interval_seconds + termination_wait_seconds",
        ),
    ],
)
def test_a_rollout_aws_refuses_names_the_key_and_the_fix(
    document: dict[str, Any], settings: dict[str, Any], message: str
) -> None:
    document["deployment"].update(settings)
    with pytest.raises(ConfigError) as error:
        parse_config(document)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    "settings",
    [
        {"initial_instance_count": 1, "traffic_routing": "ALL_AT_ONCE"},
        {"initial_instance_count": 4, "canary_size_percent": 10},  # one instance of four
        {"initial_instance_count": 10, "traffic_routing": "LINEAR", "linear_step_percent": 10},
    ],
)
def test_rollouts_aws_accepts_load(document: dict[str, Any], settings: dict[str, Any]) -> None:
    document["deployment"].update(settings)
    parse_config(document)
