"""The session's running local AWS, as the fixtures of the root conftest hand it to tests."""

from __future__ import annotations

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

    def command_environment(self, patch: pytest.MonkeyPatch) -> None:
        """The `retrain` command pointed at this local AWS, as a user's shell after `retrain local up` is."""
        patch.setenv("RETRAIN_HOME", str(self.home.root))
        patch.setenv("RETRAIN_LOCAL_PORT", str(self.process.port))
        for name in ("RETRAIN_TARGET", "AWS_ENDPOINT_URL", "RETRAIN_BUCKET"):
            patch.delenv(name, raising=False)
