"""Landed rows sent to the live endpoint as the callers of production would send them: `retrain invoke
--replay DAYS` (bounded). It gives the endpoint traffic to capture (docs/monitoring.md), e.g. the newest,
drifted days of the demo stream, or days of the training period that should not drift.

DAYS is a number (the newest that many landed days) or the days themselves: `2025-01-05`, a range
`2025-01-05..2025-01-09`, or several, comma-separated. Each request is one CSV line per row of the request
columns (the schema's, without the target), `--batch-size` rows at a time; a request of one row carries the
row's id as its InferenceId, which is what joins a captured prediction to the label that arrives later (a
batch has no one id, so it carries none). Rows the model would refuse are not sent: a missing value, or one
its type cannot parse (the model refuses a whole request for one such value).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from cli.landing import landing_keys, load_job_module, request_columns
from cli.landing_files import DataFile, csv_line, read_body
from retrain.config import RetrainConfig
from retrain.errors import RetrainError
from retrain.watermark import partition_date

MAX_DAYS = 90
MAX_REQUESTS = 10_000
MAX_BATCH_ROWS = 1_000  # far below InvokeEndpoint's 6 MB payload at a few hundred bytes a row
INFERENCE_ID_LENGTH = 64  # InvokeEndpoint's InferenceId: 1-64 characters (botocore sagemaker-runtime)


class ReplayError(RetrainError):
    """The replay cannot start; the message names the problem and the fix."""


@dataclass(frozen=True)
class DaySelection:
    """The newest `newest` landed days, or the listed `days` (ISO dates, sorted)."""

    newest: int = 0
    days: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> DaySelection:
        text = text.strip()
        if text.isdigit():
            return cls.newest_days(int(text))
        chosen: set[str] = set()
        for part in (item.strip() for item in text.split(",")):
            first, _, last = part.partition("..")
            try:
                start = date.fromisoformat(first.strip())
                end = date.fromisoformat(last.strip()) if last else start
            except ValueError:
                raise ReplayError(
                    f"--replay {text!r}: {part!r} is no day; give a number of newest days (1-{MAX_DAYS}), a day "
                    "YYYY-MM-DD, a range YYYY-MM-DD..YYYY-MM-DD, or several, comma-separated"
                ) from None
            if end < start:
                raise ReplayError(f"--replay {text!r}: the range {part} ends before it starts; swap its days")
            if (end - start).days + len(chosen) >= MAX_DAYS:
                raise ReplayError(f"--replay {text!r} names more than {MAX_DAYS} days; replay fewer at a time")
            chosen.update((start + timedelta(days=offset)).isoformat() for offset in range((end - start).days + 1))
        return cls(days=tuple(sorted(chosen)))

    @classmethod
    def newest_days(cls, count: int) -> DaySelection:
        if not 1 <= count <= MAX_DAYS:
            raise ReplayError(f"--replay takes 1 to {MAX_DAYS} days, got {count}")
        return cls(newest=count)


@dataclass
class Replay:
    days: list[str]
    batch_rows: int = 1
    sent: int = 0  # rows
    requests: int = 0
    answered: int = 0  # rows
    skipped: int = 0  # rows the model would refuse, not sent
    per_day: dict[str, int] = field(default_factory=dict)  # rows sent of each day
    refused: list[str] = field(default_factory=list)  # the model's messages, first few

    def summary(self, endpoint: str) -> str:
        span = f"{self.days[0]} to {self.days[-1]}" if self.days else "no day"
        batches = f" in {self.requests} request(s) of up to {self.batch_rows} rows" if self.batch_rows > 1 else ""
        return (
            f"replayed {self.sent} landed rows of {len(self.days)} day(s) ({span}){batches} to endpoint {endpoint}: "
            f"{self.answered} answered, {self.sent - self.answered} refused by the model"
        )

    def details(self) -> list[str]:
        """What was sent of each day, and what was not."""
        lines = [f"  {day}: {self.per_day.get(day, 0)} rows" for day in self.days]
        if self.skipped:
            lines.append(f"  not sent: {self.skipped} rows with a missing value or one the model cannot parse")
        return lines + [f"  refused: {message}" for message in self.refused]


def landed_days(s3: Any, bucket: str, prefix: str) -> dict[str, list[str]]:
    """Each landed day's data objects, in key order."""
    found: dict[str, list[str]] = {}
    for key in landing_keys(s3, bucket, prefix):
        day = partition_date(key, prefix)
        if day:
            found.setdefault(day, []).append(key)
    return found


def chosen_keys(s3: Any, bucket: str, prefix: str, selection: DaySelection) -> tuple[list[str], list[str]]:
    """(the selected days, their data objects in key order); a ReplayError for a day with no data."""
    landed = landed_days(s3, bucket, prefix)
    if not landed:
        raise ReplayError(f"nothing landed under s3://{bucket}/{prefix} to replay; land data first")
    if selection.newest:
        chosen = sorted(landed)[-selection.newest :]
    else:
        missing = [day for day in selection.days if day not in landed]
        if missing:
            shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
            raise ReplayError(
                f"no landed data for {shown} under s3://{bucket}/{prefix}; landed days run from {min(landed)} to "
                f"{max(landed)} ({len(landed)} days)"
            )
        chosen = list(selection.days)
    return chosen, [key for day in chosen for key in landed[day]]


def newest_day_keys(s3: Any, bucket: str, prefix: str, days: int) -> tuple[list[str], list[str]]:
    """(the newest `days` landed days, their data objects in key order)."""
    return chosen_keys(s3, bucket, prefix, DaySelection.newest_days(days))


def _parsable_rows(data: DataFile, config: RetrainConfig, columns: Sequence[str]) -> list[bool]:
    """Whether each row's request values all parse as their schema types (the model's own parsers)."""
    import pandas as pd

    parsers = load_job_module("features.py").PARSERS
    fine = [True] * data.rows
    for column in columns:
        _, invalid = parsers[config.dataset.schema_[column]].pandas(pd.Series(data.columns[column], dtype=object))
        fine = [ok and not bad for ok, bad in zip(fine, invalid.tolist(), strict=True)]
    return fine


def landed_rows(
    s3: Any, bucket: str, keys: Sequence[str], config: RetrainConfig
) -> Iterator[tuple[str, str, str | None]]:
    """(day, inference id, CSV request line or None when the model would refuse it) of each row, in order."""
    columns, id_column = request_columns(config), config.dataset.id_column
    prefix = config.data.landing_prefix
    for key in keys:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        data = read_body(Path(key), body, config.data.input_format)
        if any(column not in data.columns for column in columns):
            continue  # a file of another shape: the data-quality checks name it, not the replay
        day = partition_date(key, prefix) or ""
        parsable = _parsable_rows(data, config, columns)
        for index in range(data.rows):
            line = csv_line(data, columns, index) if parsable[index] else None
            yield day, str(data.columns[id_column][index])[:INFERENCE_ID_LENGTH], line


def landed_requests(s3: Any, bucket: str, keys: Sequence[str], config: RetrainConfig) -> Iterator[tuple[str, str]]:
    """(inference id, CSV request) for each row of the objects the model takes, in order."""
    for _, inference_id, line in landed_rows(s3, bucket, keys, config):
        if line is not None:
            yield inference_id, line


def replay(
    config: RetrainConfig,
    s3: Any,
    runtime: Any,
    bucket: str,
    endpoint: str,
    days: int | DaySelection,
    max_requests: int,
    batch_rows: int = 1,
) -> Replay:
    selection = days if isinstance(days, DaySelection) else DaySelection.newest_days(days)
    if not 1 <= max_requests <= MAX_REQUESTS:
        raise ReplayError(f"--max-requests takes 1 to {MAX_REQUESTS}, got {max_requests}")
    if not 1 <= batch_rows <= MAX_BATCH_ROWS:
        raise ReplayError(f"--batch-size takes 1 to {MAX_BATCH_ROWS} rows, got {batch_rows}")
    chosen, keys = chosen_keys(s3, bucket, config.data.landing_prefix, selection)
    result = Replay(chosen, batch_rows)
    batch: list[tuple[str, str, str]] = []

    def send() -> None:
        rows = len(batch)
        request = {
            "EndpointName": endpoint,
            "ContentType": "text/csv",
            "Accept": "application/json",
            "Body": "\n".join(line for _, _, line in batch),
        }
        if rows == 1:
            request["InferenceId"] = batch[0][1]
        for day, _, _ in batch:
            result.per_day[day] = result.per_day.get(day, 0) + 1
        batch.clear()
        result.requests += 1
        result.sent += rows
        try:
            runtime.invoke_endpoint(**request)
        except runtime.exceptions.ModelError as error:
            if len(result.refused) < 3:
                result.refused.append(str(error.response.get("OriginalMessage", error)))
            return
        except runtime.exceptions.ValidationError as error:
            raise RetrainError(f"{error}; is a model deployed? run `retrain run`") from None
        result.answered += rows

    for day, inference_id, line in landed_rows(s3, bucket, keys, config):
        if line is None:
            result.skipped += 1
            continue
        batch.append((day, inference_id, line))
        if len(batch) == batch_rows:
            send()
            if result.requests >= max_requests:
                return result
    if batch:
        send()
    return result
