from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.fake_stack import AWS_ENVIRONMENT, NOT_SET, FakeStack, fake_stack


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeStack]:
    """The deployed pipeline as moto holds it, reached with RETRAIN_TARGET=aws."""
    for name, value in AWS_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    for name in NOT_SET:
        monkeypatch.delenv(name, raising=False)
    with fake_stack() as deployed:
        yield deployed
