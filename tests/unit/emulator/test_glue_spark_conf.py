"""The Spark conf a local Glue driver starts with (PYSPARK_SUBMIT_ARGS): how fast, never what, a job computes.

A cached DataFrame is kept uncompressed (`spark.sql.inMemoryColumnarStorage.compressed`, Spark SQL's
"Caching Data In Memory" options; default true): PrepareData caches its cleaned rows and passes over them five
times, and on a local run's two cores the columns' encoding and decoding was CPU each pass paid
(benchmarks/results/glue_warm.json).

The driver's JVM maps its Glue environment's class archive (`local.runtime.class_archive`), once `retrain local
runtimes` has built one for this machine's JVM: its classes are then loaded from the archive, not parsed.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

from local.glue_runner import GlueImports, GlueJobRun, LocalGlueJobRunner
from local.runtime import class_archive
from local.runtime.environments import EnvironmentSpec, RuntimeEnvironments

NO_AWS = "http://127.0.0.1:9"  # never called: only the run's environment is built


def spark_conf(tmp_path: Path, imports: GlueImports | None = None) -> dict[str, str]:
    runner = LocalGlueJobRunner(NO_AWS, tmp_path / "runs", tmp_path / "logs", standbys=0, imports=imports)
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
    # Java ignores TMPDIR: what the JVM unpacks for itself goes in the run's scratch folder, removed after the run.
    tmpdir = f"-Djava.io.tmpdir={tmp_path / 'scratch'}"
    assert conf["spark.driver.extraJavaOptions"] == f"-XX:TieredStopAtLevel=1 -XX:+UseSerialGC {tmpdir}"


class EnvironmentsAt(RuntimeEnvironments):
    """Every environment built under `directory`, named after its profile (the class archive goes in it)."""

    def interpreter(self, spec: EnvironmentSpec) -> str:
        return str(self.location(spec) / "bin" / "python")

    def location(self, spec: EnvironmentSpec) -> Path:
        return self.directory / spec.name


def driver_java_options(tmp_path: Path) -> list[str]:
    imports = GlueImports(tmp_path / "linked", environments=EnvironmentsAt(tmp_path / "cache"))
    return spark_conf(tmp_path, imports)["spark.driver.extraJavaOptions"].split()


def test_the_driver_maps_its_environments_class_archive_once_built_for_this_jvm(tmp_path: Path) -> None:
    tmpdir = f"-Djava.io.tmpdir={tmp_path / 'scratch'}"  # the run's scratch folder, not /tmp
    assert driver_java_options(tmp_path) == ["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", tmpdir]  # none built yet

    archive = class_archive.archive_path(tmp_path / "cache" / "glue-5.0", os.environ)
    assert archive is not None, "this machine has a java (the Spark tests need one)"
    archive.parent.mkdir(parents=True)
    archive.write_bytes(b"built")

    assert driver_java_options(tmp_path) == [
        "-XX:TieredStopAtLevel=1",
        "-XX:+UseSerialGC",
        tmpdir,
        f"-XX:SharedArchiveFile={archive}",
    ]
