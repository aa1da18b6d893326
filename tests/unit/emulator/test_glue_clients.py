"""The local Glue builds its clients of the local AWS once, not once per job run.

Building a boto3 client parses botocore's endpoints file and the service's model (~10 MB of objects); the
runner built an S3 client for each run's staging and the Glue service a logs client for each run's log, so
every run parsed them again (a soak of retrain cycles, issue #17).
"""

from __future__ import annotations

from pathlib import Path

from local.emulator.glue import GlueJobs
from local.glue_runner import LocalGlueJobRunner

NO_AWS = "http://127.0.0.1:9"  # never called: the clients are only built


def test_every_run_stages_through_the_same_s3_client(tmp_path: Path) -> None:
    runner = LocalGlueJobRunner(NO_AWS, tmp_path / "runs", tmp_path / "logs", standbys=0)
    try:
        assert runner._s3() is runner._s3()
    finally:
        runner.close()


def test_the_logs_client_of_every_run_shares_the_runners_session(tmp_path: Path) -> None:
    runner = LocalGlueJobRunner(NO_AWS, tmp_path / "runs", tmp_path / "logs", standbys=0)
    try:
        jobs = GlueJobs(runner)
        logs = jobs.runner.clients.client("logs", "eu-west-1")
        assert logs is runner.clients.client("logs", "eu-west-1")
        assert logs._loader is runner._s3()._loader  # one session: endpoints and models parsed once
    finally:
        runner.close()
