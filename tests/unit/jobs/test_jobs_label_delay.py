"""A label delay: the monitoring run judges the predictions of the window `label_delay` before its own, with the
labels landed since (Model Monitor's model-quality StartTimeOffset/EndTimeOffset), each prediction once; the
drift judgement stays on the run's own window."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from captured_window import S3Capture, hour_folders
from live_quality import QualityInputError, judged_window
from monitor import MonitoringFailed, monitor, parse_time
from moto import mock_aws

from tests.support.capture_format import capture_of
from tests.unit.jobs.test_jobs_live_quality import (
    QUALITY_ENV,
    Labels,
    answered,
    good_scores,
    labels_for,
    quality_outputs,
    traffic,
)
from tests.unit.jobs.test_jobs_monitor import INSIDE, WINDOW, container

HOUR = dt.timedelta(hours=1)


def at(text: str) -> dt.datetime:
    return parse_time(text)


def test_the_judged_window_is_the_runs_own_shifted_by_whole_windows() -> None:
    start, end = at("2026-11-26T02:00:00Z"), at("2026-11-26T03:00:00Z")
    assert judged_window(start, end, 0) == (start, end)
    assert judged_window(start, end, 24) == (at("2026-11-25T02:00:00Z"), at("2026-11-25T03:00:00Z"))
    # At the local clock scale a run's window is a minute: the delay scales with it.
    minute = judged_window(start, start + dt.timedelta(minutes=1), 3)
    assert minute == (start - dt.timedelta(minutes=3), start - dt.timedelta(minutes=2))
    with pytest.raises(QualityInputError, match="negative"):
        judged_window(start, end, -1)


def test_consecutive_runs_judge_windows_that_tile_time_so_each_prediction_is_judged_once() -> None:
    first = at("2026-11-26T00:00:00Z")
    runs = [(first + n * HOUR, first + (n + 1) * HOUR) for n in range(48)]
    judged = [judged_window(start, end, 6) for start, end in runs]
    for (_, earlier_end), (later_start, _) in itertools.pairwise(judged):
        assert earlier_end == later_start  # no gap, no overlap
    assert judged[0] == (first - 6 * HOUR, first - 5 * HOUR)
    # A prediction at any moment of the covered span falls in exactly one judged window.
    moment = first + dt.timedelta(hours=17, minutes=59, seconds=59)
    assert sum(start <= moment < end for start, end in judged) == 1


def test_a_windows_capture_folders_are_the_hours_it_overlaps() -> None:
    assert list(hour_folders(at("2026-11-25T23:30:00Z"), at("2026-11-26T01:00:00Z"))) == [
        "2026/11/25/23/",
        "2026/11/26/00/",
    ]


def write_capture(folder: Path, records: list[dict[str, Any]], name: str = "capture.jsonl") -> None:
    (folder / name).write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")


def test_a_label_landed_after_its_windows_run_is_judged_by_the_run_label_delay_later(tmp_path: Path) -> None:
    # Hour 02 of the day before: 300 predictions whose labels landed late; hour 02 today: the run's own traffic.
    earlier = traffic(300, seed=7)
    truth = labels_for(300)
    earlier_records = answered(capture_of(earlier, inference_time="2026-11-25T02:30:00Z"), good_scores(truth))
    outside = answered(capture_of(traffic(50, seed=8), inference_time="2026-11-25T03:00:00Z"), [0.5] * 50)
    asked: list[tuple[dt.datetime, dt.datetime]] = []

    def capture(start: dt.datetime, end: dt.datetime, into: Path) -> None:
        asked.append((start, end))
        write_capture(into, earlier_records + outside)  # an hour's file may hold the next window's records

    own = traffic(200, seed=2)
    own_records = answered(capture_of(own, inference_time=INSIDE), [0.5] * 200)
    # The labels of both hours have landed by now; only the delayed window's predictions are judged.
    landed = {**dict(zip(earlier["tx_id"], truth, strict=True)), **dict.fromkeys(own["tx_id"], 0)}
    environ = container(tmp_path, own_records, **QUALITY_ENV, quality_label_delay_windows="24")

    result = monitor(environ, Labels(landed), capture)

    assert asked == [(at("2026-11-25T02:00:00Z"), at("2026-11-25T03:00:00Z"))]
    assert result["requests"] == 200  # drift: the run's own window, as without a delay
    assert result["quality"]["predictions"] == 300 and result["quality"]["labelled_predictions"] == 300
    document, metrics, message = quality_outputs(tmp_path)
    assert document["window"] == {"start": "2026-11-25T02:00:00Z", "end": "2026-11-25T03:00:00Z"}
    assert document["value"] == pytest.approx(1.0)
    # Stamped with the run's own end: the period the quality alarm judges now.
    [line] = [line for line in metrics if line["MetricName"] == "model_quality_average_precision"]
    assert line["Timestamp"] == WINDOW[1]
    assert "Live average_precision 1.0000 over 300 labelled predictions." in message


def test_without_a_delay_the_late_label_is_never_judged(tmp_path: Path) -> None:
    """The gap the delay closes: the run of the predictions' own hour sees no label yet, and no later run
    looks at that hour again."""
    rows = traffic(300)
    records = answered(capture_of(rows, inference_time=INSIDE), good_scores(labels_for(300)))
    result = monitor(container(tmp_path, records, **QUALITY_ENV), Labels({}))
    assert result["quality"]["predictions"] == 300 and result["quality"]["labelled_predictions"] == 0


def test_a_delayed_capture_that_cannot_be_read_leaves_the_drift_judgement_and_says_why(tmp_path: Path) -> None:
    def denied(start: dt.datetime, end: dt.datetime, into: Path) -> None:
        raise PermissionError("AccessDenied: ListObjectsV2 on capture/")

    records = answered(capture_of(traffic(200), inference_time=INSIDE), [0.5] * 200)
    environ = container(tmp_path, records, **QUALITY_ENV, quality_label_delay_windows="1")
    result = monitor(environ, Labels({}), denied)
    assert result["requests"] == 200 and result["quality"]["judged"] is False
    assert result["quality"]["note"].startswith("the capture of the judged window could not be read (PermissionError")


@mock_aws
def test_the_delayed_windows_capture_is_read_from_s3_by_its_hours(tmp_path: Path) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="data")
    body = b'{"captureData": {}}\n'
    for key in (
        "capture/ep/AllTraffic/2026/11/25/02/10-00-000-a.jsonl",
        "capture/ep/Shadow/2026/11/25/02/20-00-000-b.jsonl",
        "capture/ep/AllTraffic/2026/11/25/03/00-00-000-c.jsonl",  # the next hour: not this window's
        "capture/ep-other/AllTraffic/2026/11/25/02/00-00-000-d.jsonl",  # another endpoint
    ):
        s3.put_object(Bucket="data", Key=key, Body=body)
    reader = S3Capture("s3://data/capture/ep/", client=s3)
    reader(at("2026-11-25T02:00:00Z"), at("2026-11-25T03:00:00Z"), tmp_path)
    assert sorted(path.name.split("-", 1)[1] for path in tmp_path.iterdir()) == [
        "10-00-000-a.jsonl",
        "20-00-000-b.jsonl",
    ]


def test_a_capture_uri_that_is_not_a_folder_is_refused(tmp_path: Path) -> None:
    records = answered(capture_of(traffic(200), inference_time=INSIDE), [0.5] * 200)
    environ = container(tmp_path, records, **QUALITY_ENV, quality_label_delay_windows="1", quality_capture="s3://data")
    with pytest.raises(MonitoringFailed, match="quality_capture 's3://data' is not the s3://bucket/prefix/endpoint/"):
        monitor(environ, Labels({}))
