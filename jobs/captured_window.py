"""The endpoint's captured traffic of an earlier window, read from S3 by the monitoring job itself.

Model Monitor stages the capture of the run's own window only (`dataset_source`); with a label delay the live
quality is judged on the window `label_delay` before (`live_quality.judged_window`), whose capture the job lists
and downloads with the image's boto3 as the schedule's role, which already reads the capture prefix (Model
Monitor lists and downloads it as that role). SageMaker's layout: `<capture prefix><endpoint>/<variant>/
yyyy/mm/dd/hh/*.jsonl`, one folder an hour of inference time (docs/monitoring.md, "Data capture").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

HOUR = dt.timedelta(hours=1)
MAX_OBJECTS = 5000  # per window: SageMaker writes a capture file every few minutes per instance


class CaptureUriError(ValueError):
    """The schedule's `quality_capture` is not the endpoint's capture folder."""


def hour_folders(start: dt.datetime, end: dt.datetime) -> Iterator[str]:
    """`yyyy/mm/dd/hh/` of every hour that overlaps [start, end)."""
    hour = start.replace(minute=0, second=0, microsecond=0)
    while hour < end:
        yield hour.strftime("%Y/%m/%d/%H/")
        hour += HOUR


class S3Capture:
    """The capture under `s3://bucket/<capture prefix><endpoint>/` (with its trailing slash)."""

    def __init__(self, uri: str, client: object = None) -> None:
        if not uri.startswith("s3://") or not uri.endswith("/") or "/" not in uri[len("s3://") :].rstrip("/"):
            raise CaptureUriError(f"quality_capture {uri!r} is not the s3://bucket/prefix/endpoint/ capture folder")
        self.bucket, self.prefix = uri[len("s3://") :].split("/", 1)
        self._client = client

    def client(self) -> object:
        if self._client is None:
            import boto3  # the image's; only a job that judges a delayed window needs it

            self._client = boto3.client("s3")
        return self._client

    def keys(self, start: dt.datetime, end: dt.datetime) -> list[str]:
        paginator = self.client().get_paginator("list_objects_v2")  # type: ignore[attr-defined]
        variants: list[str] = []
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix, Delimiter="/"):
            variants.extend(item["Prefix"] for item in page.get("CommonPrefixes", []))
        found: list[str] = []
        for variant in variants:
            for folder in hour_folders(start, end):
                for page in paginator.paginate(Bucket=self.bucket, Prefix=variant + folder):
                    found.extend(item["Key"] for item in page.get("Contents", []) if item["Key"].endswith(".jsonl"))
        return found[:MAX_OBJECTS]

    def __call__(self, start: dt.datetime, end: dt.datetime, into: Path) -> None:
        """Download the capture files of the hours overlapping [start, end) into `into` (records outside the
        window are the reader's to skip, as with the platform's staging)."""
        for number, key in enumerate(self.keys(start, end)):
            self.client().download_file(  # type: ignore[attr-defined]
                self.bucket, key, str(into / f"{number}-{Path(key).name}")
            )
