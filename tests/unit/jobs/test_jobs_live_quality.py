"""live_quality.py and monitor.py's live quality: captured predictions joined with the landed labels by the
dataset's id column, the promotion metric over the labelled ones, judged from a minimum count on, each window
on its own predictions."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pandas as pd
import pytest
from landed_labels import read_landed
from live_quality import (
    LABEL,
    binary_labels,
    captured_predictions,
    join_labels,
    label_days,
    live_quality,
)
from monitor import main

from tests.support.capture_format import CAPTURE_RECORD_SCHEMA, capture_of
from tests.support.monitor_format import BYOC_METRIC_SCHEMA, MODEL_QUALITY_SCHEMA
from tests.unit.jobs.test_jobs_monitor import INSIDE, OUTSIDE, container, frame

LAYOUT = ["tx_id", "event_time", "amount", "device_type", "account_age_days"]


def traffic(rows: int, seed: int = 2, day: str = "2025-01-03") -> pd.DataFrame:
    features = frame(seed=seed, rows=rows)
    features.insert(0, "tx_id", [f"tx-{seed}-{n}" for n in range(rows)])
    features.insert(1, "event_time", f"{day}T10:00:00Z")
    return features


def answered(records: list[dict[str, Any]], scores: list[float], *, as_json: bool = True) -> list[dict[str, Any]]:
    """The capture records with the model's answers, as inference.py writes them, one request a row."""
    for record, score in zip(records, scores, strict=True):
        if as_json:
            data = json.dumps({"predictions": [{"score": score, "label": int(score >= 0.5)}]})
            kind, encoding = "application/json", "JSON"
        else:
            data = base64.b64encode(f"{score},{int(score >= 0.5)}\n".encode()).decode()
            kind, encoding = "text/csv", "BASE64"
        record["captureData"]["endpointOutput"] = {
            "observedContentType": kind,
            "mode": "OUTPUT",
            "data": data,
            "encoding": encoding,
        }
    return records


def good_scores(labels: np.ndarray, seed: int = 5) -> list[float]:
    """Scores of a model that is right: positives high, negatives low, with noise."""
    rng = np.random.default_rng(seed)
    return list(np.clip(labels * 0.7 + rng.uniform(0, 0.3, labels.size), 0, 1))


def labels_for(rows: int, seed: int = 9) -> np.ndarray:
    rng = np.random.default_rng(seed)
    labels = (rng.uniform(size=rows) < 0.1).astype(int)
    labels[:2] = (1, 0)
    return labels


def test_each_answer_is_joined_to_its_label_by_the_id_column_of_its_request() -> None:
    rows = traffic(4)
    records = answered(capture_of(rows), [0.9, 0.1, 0.8, 0.2], as_json=False)
    records[1]["eventMetadata"]["inferenceId"] = "not-the-row-id"  # the row's id column wins
    jsonschema.validate(records[0], CAPTURE_RECORD_SCHEMA)
    predictions = captured_predictions(records, LAYOUT, "tx_id", "event_time")
    assert list(predictions["id"]) == ["tx-2-0", "tx-2-1", "tx-2-2", "tx-2-3"]
    assert list(predictions["score"]) == [0.9, 0.1, 0.8, 0.2]
    assert label_days(predictions) == ["2025-01-03"]

    landed = pd.DataFrame({"id": ["tx-2-0", "tx-2-2", "tx-2-3", "tx-9-9"], LABEL: [1.0, 1.0, np.nan, 0.0]})
    joined = join_labels(predictions, landed)
    # tx-2-1 has no landed row, tx-2-3 no label yet, tx-9-9 no prediction: two labelled predictions
    assert sorted(joined["id"]) == ["tx-2-0", "tx-2-2"]


def test_a_batch_request_is_joined_row_by_row_and_a_request_without_the_id_column_by_its_inference_id() -> None:
    batch = capture_of(traffic(1))[0]
    batch["captureData"]["endpointInput"]["data"] = (
        "tx-a,2025-01-03T10:00:00Z,1,ios,3\ntx-b,2025-01-04T10:00:00Z,2,web,4"
    )
    batch["captureData"]["endpointOutput"] = {
        "observedContentType": "application/json",
        "data": json.dumps({"predictions": [{"score": 0.3, "label": 0}, {"score": 0.6, "label": 1}]}),
        "encoding": "JSON",
    }
    predictions = captured_predictions([batch], LAYOUT, "tx_id", "event_time")
    assert list(zip(predictions["id"], predictions["score"], strict=True)) == [("tx-a", 0.3), ("tx-b", 0.6)]
    assert label_days(predictions) == ["2025-01-03", "2025-01-04"]

    single = answered(capture_of(traffic(1)[LAYOUT[2:]]), [0.7])
    single[0]["eventMetadata"]["inferenceId"] = "tx-77"
    assert list(captured_predictions(single, LAYOUT[2:], "tx_id", "event_time")["id"]) == ["tx-77"]


def test_a_refused_request_and_a_repeated_id_count_once_with_the_newest_answer() -> None:
    records = answered(capture_of(traffic(2)), [0.2, 0.4])
    records.append(answered(capture_of(traffic(1)), [0.9])[0])  # tx-2-0 asked again
    refused = capture_of(traffic(1))[0]
    refused["captureData"]["endpointOutput"] = {"observedContentType": "application/json", "data": "[]"}
    predictions = captured_predictions([*records, refused], LAYOUT, "tx_id", "event_time")
    assert dict(zip(predictions["id"], predictions["score"], strict=True)) == {"tx-2-0": 0.9, "tx-2-1": 0.4}


@pytest.mark.parametrize(
    ("values", "positive", "expected"),
    [
        (["1", "0", "", "true", "False"], None, [1.0, 0.0, None, 1.0, 0.0]),
        (["fraud", "ok", None], "fraud", [1.0, 0.0, None]),
    ],
)
def test_landed_targets_become_binary_labels(values: list[Any], positive: str | None, expected: list[Any]) -> None:
    labels = binary_labels(pd.Series(values, dtype="object"), positive)
    assert [None if np.isnan(value) else value for value in labels] == expected


def test_the_metric_is_judged_from_the_minimum_count_on_and_not_on_one_class() -> None:
    labels = labels_for(200)
    predictions = pd.DataFrame({"id": [str(n) for n in range(200)], "score": good_scores(labels)})
    joined = predictions.assign(label=labels)

    judged = live_quality(predictions, joined, "average_precision", min_labels=100)
    assert judged.judged and judged.value == pytest.approx(1.0) and judged.labelled == 200

    few = live_quality(predictions, joined.head(99), "average_precision", min_labels=100)
    assert few.value is None and few.note == "99 labelled predictions, fewer than 100 needed to judge quality"

    one_class = live_quality(predictions, joined.assign(label=0), "average_precision", min_labels=100)
    assert one_class.value is None and "one class" in one_class.note

    wrong = live_quality(predictions, joined.assign(label=labels[::-1]), "average_precision", min_labels=100)
    assert wrong.value is not None and wrong.value < 0.3


def test_landed_files_are_read_by_column_name(tmp_path: Path) -> None:
    path = tmp_path / "part.csv"
    path.write_text("is_fraud,transaction_id,amount\n1,tx-1,3.5\n0,tx-2,1\n")
    landed = read_landed(path, "csv", ("transaction_id", "is_fraud"))
    assert landed.to_dict("list") == {"transaction_id": ["tx-1", "tx-2"], "is_fraud": ["1", "0"]}


class Labels:
    """The landed labels as the job's reader returns them, and the days it was asked for."""

    def __init__(self, labels: dict[str, int]) -> None:
        self.labels = labels
        self.days: list[list[str]] = []

    def __call__(self, days: list[str]) -> pd.DataFrame:
        self.days.append(list(days))
        return pd.DataFrame({"id": list(self.labels), LABEL: [float(value) for value in self.labels.values()]})


QUALITY_ENV = {
    "request_columns": ",".join(LAYOUT),
    "quality_metric": "average_precision",
    "quality_min_labels": "100",
    "quality_labels": "s3://bucket/landing/",
    "id_column": "tx_id",
    "timestamp_column": "event_time",
    "target_column": "is_fraud",
}


def run_monitor(tmp_path: Path, rows: pd.DataFrame, scores: list[float], labels: Labels, **env: str) -> dict[str, Any]:
    records = answered(capture_of(rows, inference_time=INSIDE), scores)
    environ = container(tmp_path, records, **{**QUALITY_ENV, **env})
    from monitor import monitor

    return monitor(environ, labels)


def quality_outputs(tmp_path: Path) -> tuple[dict[str, Any], list[dict[str, Any]], str]:
    root = tmp_path / "opt" / "ml"
    document = json.loads((root / "processing" / "resultdata" / "model_quality.json").read_text())
    jsonschema.validate(document, MODEL_QUALITY_SCHEMA)
    metrics_dir = root / "output" / "metrics" / "cloudwatch"
    metrics = [json.loads(line) for path in metrics_dir.glob("*") for line in path.read_text().splitlines()]
    return document, metrics, (root / "output" / "message").read_text()


def test_the_job_publishes_the_live_metric_with_the_labelled_count_as_its_sample_count(tmp_path: Path) -> None:
    rows = traffic(300)
    labels = labels_for(300)
    wrong = list(np.random.default_rng(4).uniform(size=300))  # a model that ranks no better than chance
    reader = Labels(dict(zip(rows["tx_id"], labels, strict=True)))

    run_monitor(tmp_path, rows, wrong, reader)

    assert reader.days == [["2025-01-03"]]  # the landing partition of the rows' day only
    document, metrics, message = quality_outputs(tmp_path)
    assert document["window"] == {"start": "2026-11-26T02:00:00Z", "end": "2026-11-26T03:00:00Z"}
    assert document["judged"] and document["labelled_predictions"] == 300 and document["value"] < 0.3
    [line] = [line for line in metrics if line["MetricName"] == "model_quality_average_precision"]
    jsonschema.validate(line, BYOC_METRIC_SCHEMA)
    assert line["Timestamp"] == "2026-11-26T03:00:00Z"
    assert line["StatisticValues"]["SampleCount"] == 300
    assert line["StatisticValues"]["Minimum"] == pytest.approx(document["value"])
    assert f"Live average_precision {document['value']:.4f} over 300 labelled predictions." in message


def test_a_right_model_scores_high_and_a_window_without_enough_labels_publishes_nothing(tmp_path: Path) -> None:
    rows = traffic(300)
    labels = labels_for(300)
    run_monitor(tmp_path / "right", rows, good_scores(labels), Labels(dict(zip(rows["tx_id"], labels, strict=True))))
    document, _, _ = quality_outputs(tmp_path / "right")
    assert document["value"] == pytest.approx(1.0)

    # Labels of 50 of the rows landed: not judged, no metric, so the alarm sees no data
    few = Labels(dict(list(zip(rows["tx_id"], labels, strict=True))[:50]))
    run_monitor(tmp_path / "few", rows, good_scores(labels), few)
    document, metrics, message = quality_outputs(tmp_path / "few")
    assert not document["judged"] and document["value"] is None and document["labelled_predictions"] == 50
    assert not [line for line in metrics if line["MetricName"].startswith("model_quality_")]
    assert "Live quality not judged: 50 labelled predictions, fewer than 100 needed" in message


def test_predictions_outside_the_window_are_left_to_their_own_windows_run(tmp_path: Path) -> None:
    rows = traffic(300)
    labels = labels_for(300)
    records = answered(capture_of(rows, inference_time=OUTSIDE), good_scores(labels))
    records += answered(capture_of(traffic(20, seed=3), inference_time=INSIDE), [0.5] * 20)
    environ = container(tmp_path, records, **QUALITY_ENV)
    from monitor import monitor

    result = monitor(environ, Labels(dict(zip(rows["tx_id"], labels, strict=True))))
    assert result["quality"]["predictions"] == 20 and result["quality"]["labelled_predictions"] == 0


def test_without_quality_in_the_environment_the_job_judges_drift_only(tmp_path: Path) -> None:
    env = container(tmp_path, capture_of(frame(seed=2, rows=200), inference_time=INSIDE))
    assert main(env) == 0
    assert not (tmp_path / "opt/ml/processing/resultdata/model_quality.json").exists()


def test_labels_that_cannot_be_read_leave_the_drift_judgement_and_say_why(tmp_path: Path) -> None:
    def denied(days: list[str]) -> pd.DataFrame:
        raise PermissionError("AccessDenied: ListObjectsV2 on landing/")

    rows = traffic(300)
    result = run_monitor(tmp_path, rows, [0.5] * 300, denied)  # type: ignore[arg-type]
    assert result["violations"] == [] and result["quality"]["judged"] is False
    assert result["quality"]["note"].startswith("the landed labels could not be read (PermissionError: AccessDenied")
