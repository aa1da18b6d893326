"""`retrain demo-data`: append days of the demo card-transaction stream to the landing prefix.

Each run writes the N days after the newest `date=` partition already landed (or from --start when the
prefix is empty), so running it again brings newer data whose fraud patterns have drifted: the next
pipeline run then has a reason to retrain. Days are deterministic for a seed.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import date
from typing import Any

from cli.clients import clients_from_environment
from cli.landing import CONTENT_TYPES, load_generator, next_dates
from retrain.config import DEFAULT_CONFIG_FILE, load_config

BUCKET_ENV = "RETRAIN_BUCKET"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo-data",
        help="append days of drifting demo transactions to the landing prefix",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--days", type=int, default=30, help="how many days to append (default 30)")
    parser.add_argument("--rows-per-day", type=int, default=None, help="transactions a day (default 2000)")
    parser.add_argument("--large", action="store_true", help="50,000 transactions a day, for load tests")
    parser.add_argument("--bucket", default=None, help=f"data bucket (default: ${BUCKET_ENV})")
    parser.add_argument("--start", type=date.fromisoformat, default=None, help="first day if nothing has landed")
    parser.add_argument("--seed", type=int, default=None, help="seed of the stream (default 7)")
    parser.add_argument("--config", default=DEFAULT_CONFIG_FILE, help="path of the config file")
    parser.set_defaults(handler=demo_data)


def demo_data(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    bucket = args.bucket or os.environ.get(BUCKET_ENV)
    if not bucket:
        print(f"retrain demo-data: no bucket; pass --bucket or set {BUCKET_ENV}", file=sys.stderr)
        return 2
    if args.days < 1 or (args.rows_per_day is not None and args.rows_per_day < 1):
        print("retrain demo-data: --days and --rows-per-day must be at least 1", file=sys.stderr)
        return 2
    generator = load_generator()
    rows = args.rows_per_day or (generator.LARGE_ROWS_PER_DAY if args.large else generator.DEFAULT_ROWS_PER_DAY)
    seed = generator.DEFAULT_SEED if args.seed is None else args.seed
    prefix, file_format = config.data.landing_prefix, config.data.input_format

    from botocore.exceptions import BotoCoreError, ClientError

    s3 = clients_from_environment().client("s3")
    try:
        keys = [
            item["Key"]
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            for item in page.get("Contents", [])
        ]
        days = next_dates(keys, prefix, args.days, args.start or generator.DEFAULT_START)
        total = 0
        for day in days:
            body = generator.generate_day(day, seed, rows).encode(file_format)
            key = f"{prefix}{generator.partition_name(day)}/{generator.FILE_NAMES[file_format]}"
            s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=CONTENT_TYPES[file_format])
            total += len(body)
    except (BotoCoreError, ClientError) as error:
        print(f"retrain demo-data: cannot write to s3://{bucket}/{prefix}: {error}", file=sys.stderr)
        return 1
    print(
        f"wrote {len(days)} days ({days[0]} to {days[-1]}, {rows} transactions a day, {total / 1e6:.1f} MB "
        f"of {file_format}) to s3://{bucket}/{prefix}"
    )
    return 0
