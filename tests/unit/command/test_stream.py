"""`retrain stream`: PutRecords batches within Kinesis' limits, the refused records of a batch sent again
with backoff (Kinesis API reference, PutRecords: 500 records and 5 MiB a call, 1 MiB a record, per-record
ErrorCode), bounds refused in one line, and demo transactions put into the deployed stack's stream."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import boto3
import pytest

from cli.main import main
from cli.streaming import MAX_BYTES_PER_CALL, MAX_RECORDS_PER_CALL, Record, batches, put_batch
from tests.support.datasets import config_file
from tests.support.fake_stack import REGION, FakeStack


class RefusingKinesis:
    """Refuses the first `refusals` records of every call with a throughput error, as a busy shard does."""

    def __init__(self, refusals: list[int]) -> None:
        self.refusals = refusals
        self.calls: list[list[str]] = []

    def put_records(self, StreamName: str, Records: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls.append([r["PartitionKey"] for r in Records])
        refuse = self.refusals.pop(0) if self.refusals else 0
        answers = [
            {"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "Rate exceeded"}
            if i < refuse
            else {"SequenceNumber": str(i), "ShardId": "shardId-000000000000"}
            for i in range(len(Records))
        ]
        return {"FailedRecordCount": min(refuse, len(Records)), "Records": answers}


def _records(count: int, size: int = 10) -> list[Record]:
    return [Record(b"x" * size, f"k{n}") for n in range(count)]


def test_batches_hold_at_most_500_records_and_5_mib() -> None:
    assert [len(b) for b in batches(_records(1201))] == [MAX_RECORDS_PER_CALL, MAX_RECORDS_PER_CALL, 201]
    big = _records(12, size=1024 * 1000)
    sizes = [sum(r.size() for r in b) for b in batches(big)]
    assert all(size <= MAX_BYTES_PER_CALL for size in sizes) and sum(len(b) for b in batches(big)) == 12
    assert [len(b) for b in batches(_records(25), max_records=10)] == [10, 10, 5]


def test_a_record_over_kinesis_limits_is_refused_before_any_call() -> None:
    with pytest.raises(ValueError, match="at most 1048576 bytes"):
        list(batches([Record(b"x" * (1024 * 1024), "k")]))


def test_refused_records_are_sent_again_with_backoff_until_accepted() -> None:
    kinesis, waits = RefusingKinesis([3, 1]), []
    result = put_batch(kinesis, "events", _records(5), sleep=waits.append, rng=random.Random(1))
    assert (result.accepted, result.failed, result.calls, result.retried) == (5, 0, 3, 4)
    assert kinesis.calls == [["k0", "k1", "k2", "k3", "k4"], ["k0", "k1", "k2"], ["k0"]]
    assert len(waits) == 2 and all(0 <= w <= 0.8 for w in waits)
    assert result.errors == {"ProvisionedThroughputExceededException": 4}


def test_records_still_refused_after_the_last_attempt_are_counted_failed() -> None:
    result = put_batch(RefusingKinesis([2] * 9), "events", _records(4), max_attempts=3, sleep=lambda _: None)
    assert (result.accepted, result.failed, result.calls) == (2, 2, 3)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--rate", "0", "--seconds", "1"], "--rate must be 1-10000 records a second, got 0"),
        (["--rate", "5", "--seconds", "-1"], "--seconds must be 1-3600, got -1"),
        (["--rate", "10000", "--seconds", "3600"], "at most 1000000 a run"),
        (["--rate", "1", "--seconds", "2", "--days", "3"], "--days must be 1 to the number of records (2), got 3"),
    ],
)
def test_nonsense_bounds_are_refused_in_one_line(
    arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["stream", *arguments]) == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1


def _streaming_config(folder: Path) -> str:
    path = config_file(folder, dataset=None, input_format="json")
    path.write_text(path.read_text(encoding="utf-8") + "\n[stream]\n", encoding="utf-8")
    return str(path)


def test_demo_transactions_go_into_the_stacks_stream_as_json(
    streaming_stack: FakeStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _streaming_config(tmp_path)
    arguments = ["--rate", "300", "--seconds", "2", "--days", "2", "--malformed", "1", "--start", "2025-03-01"]
    assert main(["stream", *arguments, "--config", config]) == 0
    out = capsys.readouterr().out
    assert "accepted 601 of 601 records into" in out and "event days 2025-03-01 to 2025-03-02" in out
    kinesis = boto3.client("kinesis", region_name=REGION)
    name = streaming_stack.outputs["EventStreamName"]
    shard = kinesis.describe_stream(StreamName=name)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(StreamName=name, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    data = [r["Data"] for r in kinesis.get_records(ShardIterator=iterator["ShardIterator"], Limit=1000)["Records"]]
    assert len(data) == 601
    documents = [json.loads(d) for d in data[:-1]]
    assert {d["event_time"][:10] for d in documents} == {"2025-03-01", "2025-03-02"}
    assert data[-1].startswith(b"not json")


def test_a_config_without_a_stream_table_is_refused(stack: FakeStack, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stream", "--rate", "1", "--seconds", "1"]) == 2
    assert "no [stream] table" in capsys.readouterr().err
