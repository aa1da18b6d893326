"""drift.py: captured traffic against a model's baseline, with Model Monitor's checks and violation format
(SageMaker developer guide, "Schema for Violations (constraint_violations.json file)")."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from baseline import data_quality_baseline
from drift import CaptureFormatError, captured_requests, check_drift

from tests.support.capture_format import CAPTURE_RECORD_SCHEMA, capture_of

COLUMNS = ["amount", "device_type", "account_age_days"]
ROWS = 2000


def training_frame(seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "amount": rng.gamma(2.0, 30.0, ROWS),
            "device_type": rng.choice(["ios", "android", "web"], ROWS, p=[0.5, 0.3, 0.2]),
            "account_age_days": rng.integers(1, 2000, ROWS),
        }
    )


@pytest.fixture(scope="module")
def baseline() -> tuple[dict[str, Any], dict[str, Any]]:
    return data_quality_baseline(training_frame(), COLUMNS)


def test_traffic_like_the_training_data_raises_no_violation(baseline: tuple[dict[str, Any], dict[str, Any]]) -> None:
    requests = captured_requests(capture_of(training_frame(seed=2).head(500)), COLUMNS)
    violations, distances = check_drift(requests, *baseline)
    assert violations == []
    assert set(distances) == set(COLUMNS) and max(distances.values()) < 0.1


def test_a_shifted_feature_is_named_and_only_it(baseline: tuple[dict[str, Any], dict[str, Any]]) -> None:
    drifted = training_frame(seed=3).head(500).assign(amount=lambda f: f["amount"] * 3)
    violations, distances = check_drift(captured_requests(capture_of(drifted), COLUMNS), *baseline)
    assert [(v["feature_name"], v["constraint_check_type"]) for v in violations] == [("amount", "baseline_drift_check")]
    assert violations[0]["description"].startswith(f"Baseline drift distance: {distances['amount']:.4f}")


def test_a_new_category_and_missing_values_are_violations(baseline: tuple[dict[str, Any], dict[str, Any]]) -> None:
    frame = training_frame(seed=4).head(400)
    frame.loc[:99, "device_type"] = "smart-tv"
    frame["account_age_days"] = frame["account_age_days"].astype(object)
    frame.loc[:49, "account_age_days"] = None
    violations, _ = check_drift(captured_requests(capture_of(frame, base64_encoded=True), COLUMNS), *baseline)
    checks = {(v["feature_name"], v["constraint_check_type"]) for v in violations}
    assert ("device_type", "categorical_values_check") in checks
    assert ("device_type", "baseline_drift_check") in checks
    assert ("account_age_days", "completeness_check") in checks
    assert not any(name == "amount" for name, _ in checks)


def test_text_in_a_number_column_is_a_data_type_violation(baseline: tuple[dict[str, Any], dict[str, Any]]) -> None:
    frame = training_frame(seed=5).head(100).astype(object)
    frame.loc[:9, "amount"] = "n/a"
    violations, _ = check_drift(captured_requests(capture_of(frame), COLUMNS), *baseline)
    assert ("amount", "data_type_check") in {(v["feature_name"], v["constraint_check_type"]) for v in violations}


def test_a_feature_the_requests_lack_is_a_missing_column(baseline: tuple[dict[str, Any], dict[str, Any]]) -> None:
    requests = captured_requests(capture_of(training_frame().head(1000)[COLUMNS[:2]]), COLUMNS[:2])
    violations, _ = check_drift(requests, *baseline)
    assert [(v["feature_name"], v["constraint_check_type"]) for v in violations] == [
        ("account_age_days", "missing_column_check")
    ]


def test_records_are_in_the_capture_format_and_only_csv_requests_count() -> None:
    records = capture_of(training_frame().head(3))
    assert set(records[0]) == set(CAPTURE_RECORD_SCHEMA["required"])
    json_request = {
        "captureData": {
            "endpointInput": {
                "observedContentType": "application/json",
                "mode": "INPUT",
                "data": "{}",
                "encoding": "JSON",
            }
        }
    }
    assert len(captured_requests([*records, json_request], COLUMNS)) == 3
    with pytest.raises(CaptureFormatError, match="no endpointInput"):
        captured_requests([{"captureData": {}}], COLUMNS)
