"""The pipeline's first run, made once per test session and copied into each whole-cycle module's home.

Four modules (tests/local/conftest.py) test what comes after the first run: a first champion serving its
endpoint. Each used to make its own (a deploy, 30 demo days, a whole cycle): about 40 CPU-seconds each, on
a suite that is CPU-bound. Now the first module of the session that needs it runs the first run in a home
of its own, stops that local AWS and records what `retrain run` said; each module then starts its own local
AWS on a copy of that home. A module still owns everything it changes (its runs, endpoint, history). What
it starts from is what a restart of the local AWS after the first run finds: a home is relocatable (it
holds no absolute path and no port, only relative folders and what the services persisted), and a restart
keeping the stack and its endpoints is pinned by tests/local/test_stack.py and
tests/contract/local_sagemaker/test_restart.py.

The workers of a parallel run share the template (their temporary folders have one parent per run, as
the synthesis cache's do, tests/conftest.py); a lock makes the first to ask build it and the others wait.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local.deploy.file_lock import exclusive
from tests.support.pipeline import RUN_TIMEOUT, LocalPipeline, started_pipeline
from tests.support.polling import wait_until

RECORD = "first-run.json"
# A model server starts again with the local AWS; until it listens, SageMaker answers 503 (local.sagemaker.runtime).
ENDPOINT_RESTART_BOUND = 120.0


@dataclass(frozen=True)
class FirstRunRecord:
    code: int
    summary: dict[str, Any]
    stderr: str


def _template(factory: pytest.TempPathFactory) -> Path:
    basetemp = factory.getbasetemp()
    return (basetemp.parent if os.environ.get("PYTEST_XDIST_WORKER") else basetemp) / "first-champion"


def first_run_template(factory: pytest.TempPathFactory) -> tuple[Path, FirstRunRecord]:
    """The session's first-run home (its local AWS stopped) and the run's record; made on first need."""
    template = _template(factory)
    record = template / RECORD

    def busy() -> Exception:
        return TimeoutError(f"another test worker did not finish the first run in {template} in time")

    with exclusive(template / ".lock", RUN_TIMEOUT + 300, busy):
        if not record.exists():
            shutil.rmtree(template / "home", ignore_errors=True)
            with started_pipeline(template / "home") as pipeline:
                code, summary, stderr = pipeline.run("--approve", "auto")
            record.write_text(json.dumps({"code": code, "summary": summary, "stderr": stderr}), encoding="utf-8")
    return template / "home", FirstRunRecord(**json.loads(record.read_text(encoding="utf-8")))


def copy_of_first_run(factory: pytest.TempPathFactory, name: str) -> tuple[Path, FirstRunRecord]:
    """A new home holding what the first run left (a folder of `factory`'s named after `name`), and its record."""
    source, record = first_run_template(factory)
    home = factory.mktemp(name)

    def work_files(folder: str, names: list[str]) -> list[str]:
        # The stopped local AWS's pid files and Lambda work folders: a new start makes its own.
        return ["tmp"] if Path(folder) == source else []

    shutil.copytree(source, home, symlinks=True, ignore=work_files, dirs_exist_ok=True)
    return home, record


def wait_for_endpoint(local: LocalPipeline, record: FirstRunRecord) -> dict[str, Any]:
    """The first run's endpoint once its model server answers again in this home's local AWS."""
    endpoint, request = record.summary["endpoint"], record.summary["sample_request"]
    runtime = local.client("sagemaker-runtime")

    def answers() -> bool:
        try:
            runtime.invoke_endpoint(EndpointName=endpoint, ContentType="text/csv", Body=request)
        except ClientError as error:
            if error.response["Error"]["Code"] != "ServiceUnavailable":
                raise
            return False
        return True

    wait_until(answers, ENDPOINT_RESTART_BOUND, f"endpoint {endpoint} to answer in the copied home")
    return local.endpoint()
