"""The whole-cycle modules' pipeline: each module gets a local AWS of its own and, on first need, the
pipeline's first run there (a champion to test against). Modules are independent, so parallel workers
can run them side by side."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.cycles import FirstRun
from tests.support.pipeline import LocalPipeline, started_pipeline


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPipeline]:
    with started_pipeline(tmp_path_factory.mktemp("retrain-cycles")) as pipeline:
        yield pipeline


@pytest.fixture(scope="module")
def first_run(local: LocalPipeline) -> FirstRun:
    """The pipeline's first run, on the fresh local AWS: `retrain run` deploys the stack, lands demo
    days (the landing prefix is empty) and promotes the first champion."""
    code, summary, stderr = local.run("--approve", "auto")
    return FirstRun(code, summary, stderr, local.endpoint() if code == 0 else {})


@pytest.fixture
def champion(first_run: FirstRun) -> None:
    """A champion serves the endpoint (the first run's, or one promoted since)."""
    assert first_run.code == 0, f"the first run failed: {first_run.stderr}"
