"""Landed rows sent to the live endpoint as the callers of production would send them: `retrain invoke
--replay DAYS` (bounded). It gives the endpoint traffic to capture (docs/monitoring.md), e.g. the newest,
drifted days of the demo stream; each request is one CSV row of the request columns, sent with the row's
id as its InferenceId, which is what joins a captured prediction to the label that arrives later."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cli.landing import landing_keys, request_columns
from cli.landing_files import csv_line, read_body
from retrain.config import RetrainConfig
from retrain.errors import RetrainError
from retrain.watermark import partition_date

MAX_DAYS = 90
MAX_REQUESTS = 10_000
INFERENCE_ID_LENGTH = 64  # InvokeEndpoint's InferenceId: 1-64 characters (botocore sagemaker-runtime)


@dataclass
class Replay:
    days: list[str]
    sent: int = 0
    answered: int = 0
    refused: list[str] = field(default_factory=list)  # the model's messages, first few

    def summary(self, endpoint: str) -> str:
        span = f"{self.days[0]} to {self.days[-1]}" if self.days else "no day"
        return (
            f"replayed {self.sent} landed rows of {len(self.days)} day(s) ({span}) to endpoint {endpoint}: "
            f"{self.answered} answered, {self.sent - self.answered} refused by the model"
        )


def newest_day_keys(s3: Any, bucket: str, prefix: str, days: int) -> tuple[list[str], list[str]]:
    """(the newest `days` landed days, their data objects in key order)."""
    dated = [(key, day) for key in landing_keys(s3, bucket, prefix) if (day := partition_date(key, prefix))]
    chosen = sorted({day for _, day in dated})[-days:]
    return chosen, [key for key, day in dated if day in chosen]


def landed_requests(s3: Any, bucket: str, keys: Sequence[str], config: RetrainConfig) -> Iterator[tuple[str, str]]:
    """(inference id, CSV request) for each complete row of the objects, in order."""
    columns, id_column = request_columns(config), config.dataset.id_column
    for key in keys:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        data = read_body(Path(key), body, config.data.input_format)
        if any(column not in data.columns for column in columns):
            continue  # a file of another shape: the data-quality checks name it, not the replay
        for index in range(data.rows):
            line = csv_line(data, columns, index)
            if line is not None:
                yield str(data.columns[id_column][index])[:INFERENCE_ID_LENGTH], line


def replay(
    config: RetrainConfig, s3: Any, runtime: Any, bucket: str, endpoint: str, days: int, max_requests: int
) -> Replay:
    if not 1 <= days <= MAX_DAYS:
        raise RetrainError(f"--replay takes 1 to {MAX_DAYS} days, got {days}")
    if not 1 <= max_requests <= MAX_REQUESTS:
        raise RetrainError(f"--max-requests takes 1 to {MAX_REQUESTS}, got {max_requests}")
    chosen, keys = newest_day_keys(s3, bucket, config.data.landing_prefix, days)
    if not keys:
        raise RetrainError(
            f"nothing landed under s3://{bucket}/{config.data.landing_prefix} to replay; land data first"
        )
    result = Replay(chosen)
    for inference_id, line in landed_requests(s3, bucket, keys, config):
        if result.sent >= max_requests:
            break
        result.sent += 1
        try:
            runtime.invoke_endpoint(
                EndpointName=endpoint,
                ContentType="text/csv",
                Accept="application/json",
                Body=line,
                InferenceId=inference_id,
            )
        except runtime.exceptions.ModelError as error:
            if len(result.refused) < 3:
                result.refused.append(str(error.response.get("OriginalMessage", error)))
            continue
        except runtime.exceptions.ValidationError as error:
            raise RetrainError(f"{error}; is a model deployed? run `retrain run`") from None
        result.answered += 1
    return result
