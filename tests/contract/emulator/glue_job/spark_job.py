"""A Glue Spark job as it would run on AWS: reads its options from argv, its data from s3:// URIs.

`--input` CSV with a header; `--output` gets the row count per `k` as Parquet and, under `meta/`,
the job name and run id Glue passed; `--required` lists columns that must exist.
"""

from __future__ import annotations

import argparse

from contract_schema import SchemaMismatch, missing_columns
from pyspark.sql import SparkSession

parser = argparse.ArgumentParser()
for option in ("--JOB_NAME", "--JOB_RUN_ID", "--input", "--output", "--required"):
    parser.add_argument(option, required=True)
args, _ = parser.parse_known_args()

spark = SparkSession.builder.appName(args.JOB_NAME).getOrCreate()
frame = spark.read.option("header", True).option("recursiveFileLookup", True).csv(args.input)
missing = missing_columns(frame.columns, args.required)
if missing:
    raise SchemaMismatch(f"columns {missing} are missing from {args.input.rsplit('/', 2)[-2]}/")
frame.groupBy("k").count().write.mode("overwrite").parquet(args.output.rstrip("/") + "/counts/")
spark.createDataFrame([(args.JOB_NAME, args.JOB_RUN_ID)], ["job_name", "run_id"]).coalesce(1).write.mode(
    "overwrite"
).json(args.output.rstrip("/") + "/meta/")
spark.stop()
