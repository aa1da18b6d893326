"""A Kinesis producer, the shape a real one takes: records in batches of at most 500 records and 5 MiB
per PutRecords call, the records a call refused (throttled, an internal error) sent again with
exponential backoff and full jitter, and a count of what the stream accepted.

PutRecords is not all-or-nothing: it answers each record with a sequence number or an ErrorCode, and
FailedRecordCount says how many failed (Kinesis API reference, PutRecords). Limits: 500 records and
5 MiB per request, 1 MiB per record including its partition key (of at most 256 characters).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

MAX_RECORDS_PER_CALL = 500
MAX_BYTES_PER_CALL = 5 * 1024 * 1024
MAX_BYTES_PER_RECORD = 1024 * 1024
MAX_PARTITION_KEY = 256
MAX_ATTEMPTS = 5
BASE_DELAY_SECONDS = 0.1
MAX_DELAY_SECONDS = 5.0


@dataclass(frozen=True)
class Record:
    data: bytes
    partition_key: str

    def size(self) -> int:
        return len(self.data) + len(self.partition_key.encode("utf-8"))


@dataclass
class PutResult:
    accepted: int = 0
    failed: int = 0
    calls: int = 0
    retried: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    def add(self, other: PutResult) -> None:
        self.accepted += other.accepted
        self.failed += other.failed
        self.calls += other.calls
        self.retried += other.retried
        for code, count in other.errors.items():
            self.errors[code] = self.errors.get(code, 0) + count


def batches(records: Iterable[Record], max_records: int = MAX_RECORDS_PER_CALL) -> Iterator[list[Record]]:
    """Consecutive batches within PutRecords' limits (and of at most `max_records`); a record over a
    record's limit is refused."""
    max_records = min(max_records, MAX_RECORDS_PER_CALL)
    batch: list[Record] = []
    size = 0
    for record in records:
        if record.size() > MAX_BYTES_PER_RECORD or not 1 <= len(record.partition_key) <= MAX_PARTITION_KEY:
            raise ValueError(
                f"a record of {record.size()} bytes with a partition key of {len(record.partition_key)} characters: "
                f"Kinesis takes at most {MAX_BYTES_PER_RECORD} bytes and keys of 1-{MAX_PARTITION_KEY} characters"
            )
        if batch and (len(batch) == max_records or size + record.size() > MAX_BYTES_PER_CALL):
            yield batch
            batch, size = [], 0
        batch.append(record)
        size += record.size()
    if batch:
        yield batch


def put_batch(
    kinesis: Any,
    stream_name: str,
    batch: list[Record],
    *,
    max_attempts: int = MAX_ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> PutResult:
    """Puts one batch; the records it refused are sent again, up to `max_attempts` calls in all."""
    rng = rng or random.Random()  # retry jitter, not a secret  # nosec B311
    result = PutResult()
    pending = batch
    for attempt in range(max_attempts):
        if attempt:
            result.retried += len(pending)
            sleep(rng.uniform(0, min(MAX_DELAY_SECONDS, BASE_DELAY_SECONDS * 2**attempt)))
        response = kinesis.put_records(
            StreamName=stream_name,
            Records=[{"Data": r.data, "PartitionKey": r.partition_key} for r in pending],
        )
        result.calls += 1
        refused: list[Record] = []
        for record, answer in zip(pending, response["Records"], strict=True):
            if "ErrorCode" in answer:
                refused.append(record)
                result.errors[answer["ErrorCode"]] = result.errors.get(answer["ErrorCode"], 0) + 1
            else:
                result.accepted += 1
        pending = refused
        if not pending:
            break
    result.failed = len(pending)
    return result
