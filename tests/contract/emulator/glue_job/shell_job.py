"""A Glue Python shell job: writes the argv it got to s3://<--bucket>/argv.json through boto3."""

from __future__ import annotations

import json
import sys

import boto3

arguments = sys.argv[1:]
bucket = arguments[arguments.index("--bucket") + 1]
boto3.client("s3").put_object(Bucket=bucket, Key="argv.json", Body=json.dumps(arguments).encode())
