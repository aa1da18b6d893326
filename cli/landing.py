"""The landing prefix as the command sees it: empty or not, the window of new data, and the days of
the demo stream (`jobs/demo_data.py`) that `retrain demo-data` and `retrain run` append to it."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterable
from datetime import date, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

from cli.config_file import JOBS_DIR
from cli.pipeline import DeployedPipeline
from retrain.config import RetrainConfig
from retrain.errors import ConfigError, RetrainError
from retrain.watermark import partition_date, partition_key

CONTENT_TYPES = {"csv": "text/csv", "json": "application/x-ndjson", "parquet": "application/vnd.apache.parquet"}


def landed_dates(keys: Iterable[str], prefix: str) -> list[date]:
    """The distinct partition dates of the landing data objects among `keys`, oldest first."""
    found = {partition_date(key, prefix) for key in keys}
    return sorted(date.fromisoformat(day) for day in found if day is not None)


def next_dates(keys: Iterable[str], prefix: str, days: int, start: date) -> list[date]:
    """The `days` days after the newest landed partition, or from `start` when none has landed."""
    landed = landed_dates(keys, prefix)
    first = landed[-1] + timedelta(days=1) if landed else start
    return [first + timedelta(days=offset) for offset in range(days)]


def load_job_module(file_name: str) -> ModuleType:
    """A module of jobs/ that imports no other file of jobs/ (the demo generator, the feature parsers).

    jobs/ is not a package (its files run flat inside Glue and SageMaker containers), so the file is
    loaded by path under a private name; putting jobs/ on sys.path instead would let its flat module
    names (`features`, `train`, ...) shadow or be shadowed by anything else the CLI imports.
    """
    name = f"retrain_job_{Path(file_name).stem}"
    if name in sys.modules:
        return sys.modules[name]
    path = JOBS_DIR / file_name
    if not path.is_file():
        raise ConfigError(f"{path} not found: run `retrain` from a checkout of the project")
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module by name while the file executes
    spec.loader.exec_module(module)
    return module


def load_generator() -> ModuleType:
    """The demo stream's generator, jobs/demo_data.py."""
    return load_job_module("demo_data.py")


def is_demo_dataset(config: RetrainConfig) -> bool:
    """Whether the configured dataset is the demo stream's, the only one demo data may land into."""
    return dict(config.dataset.schema_) == load_generator().SCHEMA


def refuse_demo_data_unless_demo(config: RetrainConfig, source: str) -> None:
    if not is_demo_dataset(config):
        raise ConfigError(
            f"{source} configures another dataset than the demo stream's: no demo data lands into it; "
            f"land your own files with `retrain land PATH... --config {source}` (docs/your-data.md)"
        )


def landing_keys(s3: Any, bucket: str, prefix: str, start_after: str = "") -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, StartAfter=start_after)
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


def landing_is_empty(s3: Any, bucket: str, config: RetrainConfig) -> bool:
    prefix = config.data.landing_prefix
    return not any(partition_date(key, prefix) for key in landing_keys(s3, bucket, prefix))


def new_data_window(pipeline: DeployedPipeline) -> tuple[str, str] | None:
    """First and last day of the data after the watermark, as CheckForNewData will see them."""
    watermark = pipeline.state_store().watermark()
    prefix = pipeline.config.data.landing_prefix
    days = sorted(
        day
        for key in landing_keys(pipeline.client("s3"), pipeline.bucket, prefix, watermark)
        if (day := partition_date(key, prefix))
    )
    return (days[0], days[-1]) if days else None


def append_demo_days(
    s3: Any,
    bucket: str,
    config: RetrainConfig,
    days: int,
    start: date | None = None,
    *,
    seed: int | None = None,
    rows: int | None = None,
) -> str:
    """Lands the next `days` days of the demo stream; returns what was written, for the user."""
    generator = load_generator()
    prefix, file_format = config.data.landing_prefix, config.data.input_format
    seed = generator.DEFAULT_SEED if seed is None else seed
    rows = rows or generator.DEFAULT_ROWS_PER_DAY
    dates = next_dates(landing_keys(s3, bucket, prefix), prefix, days, start or generator.DEFAULT_START)
    total = 0
    for day in dates:
        body = generator.generate_day(day, seed, rows).encode(file_format)
        key = partition_key(prefix, day, generator.FILE_NAMES[file_format])
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=CONTENT_TYPES[file_format])
        total += len(body)
    return (
        f"{len(dates)} days of demo data ({dates[0]} to {dates[-1]}, {rows} transactions a day, "
        f"{total / 1e6:.1f} MB of {file_format}) to s3://{bucket}/{prefix}"
    )


def request_columns(config: RetrainConfig) -> list[str]:
    """The raw columns in schema order, without the target: what the endpoint reads from a CSV row."""
    return [column for column in config.dataset.schema_ if column != config.dataset.target]


def sample_request(config: RetrainConfig, pipeline: DeployedPipeline | None = None) -> str:
    """One CSV row the endpoint accepts: the raw columns in schema order, without the target. For the
    demo dataset a row of the demo stream; for another, a complete row of the newest landed file of
    `pipeline` (a `RetrainError` when there is none: pass the row yourself)."""
    columns = request_columns(config)
    if not is_demo_dataset(config):
        return landed_sample_row(pipeline, columns)
    generator = load_generator()
    day = generator.generate_day(generator.DEFAULT_START, generator.DEFAULT_SEED, 50)
    for index in range(day.rows):
        row = [day.columns[column][index] for column in columns]
        if all(value not in (None, "") for value in row) and "," not in "".join(str(v) for v in row):
            return ",".join(str(value) for value in row)
    raise RuntimeError("the demo generator produced no complete row")  # a bug, not a user error


def landed_sample_row(pipeline: DeployedPipeline | None, columns: list[str]) -> str:
    from cli.landing_files import complete_row, read_body

    if pipeline is not None:
        config, s3 = pipeline.config, pipeline.client("s3")
        prefix = config.data.landing_prefix
        keys = [key for key in landing_keys(s3, pipeline.bucket, prefix) if partition_date(key, prefix)]
        for key in reversed(keys[-5:]):  # the newest files: a few, not the whole history
            body = s3.get_object(Bucket=pipeline.bucket, Key=key)["Body"].read()
            try:
                row = complete_row(read_body(Path(key), body, config.data.input_format), columns)
            except RetrainError:
                continue
            if row is not None:
                return row
    raise RetrainError(
        f"no landed row to send: pass one with --body, the columns {','.join(columns)} as one CSV line "
        "(the dataset is not the demo's, so there is no demo sample)"
    )
