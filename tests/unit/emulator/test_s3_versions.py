"""A versioned bucket's version bodies are read back from disk, not kept in the emulator's memory.

Each PutObject to a versioned bucket kept its body in the key's version index for the life of the process,
although the emulator had written it to disk (about 2 MB per retrain cycle in a soak, issue #17). Here the
emulator's S3 runs in-process on a temp folder, with persistence on as the local AWS runs it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local.emulator import seam
from local.emulator.s3 import VersionBodiesOnDisk

BUCKET = "retrain-versions-test"
VERSIONING_ON = (
    b'<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Enabled</Status>'
    b"</VersioningConfiguration>"
)


@pytest.fixture
def s3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    module = seam.service("s3")
    monkeypatch.setattr(module, "_persist_object", module._persist_object)  # the fix's patch is undone after
    monkeypatch.setattr(module, "S3_PERSIST", True)
    monkeypatch.setattr(module, "DATA_DIR", str(tmp_path / "s3"))
    module.reset()
    VersionBodiesOnDisk().install()
    status, _, _ = module._create_bucket(BUCKET, b"")
    assert status == 200
    assert module._put_bucket_versioning(BUCKET, VERSIONING_ON)[0] == 200
    yield module
    module.reset()


def bodies_in_memory(s3: Any) -> int:
    return sum(len(entry.get("data") or b"") for entry in s3._object_versions.get((BUCKET, "day.csv")) or [])


def test_repeated_puts_to_a_versioned_bucket_keep_no_version_body_in_memory(s3: Any) -> None:
    bodies = [bytes([n]) * 100_000 for n in range(6)]
    for body in bodies:
        assert s3._put_object(BUCKET, "day.csv", body, {})[0] == 200

    versions = s3._object_versions.get((BUCKET, "day.csv"))
    assert len(versions) == len(bodies)
    assert bodies_in_memory(s3) == 0
    # Every version still reads back, the current one and each displaced one (GetObject with versionId).
    for entry, body in zip(versions, bodies, strict=True):
        assert s3._get_object_data(BUCKET, "day.csv", entry["version_id"]) == body
    assert s3._get_object_data(BUCKET, "day.csv") == bodies[-1]


def test_a_body_the_emulator_could_not_write_stays_in_memory(s3: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def disk_full(*args: Any, **kwargs: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(s3, "_atomic_write", disk_full)
    assert s3._put_object(BUCKET, "day.csv", b"a,b\n1,2\n", {})[0] == 200

    assert bodies_in_memory(s3) == len(b"a,b\n1,2\n")
