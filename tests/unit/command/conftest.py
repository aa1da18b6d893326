from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.fake_stack import AWS_ENVIRONMENT, NOT_SET, FakeStack, fake_stack


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeStack]:
    """The deployed pipeline as moto holds it, reached with RETRAIN_TARGET=aws."""
    yield from _deployed(monkeypatch, event_stream=False)


@pytest.fixture
def streaming_stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeStack]:
    """The same, deployed with a `[stream]` config: it has an event stream."""
    yield from _deployed(monkeypatch, event_stream=True)


@pytest.fixture
def catalog_stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeStack]:
    """The same, with the catalog's outputs (Glue database, table, Athena workgroup)."""
    yield from _deployed(monkeypatch, event_stream=False, catalog=True)


def _deployed(monkeypatch: pytest.MonkeyPatch, *, event_stream: bool, catalog: bool = False) -> Iterator[FakeStack]:
    for name, value in AWS_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    for name in NOT_SET:
        monkeypatch.delenv(name, raising=False)
    with fake_stack(event_stream=event_stream, catalog=catalog) as deployed:
        yield deployed
