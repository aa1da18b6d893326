"""The landing prefix as `retrain run` sees it: empty or not, the window of new data, demo days."""

from __future__ import annotations

from datetime import date
from typing import Any

from cli.demo_data import CONTENT_TYPES, load_generator, next_dates
from cli.pipeline import DeployedPipeline
from retrain.config import RetrainConfig
from retrain.state_table import PARTITION_KEY, SORT_KEY, WATERMARK
from retrain.watermark import partition_date


def landing_keys(s3: Any, bucket: str, prefix: str, start_after: str = "") -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, StartAfter=start_after)
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


def landing_is_empty(s3: Any, bucket: str, config: RetrainConfig) -> bool:
    prefix = config.data.landing_prefix
    return not any(partition_date(key, prefix) for key in landing_keys(s3, bucket, prefix))


def new_data_window(pipeline: DeployedPipeline) -> tuple[str, str] | None:
    """First and last day of the data after the watermark, as CheckForNewData will see them."""
    item = (
        pipeline.client("dynamodb")
        .get_item(
            TableName=pipeline.state_table,
            Key={PARTITION_KEY: {"S": pipeline.config.pipeline.name}, SORT_KEY: {"S": WATERMARK}},
        )
        .get("Item", {})
    )
    watermark = item.get("key", {}).get("S", "")
    prefix = pipeline.config.data.landing_prefix
    days = sorted(
        day
        for key in landing_keys(pipeline.client("s3"), pipeline.bucket, prefix, watermark)
        if (day := partition_date(key, prefix))
    )
    return (days[0], days[-1]) if days else None


def append_demo_days(s3: Any, bucket: str, config: RetrainConfig, days: int, start: date | None = None) -> str:
    """Lands the next `days` days of the demo stream; returns what was written, for the user."""
    generator = load_generator()
    prefix, file_format = config.data.landing_prefix, config.data.input_format
    dates = next_dates(landing_keys(s3, bucket, prefix), prefix, days, start or generator.DEFAULT_START)
    for day in dates:
        body = generator.generate_day(day, generator.DEFAULT_SEED, generator.DEFAULT_ROWS_PER_DAY).encode(file_format)
        key = f"{prefix}{generator.partition_name(day)}/{generator.FILE_NAMES[file_format]}"
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=CONTENT_TYPES[file_format])
    return f"{len(dates)} days of demo data ({dates[0]} to {dates[-1]}) to s3://{bucket}/{prefix}"


def sample_request(config: RetrainConfig) -> str:
    """One CSV row the endpoint accepts: the raw columns in schema order, without the target."""
    generator = load_generator()
    day = generator.generate_day(generator.DEFAULT_START, generator.DEFAULT_SEED, 50)
    columns = [column for column in config.dataset.schema_ if column != config.dataset.target]
    for index in range(day.rows):
        row = [day.columns[column][index] for column in columns]
        if all(value not in (None, "") for value in row) and "," not in "".join(str(v) for v in row):
            return ",".join(str(value) for value in row)
    raise RuntimeError("the demo generator produced no complete row")  # a bug, not a user error
