"""The pipeline's first run, made once per test session and copied into each whole-cycle module's home.

Four modules (tests/local/conftest.py) test what comes after the first run: a first champion serving its
endpoint. Each used to make its own (a deploy, 30 demo days, a whole cycle): about 40 CPU-seconds each, on
a suite that is CPU-bound. Now the first module of the session that needs it runs the first run in a home
of its own, stops that local AWS and records what `retrain run` said; each module then starts its own local
AWS on a copy of that home. A module still owns everything it changes (its runs, endpoint, history). What
it starts from is what a restart of the local AWS after the first run finds: a home is relocatable (nothing
the services read back at start names the home's folder or port; the template's folder appears only in
text: log lines, a job's report, compiled model code's file names), and a restart keeping the stack and its
endpoints is pinned by tests/local/test_stack.py and tests/contract/local_sagemaker/test_restart.py. The
copy's endpoint is probed until its model server answers again, with the run summary's sample request: so a
module starts with one captured request of a demo row (like the training data) that the old flow lacked.

Only a first run that promoted and a clean stop are shared: a failed one fails the module that made it
(with its stderr, as before) and the next module to ask makes it again.

The workers of a parallel run share the template (their temporary folders have one parent per run, as
the synthesis cache's do, tests/conftest.py); a lock makes the first to ask build it and the others wait.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local.deploy.file_lock import exclusive
from local.home import StateDirectory
from tests.support.cycles import FirstRun
from tests.support.pipeline import RUN_TIMEOUT, LocalPipeline, started_pipeline
from tests.support.polling import wait_until

RECORD = "first-run.json"
# A model server starts again with the local AWS; until it listens, SageMaker answers 503 (local.sagemaker.runtime).
ENDPOINT_RESTART_BOUND = 120.0


def _template(factory: pytest.TempPathFactory) -> Path:
    basetemp = factory.getbasetemp()
    return (basetemp.parent if os.environ.get("PYTEST_XDIST_WORKER") else basetemp) / "first-champion"


def copy_of_first_run(factory: pytest.TempPathFactory, name: str) -> tuple[Path, FirstRun]:
    """A new home (a folder of `factory`'s named after `name`) holding what the session's first run left, and
    that run's record (its endpoint not yet described: `{}`); the first run is made on first need. The copy is
    made under the template's lock, so no other worker is making the template again meanwhile."""
    template = _template(factory)
    source, record = template / "home", template / RECORD

    def busy() -> Exception:
        return TimeoutError(f"another test worker did not finish the first run in {template} in time")

    def work_files(folder: str, names: list[str]) -> list[str]:
        # The Lambda and Glue work folders and the pid file of the stopped local AWS: a new start makes its own.
        return ["tmp", "emulator.json"] if Path(folder) == source else []

    home = factory.mktemp(name)
    with exclusive(template / ".lock", RUN_TIMEOUT + 300, busy):
        if record.exists():
            made = FirstRun(**json.loads(record.read_text(encoding="utf-8")))
        else:
            made = _first_run(source)
            # A stop that had to kill leaves the crash marker (local.emulator.durability): not a home to share.
            if made.code == 0 and not StateDirectory(source).crash_marker.exists():
                partial = record.with_suffix(".partial")
                partial.write_text(json.dumps(asdict(made)), encoding="utf-8")
                partial.replace(record)  # a reader finds a whole record or none
        shutil.copytree(source, home, symlinks=True, ignore=work_files, dirs_exist_ok=True)
    return home, made


def _first_run(home: Path) -> FirstRun:
    """`retrain run --approve auto` on a new local AWS in `home`, stopped after it."""
    shutil.rmtree(home, ignore_errors=True)
    with started_pipeline(home) as pipeline:
        code, summary, stderr = pipeline.run("--approve", "auto")
    return FirstRun(code, summary, stderr, {})


def wait_for_endpoint(local: LocalPipeline, record: FirstRun) -> dict[str, Any]:
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
