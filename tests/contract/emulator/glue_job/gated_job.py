"""A Glue Python shell job that runs until s3://<--bucket>/release exists (at most 60 s), so a test
can hold a run open without sleeping."""

from __future__ import annotations

import sys
import time

import boto3
from botocore.exceptions import ClientError

arguments = sys.argv[1:]
bucket = arguments[arguments.index("--bucket") + 1]
s3 = boto3.client("s3")
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    try:
        s3.head_object(Bucket=bucket, Key="release")
        sys.exit(0)
    except ClientError:
        time.sleep(0.2)
print("TimeoutError: s3://" + bucket + "/release never appeared", file=sys.stderr)
sys.exit(1)
