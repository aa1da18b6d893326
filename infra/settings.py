"""Deployment settings of the CDK app: CDK context values, typed and checked.

Everything about the pipeline itself comes from `retrain.toml`; the context holds only what differs
between accounts. Each key can be set in `cdk.json` or with `cdk synth -c key=value` (then it arrives
as a string, so numbers and booleans are parsed here).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Protocol

# The Powertools for AWS Lambda (Python) v3 public layer (account 017000801446), python3.11, x86_64.
# Layer versions are per release; 27 is the latest listed on the project's install page when this
# was written. The PowertoolsLayerVersion parameter (default: `retrain:powertoolsLayerVersion`)
# changes it at deploy time; `retrain:powertoolsLayerArn` replaces the whole ARN.
POWERTOOLS_LAYER_ACCOUNT = "017000801446"
POWERTOOLS_LAYER_NAME = "AWSLambdaPowertoolsPythonV3-python311-x86_64"
DEFAULT_POWERTOOLS_LAYER_VERSION = 27

_ARN = re.compile(r"^arn:aws[a-z-]*:(iam|sts)::\d{12}:[\w+=,.@/-]+$")
_LAYER_ARN = re.compile(r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:layer:[A-Za-z0-9_-]+:\d+$")
_STACK_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}$")


class ContextSource(Protocol):
    def try_get_context(self, key: str) -> Any: ...


class SettingsError(ValueError):
    """A context value is malformed; the message names the key and the expected form."""


@dataclass(frozen=True)
class InfraSettings:
    config_file: str = "retrain.toml"
    stack_name: str | None = None  # default: pipeline.name from retrain.toml
    ml_leads_principal: str | None = None  # default: the deploying account's root
    powertools_layer_version: int = DEFAULT_POWERTOOLS_LAYER_VERSION
    powertools_layer_arn: str | None = None  # a whole layer version ARN instead (private copy, other partition)
    generate_bootstrap_version_rule: bool = True
    starter_reserved_concurrency: int = 1  # 0: no reservation (accounts at the concurrency minimum)
    # Execution-input defaults of this deployment, e.g. short rollout timings for a test stack; the
    # execution input still wins. JSON object of ExecutionInput fields.
    run_defaults: dict[str, Any] = field(default_factory=dict)
    alarm_period_seconds: int = 60  # of the rollback alarms: 10, 30 or a multiple of 60 (CloudWatch's rule)

    KEYS = {
        "config_file": "retrain:config",
        "stack_name": "retrain:stackName",
        "ml_leads_principal": "retrain:mlLeadsPrincipal",
        "powertools_layer_version": "retrain:powertoolsLayerVersion",
        "powertools_layer_arn": "retrain:powertoolsLayerArn",
        "generate_bootstrap_version_rule": "retrain:generateBootstrapVersionRule",
        "starter_reserved_concurrency": "retrain:starterReservedConcurrency",
        "run_defaults": "retrain:runDefaults",
        "alarm_period_seconds": "retrain:alarmPeriodSeconds",
    }

    @classmethod
    def from_context(cls, node: ContextSource) -> InfraSettings:
        def get(field: str) -> Any:
            value = node.try_get_context(cls.KEYS[field])
            return None if value in (None, "") else value

        defaults = cls()
        settings = cls(
            config_file=str(get("config_file") or defaults.config_file),
            stack_name=_stack_name(get("stack_name")),
            ml_leads_principal=_principal(get("ml_leads_principal")),
            powertools_layer_version=_integer(
                get("powertools_layer_version"), "powertools_layer_version", defaults.powertools_layer_version, 1
            ),
            powertools_layer_arn=_layer_arn(get("powertools_layer_arn")),
            generate_bootstrap_version_rule=_boolean(
                get("generate_bootstrap_version_rule"), defaults.generate_bootstrap_version_rule
            ),
            starter_reserved_concurrency=_integer(
                get("starter_reserved_concurrency"),
                "starter_reserved_concurrency",
                defaults.starter_reserved_concurrency,
                0,
            ),
            run_defaults=_run_defaults(get("run_defaults")),
            alarm_period_seconds=_alarm_period(get("alarm_period_seconds"), defaults.alarm_period_seconds),
        )
        return settings


def _key(field: str) -> str:
    return InfraSettings.KEYS[field]


def _stack_name(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _STACK_NAME.match(value):
        raise SettingsError(
            f"{_key('stack_name')}: expected a CloudFormation stack name (a letter, then letters, "
            f"digits or '-'), got {value!r}"
        )
    return value


def _principal(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _ARN.match(value):
        raise SettingsError(
            f"{_key('ml_leads_principal')}: expected an IAM principal ARN such as "
            f"arn:aws:iam::123456789012:role/MLLeadsSSO, got {value!r}"
        )
    return value


def _layer_arn(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _LAYER_ARN.match(value):
        raise SettingsError(
            f"{_key('powertools_layer_arn')}: expected a Lambda layer version ARN such as "
            f"arn:aws:lambda:eu-west-1:{POWERTOOLS_LAYER_ACCOUNT}:layer:{POWERTOOLS_LAYER_NAME}:27, got {value!r}"
        )
    return value


def _integer(value: Any, field: str, default: int, minimum: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise SettingsError(f"{_key(field)}: expected an integer, got {value!r}")
    try:
        number = int(value)
    except ValueError:
        raise SettingsError(f"{_key(field)}: expected an integer, got {value!r}") from None
    if number < minimum:
        raise SettingsError(f"{_key(field)}: expected an integer >= {minimum}, got {number}")
    return number


def _boolean(value: Any, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise SettingsError(f"{_key('generate_bootstrap_version_rule')}: expected true or false, got {value!r}")


def _run_defaults(value: Any) -> dict[str, Any]:
    """A JSON object (or its text, from `-c`) of execution-input fields, checked like an input."""
    from pydantic import ValidationError

    from retrain.contracts import ExecutionInput

    if value is None:
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise SettingsError(f"{_key('run_defaults')}: expected a JSON object, got {value!r:.80}") from None
    if not isinstance(value, dict):
        raise SettingsError(f"{_key('run_defaults')}: expected a JSON object of execution input fields")
    try:
        ExecutionInput.model_validate(value)
    except ValidationError as error:
        raise SettingsError(f"{_key('run_defaults')}: {error.errors()[0]['loc']}: {error.errors()[0]['msg']}") from None
    return dict(value)


def _alarm_period(value: Any, default: int) -> int:
    period = _integer(value, "alarm_period_seconds", default, 10)
    if period not in (10, 30) and period % 60:
        raise SettingsError(f"{_key('alarm_period_seconds')}: expected 10, 30 or a multiple of 60, got {period}")
    return period
