from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from retrain.config import load_config, parse_config
from retrain.errors import ConfigError
from tests.support.polling import PROCESS_START_BOUND

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def document() -> dict[str, Any]:
    return tomllib.loads((ROOT / "retrain.toml").read_text())


def test_the_shipped_config_is_valid() -> None:
    config = load_config(ROOT / "retrain.toml")
    assert config.dataset.target == "is_fraud"
    assert "event_time" not in config.dataset.feature_columns
    assert config.deployment.alarm_names


def test_a_text_target_is_mapped_by_its_positive_label(document: dict[str, Any]) -> None:
    document["dataset"]["schema"]["is_fraud"] = "string"
    document["dataset"]["positive_label"] = "fraud"
    dataset = parse_config(document).dataset
    assert dataset.positive_label == "fraud"
    assert "customer_id" not in dataset.feature_columns and "amount" in dataset.feature_columns


def test_defaults_fill_optional_tables(document: dict[str, Any]) -> None:
    for table in ("data", "training", "evaluation", "glue", "approval"):
        document.pop(table)
    config = parse_config(document)
    assert config.approval.timeout_seconds == 86400
    assert config.glue.glue_version == "5.0"


def test_the_quality_threshold_defaults_to_the_bar_a_new_model_must_reach(document: dict[str, Any]) -> None:
    config = parse_config(document)
    assert config.monitoring.quality_threshold is None and config.monitoring.quality_min_labels == 100
    assert config.quality_threshold == config.promotion.min_metric_value == 0.2
    document["monitoring"]["quality_threshold"] = 0.35
    assert parse_config(document).quality_threshold == 0.35
    document["monitoring"].pop("quality_threshold")
    document["promotion"].pop("min_metric_value")
    assert parse_config(document).quality_threshold is None  # no bar: no quality alarm (the metric still published)


def test_the_label_delay_counts_in_the_schedules_windows(document: dict[str, Any]) -> None:
    assert parse_config(document).label_delay_windows == 0  # default: each window judged by its own run
    document["monitoring"].update(label_delay=48)
    assert parse_config(document).label_delay_windows == 48  # hourly
    document["monitoring"].update(schedule_expression="cron(0 2/6 ? * * *)")
    assert parse_config(document).label_delay_windows == 8
    document["monitoring"].update(schedule_expression="")  # monitoring off: nothing to delay, nothing refused
    assert parse_config(document).label_delay_windows == 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: d["deployment"].update(canary_size_percent="ten"),
            "retrain.toml: deployment.canary_size_percent: expected an integer, got 'ten'",
        ),
        (lambda d: d["deployment"].pop("endpoint_name"), "retrain.toml: deployment.endpoint_name: missing; add it"),
        (lambda d: d["deployment"].update(colour="blue"), "retrain.toml: deployment.colour: unknown key"),
        (
            lambda d: d["deployment"].update(traffic_routing="BLUE"),
            "retrain.toml: deployment.traffic_routing: expected one of 'ALL_AT_ONCE', 'CANARY' or 'LINEAR', got 'BLUE'",
        ),
        (
            lambda d: d["dataset"].update(target="label"),
            "retrain.toml: dataset: target 'label' is not a column of dataset.schema",
        ),
        (
            lambda d: d["dataset"].update(exclude_columns=["customer"]),
            "retrain.toml: dataset: exclude_columns: 'customer' is not a column of dataset.schema",
        ),
        (
            lambda d: d["dataset"].update(exclude_columns=["transaction_id"]),
            "retrain.toml: dataset: exclude_columns: 'transaction_id' is the id_column, never a model input",
        ),
        (
            lambda d: d["dataset"].update(positive_label="fraud"),
            "retrain.toml: dataset: positive_label: the target 'is_fraud' is long, whose positive class is 1",
        ),
        (
            lambda d: d["dataset"]["schema"].update(is_fraud="string"),
            "retrain.toml: dataset: positive_label: missing; the target 'is_fraud' is text (string)",
        ),
        (
            lambda d: d["dataset"].update(log_columns=["device_type"]),
            "retrain.toml: dataset: log_columns: 'device_type' is string; only long and double columns",
        ),
        (
            lambda d: d["dataset"]["schema"].update(amount="float"),
            "retrain.toml: dataset.schema.amount: expected one of",
        ),
        (
            lambda d: d["training"]["hyperparameters"].update(max_iter=[1]),
            "retrain.toml: training.hyperparameters.max_iter: expected a string, number or boolean, got [1]",
        ),
        (lambda d: d["promotion"].update(direction="up"), "retrain.toml: promotion.direction: expected one of"),
        (
            lambda d: d["approval"].update(timeout_seconds=True),
            "retrain.toml: approval.timeout_seconds: expected an integer",
        ),
        (lambda d: d.pop("pipeline"), "retrain.toml: pipeline: missing; add it"),
        (
            # DataCaptureConfig.InitialSamplingPercentage: 0-100 (botocore `SamplingPercentage`).
            lambda d: d["monitoring"].update(capture_sampling_percentage=101),
            "retrain.toml: monitoring.capture_sampling_percentage:",
        ),
        (
            lambda d: d["monitoring"].update(quality_threshold=1.5),
            "retrain.toml: monitoring.quality_threshold: 1.5 is above 1, which average_precision never exceeds",
        ),
        (
            lambda d: d["monitoring"].update(quality_threshold=-0.1),
            "retrain.toml: monitoring.quality_threshold:",
        ),
        (
            lambda d: d["monitoring"].update(quality_min_labels=0),
            "retrain.toml: monitoring.quality_min_labels:",
        ),
        (lambda d: d["monitoring"].update(label_delay=-1), "retrain.toml: monitoring.label_delay:"),
        (lambda d: d["monitoring"].update(label_delay=1.5), "retrain.toml: monitoring.label_delay:"),
        (
            lambda d: d["monitoring"].update(label_delay=12, schedule_expression="cron(0 3 ? * * *)"),
            "retrain.toml: monitoring.label_delay: 12 h is not a whole number of the schedule's 24 h periods",
        ),
        (
            lambda d: d["monitoring"].update(label_delay=10, schedule_expression="cron(0 0/5 ? * * *)"),
            "retrain.toml: monitoring.label_delay: 10 h needs a schedule whose runs are evenly apart",
        ),
        (
            lambda d: (d["monitoring"].update(label_delay=72), d["data"].update(capture_retention_days=3)),
            "retrain.toml: monitoring.label_delay: 72 h is not less than data.capture_retention_days (3 days)",
        ),
    ],
)
def test_a_bad_key_is_one_line_naming_it(document: dict[str, Any], change: Any, message: str) -> None:
    change(document)
    with pytest.raises(ConfigError) as raised:
        parse_config(document)
    text = str(raised.value)
    assert text.startswith(message)
    assert "\n" not in text


def test_not_toml_and_missing_file(tmp_path: Path) -> None:
    broken = tmp_path / "retrain.toml"
    broken.write_text("[pipeline\nname = 1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(broken)
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "absent.toml")


def test_cli_prints_one_line_and_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "retrain.toml"
    text = (ROOT / "retrain.toml").read_text()
    bad.write_text(text.replace("canary_size_percent = 50", 'canary_size_percent = "ten"'))
    result = subprocess.run(
        [sys.executable, "-m", "cli", "check-config", "--config", str(bad)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=PROCESS_START_BOUND,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "deployment.canary_size_percent: expected an integer, got 'ten'" in lines[0]


def test_cli_accepts_the_shipped_config() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cli", "check-config"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=PROCESS_START_BOUND,
    )
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout
