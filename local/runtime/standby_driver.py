"""A Python process started ahead of a script run, waiting for exactly one script (`local.runtime.standby`).

Run as a file, `python standby_driver.py [--spark] [--ready-file PATH]`, with the environment and working directory the
script will get. With `--spark` it first does what a PySpark script's first lines cost: it imports
pyspark, starts the JVM and builds the SparkSession from PYSPARK_SUBMIT_ARGS, so the script's
`SparkSession.builder.getOrCreate()` returns that session; it creates the ready file. Then it reads
one line from stdin, the job as JSON (`{"script": path, "argv": [...]}`), and runs the script as `python script argv...`
would: `sys.argv`, `sys.path[0]` and `__main__` are the script's, stdin is /dev/null, an uncaught
exception prints its traceback (from the script's frame on) and exits 1, `sys.exit(n)` exits n.
It then exits: one process per run, so nothing (module state, temp views, cached tables) outlives it.

An empty stdin (EOF: the parent closed it, or died) ends it before any script runs, and the JVM,
which exits when its own stdin closes, goes with it. Once a script runs, the death of the parent (the
local AWS killed) ends its whole process group, the JVM with it: a job must not outlive the local AWS.
Imports only the standard library (and pyspark): it runs in the script's environment, where this project
is not importable.
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


def warm_spark() -> None:
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.getOrCreate()
    # A first round trip (CSV in, aggregate, Parquet out and back) loads the classes a job's first
    # queries would, in a folder removed after; no view, table or cache is left behind.
    folder = tempfile.mkdtemp(prefix="standby-warm-")
    try:
        rows = spark.range(8).selectExpr("id", "cast(id % 2 as string) AS k", "id * 1.5 AS amount")
        rows.write.option("header", True).csv(f"{folder}/csv")
        read = spark.read.option("header", True).csv(f"{folder}/csv")
        read.groupBy("k").count().write.parquet(f"{folder}/parquet")
        spark.read.parquet(f"{folder}/parquet").collect()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def watch_stdin(jobs: queue.Queue[str]) -> None:
    """Read the job line; at EOF (the parent closed stdin or died) end at once, even mid warm-up."""
    line = sys.stdin.readline()
    if not line.strip():
        os._exit(0)
    jobs.put(line)


def watch_parent(parent: int) -> None:
    """When the parent is gone (reparented: it was killed), end this process group at once."""
    while os.getppid() == parent:
        time.sleep(1.0)
    if os.getpgrp() == os.getpid():  # the group is this run's own (started in a session of its own)
        os.killpg(0, signal.SIGKILL)
    os._exit(1)


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
        warm_spark()
    if "--ready-file" in options:  # for whoever waits on it; outside the script's folders
        with open(options[options.index("--ready-file") + 1], "w"):
            pass
    job = json.loads(jobs.get())
    script, argv = job["script"], job["argv"]
    assert isinstance(script, str) and isinstance(argv, list)
    return run_script(script, [str(value) for value in argv])


if __name__ == "__main__":
    sys.exit(main())
