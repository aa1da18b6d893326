"""`retrain demo-data`: append days of the demo card-transaction stream to the landing prefix.

Each run writes the N days after the newest `date=` partition already landed (or from --start when the
prefix is empty), so running it again brings newer data whose fraud patterns have drifted: the next
pipeline run then has a reason to retrain. Days are deterministic for a seed. The bucket is the
deployed stack's (its `DataBucketName` output); demo data lands only into the demo dataset's pipeline.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from cli.clients import clients_from_environment
from cli.config_file import load_checked_config
from cli.landing import append_demo_days, load_generator, refuse_demo_data_unless_demo
from cli.pipeline import read_stack_outputs
from retrain.config import DEFAULT_CONFIG_FILE


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
    parser.add_argument("--bucket", default=None, help="data bucket (default: the deployed stack's)")
    parser.add_argument("--start", type=date.fromisoformat, default=None, help="first day if nothing has landed")
    parser.add_argument("--seed", type=int, default=None, help="seed of the stream (default 7)")
    parser.add_argument("--config", default=DEFAULT_CONFIG_FILE, help="path of the config file")
    parser.set_defaults(handler=demo_data)


def demo_data(args: argparse.Namespace) -> int:
    config = load_checked_config(args.config)
    if args.days < 1 or (args.rows_per_day is not None and args.rows_per_day < 1):
        print("retrain demo-data: --days and --rows-per-day must be at least 1", file=sys.stderr)
        return 2
    refuse_demo_data_unless_demo(config, args.config)
    generator = load_generator()
    rows = args.rows_per_day or (generator.LARGE_ROWS_PER_DAY if args.large else generator.DEFAULT_ROWS_PER_DAY)
    clients = clients_from_environment()
    bucket = args.bucket or read_stack_outputs(clients, config.pipeline.name)["DataBucketName"]
    try:
        written = append_demo_days(
            clients.client("s3"), bucket, config, args.days, args.start, seed=args.seed, rows=rows
        )
    except (BotoCoreError, ClientError) as error:
        print(
            f"retrain demo-data: cannot write to s3://{bucket}/{config.data.landing_prefix}: {error}", file=sys.stderr
        )
        return 1
    print(f"wrote {written}")
    return 0
