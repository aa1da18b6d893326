"""Firehose reading a Kinesis stream delivers into S3 as on AWS, configured as `infra/streaming.py` deploys
it: dynamic partitioning by a JQ query on each record's own timestamp, per-partition buffering, the
`AppendDelimiterToRecord` processor, GZIP, the error output prefix for a record that is not JSON, and an
S3 Object Created event for each object that an EventBridge rule on the landing prefix receives
(`local/emulator/firehose.py`; Amazon Data Firehose developer guide: "Dynamic partitioning", "Buffer data
for dynamic partitioning", "Troubleshoot dynamic partitioning errors", "Configure Amazon S3 object name
format"; Kinesis Data Streams developer guide, "Use Amazon Data Firehose to read a stream").
"""

from __future__ import annotations

import base64
import gzip
import json
import re
from typing import Any

import pytest

from local.clients import LocalClients
from tests.support.emulator import ROLE_ARN, StateMachineRunner
from tests.support.polling import wait_until

pytestmark = pytest.mark.local

# What the stack deploys (tests/infra/test_streaming.py asserts the same strings on the template).
PREFIX = "landing/date=!{partitionKeyFromQuery:date}/!{timestamp:yyyy-MM-dd'T'HH-mm-ss}-"
ERROR_PREFIX = "stream-errors/!{firehose:error-output-type}/!{timestamp:yyyy-MM-dd}/"
QUERY = '{date: ."event_time"[0:10]}'
# The stack's smallest hints: 60 s is 1 s at the local AWS's default clock scale (1/60).
HINTS = {"IntervalInSeconds": 60, "SizeInMBs": 64}
ECHO = {"StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "End": True}}}


def _processors() -> dict[str, Any]:
    return {
        "Enabled": True,
        "Processors": [
            {
                "Type": "MetadataExtraction",
                "Parameters": [
                    {"ParameterName": "MetadataExtractionQuery", "ParameterValue": QUERY},
                    {"ParameterName": "JsonParsingEngine", "ParameterValue": "JQ-1.6"},
                ],
            },
            {
                "Type": "AppendDelimiterToRecord",
                "Parameters": [{"ParameterName": "Delimiter", "ParameterValue": "\\n"}],
            },
        ],
    }


def _pipeline(clients: LocalClients, name: str, compression: str = "UNCOMPRESSED") -> str:
    """A bucket with EventBridge notifications, an event stream and a delivery stream reading it."""
    s3, kinesis, firehose = (clients.client(s) for s in ("s3", "kinesis", "firehose"))
    s3.create_bucket(Bucket=name)
    s3.put_bucket_notification_configuration(Bucket=name, NotificationConfiguration={"EventBridgeConfiguration": {}})
    kinesis.create_stream(StreamName=name, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    arn = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]
    firehose.create_delivery_stream(
        DeliveryStreamName=name,
        DeliveryStreamType="KinesisStreamAsSource",
        KinesisStreamSourceConfiguration={"KinesisStreamARN": arn, "RoleARN": ROLE_ARN},
        ExtendedS3DestinationConfiguration={
            "BucketARN": f"arn:aws:s3:::{name}",
            "RoleARN": ROLE_ARN,
            "Prefix": PREFIX,
            "ErrorOutputPrefix": ERROR_PREFIX,
            "FileExtension": ".jsonl.gz" if compression == "GZIP" else ".jsonl",
            "CompressionFormat": compression,
            "BufferingHints": HINTS,
            "DynamicPartitioningConfiguration": {"Enabled": True, "RetryOptions": {"DurationInSeconds": 300}},
            "ProcessingConfiguration": _processors(),
        },
    )
    return name


def _transactions(day: str, count: int) -> list[dict[str, Any]]:
    return [
        {"transaction_id": f"t-{day}-{n}", "event_time": f"{day}T1{n}:00:00Z", "amount": 10.5 + n} for n in range(count)
    ]


def _put(clients: LocalClients, stream: str, records: list[bytes]) -> None:
    answer = clients.client("kinesis").put_records(
        StreamName=stream, Records=[{"Data": data, "PartitionKey": f"k{n}"} for n, data in enumerate(records)]
    )
    assert answer["FailedRecordCount"] == 0


def _objects(clients: LocalClients, bucket: str, prefix: str, count: int) -> dict[str, bytes]:
    s3 = clients.client("s3")

    def listed() -> list[str]:
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]
        return keys if len(keys) >= count else []

    keys = wait_until(listed, 30, f"{count} objects under s3://{bucket}/{prefix}")
    assert len(keys) == count, keys
    return {key: s3.get_object(Bucket=bucket, Key=key)["Body"].read() for key in keys}


def test_records_land_per_event_day_in_one_buffered_object_of_json_lines(
    aws_clients: LocalClients, unique_name: str
) -> None:
    stream = _pipeline(aws_clients, unique_name)
    documents = _transactions("2025-03-01", 3) + _transactions("2025-03-02", 2)
    # Records of two days interleaved, in two calls: one object per day all the same (buffered per partition).
    records = [json.dumps(d).encode() for d in documents]
    _put(aws_clients, stream, records[::2])
    _put(aws_clients, stream, records[1::2])
    objects = _objects(aws_clients, stream, "landing/", 2)
    by_day: dict[str, list[dict[str, Any]]] = {}
    for key, body in objects.items():
        match = re.fullmatch(
            rf"landing/date=(\d{{4}}-\d\d-\d\d)/\d{{4}}-\d\d-\d\dT\d\d-\d\d-\d\d-{stream}-1-[\d-]+-[0-9a-f-]+\.jsonl",
            key,
        )
        assert match, key  # directly inside the day's partition, as CheckForNewData counts
        assert body.endswith(b"\n") and body.count(b"\n") == len(body.splitlines())
        by_day[match.group(1)] = [json.loads(line) for line in body.splitlines()]
    assert sorted(by_day) == ["2025-03-01", "2025-03-02"]
    assert sorted(d["transaction_id"] for d in by_day["2025-03-01"]) == [f"t-2025-03-01-{n}" for n in range(3)]
    assert len(by_day["2025-03-02"]) == 2


def test_a_record_that_is_not_json_goes_to_the_error_prefix_only(aws_clients: LocalClients, unique_name: str) -> None:
    stream = _pipeline(aws_clients, unique_name)
    _put(aws_clients, stream, [b"not json {", json.dumps(_transactions("2025-03-03", 1)[0]).encode()])
    errors = _objects(aws_clients, stream, "stream-errors/", 1)
    [(key, body)] = errors.items()
    # AWS's layout, which retrain.delivery_errors reads: the error-output-type folder, then the object name
    # <stream>-<version>-<yyyy-MM-dd-HH-mm-ss>-<random> ("Configure Amazon S3 object name format"), and one
    # JSON document a line per refused record ("Troubleshoot dynamic partitioning errors").
    assert re.fullmatch(rf"stream-errors/processing-failed/\d{{4}}-\d\d-\d\d/{stream}-1-[\d-]+-[0-9a-f-]+", key), key
    assert body.endswith(b"\n") and len(body.splitlines()) == 1
    document = json.loads(body)
    assert base64.b64decode(document["rawData"]) == b"not json {"
    [landed] = _objects(aws_clients, stream, "landing/", 1).values()
    assert b"not json" not in landed


def test_gzip_compresses_the_object(aws_clients: LocalClients, unique_name: str) -> None:
    stream = _pipeline(aws_clients, unique_name, compression="GZIP")
    _put(aws_clients, stream, [json.dumps(d).encode() for d in _transactions("2025-03-04", 2)])
    [(key, body)] = _objects(aws_clients, stream, "landing/", 1).items()
    assert key.endswith(".jsonl.gz")
    assert [json.loads(line)["transaction_id"] for line in gzip.decompress(body).splitlines()] == [
        "t-2025-03-04-0",
        "t-2025-03-04-1",
    ]


def test_a_delivered_object_reaches_the_new_data_rule(
    aws_clients: LocalClients, machines: StateMachineRunner, unique_name: str
) -> None:
    stream = _pipeline(aws_clients, unique_name)
    machine = machines.create(ECHO)
    events = aws_clients.client("events")
    pattern = {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [stream]}, "object": {"key": [{"prefix": "landing/"}]}},
    }
    events.put_rule(Name=unique_name, EventPattern=json.dumps(pattern))
    events.put_targets(Rule=unique_name, Targets=[{"Id": "pipeline", "Arn": machine, "RoleArn": ROLE_ARN}])
    _put(aws_clients, stream, [json.dumps(_transactions("2025-03-05", 1)[0]).encode()])
    executions = wait_until(
        lambda: machines.sfn.list_executions(stateMachineArn=machine)["executions"], 30, "the rule to fire"
    )
    execution = machines.wait(executions[0]["executionArn"])
    assert execution.output["detail"]["object"]["key"].startswith("landing/date=2025-03-05/")
