"""What a local Glue driver's JVM writes for itself stays in its run's scratch folder, which goes with the run.

Java's `java.io.tmpdir` is /tmp whatever TMPDIR says, and Spark's JVM unpacks native libraries there (snappy's
and lz4's, for the warm-up's Parquet writes and shuffles) and makes `spark-*` folders, deleted at a normal exit
only. A standby is ended with SIGKILL when its parent dies or it is discarded, so each one killed left four
entries in /tmp (measured: a standby killed with its parent, before and after this change).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from local.glue_runner import GlueImports, GlueJobRun, LocalGlueJobRunner
from tests.support.polling import wait_until

pytestmark = [pytest.mark.local, pytest.mark.spark, pytest.mark.slow]

NO_S3 = "http://127.0.0.1:9"  # never called: the standby only warms up
START_SECONDS = 300  # a JVM's start on a busy 2-core machine


def test_a_standbys_jvm_unpacks_its_native_libraries_in_its_scratch_folder_not_in_tmp(tmp_path: Path) -> None:
    runner = LocalGlueJobRunner(NO_S3, tmp_path / "runs", tmp_path / "logs", imports=GlueImports(tmp_path / "linked"))
    job = tmp_path / "job.py"
    job.write_text("print('a job')\n")
    try:
        runner.warm(GlueJobRun("job", "jr_1", "glueetl", job.as_uri(), {}, timeout_minutes=5))
        [standby] = runner.standbys.waiting()
        wait_until(standby.ready, START_SECONDS, "the standby's warm-up")
        unpacked = {path.name for path in standby.scratch.iterdir()}
    finally:
        runner.close()

    assert any(name.startswith("snappy-") and name.endswith("-libsnappyjava.so") for name in unpacked), unpacked
    assert any(name.startswith("liblz4-java-") for name in unpacked), unpacked
    assert not standby.scratch.exists()  # removed with the standby
