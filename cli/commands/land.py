"""`retrain land PATH...`: upload your data files (or folders of them) into the landing prefix.

Files are in the config's `[data].input_format` (csv with a header row, json as JSON lines, or
parquet); a file of another format is refused. Every file is checked against `[dataset.schema]`
first: each configured column must be there and each value must parse as its type (extra columns
are kept and ignored by the pipeline). A refused file is named with its row and column, and then
nothing is uploaded. Rows count from 1 after the CSV header; JSON lines are named by line.

Objects land as `<landing_prefix>date=YYYY-MM-DD/<file name>`, the layout the pipeline counts.
Without --date, the day is each row's timestamp column (its UTC date): a file whose rows span
several days is split into one object per day. With --date, each file lands whole under that day.
The bucket is the deployed stack's; the stack's new-data trigger then starts a run (`retrain run`
follows it, `retrain runs` lists it).
"""

from __future__ import annotations

import argparse
from datetime import date
from typing import Any

from cli.config_file import load_checked_config
from cli.landing_files import check_keys, check_schema, find_files, plan_uploads, read_file
from cli.pipeline import DeployedPipeline
from retrain.config import DEFAULT_CONFIG_FILE


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "land",
        help="check your data files against the schema and upload them into the landing prefix",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="a data file, or a folder of them")
    parser.add_argument(
        "--date",
        type=date.fromisoformat,
        default=None,
        help="land every file under this day (YYYY-MM-DD) instead of the days of its timestamps",
    )
    parser.add_argument("--config", default=DEFAULT_CONFIG_FILE, help="path of the config file")
    parser.set_defaults(handler=land)


def land(args: argparse.Namespace) -> int:
    config = load_checked_config(args.config)
    input_format, prefix = config.data.input_format, config.data.landing_prefix
    uploads = []
    for path in find_files(args.paths, input_format):
        data = read_file(path, input_format)
        days = check_schema(data, config.dataset, need_days=args.date is None)
        uploads += plan_uploads(data, days, prefix, input_format, args.date)
    pipeline = DeployedPipeline.connect(args.config)
    check_keys(uploads, pipeline.state_store().watermark())
    s3 = pipeline.client("s3")
    for upload in uploads:
        s3.put_object(Bucket=pipeline.bucket, Key=upload.key, Body=upload.body, ContentType=upload.content_type)
    landed_days = sorted({upload.day for upload in uploads})
    files = len({upload.source for upload in uploads})
    rows, objects = sum(upload.rows for upload in uploads), len(uploads)
    print(
        f"landed {files} file{'s' * (files != 1)} ({rows} rows) as {objects} object{'s' * (objects != 1)} "
        f"under s3://{pipeline.bucket}/{prefix}, days {landed_days[0]} to {landed_days[-1]}"
    )
    for upload in uploads[:10]:
        print(f"  {upload.key}  ({upload.rows} rows from {upload.source})")
    if len(uploads) > 10:
        print(f"  ... and {len(uploads) - 10} more")
    print("The new-data trigger starts a run: follow it with `retrain run`, or list runs with `retrain runs`")
    return 0
