"""Live model quality: the endpoint's captured predictions joined with the labels that landed for them.

Input: the capture records of the monitoring window (SageMaker's JSON lines: `endpointInput` a CSV request of
the pipeline's request columns, `endpointOutput` the model's answer, `inference.py`'s JSON
`{"predictions": [{"score", "label"}, ...]}` or its `score,label` CSV lines, one per request row) and the
landed rows' id and target. Each request row is joined to its answer by position and to its label by the
dataset's id column (a request without that column: its `eventMetadata.inferenceId`, for a one-row request).
Output: the promotion metric over the labelled predictions (`scoring.py`, the metrics a model is promoted
on), judged only from `min_labels` on: a few labels prove nothing either way.

Each window's predictions are judged once: by the run whose window they were made in, with the labels that
landed by then, or with a label delay of k windows by the run k windows later, with the labels landed since
(`judged_window`; docs/monitoring.md, "Live model quality").
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from scoring import BinaryClassificationMetrics

ID, SCORE, TIMESTAMP, LABEL = "id", "score", "timestamp", "label"
_TRUE = ("1", "1.0", "true", "t", "yes")
_FALSE = ("0", "0.0", "false", "f", "no")


class QualityInputError(ValueError):
    """Captured answers or landed labels that cannot be read as the pipeline writes them."""


def _decoded(captured: dict[str, Any]) -> str:
    data = str(captured.get("data", ""))
    return base64.b64decode(data).decode("utf-8") if captured.get("encoding") == "BASE64" else data


def _scores(output: dict[str, Any]) -> list[float]:
    """The scores of a captured answer, in the request's row order."""
    content_type = str(output.get("observedContentType", "")).split(";", 1)[0].strip().lower()
    text = _decoded(output)
    try:
        if content_type == "text/csv":
            return [float(row[0]) for row in csv.reader(io.StringIO(text)) if row]
        answer = json.loads(text)
        predictions = answer.get("predictions") if isinstance(answer, dict) else answer
        return [float(item["score"]) for item in predictions]
    except (ValueError, TypeError, KeyError, IndexError):
        raise QualityInputError(
            f"a captured answer ({content_type or 'no content type'}) is not the model's predictions "
            '({"predictions": [{"score": ...}]} or score,label lines); capture the output (CaptureMode Output)'
        ) from None


def captured_predictions(
    records: Iterable[dict[str, Any]], request_columns: Sequence[str], id_column: str, timestamp_column: str
) -> pd.DataFrame:
    """One row per answered request row: its id, score and (when the request carries it) timestamp; an id
    predicted more than once in the window keeps its newest answer."""
    columns = list(request_columns)
    id_at = columns.index(id_column) if id_column in columns else None
    time_at = columns.index(timestamp_column) if timestamp_column in columns else None
    rows: list[tuple[str, float, str | None]] = []
    for record in records:
        capture = record.get("captureData", {})
        request, output = capture.get("endpointInput"), capture.get("endpointOutput")
        if request is None or output is None:
            continue  # no answer captured: nothing to judge
        if str(request.get("observedContentType", "")).split(";", 1)[0].strip().lower() != "text/csv":
            continue
        lines = [row for row in csv.reader(io.StringIO(_decoded(request))) if row]
        scores = _scores(output)
        if len(scores) != len(lines):
            continue  # a refused request's error body: no prediction
        inference_id = (record.get("eventMetadata") or {}).get("inferenceId")
        for row, score in zip(lines, scores, strict=True):
            if id_at is not None and id_at < len(row):
                key = row[id_at]
            elif len(lines) == 1 and inference_id:
                key = str(inference_id)
            else:
                continue
            stamp = row[time_at] if time_at is not None and time_at < len(row) else None
            rows.append((key.strip(), score, stamp))
    frame = pd.DataFrame(rows, columns=[ID, SCORE, TIMESTAMP])
    return frame[frame[ID] != ""].drop_duplicates(ID, keep="last").reset_index(drop=True)


def judged_window(start: dt.datetime, end: dt.datetime, delay_windows: int) -> tuple[dt.datetime, dt.datetime]:
    """The window whose predictions the run of [start, end) judges: `delay_windows` of its own length before it
    (Model Monitor's model-quality StartTimeOffset = EndTimeOffset). The schedule's runs have windows of one
    length that tile time, so the delayed windows tile it too: each prediction is judged by one run."""
    if delay_windows < 0:
        raise QualityInputError(f"a label delay of {delay_windows} windows is negative; use 0 or more")
    if delay_windows and end <= start:
        raise QualityInputError(f"the window {start:%Y-%m-%dT%H:%M:%SZ} to {end:%Y-%m-%dT%H:%M:%SZ} is empty")
    shift = (end - start) * delay_windows
    return start - shift, end - shift


def label_days(predictions: pd.DataFrame) -> list[str]:
    """The landing partitions (`YYYY-MM-DD`, the day of each row's timestamp) that hold the predictions' labels."""
    stamps = pd.to_datetime(predictions[TIMESTAMP], errors="coerce", utc=True).dropna()
    return sorted({stamp.strftime("%Y-%m-%d") for stamp in stamps})


def _text(value: Any) -> str:
    """A landed cell as stripped text; '' for a missing one (None, NaN)."""
    return "" if value is None or value != value else str(value).strip()


def binary_labels(values: pd.Series, positive_label: str | None) -> pd.Series:
    """The landed target as 1 (positive class) or 0; NaN where it is missing or unreadable (not labelled yet).
    Plain Python per cell: the image's pandas 1.1.3 has no NA-safe casts of its nullable dtypes."""

    def label(value: Any) -> float:
        text = _text(value)
        if not text:
            return np.nan
        if positive_label is not None:
            return float(text == positive_label)
        lowered = text.lower()
        return 1.0 if lowered in _TRUE else 0.0 if lowered in _FALSE else np.nan

    return pd.Series([label(value) for value in values], index=values.index, dtype=float)


def landed_ids(values: pd.Series) -> pd.Series:
    return pd.Series([_text(value) for value in values], index=values.index, dtype=object)


def join_labels(predictions: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """The predictions whose id has a label (`labels`: columns id and label, 0/1 or NaN; the last label of an
    id wins, as a corrected label would land after the first)."""
    known = labels.dropna(subset=[LABEL]).astype({ID: str}).drop_duplicates(ID, keep="last")
    return predictions.astype({ID: str}).merge(known[[ID, LABEL]], on=ID, how="inner")


@dataclass(frozen=True)
class LiveQuality:
    metric: str
    value: float | None  # None: not judged
    labelled: int
    predictions: int
    min_labels: int
    note: str

    @property
    def judged(self) -> bool:
        return self.value is not None

    def as_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "value": self.value,
            "labelled_predictions": self.labelled,
            "predictions": self.predictions,
            "min_labelled_predictions": self.min_labels,
            "judged": self.judged,
            "note": self.note,
        }


def live_quality(predictions: pd.DataFrame, joined: pd.DataFrame, metric: str, min_labels: int) -> LiveQuality:
    """`metric` of the labelled predictions, or no value (with why) below `min_labels` or when undefined."""
    count = len(joined)

    def unjudged(note: str) -> LiveQuality:
        return LiveQuality(metric, None, count, len(predictions), min_labels, note)

    if count < min_labels:
        return unjudged(f"{count} labelled predictions, fewer than {min_labels} needed to judge quality")
    values = BinaryClassificationMetrics().compute(joined[LABEL].to_numpy(dtype=int), joined[SCORE].to_numpy())
    if metric not in values:
        raise QualityInputError(f"{metric} is not a metric the pipeline scores ({', '.join(sorted(values))})")
    value = values[metric]
    if value is None:
        return unjudged(f"{metric} is undefined on {count} labelled predictions of one class only")
    return LiveQuality(metric, float(value), count, len(predictions), min_labels, "")
