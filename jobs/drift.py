"""Data drift of an endpoint's captured traffic against its model's baseline, as Model Monitor judges it.

Input: the capture files' records (`local/sagemaker/capture.py` and SageMaker write the same JSON lines)
and the model's `statistics.json` / `constraints.json` (`baseline.py`). Output: the checks Model Monitor's
data-quality job makes (SageMaker developer guide, "Schema for Violations (constraint_violations.json
file)"), each violation as `{"feature_name", "constraint_check_type", "description"}`:

* `missing_column_check`: a baseline feature the requests no longer carry;
* `data_type_check`: values of a numeric feature that do not parse as numbers, beyond
  `datatype_check_threshold`;
* `completeness_check`: a feature present less often than the baseline's completeness allows;
* `categorical_values_check`: values outside a string feature's domain, beyond `domain_content_threshold`;
* `baseline_drift_check`: the distance between the live and the baseline distribution above
  `distribution_constraints.comparison_threshold`. The distance is the largest gap between the two
  cumulative distributions (L-infinity, what Model Monitor's "Robust" comparison uses), over the
  baseline's buckets for numbers and over the categories for strings.

It also gives each feature's distance, which the monitor publishes as `feature_baseline_drift_<name>`.
"""

from __future__ import annotations

import base64
import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

CSV_TYPES = ("text/csv",)


class CaptureFormatError(ValueError):
    """A capture record that is not in SageMaker's format or not a CSV request of the pipeline."""


def captured_requests(records: Iterable[dict[str, Any]], columns: Sequence[str]) -> pd.DataFrame:
    """The request rows of the captured CSV invocations, as text, one column per request column."""
    rows: list[list[str]] = []
    for record in records:
        captured = record.get("captureData", {}).get("endpointInput")
        if captured is None:
            raise CaptureFormatError("a capture record has no endpointInput; capture the requests (CaptureMode Input)")
        content_type = str(captured.get("observedContentType", "")).split(";", 1)[0].strip().lower()
        if content_type not in CSV_TYPES:
            continue  # another kind of request: not what the baseline describes
        data = str(captured.get("data", ""))
        if captured.get("encoding") == "BASE64":
            data = base64.b64decode(data).decode("utf-8")
        for row in csv.reader(io.StringIO(data)):
            if row:
                rows.append(row)
    width = len(columns)
    padded = [(row + [""] * width)[:width] for row in rows]
    frame = pd.DataFrame(padded, columns=list(columns), dtype=object)
    return frame.replace("", np.nan)


def _cdf_gap(live: np.ndarray, baseline: np.ndarray) -> float:
    if live.sum() == 0 or baseline.sum() == 0:
        return 0.0
    return float(np.max(np.abs(np.cumsum(live / live.sum()) - np.cumsum(baseline / baseline.sum()))))


def numeric_distance(values: pd.Series, statistics: dict[str, Any]) -> float:
    buckets = statistics.get("distribution", {}).get("kll", {}).get("buckets", [])
    if not buckets or values.empty:
        return 0.0
    edges = [bucket["lower_bound"] for bucket in buckets] + [buckets[-1]["upper_bound"]]
    baseline = np.array([bucket["count"] for bucket in buckets], dtype=float)
    # Values outside the baseline's range count in the outermost buckets: drift past the edges shows.
    clipped = np.clip(values.to_numpy(dtype=float), edges[0], edges[-1])
    if edges[-1] > edges[0]:
        live, _ = np.histogram(clipped, bins=edges)
    else:
        live = np.array([clipped.size], dtype=float)
    return _cdf_gap(live.astype(float), baseline)


def categorical_distance(values: pd.Series, statistics: dict[str, Any]) -> float:
    buckets = statistics.get("distribution", {}).get("categorical", {}).get("buckets", [])
    if not buckets or values.empty:
        return 0.0
    counts = values.value_counts()
    categories = sorted({str(bucket["value"]) for bucket in buckets} | set(counts.index.astype(str)))
    baseline_counts = {str(bucket["value"]): bucket["count"] for bucket in buckets}
    baseline = np.array([baseline_counts.get(category, 0) for category in categories], dtype=float)
    live = np.array([counts.get(category, 0) for category in categories], dtype=float)
    # Per-category gap (the CDF of an unordered variable would depend on the order chosen).
    return float(np.max(np.abs(live / live.sum() - baseline / baseline.sum())))


def _violation(feature: str, check: str, description: str) -> dict[str, str]:
    return {"feature_name": feature, "constraint_check_type": check, "description": description}


def check_drift(
    requests: pd.DataFrame, statistics: dict[str, Any], constraints: dict[str, Any]
) -> tuple[list[dict[str, str]], dict[str, float]]:
    """(violations, drift distance per feature) of the captured `requests` against the baseline."""
    config = constraints.get("monitoring_config", {})
    threshold = float(config.get("distribution_constraints", {}).get("comparison_threshold", 0.1))
    type_threshold = float(config.get("datatype_check_threshold", 1.0))
    domain_threshold = float(config.get("domain_content_threshold", 1.0))
    limits = {feature["name"]: feature for feature in constraints.get("features", [])}
    violations: list[dict[str, str]] = []
    distances: dict[str, float] = {}
    for feature in statistics.get("features", []):
        name, kind = feature["name"], feature["inferred_type"]
        if name not in requests.columns:
            violations.append(_violation(name, "missing_column_check", f"The requests have no column {name}"))
            continue
        column, constraint = requests[name], limits.get(name, {})
        present = column.dropna()
        completeness = present.size / column.size if column.size else 1.0
        if completeness < float(constraint.get("completeness", 0.0)) - 1e-9:
            violations.append(
                _violation(
                    name,
                    "completeness_check",
                    f"Data completeness {completeness:.4f} is below the baseline's {constraint['completeness']:.4f}",
                )
            )
        if kind in ("Integral", "Fractional"):
            numbers = pd.to_numeric(present, errors="coerce")
            typed = numbers.notna().mean() if present.size else 1.0
            if typed < type_threshold:
                violations.append(
                    _violation(name, "data_type_check", f"{1 - typed:.4f} of the values are not {kind} numbers")
                )
            distances[name] = numeric_distance(numbers.dropna(), feature.get("numerical_statistics", {}))
        else:
            domain = constraint.get("string_constraints", {}).get("domains")
            if domain and present.size:
                inside = present.astype(str).isin(set(domain)).mean()
                if inside < domain_threshold:
                    violations.append(
                        _violation(
                            name,
                            "categorical_values_check",
                            f"{1 - inside:.4f} of the values are outside the baseline's domain",
                        )
                    )
            distances[name] = categorical_distance(present.astype(str), feature.get("string_statistics", {}))
        if distances[name] > threshold:
            violations.append(
                _violation(
                    name,
                    "baseline_drift_check",
                    f"Baseline drift distance: {distances[name]:.4f} exceeds threshold: {threshold}",
                )
            )
    return violations, distances
