"""Model Monitor's output formats, as JSON Schemas.

`constraint_violations.json`: SageMaker developer guide, "Schema for Violations (constraint_violations.json
file)" (model-monitor-interpreting-violations): `violations`, each with `feature_name`, one of the six
`constraint_check_type`s and a `description`.

A line of a metrics file under `/opt/ml/output/metrics/cloudwatch`: "CloudWatch Metrics for Bring Your Own
Containers" (model-monitor-byoc-cloudwatch): `MetricName` and `Timestamp` required, `Dimensions`, either
`Value` or `StatisticValues` (`SampleCount`, `Sum`, `Minimum`, `Maximum`) and not both, an optional `Unit`.
"""

from __future__ import annotations

from typing import Any

CHECK_TYPES = [
    "data_type_check",
    "completeness_check",
    "baseline_drift_check",
    "missing_column_check",
    "extra_column_check",
    "categorical_values_check",
]
CONSTRAINT_VIOLATIONS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["violations"],
    "additionalProperties": False,
    "properties": {
        "violations": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["feature_name", "constraint_check_type", "description"],
                "additionalProperties": False,
                "properties": {
                    "feature_name": {"type": "string", "minLength": 1},
                    "constraint_check_type": {"enum": CHECK_TYPES},
                    "description": {"type": "string"},
                },
            },
        }
    },
}
_NUMBER = {"type": "number"}
BYOC_METRIC_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["MetricName", "Timestamp"],
    "additionalProperties": False,
    "properties": {
        "MetricName": {"type": "string", "minLength": 1, "maxLength": 255},
        "Timestamp": {"type": "string", "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"},
        "Dimensions": {
            "type": "array",
            "maxItems": 30,
            "items": {
                "type": "object",
                "required": ["Name", "Value"],
                "additionalProperties": False,
                "properties": {"Name": {"type": "string"}, "Value": {"type": "string"}},
            },
        },
        "Value": _NUMBER,
        "StatisticValues": {
            "type": "object",
            "required": ["SampleCount", "Sum", "Minimum", "Maximum"],
            "additionalProperties": False,
            "properties": {"SampleCount": _NUMBER, "Sum": _NUMBER, "Minimum": _NUMBER, "Maximum": _NUMBER},
        },
        "Unit": {"type": "string"},
    },
    "oneOf": [{"required": ["Value"]}, {"required": ["StatisticValues"]}],
}

# `model_quality.json`, the project's own file beside the violations (jobs/monitor.py): the live value of the
# promotion metric over the window's labelled predictions, null when not judged (fewer than the minimum, or one
# class only), with why in `note`.
MODEL_QUALITY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": [
        "window",
        "metric",
        "value",
        "labelled_predictions",
        "predictions",
        "min_labelled_predictions",
        "judged",
        "note",
    ],
    "additionalProperties": False,
    "properties": {
        "window": {
            "type": "object",
            "required": ["start", "end"],
            "additionalProperties": False,
            "properties": {
                "start": {"type": "string", "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"},
                "end": {"type": "string", "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"},
            },
        },
        "metric": {"type": "string", "minLength": 1},
        "value": {"type": ["number", "null"]},
        "labelled_predictions": {"type": "integer", "minimum": 0},
        "predictions": {"type": "integer", "minimum": 0},
        "min_labelled_predictions": {"type": "integer", "minimum": 1},
        "judged": {"type": "boolean"},
        "note": {"type": "string"},
    },
}
