"""S3: a version's body lives on disk once it is there, not also in the emulator's memory.

With persistence on (the local AWS always runs with it), the emulator writes each object's body to its data
file and then drops it from the object's record, so an object costs no memory. A versioned bucket (the
project's data and model buckets are) also keeps a version index per key, and each entry of it kept its body
in memory: the current version's because the entry was made from the request body, a displaced version's
although the emulator had just written it under its `.versions` folder. So every PutObject to a versioned
bucket held its body for the life of the process, about 2 MB per retrain cycle (a soak of cycles, issue #17).

`VersionBodiesOnDisk` drops an entry's body once the emulator can read it back from disk: the version's own
file, or (for the current version) the object's data file. That is the state the emulator itself rebuilds
after a restart (its version entries are loaded with no body), and its reads of a version (`GetObject` with
`versionId`) take the same path: the body in memory if any, else the version's file, else the current
object's file. An entry whose file is not on disk (a failed write) keeps its body. The emulator's S3 handlers
run on its event loop, each to its end, so no read sees a version between its write and its drop.

Pinned in `tests/unit/emulator/test_s3_versions.py`.
"""

from __future__ import annotations

import os.path
from collections.abc import Callable
from typing import Any

from local.emulator.seam import replace, require, service


class VersionBodiesOnDisk:
    def install(self) -> None:
        s3 = service("s3")
        for name in ("_object_versions", "_buckets", "_version_file_exists", "_object_disk_path"):
            require(s3, name)
        replace(s3, "_persist_object", lambda original: self._then_drop_bodies(s3, original), "version-bodies-on-disk")

    @staticmethod
    def _then_drop_bodies(s3: Any, original: Callable[..., Any]) -> Callable[..., Any]:
        def persist(bucket: str, key: str, obj: Any) -> Any:
            result = original(bucket, key, obj)
            drop_bodies_on_disk(s3, bucket, key)
            return result

        return persist


def drop_bodies_on_disk(s3: Any, bucket_name: str, key: str) -> None:
    """Drop the body of each of the key's version entries that the emulator can read back from disk."""
    if not s3.S3_PERSIST:
        return
    versions = s3._object_versions.get((bucket_name, key)) or []
    bucket = s3._buckets.get(bucket_name) or {}
    current = (bucket.get("objects") or {}).get(key)
    current_on_disk = False
    if current is not None and current.get("body") is None:
        path = s3._object_disk_path(bucket_name, key)
        current_on_disk = path is not None and os.path.isfile(path)
    current_id = (current.get("version_id") or "null") if current is not None else None
    for entry in versions:
        if entry.get("data") is None or entry.get("is_delete_marker"):
            continue
        version_id = entry.get("version_id")
        if (current_on_disk and version_id == current_id) or s3._version_file_exists(bucket_name, key, version_id):
            entry["data"] = None
