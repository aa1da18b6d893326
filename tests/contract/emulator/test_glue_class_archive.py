"""The class archive `retrain local runtimes` builds is the one the local Glue driver's JVM maps.

HotSpot maps a dynamic archive only when it was dumped by the same JVM build with the same class path
(JEP 350; with `-Xshare:on` a mismatch is an error instead of a silent fallback to the jars). So a driver
started with the runner's environment, `-Xshare:on` added, must start, and load Spark's classes from the
archive ("source: shared objects file (top)" in `-Xlog:class+load`), not from Spark's jars.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from local.glue_runner import GlueImports, GlueJobRun, LocalGlueJobRunner, build_class_archive
from local.runtime import class_archive

pytestmark = [pytest.mark.local, pytest.mark.spark, pytest.mark.slow]

NO_S3 = "http://127.0.0.1:9"  # never called: only the run's environment is built
START_SECONDS = 300  # a JVM's start on a busy 2-core machine
SESSION = "from pyspark.sql import SparkSession; SparkSession.builder.getOrCreate().range(3).count()"


def test_the_runners_driver_loads_spark_from_the_archive_the_build_made(tmp_path: Path) -> None:
    imports = GlueImports(tmp_path / "linked")
    runner = LocalGlueJobRunner(NO_S3, tmp_path / "runs", tmp_path / "logs", standbys=0, imports=imports)
    run = GlueJobRun("job", "jr_1", "glueetl", (tmp_path / "job.py").as_uri(), {}, timeout_minutes=5)
    entry = imports.environments.location(imports.spec(run.glue_version))
    said: list[str] = []
    built = build_class_archive(entry, said.append)  # done by the test environments' `retrain local runtimes`
    assert built is not None, said
    try:
        env = runner._environment(run, tmp_path, [])
    finally:
        runner.close()
    assert f"-XX:SharedArchiveFile={built}" in env["PYSPARK_SUBMIT_ARGS"]
    options = f"-XX:SharedArchiveFile={built} -Xshare:on -Xlog:class+load=info:file={tmp_path / 'classes.log'}"
    # Inside the quoted extraJavaOptions (a path here has no quote in it).
    env["PYSPARK_SUBMIT_ARGS"] = env["PYSPARK_SUBMIT_ARGS"].replace(f"-XX:SharedArchiveFile={built}", options)

    session = subprocess.run(
        [env["PYSPARK_DRIVER_PYTHON"], "-c", SESSION],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=START_SECONDS,
        check=False,
    )

    assert session.returncode == 0, session.stdout[-3000:] + session.stderr[-3000:]
    loaded = (tmp_path / "classes.log").read_text(encoding="utf-8")
    assert "org.apache.spark.SparkContext source: shared objects file (top)" in loaded
    assert built.parent == entry / class_archive.FOLDER  # a cache of the built environment
