"""A Glue Python shell job that reads a table's definition from the Data Catalog through boto3."""

from __future__ import annotations

import sys

import boto3

arguments = sys.argv[1:]
database = arguments[arguments.index("--database") + 1]
table = arguments[arguments.index("--table") + 1]
boto3.client("glue").get_table(DatabaseName=database, Name=table)
