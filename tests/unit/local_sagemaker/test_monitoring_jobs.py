"""A monitoring execution's pieces: which captured hours a window stages, what the execution's status is
after its processing job, and which metrics files the platform accepts (model-monitor-byoc-cloudwatch)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from local.sagemaker.monitoring_jobs import capture_hours, execution_outcome, metric_data
from tests.unit.local_sagemaker.test_cadence import at


class FakeStaging:
    def __init__(self, keys: list[str]) -> None:
        self.keys = keys

    def keys_under(self, location: Any) -> list[str]:
        return [key for key in self.keys if key.startswith(location.key)]


def test_a_window_stages_the_captured_hours_it_overlaps_of_every_variant() -> None:
    keys = [
        f"capture/ep/{variant}/2026/11/26/{hour}/00-00-000-x.jsonl"
        for variant in ("AllTraffic", "Canary")
        for hour in ("03", "04", "05")
    ] + ["capture/ep-other/AllTraffic/2026/11/26/04/00-00-000-x.jsonl"]
    staging = FakeStaging(keys)

    hours = capture_hours(staging, "s3://bucket/capture", "ep", at("2026-11-26 04:30:00"), at("2026-11-26 05:00:00"))

    assert hours == ["ep/AllTraffic/2026/11/26/04", "ep/Canary/2026/11/26/04"]


@pytest.mark.parametrize(
    ("status", "fields", "outcome"),
    [
        ("Completed", {"ExitMessage": "CompletedWithViolations: 1 violation(s)"}, ("CompletedWithViolations", None)),
        ("Completed", {"ExitMessage": "Completed: no violations"}, ("Completed", None)),
        ("Completed", {}, ("Completed", None)),
        (
            "Failed",
            {"FailureReason": "AlgorithmError: See job logs for more information", "ExitMessage": "NoCapturedData: x"},
            ("Failed", "NoCapturedData: x"),
        ),
        ("Failed", {"FailureReason": "ClientError: not built"}, ("Failed", "ClientError: not built")),
        ("Stopped", {}, ("Stopped", None)),
    ],
)
def test_the_execution_status_follows_the_job_and_its_message(
    status: str, fields: dict[str, str], outcome: tuple[str, str | None]
) -> None:
    assert execution_outcome(status, fields) == outcome


def test_metrics_files_are_read_a_metric_a_line_and_a_line_with_value_and_statistics_is_refused(
    tmp_path: Path,
) -> None:
    line = {"MetricName": "feature_baseline_drift_amount", "Timestamp": "2026-11-26T05:00:00Z", "Value": 0.3}
    (tmp_path / "cloudwatch_metrics.jsonl").write_text(json.dumps(line) + "\n\n")
    assert metric_data(tmp_path) == [line]
    assert metric_data(tmp_path / "absent") == []

    both = {**line, "StatisticValues": {"SampleCount": 1, "Sum": 1, "Minimum": 1, "Maximum": 1}}
    (tmp_path / "more.jsonl").write_text(json.dumps(both) + "\n")
    with pytest.raises(ValueError, match=r"more\.jsonl line 1 needs either Value or StatisticValues"):
        metric_data(tmp_path)
