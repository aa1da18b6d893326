"""Two deploys of the same sources at once synthesize once: the second waits on the key's lock."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from local.deploy.assembly import DeployError
from local.deploy.synth_cache import SynthCache

BUSY = "another deploy did not finish synthesizing"


def an_assembly(tmp_path: Path) -> Path:
    folder = tmp_path / "cdk.out"
    folder.mkdir()
    (folder / "manifest.json").write_text("{}")
    return folder


def test_a_second_producer_of_a_key_waits_and_then_finds_the_first_ones_entry(tmp_path: Path) -> None:
    cache = SynthCache(tmp_path / "cache")
    assembly = an_assembly(tmp_path)
    holding, release = threading.Event(), threading.Event()

    def first_deploy() -> None:
        with cache.producing("key", timeout=10):
            holding.set()
            release.wait(10)
            cache.store("key", assembly)

    thread = threading.Thread(target=first_deploy)
    thread.start()
    try:
        assert holding.wait(10)
        with (
            pytest.raises(DeployError, match="another deploy did not finish synthesizing"),
            cache.producing("key", 0.3),
        ):
            pytest.fail("entered while the first deploy held the key")
        # Another key is not held up by it.
        with cache.producing("other", timeout=1):
            assert cache.lookup("other") is None
    finally:
        release.set()
        thread.join(10)
    with cache.producing("key", timeout=10):
        assert cache.lookup("key") == cache.directory / "key"
