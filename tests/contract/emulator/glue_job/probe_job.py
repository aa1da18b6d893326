"""A Glue Spark job that reports what it found when it started, then leaves state behind.

Writes under `--output`: `counts/` (rows per `k` of the `--input` CSV, as Parquet) and `report/` (one
JSON line: whether a SparkSession was already active before the script asked for one, the temp views,
cached tables and module global it found, its argv, and its runtime: the versions of Glue's modules, the
environment of its driver and of a Python worker of Spark's, and what importing scikit-learn, which Glue 5.0
does not provide, raised). Then it leaves a temp view, a cached table and a module global behind, which a
later run must not see. With `--required` naming a missing column it fails with `SchemaMismatch` at its
end, after all of that.
"""

from __future__ import annotations

import argparse
import json
import sys

import boto3
import contract_schema
import numpy
import pandas
import pyarrow
from pyspark.sql import SparkSession

parser = argparse.ArgumentParser()
for option in ("--JOB_NAME", "--JOB_RUN_ID", "--input", "--output"):
    parser.add_argument(option, required=True)
parser.add_argument("--required", default="id")
args, _ = parser.parse_known_args()

session_before_script = SparkSession.getActiveSession() is not None
spark = SparkSession.builder.appName(args.JOB_NAME).getOrCreate()
temporary = [table.name for table in spark.catalog.listTables() if table.isTemporary]
try:
    import sklearn  # noqa: F401

    not_provided = None
except ModuleNotFoundError as error:
    not_provided = f"{type(error).__name__}: {error}"
worker = spark.sparkContext.parallelize([0], 1).map(lambda _: __import__("sys").prefix).collect()[0]
report = {
    "session_before_script": session_before_script,
    "temp_views": temporary,
    "cached": [name for name in temporary if spark.catalog.isCached(name)],
    "module_global": getattr(contract_schema, "LEFT_BY_RUN", None),
    "argv": sys.argv[1:],
    "runtime": {
        "versions": {module.__name__: module.__version__ for module in (boto3, numpy, pandas, pyarrow)},
        "driver": sys.prefix,
        "worker": worker,
        "sklearn": not_provided,
    },
}
output = args.output.rstrip("/")
spark.createDataFrame([(json.dumps(report),)], ["line"]).coalesce(1).write.mode("overwrite").text(f"{output}/report/")

frame = spark.read.option("header", True).option("recursiveFileLookup", True).csv(args.input)
frame.createOrReplaceTempView("landed")
spark.catalog.cacheTable("landed")
contract_schema.LEFT_BY_RUN = args.JOB_RUN_ID
spark.sql("SELECT k, count(*) AS n FROM landed GROUP BY k").write.mode("overwrite").parquet(f"{output}/counts/")
print(f"probe: counted {frame.count()} rows", flush=True)
missing = contract_schema.missing_columns(frame.columns, args.required)
if missing:
    raise contract_schema.SchemaMismatch(f"columns {missing} are missing from {args.input.rsplit('/', 2)[-2]}/")
