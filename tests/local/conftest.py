"""The whole-cycle modules' pipeline: each module gets a local AWS of its own, started on a copy of the
home the pipeline's first run left (a champion to test against; the run is made once per test session,
tests/support/first_champion.py). Modules are independent, so parallel workers can run them side by side."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from tests.support.cycles import FirstRun
from tests.support.first_champion import copy_of_first_run, wait_for_endpoint
from tests.support.pipeline import LocalPipeline, started_pipeline


@pytest.fixture(scope="module")
def first_run_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, FirstRun]:
    """This module's home, a copy of what the pipeline's first run left, and that run's record."""
    return copy_of_first_run(tmp_path_factory, "retrain-cycles")


@pytest.fixture(scope="module")
def local(first_run_home: tuple[Path, FirstRun]) -> Iterator[LocalPipeline]:
    with started_pipeline(first_run_home[0]) as pipeline:
        yield pipeline


@pytest.fixture(scope="module")
def first_run(local: LocalPipeline, first_run_home: tuple[Path, FirstRun]) -> FirstRun:
    """The pipeline's first run, on a fresh local AWS: `retrain run` deployed the stack, landed demo
    days (the landing prefix was empty) and promoted the first champion, whose endpoint answers here."""
    record = first_run_home[1]
    return replace(record, endpoint=wait_for_endpoint(local, record)) if record.code == 0 else record


@pytest.fixture
def champion(first_run: FirstRun) -> None:
    """A champion serves the endpoint (the first run's, or one promoted since)."""
    assert first_run.code == 0, f"the first run failed: {first_run.stderr}"
