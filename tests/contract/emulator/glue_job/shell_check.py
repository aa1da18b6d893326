"""A Glue Python shell job that checks its `--input` as spark_job.py does: with `--required` naming a column
the landing CSV's header lacks, it fails with `SchemaMismatch` (from its --extra-py-files)."""

from __future__ import annotations

import argparse

import boto3
from contract_schema import SchemaMismatch, missing_columns

parser = argparse.ArgumentParser()
for option in ("--input", "--required"):
    parser.add_argument(option, required=True)
args, _ = parser.parse_known_args()

bucket, _, prefix = args.input.removeprefix("s3://").partition("/")
s3 = boto3.client("s3")
first = s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"][0]["Key"]
header = s3.get_object(Bucket=bucket, Key=first)["Body"].read().decode().splitlines()[0].split(",")
missing = missing_columns(header, args.required)
if missing:
    raise SchemaMismatch(f"columns {missing} are missing from {args.input.rsplit('/', 2)[-2]}/")
print(f"columns {header} hold {args.required}")
