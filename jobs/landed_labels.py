"""The labels that landed for a monitoring window's predictions: the id and target of the landing partitions
(`<landing prefix>date=YYYY-MM-DD/`) of the days the predictions' rows are stamped with, read from S3 with the
image's boto3 as the monitoring schedule's role (Model Monitor stages the endpoint's capture only)."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from live_quality import ID, LABEL, QualityInputError, binary_labels, landed_ids

SUFFIXES = {
    "csv": (".csv", ".csv.gz", ".csv.bz2"),
    "json": (".json", ".jsonl", ".ndjson", ".json.gz", ".jsonl.gz"),
    "parquet": (".parquet",),
}
MAX_OBJECTS = 2000  # per window: a day of a streamed landing is many small files, never this many


def read_landed(path: Path, input_format: str, columns: Sequence[str]) -> pd.DataFrame:
    """`columns` of one landed file (CSV as text; JSON and Parquet as typed, which `binary_labels` reads)."""
    if input_format == "parquet":
        frame = pd.read_parquet(path, columns=list(columns))
    elif input_format == "json":
        frame = pd.read_json(path, lines=True, dtype=False)
    else:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, usecols=lambda name: name in columns)
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise QualityInputError(f"the landed file {path.name} has no column {', '.join(missing)}")
    return frame[list(columns)]


class S3Labels:
    """Landed labels under `s3://bucket/prefix` (the landing prefix, with its trailing slash)."""

    def __init__(
        self,
        uri: str,
        input_format: str,
        id_column: str,
        target: str,
        positive_label: str | None,
        client: object = None,
    ) -> None:
        if not uri.startswith("s3://") or not uri.endswith("/"):
            raise QualityInputError(f"quality_labels {uri!r} is not an s3://bucket/prefix/ folder of landed data")
        if input_format not in SUFFIXES:
            raise QualityInputError(f"quality_input_format {input_format!r} is not one of {', '.join(SUFFIXES)}")
        self.bucket, self.prefix = uri[len("s3://") :].split("/", 1)
        self.input_format, self.id_column, self.target, self.positive_label = (
            input_format,
            id_column,
            target,
            positive_label,
        )
        self._client = client

    def client(self) -> object:
        if self._client is None:
            import boto3  # the image's; only a job that judges quality needs it

            self._client = boto3.client("s3")
        return self._client

    def keys(self, days: Sequence[str]) -> list[str]:
        found: list[str] = []
        paginator = self.client().get_paginator("list_objects_v2")  # type: ignore[attr-defined]
        for day in days:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=f"{self.prefix}date={day}/"):
                found.extend(
                    item["Key"]
                    for item in page.get("Contents", [])
                    if item["Key"].endswith(SUFFIXES[self.input_format])
                )
        return found[:MAX_OBJECTS]

    def __call__(self, days: Sequence[str]) -> pd.DataFrame:
        """(id, label) of every landed row of `days`; label 0/1, NaN when the row has none yet."""
        frames = [pd.DataFrame({ID: pd.Series(dtype=object), LABEL: pd.Series(dtype=float)})]
        with tempfile.TemporaryDirectory() as work:
            for number, key in enumerate(self.keys(days)):
                local = Path(work) / f"{number}-{Path(key).name}"
                self.client().download_file(self.bucket, key, str(local))  # type: ignore[attr-defined]
                landed = read_landed(local, self.input_format, (self.id_column, self.target))
                frames.append(
                    pd.DataFrame(
                        {
                            ID: landed_ids(landed[self.id_column]),
                            LABEL: binary_labels(landed[self.target], self.positive_label),
                        }
                    )
                )
        return pd.concat(frames, ignore_index=True)
