"""Fixtures for every test folder: the session's local AWS, started on first use.

One emulator serves the whole session, on a free port of 127.0.0.1 with a temporary `RETRAIN_HOME`,
stopped at its end. Session fixtures live here so that every folder shares the one instance; tests
that need an AWS of their own (a restart, a fresh stack) start one themselves.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support import scheduling

if TYPE_CHECKING:
    from local.clients import LocalClients
    from tests.support.iam import RoleFactory
    from tests.support.local_aws import RunningLocalAws


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        scheduling.RECORD_OPTION,
        action="store_true",
        help="write each test file's worker-seconds into tests/file_costs.json (the longest-first order)",
    )


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption(scheduling.RECORD_OPTION) and not hasattr(config, "workerinput"):
        config.pluginmanager.register(scheduling.FileCostRecorder(), "file-cost-recorder")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Longest file first (tests/support/scheduling.py): decides which worker runs which file."""
    items[:] = scheduling.longest_first(items, scheduling.read_costs())


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    if config.getoption("dist") == "loadfile":
        return scheduling.make_scheduler(config, log)
    return None


@pytest.fixture(scope="session", autouse=True)
def session_synth_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Synthesized assemblies are cached for this test run only: what a user's cache (or an earlier
    run's) holds must never decide whether a test synthesizes. Set in the environment, so the
    commands the tests run in subprocesses use it too. The workers of a parallel run share it (their
    temporary folders have one parent per run), so each source is synthesized once per run."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        directory = tmp_path_factory.getbasetemp().parent / "synth-cache"
        directory.mkdir(exist_ok=True)
    else:
        directory = tmp_path_factory.mktemp("synth-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RETRAIN_SYNTH_CACHE", str(directory))
        yield directory


@pytest.fixture(scope="session")
def local_aws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningLocalAws]:
    """The session's running local AWS."""
    # Imported here: unit tests never start it, and need not import it.
    from local.aws import LocalAws
    from local.home import StateDirectory
    from tests.support.local_aws import RunningLocalAws

    aws = LocalAws(StateDirectory(tmp_path_factory.mktemp("retrain-home")), port=0)
    running = RunningLocalAws(aws, aws.start())
    try:
        yield running
    finally:
        aws.stop()


@pytest.fixture(scope="session")
def aws_clients(local_aws: RunningLocalAws) -> LocalClients:
    """boto3 clients pointed at the session's local AWS."""
    return local_aws.clients()


@pytest.fixture
def roles(aws_clients: LocalClients, unique_name: str) -> Iterator[RoleFactory]:
    """Roles in the local IAM, removed after the test."""
    from tests.support.iam import RoleFactory

    factory = RoleFactory(aws_clients.client("iam"), unique_name)
    yield factory
    factory.delete_all()


@pytest.fixture
def unique_name() -> str:
    """A resource name no other test uses (the emulator is shared by the session)."""
    return f"t-{uuid.uuid4().hex[:10]}"
