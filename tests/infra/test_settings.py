"""CDK context values: parsed, defaulted, and rejected with a message that names the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from infra.settings import DEFAULT_POWERTOOLS_LAYER_VERSION, InfraSettings, SettingsError


class Context:
    def __init__(self, **values: Any) -> None:
        self.values = values

    def try_get_context(self, key: str) -> Any:
        return self.values.get(key)


def test_defaults() -> None:
    settings = InfraSettings.from_context(Context())
    assert settings == InfraSettings()
    assert settings.powertools_layer_version == DEFAULT_POWERTOOLS_LAYER_VERSION
    assert settings.generate_bootstrap_version_rule is True
    assert settings.ml_leads_principal is None


def test_cli_strings_are_parsed() -> None:
    settings = InfraSettings.from_context(
        Context(
            **{
                "retrain:generateBootstrapVersionRule": "false",
                "retrain:powertoolsLayerVersion": "31",
                "retrain:starterReservedConcurrency": "0",
                "retrain:mlLeadsPrincipal": "arn:aws:iam::123456789012:role/MLLeadsSSO",
                "retrain:stackName": "FraudRetrainProd",
            }
        )
    )
    assert settings.generate_bootstrap_version_rule is False
    assert settings.powertools_layer_version == 31
    assert settings.starter_reserved_concurrency == 0
    assert settings.ml_leads_principal == "arn:aws:iam::123456789012:role/MLLeadsSSO"
    assert settings.stack_name == "FraudRetrainProd"


def test_empty_strings_mean_the_default() -> None:
    settings = InfraSettings.from_context(Context(**{"retrain:mlLeadsPrincipal": "", "retrain:stackName": ""}))
    assert settings.ml_leads_principal is None and settings.stack_name is None


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("retrain:mlLeadsPrincipal", "MLLeads", "retrain:mlLeadsPrincipal: expected an IAM principal ARN"),
        ("retrain:powertoolsLayerVersion", "latest", "retrain:powertoolsLayerVersion: expected an integer"),
        ("retrain:powertoolsLayerVersion", 0, "retrain:powertoolsLayerVersion: expected an integer >= 1"),
        ("retrain:powertoolsLayerArn", "arn:aws:lambda:eu-west-1:1:layer:x", "retrain:powertoolsLayerArn: expected"),
        ("retrain:generateBootstrapVersionRule", "no", "retrain:generateBootstrapVersionRule: expected true or false"),
        ("retrain:starterReservedConcurrency", -1, "retrain:starterReservedConcurrency: expected an integer >= 0"),
        ("retrain:stackName", "1-stack", "retrain:stackName: expected a CloudFormation stack name"),
    ],
)
def test_malformed_values_are_named(key: str, value: Any, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        InfraSettings.from_context(Context(**{key: value}))


def test_run_defaults_are_checked_like_an_execution_input() -> None:
    from infra.settings import InfraSettings, SettingsError

    class Context:
        def __init__(self, values: dict[str, object]) -> None:
            self.values = values

        def try_get_context(self, key: str) -> object:
            return self.values.get(key)

    settings = InfraSettings.from_context(Context({"retrain:runDefaults": '{"wait_interval_seconds": 10}'}))
    assert settings.run_defaults == {"wait_interval_seconds": 10}
    with pytest.raises(SettingsError, match="retrain:runDefaults"):
        InfraSettings.from_context(Context({"retrain:runDefaults": '{"wait_interval_seconds": "soon"}'}))
    with pytest.raises(SettingsError, match="retrain:runDefaults: expected a JSON object"):
        InfraSettings.from_context(Context({"retrain:runDefaults": "[1]"}))


def test_the_local_canary_bakes_long_enough_for_its_alarms_to_fire() -> None:
    # A guardrail that cannot fire within the canary step guards nothing. The local stack deploys the
    # rollout as AWS runs it (AWS's alarm period, [deployment]'s bake) and the local AWS runs both at
    # one clock scale: the bake outlasts DatapointsToAlarm periods on AWS, and in local seconds too,
    # where the newest datapoints also take a moment to settle before they are judged.
    from infra.monitoring import DATAPOINTS_TO_ALARM, DEFAULT_PERIOD_SECONDS
    from local.clock import DEFAULT_CLOCK_SCALE, ClockScale
    from local.deploy.project import project_app
    from local.sagemaker.alarms import AlarmMonitor
    from retrain.config import load_config

    root = Path(__file__).resolve().parents[2]
    settings = InfraSettings.from_context(Context(**project_app(root).context))
    bake = settings.run_defaults.get(
        "wait_interval_seconds", load_config(root / "retrain.toml").deployment.wait_interval_seconds
    )
    period = settings.alarm_period_seconds
    assert period == DEFAULT_PERIOD_SECONDS  # what AWS evaluates SageMaker's one-minute endpoint metrics over
    assert bake > DATAPOINTS_TO_ALARM * period
    clock = ClockScale.parse(DEFAULT_CLOCK_SCALE)
    assert clock.seconds(bake) > DATAPOINTS_TO_ALARM * clock.period(period) + AlarmMonitor.SETTLE_SECONDS
