"""Shared fixtures for tests that need a running local AWS.

One emulator serves the whole test session: started on a free port of 127.0.0.1 with a temporary
`RETRAIN_HOME`, stopped at the end. `tests/contract/emulator/conftest.py` re-exports these fixtures;
the emulator is shared even when both folders run in one session.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from local.aws import EmulatorProcess, LocalAws
from local.clients import LocalClients
from local.home import StateDirectory


@dataclass(frozen=True)
class RunningLocalAws:
    aws: LocalAws
    process: EmulatorProcess

    @property
    def home(self) -> StateDirectory:
        return self.aws.home

    @property
    def endpoint(self) -> str:
        return self.process.endpoint

    def clients(self) -> LocalClients:
        return LocalClients.at_port(self.process.port)


class _SessionEmulator:
    """Starts the emulator for the first fixture user and stops it after the last."""

    def __init__(self) -> None:
        self.running: RunningLocalAws | None = None
        self.users = 0

    def acquire(self, factory: pytest.TempPathFactory) -> RunningLocalAws:
        if self.running is None:
            aws = LocalAws(StateDirectory(factory.mktemp("retrain-home")), port=0)
            self.running = RunningLocalAws(aws, aws.start())
        self.users += 1
        return self.running

    def release(self) -> None:
        self.users -= 1
        if self.users == 0 and self.running is not None:
            self.running.aws.stop()
            self.running = None


def _session_emulator(config: pytest.Config) -> _SessionEmulator:
    # Kept on the session's config: this file may be imported twice (as a conftest and by name).
    emulator = getattr(config, "_retrain_session_emulator", None)
    if emulator is None:
        emulator = _SessionEmulator()
        config._retrain_session_emulator = emulator  # type: ignore[attr-defined]
    return emulator


@pytest.fixture(scope="session")
def local_aws(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningLocalAws]:
    """The session's running local AWS."""
    emulator = _session_emulator(request.config)
    running = emulator.acquire(tmp_path_factory)
    try:
        yield running
    finally:
        emulator.release()


@pytest.fixture(scope="session")
def aws_clients(local_aws: RunningLocalAws) -> LocalClients:
    """boto3 clients pointed at the session's local AWS."""
    return local_aws.clients()


@pytest.fixture
def unique_name() -> str:
    """A resource name no other test uses (the emulator is shared by the session)."""
    return f"t-{uuid.uuid4().hex[:10]}"
