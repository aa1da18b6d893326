"""The data-quality monitoring job: Model Monitor's "bring your own container" contract on the scikit-learn image.

A monitoring schedule starts it as a processing job, on AWS and on the local SageMaker alike. What it reads is
what Model Monitor hands any container (SageMaker developer guide, "Container Contract Inputs",
https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-byoc-contract-inputs.html), as environment
variables: `dataset_format` (`sagemakerCaptureJson`), `dataset_source` (the EndpointInput's LocalPath, holding
`<endpoint>/<variant>/yyyy/mm/dd/hh/*.jsonl` capture files, possibly more than the window), `start_time` and
`end_time` (the window), `output_path` (the MonitoringOutput's LocalPath), `baseline_constraints` and
`baseline_statistics` (local paths of the BaselineConfig's files), `publish_cloudwatch_metrics`,
`sagemaker_endpoint_name` and `sagemaker_monitoring_schedule_name`; and from the schedule's own
`Environment`, `request_columns`: a request's CSV columns in order (the endpoint's input, of which the baseline
covers the model's inputs only; without it a request is read as the baseline's columns alone).

What it writes ("Container Contract Outputs", model-monitor-byoc-contract-outputs.html): `statistics.json` of
the window and `constraint_violations.json` ("Schema for Violations", model-monitor-interpreting-violations.html)
in `output_path`; with `publish_cloudwatch_metrics` `Enabled`, one metric a line in
`/opt/ml/output/metrics/cloudwatch/` ("CloudWatch Metrics for Bring Your Own Containers",
model-monitor-byoc-cloudwatch.html) with the built-in container's names ("CloudWatch Metrics",
model-monitor-interpreting-cloudwatch.html): `feature_baseline_drift_<feature>` (the drift distance),
`feature_non_null_<feature>` (the completeness) and, for numbers, `feature_data_<feature>` (count, sum, min,
max), dimensioned by `Endpoint` and `MonitoringSchedule`; the platform adds the namespace. `/opt/ml/output/message`
starts with `CompletedWithViolations` or `Completed`, as the BYOC samples (aws-samples) tell the platform.

With `quality_metric` in the schedule's Environment it also judges the live model quality: the window's
captured predictions joined with the labels landed for them (`live_quality.py`, `landed_labels.py`), written
to `model_quality.json` and, when judged, published as `model_quality_<metric>` (docs/monitoring.md). With
`quality_label_delay_windows` k it judges the window k windows before its own instead, whose capture it reads
from `quality_capture` itself (`captured_window.py`): labels that land late are judged too, each prediction once.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from baseline import data_quality_baseline
from captured_window import CaptureUriError, S3Capture
from drift import CaptureFormatError, captured_requests, check_drift
from failure_line import JobFailure, processing_message_file, run_job
from landed_labels import S3Labels
from live_quality import (
    LiveQuality,
    QualityInputError,
    captured_predictions,
    join_labels,
    judged_window,
    label_days,
    live_quality,
)

VIOLATIONS_FILE = "constraint_violations.json"
QUALITY_FILE = "model_quality.json"
QUALITY_METRIC_PREFIX = "model_quality_"  # retrain.quality_alarm's
STATISTICS_FILE = "statistics.json"
METRICS_FILE = "cloudwatch_metrics.jsonl"
CAPTURE_FORMAT = "sagemakerCaptureJson"
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
NUMERIC = ("Integral", "Fractional")
# A window of fewer requests is not judged for drift: a handful of requests drawn from the training distribution
# are as far from it as drifted traffic is (3 requests: a distance of 0.3 where drift starts at 0.1), so a quiet
# hour would raise violations and, through the drift alarms, start a retrain. The schedule's Environment may set
# another `min_requests`.
MIN_REQUESTS = 100


class MonitoringFailed(JobFailure):
    """The monitoring job cannot judge the window; the message says why and what to do."""


class NoCapturedData(JobFailure):
    """No captured request of the endpoint falls in the window."""


def _required(environ: Mapping[str, str], name: str) -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise MonitoringFailed(
            f"the environment has no {name}; start this job from a monitoring schedule (Model Monitor sets it)"
        )
    return value


def parse_time(text: str) -> dt.datetime:
    cleaned = text.replace(" ", "")  # the contract's own example writes "2019-12-01T16: 20: 00Z"
    try:
        return dt.datetime.strptime(cleaned, TIME_FORMAT).replace(tzinfo=dt.timezone.utc)
    except ValueError:
        raise MonitoringFailed(f"the time {text!r} is not of the form 2019-12-01T16:20:00Z") from None


def capture_records(source: Path, start: dt.datetime, end: dt.datetime) -> Iterator[dict[str, Any]]:
    """The capture records under `source` whose inference time is in [start, end): the platform may stage
    more hours than the window."""
    for path in sorted(source.rglob("*.jsonl")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                raise MonitoringFailed(f"{path.name} line {number} is not JSON; it is not a capture file") from None
            stamp = record.get("eventMetadata", {}).get("inferenceTime")
            if stamp is None or start <= parse_time(stamp) < end:
                yield record


def typed_requests(requests: pd.DataFrame, statistics: Mapping[str, Any]) -> pd.DataFrame:
    """The captured text as the baseline typed it: numbers for its numeric features."""
    typed = requests.copy()
    for feature in statistics.get("features", []):
        if feature["name"] in typed.columns and feature["inferred_type"] in NUMERIC:
            typed[feature["name"]] = pd.to_numeric(typed[feature["name"]], errors="coerce")
    return typed


def positive(environ: Mapping[str, str], name: str, default: int = MIN_REQUESTS) -> int:
    text = environ.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit() or int(text) < 1:
        raise MonitoringFailed(
            f"{name} {text!r} is not a positive whole number; set the schedule's Environment {name} to one "
            f"(default {default})"
        )
    return int(text)


def min_requests(environ: Mapping[str, str]) -> int:
    return positive(environ, "min_requests")


LabelReader = Callable[[Sequence[str]], pd.DataFrame]
CaptureReader = Callable[[dt.datetime, dt.datetime, Path], None]  # stages a window's capture files into a folder


def quality_reader(environ: Mapping[str, str]) -> LabelReader:
    """The landed labels the schedule's Environment points at (`quality_labels`, the landing prefix)."""
    return S3Labels(
        _required(environ, "quality_labels"),
        environ.get("quality_input_format", "csv"),
        _required(environ, "id_column"),
        _required(environ, "target_column"),
        environ.get("positive_label") or None,
    )


def label_delay_windows(environ: Mapping[str, str]) -> int:
    text = environ.get("quality_label_delay_windows", "").strip() or "0"
    if not text.isdigit():
        raise MonitoringFailed(
            f"quality_label_delay_windows {text!r} is not a whole number of windows; set [monitoring] label_delay "
            "and deploy again (the pipeline plans it)"
        )
    return int(text)


def delayed_records(
    environ: Mapping[str, str], start: dt.datetime, end: dt.datetime, capture: CaptureReader | None
) -> list[dict[str, Any]]:
    """The capture records of the judged window [start, end), read from S3 (the platform staged another)."""
    try:
        reader = capture or S3Capture(_required(environ, "quality_capture"))
    except CaptureUriError as error:
        raise MonitoringFailed(str(error)) from None
    with tempfile.TemporaryDirectory() as work:
        reader(start, end, Path(work))
        return list(capture_records(Path(work), start, end))


def judge_quality(
    environ: Mapping[str, str],
    records: list[dict[str, Any]],
    layout: Sequence[str],
    labels: LabelReader | None,
    window: tuple[dt.datetime, dt.datetime] | None = None,
    capture: CaptureReader | None = None,
) -> LiveQuality | None:
    """The live promotion metric of the window's predictions that have landed labels; None when the schedule's
    Environment names no `quality_metric` (live quality off). `window`: the judged window when it is not the
    run's own (a label delay), whose capture records are read rather than `records`."""
    metric = environ.get("quality_metric", "").strip()
    if not metric:
        return None
    try:
        minimum = positive(environ, "quality_min_labels")
        if window is not None:
            try:
                records = delayed_records(environ, *window, capture)
            except MonitoringFailed:
                raise
            except Exception as error:  # S3 (botocore) errors: the drift judgement of the window must not be lost
                note = f"the capture of the judged window could not be read ({type(error).__name__}: {error})"
                return LiveQuality(metric, None, 0, 0, minimum, note + "; no quality judged")
        predictions = captured_predictions(
            records, layout, _required(environ, "id_column"), environ.get("timestamp_column", "")
        )
        reader = labels or quality_reader(environ)
        try:
            landed = reader(label_days(predictions)) if not predictions.empty else pd.DataFrame(columns=["id", "label"])
        except (QualityInputError, MonitoringFailed):
            raise
        except Exception as error:  # S3 (botocore) errors: the drift judgement of the window must not be lost
            note = f"the landed labels could not be read ({type(error).__name__}: {error}); no quality judged"
            return LiveQuality(metric, None, 0, len(predictions), minimum, note)
        return live_quality(predictions, join_labels(predictions, landed), metric, minimum)
    except QualityInputError as error:
        raise MonitoringFailed(str(error)) from None


def quality_metric_line(quality: LiveQuality, dimensions: list[dict[str, str]], stamp: str) -> dict[str, Any]:
    """The live value as a statistic set whose SampleCount is the number of labelled predictions behind it,
    which the quality alarm's StateReasonData carries to the run's reason."""
    value, count = float(quality.value or 0.0), float(quality.labelled)
    return {
        "MetricName": QUALITY_METRIC_PREFIX + quality.metric,
        "Timestamp": stamp,
        "Dimensions": dimensions,
        "StatisticValues": {"SampleCount": count, "Sum": value * count, "Minimum": value, "Maximum": value},
    }


def metric_lines(
    window: pd.DataFrame,
    statistics: Mapping[str, Any],
    distances: Mapping[str, float],
    dimensions: list[dict[str, str]],
    stamp: str,
) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []

    def metric(name: str, **value: Any) -> None:
        lines.append({"MetricName": name, "Timestamp": stamp, "Dimensions": dimensions, **value})

    for feature in statistics.get("features", []):
        name = feature["name"]
        if name not in window.columns:
            continue
        column = window[name]
        metric(f"feature_non_null_{name}", Value=float(column.notna().mean()) if column.size else 0.0)
        if name in distances:
            metric(f"feature_baseline_drift_{name}", Value=float(distances[name]))
        numbers = pd.to_numeric(column, errors="coerce").dropna() if feature["inferred_type"] in NUMERIC else None
        if numbers is not None and not numbers.empty:
            metric(
                f"feature_data_{name}",
                StatisticValues={
                    "SampleCount": float(numbers.size),
                    "Sum": float(numbers.sum()),
                    "Minimum": float(numbers.min()),
                    "Maximum": float(numbers.max()),
                },
            )
    return lines


def monitor(
    environ: Mapping[str, str], labels: LabelReader | None = None, capture: CaptureReader | None = None
) -> dict[str, Any]:
    """One monitoring execution: the window's requests against the baseline; returns the violations."""
    dataset_format = environ.get("dataset_format", "")
    if dataset_format and CAPTURE_FORMAT not in dataset_format:
        raise MonitoringFailed(
            f"dataset_format {dataset_format} is not {CAPTURE_FORMAT}; monitor an endpoint's captured data"
        )
    source = Path(_required(environ, "dataset_source"))
    output = Path(_required(environ, "output_path"))
    start, end = parse_time(_required(environ, "start_time")), parse_time(_required(environ, "end_time"))
    try:
        statistics = json.loads(Path(_required(environ, "baseline_statistics")).read_text(encoding="utf-8"))
        constraints = json.loads(Path(_required(environ, "baseline_constraints")).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise MonitoringFailed(f"the baseline is unreadable ({error}); give the model's baseline files") from None
    columns = [feature["name"] for feature in statistics.get("features", [])]
    layout = [name.strip() for name in environ.get("request_columns", "").split(",") if name.strip()] or columns
    try:
        records = list(capture_records(source, start, end))
        requests = captured_requests(records, layout)
    except CaptureFormatError as error:
        raise MonitoringFailed(str(error)) from None
    requests = requests[[name for name in columns if name in requests.columns]]  # missing: missing_column_check
    if requests.empty:
        raise NoCapturedData(
            f"no captured CSV request between {start:%Y-%m-%dT%H:%M:%SZ} and {end:%Y-%m-%dT%H:%M:%SZ} in "
            f"{source}; the endpoint had no traffic then (or captures none)"
        )
    needed = min_requests(environ)
    judged = len(requests) >= needed
    violations, distances = check_drift(requests, statistics, constraints) if judged else ([], {})
    typed = typed_requests(requests, statistics)
    window_statistics, _ = data_quality_baseline(typed, list(typed.columns))
    output.mkdir(parents=True, exist_ok=True)
    (output / STATISTICS_FILE).write_text(json.dumps(window_statistics, indent=2, allow_nan=False) + "\n")
    (output / VIOLATIONS_FILE).write_text(json.dumps({"violations": violations}, indent=2) + "\n")
    delay = label_delay_windows(environ)
    try:
        judged_start, judged_end = judged_window(start, end, delay)
    except QualityInputError as error:
        raise MonitoringFailed(str(error)) from None
    delayed = (judged_start, judged_end) if delay else None
    quality = judge_quality(environ, records, layout, labels, delayed, capture)
    if quality is not None:
        # The judged predictions' window; its metric is stamped with the run's end, the period the alarm judges.
        window = {"start": judged_start.strftime(TIME_FORMAT), "end": judged_end.strftime(TIME_FORMAT)}
        document = {"window": window, **quality.as_dict()}
        (output / QUALITY_FILE).write_text(json.dumps(document, indent=2, allow_nan=False) + "\n")

    emit = constraints.get("monitoring_config", {}).get("emit_metrics", "Enabled") != "Disabled"
    container_output = processing_message_file(str(output)).parent
    if environ.get("publish_cloudwatch_metrics") == "Enabled" and emit:
        dimensions = [
            {"Name": "Endpoint", "Value": _required(environ, "sagemaker_endpoint_name")},
            {"Name": "MonitoringSchedule", "Value": _required(environ, "sagemaker_monitoring_schedule_name")},
        ]
        lines = metric_lines(typed, statistics, distances, dimensions, end.strftime(TIME_FORMAT))
        if quality is not None and quality.judged:
            lines.append(quality_metric_line(quality, dimensions, end.strftime(TIME_FORMAT)))
        metrics = container_output / "metrics" / "cloudwatch"
        metrics.mkdir(parents=True, exist_ok=True)
        (metrics / METRICS_FILE).write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")

    if violations:
        first = violations[0]
        message = (
            f"CompletedWithViolations: {len(violations)} violation(s) in {len(requests)} requests; "
            f"{first['feature_name']}: {first['description']}"
        )
    elif judged:
        message = f"Completed: Job completed successfully with no violations ({len(requests)} requests)."
    else:
        message = (
            f"Completed: Job completed successfully; {len(requests)} requests, fewer than {needed} needed to judge "
            "drift: no drift checked, no drift metric published."
        )
    if quality is not None:
        message += (
            f" Live {quality.metric} {quality.value:.4f} over {quality.labelled} labelled predictions."
            if quality.value is not None
            else f" Live quality not judged: {quality.note}."
        )
    container_output.mkdir(parents=True, exist_ok=True)
    (container_output / "message").write_text(message, encoding="utf-8")
    print(message, flush=True)
    return {
        "violations": violations,
        "distances": distances,
        "requests": len(requests),
        "quality": None if quality is None else quality.as_dict(),
    }


def main(environ: Mapping[str, str] | None = None) -> int:
    env = os.environ if environ is None else environ
    return run_job(
        lambda: monitor(env),
        unexpected=MonitoringFailed,
        failure_file=lambda: processing_message_file(env.get("output_path")),
    )


if __name__ == "__main__":
    sys.exit(main())
