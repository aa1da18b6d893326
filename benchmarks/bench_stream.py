"""Streaming ingestion on the local AWS: records per second the event stream accepts, and the latency
from PutRecords to the landed object.

Starts a local AWS of its own (a temporary home, a free port on 127.0.0.1, the default clock scale), and
creates what `infra/streaming.py` deploys: an on-demand Kinesis stream, a bucket sending its events to
EventBridge, and a Firehose delivery stream reading the stream with the stack's prefixes, JQ query,
delimiter and the smallest buffering hints the config accepts (64 MiB / 60 s, so 1 s at 1/60).

1. throughput: `--records` demo-shaped JSON records put through `cli.streaming` (batches of 500, refused
   records retried), unpaced, `--repeat` times; records/s accepted (median), as the producer sees it.
   Firehose's delivery runs inside the put on the local AWS, so this includes JQ extraction and buffering;
2. end-to-end latency: `--probes` single records, each of a new day, from the PutRecords answer to the
   object under `landing/date=<day>/` being listed (polled every 20 ms); p50 and max. The buffer interval
   dominates it: that is Firehose's design (a buffer is delivered when full or when its interval ends).

Results go to benchmarks/results/stream.json.

    python benchmarks/bench_stream.py [--records 20000] [--repeat 3] [--probes 10]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cli.streaming import PutResult, Record, batches, put_batch  # noqa: E402
from infra.streaming import date_query, error_prefix_expression, landing_prefix_expression  # noqa: E402
from local.aws import LocalAws  # noqa: E402
from local.clients import LocalClients  # noqa: E402
from local.clock import ClockScale  # noqa: E402
from local.home import StateDirectory  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "stream.json"
ROLE = "arn:aws:iam::000000000000:role/benchmark"
NAME = "bench-stream"
HINTS = {"IntervalInSeconds": 60, "SizeInMBs": 64}


def create_pipeline(clients: LocalClients) -> None:
    s3, kinesis, firehose = (clients.client(s) for s in ("s3", "kinesis", "firehose"))
    s3.create_bucket(Bucket=NAME)
    s3.put_bucket_notification_configuration(Bucket=NAME, NotificationConfiguration={"EventBridgeConfiguration": {}})
    kinesis.create_stream(StreamName=NAME, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    arn = kinesis.describe_stream_summary(StreamName=NAME)["StreamDescriptionSummary"]["StreamARN"]
    processors = [
        {
            "Type": "MetadataExtraction",
            "Parameters": [
                {"ParameterName": "MetadataExtractionQuery", "ParameterValue": date_query("event_time")},
                {"ParameterName": "JsonParsingEngine", "ParameterValue": "JQ-1.6"},
            ],
        },
        {"Type": "AppendDelimiterToRecord", "Parameters": [{"ParameterName": "Delimiter", "ParameterValue": "\\n"}]},
    ]
    firehose.create_delivery_stream(
        DeliveryStreamName=NAME,
        DeliveryStreamType="KinesisStreamAsSource",
        KinesisStreamSourceConfiguration={"KinesisStreamARN": arn, "RoleARN": ROLE},
        ExtendedS3DestinationConfiguration={
            "BucketARN": f"arn:aws:s3:::{NAME}",
            "RoleARN": ROLE,
            "Prefix": landing_prefix_expression("landing/"),
            "ErrorOutputPrefix": error_prefix_expression("stream-errors/"),
            "FileExtension": ".jsonl",
            "BufferingHints": HINTS,
            "DynamicPartitioningConfiguration": {"Enabled": True},
            "ProcessingConfiguration": {"Enabled": True, "Processors": processors},
        },
    )


def record(day: date, n: int) -> Record:
    document = {
        "transaction_id": f"t-{day:%Y%m%d}-{n}",
        "event_time": f"{day.isoformat()}T{n % 24:02d}:{n % 60:02d}:00Z",
        "customer_id": f"c-{n % 997}",
        "merchant_category": "grocery",
        "amount": 12.5 + n % 100,
        "distance_from_home_km": 3.5,
        "account_age_days": 100 + n % 300,
        "device_type": "mobile",
        "country_mismatch": False,
        "is_fraud": int(n % 50 == 0),
    }
    return Record(json.dumps(document, separators=(",", ":")).encode(), document["transaction_id"])


def throughput(kinesis: Any, records: int, repeat: int) -> dict[str, Any]:
    rates, sizes = [], []
    for run in range(repeat):
        batch_records = [record(date(2024, 1, 1) + timedelta(days=run), n) for n in range(records)]
        sizes.append(statistics.mean(r.size() for r in batch_records))
        result = PutResult()
        began = time.perf_counter()
        for batch in batches(batch_records):
            result.add(put_batch(kinesis, NAME, batch))
        elapsed = time.perf_counter() - began
        assert result.accepted == records, result
        rates.append(records / elapsed)
    return {
        "records": records,
        "runs": repeat,
        "record_bytes_mean": round(statistics.mean(sizes)),
        "records_per_second_median": round(statistics.median(rates)),
        "records_per_second_all": [round(r) for r in rates],
    }


def latency(clients: LocalClients, probes: int) -> dict[str, Any]:
    kinesis, s3 = clients.client("kinesis"), clients.client("s3")
    seconds = []
    for n in range(probes):
        day = date(2023, 1, 1) + timedelta(days=n)
        prefix = f"landing/date={day.isoformat()}/"
        put_batch(kinesis, NAME, [record(day, n)])
        put_at = time.perf_counter()
        deadline = put_at + 120
        while not s3.list_objects_v2(Bucket=NAME, Prefix=prefix).get("KeyCount"):
            if time.perf_counter() > deadline:
                raise TimeoutError(f"no object under {prefix} after 120 s")
            time.sleep(0.02)
        seconds.append(time.perf_counter() - put_at)
    return {
        "probes": probes,
        "seconds_p50": round(statistics.median(seconds), 3),
        "seconds_max": round(max(seconds), 3),
        "seconds_all": [round(s, 3) for s in seconds],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000, help="records per throughput run")
    parser.add_argument("--repeat", type=int, default=3, help="throughput runs (median reported)")
    parser.add_argument("--probes", type=int, default=10, help="single records timed put -> landed object")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-stream-") as scratch:
        aws = LocalAws(StateDirectory(Path(scratch) / "home"), port=0)
        process = aws.start()
        try:
            clients = LocalClients(process.endpoint)
            create_pipeline(clients)
            clock = ClockScale.parse(os.environ.get("SAGEMAKER_CLOCK_SCALE") or "1/60")
            results = {
                "measured_at": datetime.now().astimezone().isoformat(timespec="seconds"),
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                "versions": {name: version(name) for name in ("ministack", "boto3")},
                "buffering_hints": HINTS,
                "local_buffer_interval_seconds": clock.seconds(HINTS["IntervalInSeconds"]),
                "throughput": throughput(clients.client("kinesis"), args.records, args.repeat),
                "put_to_landed_object": latency(clients, args.probes),
                "note": "local AWS on loopback; on AWS the latency is the buffer interval (60-900 s, up to 1.5x with "
                "dynamic partitioning) and the stream's write limit is per shard (1 MB/s or 1,000 records/s) or "
                "on-demand capacity",
            }
        finally:
            aws.stop()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
