"""Fixtures of the emulator contract tests: builders of Lambdas and state machines on the session's
local AWS (the root conftest starts it)."""

from __future__ import annotations

import pytest

from local.clients import LocalClients
from tests.support.emulator import FunctionFactory, StateMachineRunner


@pytest.fixture
def functions(aws_clients: LocalClients, unique_name: str) -> FunctionFactory:
    return FunctionFactory(aws_clients, unique_name)


@pytest.fixture
def machines(aws_clients: LocalClients, unique_name: str) -> StateMachineRunner:
    return StateMachineRunner(aws_clients, unique_name)
