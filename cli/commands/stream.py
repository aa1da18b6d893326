"""`retrain stream`: put drifting demo transactions into the pipeline's event stream, as a producer does.

For --seconds seconds, about --rate records a second: the demo's transactions of the days after the
newest landed partition (or --start), one JSON object per record, partitioned by transaction id, through
Kinesis PutRecords in batches (docs/your-data.md, "Streaming records in"). Firehose lands them under
the landing prefix by each record's own day, and the new-data trigger starts a run. --malformed N adds
N records that are not JSON: Firehose keeps them under the stream's error prefix, never in landing.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from datetime import date
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from cli.clients import clients_from_environment
from cli.config_file import load_checked_config
from cli.landing import landing_keys, load_generator, next_dates, refuse_demo_data_unless_demo
from cli.pipeline import read_stack_outputs
from cli.streaming import PutResult, Record, batches, put_batch
from retrain.config import DEFAULT_CONFIG_FILE
from retrain.errors import ConfigError

MAX_RATE = 10_000
MAX_SECONDS = 3_600
MAX_RECORDS = 1_000_000


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "stream",
        help="put drifting demo transactions into the event stream for a bounded time",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rate", type=int, required=True, help=f"records a second (1-{MAX_RATE})")
    parser.add_argument("--seconds", type=int, required=True, help=f"how long to produce (1-{MAX_SECONDS})")
    parser.add_argument("--days", type=int, default=1, help="days of event time the records spread over (default 1)")
    parser.add_argument("--start", type=date.fromisoformat, default=None, help="first day if nothing has landed")
    parser.add_argument("--malformed", type=int, default=0, help="records that are not JSON, sent at the end")
    parser.add_argument("--seed", type=int, default=None, help="seed of the demo stream (default 7)")
    parser.add_argument("--config", default=DEFAULT_CONFIG_FILE, help="path of the config file")
    parser.set_defaults(handler=stream)


def bounds_problem(args: argparse.Namespace) -> str | None:
    if not 1 <= args.rate <= MAX_RATE:
        return f"--rate must be 1-{MAX_RATE} records a second, got {args.rate}"
    if not 1 <= args.seconds <= MAX_SECONDS:
        return f"--seconds must be 1-{MAX_SECONDS}, got {args.seconds}"
    if args.rate * args.seconds > MAX_RECORDS:
        return f"--rate x --seconds is {args.rate * args.seconds} records; at most {MAX_RECORDS} a run"
    if not 1 <= args.days <= args.rate * args.seconds:
        return f"--days must be 1 to the number of records ({args.rate * args.seconds}), got {args.days}"
    if not 0 <= args.malformed <= MAX_RATE:
        return f"--malformed must be 0-{MAX_RATE}, got {args.malformed}"
    return None


def demo_records(dates: list[date], total: int, seed: int) -> Iterator[Record]:
    """`total` demo transactions spread evenly over `dates`, as JSON objects (the generator's own
    duplicates and malformed values included, as a faulty upstream sends them)."""
    generator = load_generator()
    for index, day in enumerate(dates):
        rows = total // len(dates) + (1 if index < total % len(dates) else 0)
        for line in generator.generate_day(day, seed, rows).jsonl_bytes().splitlines()[:rows]:
            yield Record(line, str(json.loads(line)[generator.COLUMNS[0]] or f"row-{index}"))


def stream(args: argparse.Namespace) -> int:
    problem = bounds_problem(args)
    if problem:
        print(f"retrain stream: {problem}", file=sys.stderr)
        return 2
    config = load_checked_config(args.config)
    if config.stream is None:
        raise ConfigError(f"{args.config}: no [stream] table, so the stack has no event stream; add one and deploy")
    refuse_demo_data_unless_demo(config, args.config)
    clients = clients_from_environment()
    outputs = read_stack_outputs(clients, config.pipeline.name)
    if "EventStreamName" not in outputs:
        raise ConfigError(f"the deployed stack {config.pipeline.name} has no event stream; deploy it with [stream]")
    stream_name = outputs["EventStreamName"]
    generator = load_generator()
    prefix = config.data.landing_prefix
    keys = landing_keys(clients.client("s3"), outputs["DataBucketName"], prefix)
    dates = next_dates(keys, prefix, args.days, args.start or generator.DEFAULT_START)
    seed = generator.DEFAULT_SEED if args.seed is None else args.seed
    records = list(demo_records(dates, args.rate * args.seconds, seed))
    records += [Record(b"not json {" + str(n).encode(), f"malformed-{n}") for n in range(args.malformed)]
    try:
        result, elapsed = paced_put(clients.client("kinesis"), stream_name, records, args.rate)
    except (BotoCoreError, ClientError) as error:
        print(f"retrain stream: cannot put records into {stream_name}: {error}", file=sys.stderr)
        return 1
    errors = ", ".join(f"{code} x{count}" for code, count in sorted(result.errors.items()))
    print(
        f"accepted {result.accepted} of {len(records)} records into {stream_name} in {elapsed:.1f} s "
        f"({result.calls} PutRecords calls, {result.retried} records retried{', ' + errors if errors else ''}); "
        f"event days {dates[0]} to {dates[-1]}"
    )
    return 0 if result.failed == 0 else 1


def paced_put(kinesis: Any, stream_name: str, records: list[Record], rate: int) -> tuple[PutResult, float]:
    """Puts the records at about `rate` a second: batches of at most a second's records, each sent
    when its first record is due."""
    result = PutResult()
    started = time.monotonic()
    sent = 0
    for batch in batches(records, max_records=rate):
        due = started + sent / rate
        if (wait := due - time.monotonic()) > 0:
            time.sleep(wait)
        result.add(put_batch(kinesis, stream_name, batch))
        sent += len(batch)
    return result, time.monotonic() - started
