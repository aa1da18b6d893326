"""The session's running local AWS, as the fixtures of the root conftest hand it to tests."""

from __future__ import annotations

from dataclasses import dataclass

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
