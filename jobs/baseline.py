"""The data-quality baseline of a model's training data, in SageMaker Model Monitor's file formats.

`statistics.json` and `constraints.json` as Model Monitor's data-quality baselining job writes them
(SageMaker developer guide, "Schema for Statistics (statistics.json file)" and "Schema for Constraints
(constraints.json file)"): one entry per feature the endpoint receives (the raw request columns), typed
`Integral`, `Fractional` or `String`; numbers with their common counts, mean, sum, standard deviation,
min, max and a bucketed distribution; strings with their distinct count and categorical distribution.
Constraints: each feature's type and completeness, non-negativity of numbers that were never negative,
and the domain of strings with few enough values to enumerate.

Not written: the KLL sketch Model Monitor keeps beside the buckets (`distribution.kll.sketch`): the
project's own monitor compares the buckets; a Model Monitor schedule on AWS should take its baseline
from Model Monitor's own baselining job (docs/monitoring.md).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

STATISTICS_FILE = "statistics.json"
CONSTRAINTS_FILE = "constraints.json"
BUCKETS = 10
MAX_DOMAIN = 100  # strings with more distinct values get no domain constraint (an id, free text)
MONITORING_CONFIG = {
    "evaluate_constraints": "Enabled",
    "emit_metrics": "Enabled",
    "datatype_check_threshold": 1.0,
    "domain_content_threshold": 1.0,
    "distribution_constraints": {
        "perform_comparison": "Enabled",
        "comparison_threshold": 0.1,
        "comparison_method": "Robust",
    },
}


def inferred_type(series: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(series):
        return "String"  # a CSV request carries true/false as text
    if pd.api.types.is_integer_dtype(series):
        return "Integral"
    if pd.api.types.is_float_dtype(series):
        return "Fractional"
    return "String"


def _finite(value: float) -> float:
    return float(value) if math.isfinite(value) else 0.0


def _numeric(series: pd.Series) -> tuple[dict[str, Any], dict[str, Any]]:
    present = pd.to_numeric(series, errors="coerce").dropna().astype(float)
    common = {"num_present": int(present.size), "num_missing": int(series.size - present.size)}
    if present.empty:
        return {"common": common}, {}
    low, high = float(present.min()), float(present.max())
    if high > low:
        # np.histogram's buckets (last one closed), as drift.py counts live values into them.
        counts, edges = np.histogram(present.to_numpy(), bins=BUCKETS, range=(low, high))
        buckets = [
            {"lower_bound": float(edges[index]), "upper_bound": float(edges[index + 1]), "count": int(count)}
            for index, count in enumerate(counts)
        ]
    else:
        buckets = [{"lower_bound": low, "upper_bound": high, "count": int(present.size)}]
    statistics = {
        "common": common,
        "mean": _finite(present.mean()),
        "sum": _finite(present.sum()),
        "std_dev": _finite(present.std(ddof=0)),
        "min": low,
        "max": high,
        "distribution": {"kll": {"buckets": buckets}},
    }
    return statistics, {"is_non_negative": low >= 0}


def _string(series: pd.Series) -> tuple[dict[str, Any], dict[str, Any]]:
    if pd.api.types.is_bool_dtype(series):
        # As a CSV request spells a flag (the demo stream's and JSON's `true`/`false`), not Python's `True`.
        series = series.map({True: "true", False: "false"})
    present = series.dropna().astype(str)
    common = {"num_present": int(present.size), "num_missing": int(series.size - present.size)}
    counts = present.value_counts()
    statistics = {
        "common": common,
        "distinct_count": float(counts.size),
        "distribution": {
            "categorical": {"buckets": [{"value": value, "count": int(count)} for value, count in counts.items()]}
        },
    }
    constraints = {"domains": sorted(counts.index.tolist())} if 0 < counts.size <= MAX_DOMAIN else {}
    return statistics, constraints


def data_quality_baseline(frame: pd.DataFrame, columns: Sequence[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(statistics, constraints) of `columns` of `frame`, in Model Monitor's formats."""
    features: list[dict[str, Any]] = []
    constraints: list[dict[str, Any]] = []
    for name in columns:
        series = frame[name]
        kind = inferred_type(series)
        if kind == "String":
            statistics, limits = _string(series)
            key, limits_key = "string_statistics", "string_constraints"
        else:
            statistics, limits = _numeric(series)
            key, limits_key = "numerical_statistics", "num_constraints"
        features.append({"name": name, "inferred_type": kind, key: statistics})
        common = statistics["common"]
        total = common["num_present"] + common["num_missing"]
        constraint: dict[str, Any] = {
            "name": name,
            "inferred_type": kind,
            "completeness": common["num_present"] / total if total else 0.0,
        }
        if limits:
            constraint[limits_key] = limits
        constraints.append(constraint)
    statistics_document = {"version": 0.0, "dataset": {"item_count": len(frame)}, "features": features}
    constraints_document = {"version": 0.0, "features": constraints, "monitoring_config": MONITORING_CONFIG}
    return statistics_document, constraints_document


def write_baseline(frame: pd.DataFrame, columns: Sequence[str], directory: Path) -> dict[str, str]:
    """Write both files into `directory`; return their names by kind."""
    statistics, constraints = data_quality_baseline(frame, columns)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / STATISTICS_FILE).write_text(json.dumps(statistics, indent=2, allow_nan=False) + "\n")
    (directory / CONSTRAINTS_FILE).write_text(json.dumps(constraints, indent=2, allow_nan=False) + "\n")
    return {"statistics": STATISTICS_FILE, "constraints": CONSTRAINTS_FILE}
