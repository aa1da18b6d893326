"""A Python process started ahead of a script run, waiting for exactly one script (`local.runtime.standby`).

Run as a file, `python standby_driver.py [--spark] [--ready-file PATH]`, with the environment and working directory the
script will get. With `--spark` it first does what a PySpark script's first lines cost: it imports
pyspark, starts the JVM and builds the SparkSession from PYSPARK_SUBMIT_ARGS, so the script's
`SparkSession.builder.getOrCreate()` returns that session; it warms that session with a small round trip
of a Glue job's query shapes (`warm_spark`) and imports the provided modules a job imports first
(`warm_imports`); it creates the ready file. Then it reads one line from stdin, the job as JSON
(`{"script": path, "argv": [...]}`), and runs the script as `python script argv...`
would: `sys.argv`, `sys.path[0]` and `__main__` are the script's, stdin is /dev/null, an uncaught
exception prints its traceback (from the script's frame on) and exits 1, `sys.exit(n)` exits n.
It then exits: one process per run, so nothing (module state, temp views, cached tables) outlives it.

An empty stdin (EOF: the parent closed it, or died) ends it before any script runs, and the death of
the parent (the local AWS killed) ends it while a script runs; either way it ends its whole process group
first (when it leads one, as a standby and a run do), the JVM and Spark's Python workers with it: a job must
not outlive the local AWS. The JVM is not trusted to exit at EOF on its own stdin, as PySpark's gateway
intends: a standby's JVM was once found alive, orphaned, 80 minutes after its driver had gone.
Imports only the standard library, pyspark and the provided modules it finds: it runs in the script's
environment, where this project is not importable.
"""

from __future__ import annotations

import importlib
import json
import os
import queue
import runpy
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from typing import NoReturn

# Modules the Glue environment provides that a job's first imports load (AWS Glue 5.0: "Python modules
# already provided in AWS Glue"); imported by a Spark standby before its script.
PROVIDED_MODULES = ("numpy", "pandas")


def warm_spark(pending: Callable[[], bool] = lambda: False) -> None:
    """Build the SparkSession, then run a small ETL round trip in it: the query shapes a Glue job's first
    queries take (a CSV read by an explicit schema with a corrupt-record column, casts, a window, a persisted
    frame, aggregates, quantiles, filtered Parquet writes), so that the JVM has loaded, and its JIT compiled,
    the code those need before the run instead of during it. On two cores that is seconds of a small job's
    CPU (benchmarks/results/glue_warm.json). Nothing of it is left behind: its folder is removed, its cache
    released, and no view or table is created. The round trip stops early once `pending()` (a script has
    come: it would otherwise wait for the rest of the warm-up)."""
    from pyspark import StorageLevel
    from pyspark.sql import SparkSession, Window
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType, StructField, StructType

    spark = SparkSession.builder.getOrCreate()
    warm_imports()
    if pending():
        return
    folder = tempfile.mkdtemp(prefix="standby-warm-")
    try:
        rows = spark.range(64).selectExpr(
            "cast(id % 50 AS string) AS key",
            "cast(timestamp_seconds(1700000000 + id * 3600) AS string) AS at",
            "cast(id * 1.5 AS string) AS amount",
            "cast(id % 2 AS string) AS label",
            "cast(id % 3 AS string) AS kind",
        )
        rows.coalesce(2).write.option("header", True).csv(f"{folder}/csv")
        schema = StructType([StructField(name, StringType()) for name in [*rows.columns, "corrupt"]])
        read = (
            spark.read.schema(schema)
            .option("header", True)
            .option("mode", "PERMISSIVE")
            .option("columnNameOfCorruptRecord", "corrupt")
            .csv(f"{folder}/csv")
        )
        read = read.unionByName(read.limit(1), allowMissingColumns=True)
        amount = F.col("amount").cast("double")
        typed = read.select(
            "key",
            F.to_timestamp("at").alias("at"),
            amount.alias("amount"),
            F.col("label").cast("long").alias("label"),
            F.trim("kind").alias("kind"),
            F.coalesce(amount.isNull() & (F.trim("amount") != ""), F.lit(False)).alias("bad"),
            F.col("corrupt").isNotNull().alias("corrupt"),
            F.input_file_name().alias("file"),
        )
        reason = (
            F.when(F.col("corrupt"), F.lit("malformed"))
            .when(F.col("bad"), F.lit("bad"))
            .when(F.col("at").isNull(), F.lit("null"))
        )
        window = Window.partitionBy("key", reason.isNull()).orderBy("at", F.col("amount").asc_nulls_last())
        reasoned = typed.withColumn("reason", reason).withColumn("rank", F.row_number().over(window))
        if pending():
            return
        reasoned = reasoned.persist(StorageLevel.MEMORY_AND_DISK)
        try:
            counts = [F.sum((F.col("reason") == name).cast("long")) for name in ("malformed", "bad", "null")]
            reasoned.agg(F.count(F.lit(1)), F.sum(F.col("bad").cast("long")), *counts).collect()
            reasoned.groupBy("file", "reason").count().collect()
            clean = (
                reasoned.where(F.col("reason").isNull())
                .withColumn("micros", F.expr("unix_micros(at)"))
                .withColumn("hour", F.hour("at"))
                .withColumn("weekday", F.dayofweek("at"))
                .withColumn("log_amount", F.log1p(F.greatest(F.col("amount"), F.lit(0.0))))
            )
            if pending():
                return
            low, high = clean.approxQuantile("micros", [0.7, 0.85], 1e-4)
            micros = F.col("micros")
            part = F.when(micros >= F.lit(high), F.lit("c")).when(micros >= F.lit(low), F.lit("b")).otherwise("a")
            clean = clean.withColumn("part", part)
            summary = [F.count(F.lit(1)), F.sum("label"), F.min(micros), F.max(micros)]
            clean.groupBy("part").agg(*summary, F.sum(F.col("kind").isNull().cast("long"))).collect()
            for name in ("a", "b"):
                written = clean.where(F.col("part") == name).select("key", "at", "amount", "hour", "label")
                written.coalesce(1).write.mode("overwrite").parquet(f"{folder}/parquet-{name}")
            spark.read.parquet(f"{folder}/parquet-a").collect()
        finally:
            reasoned.unpersist()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def warm_imports() -> None:
    """Import what a Glue job's modules import first and Glue provides (numpy, pandas: seconds of a run's
    start on a busy machine), when the environment has them; the script's own imports then find them loaded."""
    for name in PROVIDED_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            continue


def end_with_group(code: int) -> NoReturn:
    """Exit with `code`, first killing every other process of this process group when this process leads it (a
    standby's or a run's session of its own): what it started ends with it, whether or not it would by itself."""
    group = os.getpid()
    if os.getpgrp() == group:
        for entry in os.listdir("/proc"):
            if entry.isdigit() and int(entry) != group:
                try:
                    if os.getpgid(int(entry)) == group:
                        os.kill(int(entry), signal.SIGKILL)
                except OSError:  # gone meanwhile
                    continue
    os._exit(code)


def watch_stdin(jobs: queue.Queue[str]) -> None:
    """Read the job line; at EOF (the parent closed stdin or died) end at once, even mid warm-up."""
    line = sys.stdin.readline()
    if not line.strip():
        end_with_group(0)
    jobs.put(line)


def watch_parent(parent: int) -> None:
    """When the parent is gone (reparented: it was killed), end at once, with this process group."""
    while os.getppid() == parent:
        time.sleep(1.0)
    end_with_group(1)


def run_script(script: str, argv: list[str]) -> int:
    sys.argv = [script, *argv]
    sys.path[0] = os.path.dirname(os.path.abspath(script))
    # Path entries (the script's folder, --extra-py-files) that did not exist when this process started.
    sys.path_importer_cache.clear()
    importlib.invalidate_caches()
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    try:
        runpy.run_path(script, run_name="__main__")
    except Exception as error:
        trace = error.__traceback__
        while trace is not None and trace.tb_frame.f_code.co_filename != script:
            trace = trace.tb_next
        traceback.print_exception(type(error), error, trace or error.__traceback__)
        return 1
    return 0


def main() -> int:
    jobs: queue.Queue[str] = queue.Queue()
    threading.Thread(target=watch_stdin, args=(jobs,), daemon=True).start()
    threading.Thread(target=watch_parent, args=(os.getppid(),), daemon=True).start()
    options = sys.argv[1:]
    if "--spark" in options:
        warm_spark(pending=lambda: not jobs.empty())
    if "--ready-file" in options:  # for whoever waits on it; outside the script's folders
        with open(options[options.index("--ready-file") + 1], "w"):
            pass
    job = json.loads(jobs.get())
    script, argv = job["script"], job["argv"]
    assert isinstance(script, str) and isinstance(argv, list)
    return run_script(script, [str(value) for value in argv])


if __name__ == "__main__":
    sys.exit(main())
