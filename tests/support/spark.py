"""The tests' local Spark session: two cores, few partitions, loopback only, UTC."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import Any


def local_spark(app_name: str) -> Iterator[Any]:
    """A session for a fixture to yield, stopped after (one per test session or module: a JVM costs seconds);
    the process's session if it has one already, not stopped here."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from pyspark.sql import SparkSession

    shared = SparkSession.getActiveSession()
    if shared is not None:
        # getOrCreate would hand back this process's session (another fixture's) under any app name, and
        # stopping it here broke that fixture's later tests: share it, and leave its stop to its owner.
        yield shared
        return
    session = (
        SparkSession.builder.master("local[2]")
        .appName(app_name)
        .config("spark.ui.enabled", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.sql.session.timeZone", "UTC")
        # Tiny data, short session: a JVM that compiles less warms up in a third of the time.
        .config("spark.driver.extraJavaOptions", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
        .config("spark.sql.codegen.wholeStage", "false")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
