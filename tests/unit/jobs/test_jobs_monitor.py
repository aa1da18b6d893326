"""monitor.py: Model Monitor's "bring your own container" contract (SageMaker developer guide,
model-monitor-byoc-contract-inputs, -contract-outputs, -byoc-cloudwatch, -interpreting-violations)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pandas as pd
import pytest
from baseline import write_baseline
from monitor import main

from tests.support.capture_format import capture_of
from tests.support.monitor_format import BYOC_METRIC_SCHEMA, CONSTRAINT_VIOLATIONS_SCHEMA

COLUMNS = ["amount", "device_type", "account_age_days"]
WINDOW = ("2026-11-26T02:00:00Z", "2026-11-26T03:00:00Z")
INSIDE, OUTSIDE = "2026-11-26T02:30:00Z", "2026-11-26T03:00:00Z"  # the end is outside [start, end)


def frame(seed: int, rows: int = 2000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "amount": rng.gamma(2.0, 30.0, rows),
            "device_type": rng.choice(["ios", "android", "web"], rows, p=[0.5, 0.3, 0.2]),
            "account_age_days": rng.integers(1, 2000, rows),
        }
    )


def container(tmp_path: Path, records: list[dict[str, Any]], **overrides: str) -> dict[str, str]:
    """An /opt/ml tree as the platform stages it, and the environment Model Monitor gives the container."""
    root = tmp_path / "opt" / "ml"
    hour = root / "processing" / "endpointdata" / "ep" / "AllTraffic" / "2026" / "11" / "26" / "02"
    hour.mkdir(parents=True)
    (hour / "30-00-000-capture.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    baseline = root / "processing" / "baseline"
    write_baseline(frame(seed=1), COLUMNS, baseline)
    return {
        "dataset_format": json.dumps({"sagemakerCaptureJson": {"captureIndexNames": ["endpointInput"]}}),
        "dataset_source": str(root / "processing" / "endpointdata"),
        "output_path": str(root / "processing" / "resultdata"),
        "start_time": WINDOW[0],
        "end_time": WINDOW[1],
        "baseline_constraints": str(baseline / "constraints.json"),
        "baseline_statistics": str(baseline / "statistics.json"),
        "publish_cloudwatch_metrics": "Enabled",
        "sagemaker_endpoint_name": "ep",
        "sagemaker_monitoring_schedule_name": "ep-data-quality",
        **overrides,
    }


def outputs(tmp_path: Path) -> tuple[dict[str, Any], list[dict[str, Any]], str]:
    root = tmp_path / "opt" / "ml"
    violations = json.loads((root / "processing" / "resultdata" / "constraint_violations.json").read_text())
    metrics_dir = root / "output" / "metrics" / "cloudwatch"
    metrics = [json.loads(line) for path in metrics_dir.glob("*") for line in path.read_text().splitlines()]
    return violations, metrics, (root / "output" / "message").read_text()


def test_drifted_captures_give_violations_and_drift_metrics_under_model_monitors_names(tmp_path: Path) -> None:
    drifted = frame(seed=3, rows=400).assign(amount=lambda f: f["amount"] * 3)
    env = container(tmp_path, capture_of(drifted, inference_time=INSIDE))

    assert main(env) == 0

    violations, metrics, message = outputs(tmp_path)
    jsonschema.validate(violations, CONSTRAINT_VIOLATIONS_SCHEMA)
    assert [(v["feature_name"], v["constraint_check_type"]) for v in violations["violations"]] == [
        ("amount", "baseline_drift_check")
    ]
    for line in metrics:
        jsonschema.validate(line, BYOC_METRIC_SCHEMA)
    by_name = {line["MetricName"]: line for line in metrics}
    drift = by_name["feature_baseline_drift_amount"]
    assert drift["Value"] > 0.1 and by_name["feature_baseline_drift_device_type"]["Value"] < 0.1
    assert drift["Dimensions"] == [
        {"Name": "Endpoint", "Value": "ep"},
        {"Name": "MonitoringSchedule", "Value": "ep-data-quality"},
    ]
    assert drift["Timestamp"] == WINDOW[1]
    assert by_name["feature_non_null_amount"]["Value"] == 1.0
    assert by_name["feature_data_amount"]["StatisticValues"]["SampleCount"] == 400
    assert message.startswith("CompletedWithViolations: 1 violation(s) in 400 requests")
    statistics = json.loads((tmp_path / "opt/ml/processing/resultdata/statistics.json").read_text())
    assert statistics["dataset"]["item_count"] == 400


def test_requests_holding_more_columns_are_read_by_the_schedules_request_columns(tmp_path: Path) -> None:
    # The endpoint's input is every column but the target (id and timestamp too); the baseline covers the
    # model's inputs only, which the job picks out of a request by the schedule's `request_columns`.
    traffic = frame(seed=2, rows=400)
    traffic.insert(0, "tx_id", [f"tx-{n}" for n in range(len(traffic))])
    traffic.insert(2, "event_time", INSIDE)
    layout = ",".join(traffic.columns)
    env = container(tmp_path, capture_of(traffic, inference_time=INSIDE), request_columns=layout)

    assert main(env) == 0

    violations, _, message = outputs(tmp_path)
    assert violations["violations"] == [] and message.startswith("Completed:")


def test_training_like_traffic_completes_without_violations(tmp_path: Path) -> None:
    env = container(tmp_path, capture_of(frame(seed=2, rows=400), inference_time=INSIDE))

    assert main(env) == 0

    violations, metrics, message = outputs(tmp_path)
    assert violations == {"violations": []}
    assert message.startswith("Completed: Job completed successfully with no violations")
    assert max(line["Value"] for line in metrics if line["MetricName"].startswith("feature_baseline_drift_")) < 0.1


def test_only_the_windows_captures_count_and_metrics_follow_publish_cloudwatch_metrics(tmp_path: Path) -> None:
    # Drifted traffic after the window's end is staged (the platform may download more) but not judged.
    records = capture_of(frame(seed=2, rows=400), inference_time=INSIDE)
    records += capture_of(frame(seed=3, rows=400).assign(amount=lambda f: f["amount"] * 3), inference_time=OUTSIDE)
    env = container(tmp_path, records, publish_cloudwatch_metrics="Disabled")

    assert main(env) == 0

    violations, metrics, _ = outputs(tmp_path)
    assert violations == {"violations": []} and metrics == []


def test_a_window_without_captured_requests_fails_with_a_named_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = container(tmp_path, capture_of(frame(seed=2, rows=10), inference_time=OUTSIDE))

    assert main(env) == 1

    message = (tmp_path / "opt" / "ml" / "output" / "message").read_text()
    assert message.startswith("NoCapturedData: no captured CSV request between 2026-11-26T02:00:00Z and")
    assert capsys.readouterr().err.strip().splitlines()[-1] == message.strip()


def test_a_job_started_without_the_schedules_environment_names_the_missing_variable(tmp_path: Path) -> None:
    env = container(tmp_path, [])
    del env["baseline_statistics"]

    assert main(env) == 1

    message = (tmp_path / "opt" / "ml" / "output" / "message").read_text()
    assert message.startswith("MonitoringFailed: the environment has no baseline_statistics")


def test_a_window_of_a_few_requests_is_not_judged_for_drift(tmp_path: Path) -> None:
    # Three requests like the training data are as far from its distribution as drift is: a quiet hour must not
    # raise violations, nor publish the drift metrics the drift alarms (and through them a retrain) watch.
    env = container(tmp_path, capture_of(frame(seed=2, rows=3), inference_time=INSIDE))
    assert main(env) == 0
    violations, metrics, message = outputs(tmp_path)
    assert violations == {"violations": []}
    assert not [line for line in metrics if line["MetricName"].startswith("feature_baseline_drift_")]
    assert message.startswith("Completed: ") and "3 requests" in message and "fewer than 100" in message


def test_the_schedule_may_set_how_many_requests_a_drift_judgement_needs(tmp_path: Path) -> None:
    drifted = frame(seed=3, rows=40).assign(amount=lambda f: f["amount"] * 3)
    env = container(tmp_path, capture_of(drifted, inference_time=INSIDE), min_requests="20")
    assert main(env) == 0
    violations, metrics, message = outputs(tmp_path)
    assert violations["violations"] and message.startswith("CompletedWithViolations")
    assert [line for line in metrics if line["MetricName"] == "feature_baseline_drift_amount"]
