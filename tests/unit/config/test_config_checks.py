"""What `retrain check-config` refuses because it would fail only later: schedules and time zones as
EventBridge Scheduler parses them (User Guide, "Schedule types"), prefixes in the form the pipeline
counts, and files that are not UTF-8 text. Each is one line naming the key and the fix."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from retrain.config import load_config, parse_config
from retrain.errors import ConfigError
from retrain.schedule import schedule_problem, timezone_problem

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def document() -> dict[str, Any]:
    return tomllib.loads((ROOT / "retrain.toml").read_text())


@pytest.mark.parametrize(
    "expression",
    [
        "rate(1 minute)",
        "rate(5 minutes)",
        "rate(1 hour)",
        "rate(1 day)",
        "rate(30 days)",
        "cron(0 3 * * ? *)",
        "cron(0 18 ? * MON-FRI *)",
        "cron(0/15 * * * ? *)",
        "cron(0 8 1 * ? *)",
        "cron(0 10 ? * 6L 2026-2030)",
        "cron(0 10 ? * 3#2 *)",
        "cron(0 10 LW * ? *)",
        "cron(0 10 15W JAN,JUL ? *)",
        "at(2027-01-31T03:00:00)",
    ],
)
def test_scheduler_accepts(expression: str) -> None:
    assert schedule_problem(expression) is None


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("every day at noon", "not a Scheduler expression; write e.g. rate(1 day)"),
        ("rate(0 days)", "the value must be a whole number of at least 1"),
        ("rate(1.5 hours)", "the value must be a whole number of at least 1"),
        ("rate(2 day)", "2 takes the unit 'days': write rate(2 days)"),
        ("rate(1 days)", "1 takes the unit 'day': write rate(1 day)"),
        ("rate(1 week)", "the unit must be minute(s), hour(s) or day(s)"),
        ("rate(1  day)", "a rate is rate(value unit) with one space"),
        ("cron(0 3 * * ?)", "a cron expression has six fields"),
        ("cron(0 3 * * * *)", "exactly one of day-of-month (*) and day-of-week (*) must be ?"),
        ("cron(0 3 ? * ? *)", "exactly one of day-of-month"),
        ("cron(60 3 * * ? *)", "minutes '60': '60' is not a value of 0-59"),
        ("cron(0 24 * * ? *)", "hours '24'"),
        ("cron(0 3 ? 13 MON *)", "month '13'"),
        ("cron(0 3 ? * 8 *)", "day-of-week '8'"),
        ("cron(0 3 ? * 1/2 *)", "/ is not allowed in this field"),
        ("cron(0 3 ? * 3#1,6#3 *)", "with # the field holds one expression only"),
        ("cron(0 3 * * ? 2300)", "year '2300'"),
        ("cron(? 3 * * ? *)", "? is for day-of-month or day-of-week only"),
        ("cron(0/0 3 * * ? *)", "the increment '0'"),
        ("at(2027-02-31T03:00:00)", "a one-time schedule is at(yyyy-mm-ddThh:mm:ss)"),
        ("at(2027-01-31 03:00)", "a one-time schedule is at(yyyy-mm-ddThh:mm:ss)"),
    ],
)
def test_scheduler_refuses(expression: str, problem: str) -> None:
    found = schedule_problem(expression)
    assert found is not None and problem in found and "Schedule types" in found


def test_time_zones_are_iana_names() -> None:
    assert timezone_problem("UTC") is None
    assert timezone_problem("Europe/Berlin") is None
    for name in ("Mars/Olympus", "utc", "", "../etc/passwd"):
        assert "is not an IANA time zone" in (timezone_problem(name) or "")


@pytest.mark.parametrize(
    ("section", "key", "value", "message"),
    [
        (
            "pipeline",
            "schedule_expression",
            "rate(0 days)",
            "retrain.toml: pipeline.schedule_expression: 'rate(0 days)': the value must be a whole number",
        ),
        (
            "pipeline",
            "schedule_timezone",
            "Mars/Olympus",
            "retrain.toml: pipeline.schedule_timezone: 'Mars/Olympus' is not an IANA time zone",
        ),
        (
            "data",
            "landing_prefix",
            "landing",
            "retrain.toml: data.landing_prefix: 'landing' is not a folder of the bucket; write it without a leading "
            "slash and with one trailing slash: landing_prefix = 'landing/'",
        ),
        ("data", "landing_prefix", "/landing/", "landing_prefix = 'landing/'"),
        ("data", "models_prefix", "models//", "models_prefix = 'models/'"),
        (
            "data",
            "processed_prefix",
            "landing/processed/",
            "retrain.toml: data: processed_prefix: 'landing/processed/' lies under landing_prefix 'landing/'",
        ),
        ("data", "capture_prefix", "capture", "capture_prefix = 'capture/'"),
        (
            # Captured requests under the landing prefix would be counted as new data.
            "data",
            "capture_prefix",
            "landing/capture/",
            "retrain.toml: data: capture_prefix: 'landing/capture/' lies under landing_prefix 'landing/'",
        ),
        ("data", "monitoring_prefix", "/monitoring", "monitoring_prefix = 'monitoring/'"),
        (
            # Reports under the landing prefix would be counted as new data.
            "data",
            "monitoring_prefix",
            "landing/monitoring/",
            "retrain.toml: data: monitoring_prefix: 'landing/monitoring/' lies under landing_prefix 'landing/'",
        ),
        # SageMaker's ScheduleConfig forms (retrain.cadence, the rules the local SageMaker runs by too).
        (
            "monitoring",
            "schedule_expression",
            "rate(1 hour)",
            "retrain.toml: monitoring.schedule_expression: ScheduleExpression 'rate(1 hour)' is not supported; "
            "use cron(0 * ? * * *) (hourly), cron(0 H ? * * *) (daily at hour H) or cron(0 H/N ? * * *); "
            'or "" to turn monitoring off',
        ),
        ("monitoring", "schedule_expression", "cron(0 24 ? * * *)", "the hour is 0-23 and the step 1-24"),
        ("monitoring", "schedule_expression", "NOW", "monitoring.schedule_expression: NOW runs once"),
    ],
)
def test_the_config_refuses_what_would_fail_later(
    document: dict[str, Any], section: str, key: str, value: str, message: str
) -> None:
    document[section][key] = value
    with pytest.raises(ConfigError) as raised:
        parse_config(document)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize("content", [bytes(range(256)), 'a = "caf\xe9"\n'.encode("latin-1")])
def test_a_file_that_is_not_utf8_text_is_one_line(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "binary.toml"
    path.write_bytes(content)
    with pytest.raises(
        ConfigError, match=r"binary\.toml: not UTF-8 text \(byte 0x[0-9a-f]{2} at offset \d+\); a config"
    ):
        load_config(path)


def test_a_directory_is_not_a_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot be read"):
        load_config(tmp_path)


def test_l_w_and_hash_belong_to_the_day_fields() -> None:
    assert "'5L' is not a value of 1-12 or JAN-DEC" in (schedule_problem("cron(0 3 ? 5L MON *)") or "")
    assert "'3#2' is not a value of 0-23" in (schedule_problem("cron(0 3#2 ? * MON *)") or "")


def test_the_data_quality_gate_threshold_is_a_share(document: dict[str, Any]) -> None:
    assert parse_config(document).dataset.max_dropped_fraction == 0.5
    document["dataset"]["max_dropped_fraction"] = 1.0  # the gate off
    assert parse_config(document).dataset.max_dropped_fraction == 1.0
    assert '"max_dropped_fraction":1.0' in parse_config(document).dataset.model_dump_json(by_alias=True)
    document["dataset"]["max_dropped_fraction"] = 0
    with pytest.raises(ConfigError, match=r"dataset\.max_dropped_fraction: Input should be greater than 0"):
        parse_config(document)


@pytest.mark.parametrize("expression", ["cron(0 * ? * * *)", "cron(0 3 ? * * *)", "cron(0 1/6 ? * * *)", ""])
def test_monitoring_schedules_sagemaker_accepts_or_none(document: dict[str, Any], expression: str) -> None:
    document.setdefault("monitoring", {})["schedule_expression"] = expression
    monitoring = parse_config(document).monitoring
    assert monitoring.schedule_expression == expression
    assert monitoring.enabled is (expression != "")
