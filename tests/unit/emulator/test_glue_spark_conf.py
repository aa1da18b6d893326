"""The Spark conf a local Glue driver starts with (PYSPARK_SUBMIT_ARGS): how fast, never what, a job computes.

A cached DataFrame is kept uncompressed (`spark.sql.inMemoryColumnarStorage.compressed`, Spark SQL's
"Caching Data In Memory" options; default true): PrepareData caches its cleaned rows and passes over them five
times, and on a local run's two cores the columns' encoding and decoding was CPU each pass paid
(benchmarks/results/glue_warm.json).
"""

from __future__ import annotations

import shlex
from pathlib import Path

from local.glue_runner import GlueJobRun, LocalGlueJobRunner

NO_AWS = "http://127.0.0.1:9"  # never called: only the run's environment is built


def spark_conf(tmp_path: Path) -> dict[str, str]:
    runner = LocalGlueJobRunner(NO_AWS, tmp_path / "runs", tmp_path / "logs", standbys=0)
    run = GlueJobRun("job", "jr_1", "glueetl", (tmp_path / "job.py").as_uri(), {}, timeout_minutes=1)
    try:
        submit = runner._environment(run, tmp_path / "scratch", [])["PYSPARK_SUBMIT_ARGS"]
    finally:
        runner.close()
    words = shlex.split(submit)
    return dict(words[i + 1].split("=", 1) for i, word in enumerate(words) if word == "--conf")


def test_a_local_driver_caches_dataframes_uncompressed(tmp_path: Path) -> None:
    conf = spark_conf(tmp_path)
    assert conf["spark.sql.inMemoryColumnarStorage.compressed"] == "false"
    # ... and keeps what the runner set before it.
    assert conf["spark.sql.shuffle.partitions"] == "4"
    assert conf["spark.driver.extraJavaOptions"] == "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
