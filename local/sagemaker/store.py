"""The control plane's records, kept in memory and written through to the state directory.

Every record is the resource as its Describe operation shows it (plus private keys that start with
an underscore), so a restart of the local AWS reads back exactly what clients last saw. Writes are
atomic (temporary file, then rename) so a crash never leaves half a file behind.
"""

from __future__ import annotations

import copy
import json
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

Record = dict[str, Any]

KINDS = (
    "TrainingJob",
    "ProcessingJob",
    "Model",
    "EndpointConfig",
    "Endpoint",
    "ModelPackageGroup",
    "ModelPackage",
    "MonitoringSchedule",
    "MonitoringExecution",
)
FORMAT_VERSION = 1


class StateStore:
    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._lock = threading.RLock()
        self._records: dict[str, dict[str, Record]] = {kind: {} for kind in KINDS}
        if path is not None and path.exists():
            self._load(path)

    def _load(self, path: Path) -> None:
        document = json.loads(path.read_text(encoding="utf-8"))
        if document.get("format") != FORMAT_VERSION:
            raise RuntimeError(
                f"{path}: state format {document.get('format')!r} is not {FORMAT_VERSION}; "
                "move the file away to start the local SageMaker empty"
            )
        for kind, records in document.get("records", {}).items():
            if kind in self._records:
                self._records[kind] = records

    def _save(self) -> None:
        if self._path is None:
            return
        self._path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self._path.with_suffix(".tmp")
        temporary.write_text(
            json.dumps({"format": FORMAT_VERSION, "records": self._records}, indent=1, sort_keys=True),
            encoding="utf-8",
        )
        os.replace(temporary, self._path)

    def get(self, kind: str, key: str) -> Record | None:
        with self._lock:
            record = self._records[kind].get(key)
            return copy.deepcopy(record) if record is not None else None

    def exists(self, kind: str, key: str) -> bool:
        with self._lock:
            return key in self._records[kind]

    def put_new(self, kind: str, key: str, record: Record) -> bool:
        """Store a record unless the key is taken; False when it is (names are unique)."""
        with self._lock:
            if key in self._records[kind]:
                return False
            self._records[kind][key] = copy.deepcopy(record)
            self._save()
            return True

    def put(self, kind: str, key: str, record: Record) -> None:
        with self._lock:
            self._records[kind][key] = copy.deepcopy(record)
            self._save()

    def update(self, kind: str, key: str, change: Callable[[Record], None]) -> Record:
        """Apply `change` to the stored record under the lock and persist; returns a copy."""
        with self._lock:
            record = self._records[kind][key]
            change(record)
            self._save()
            return copy.deepcopy(record)

    def set_fields(self, kind: str, key: str, **fields: Any) -> Record:
        def change(record: Record) -> None:
            for name, value in fields.items():
                if value is None:
                    record.pop(name, None)
                else:
                    record[name] = value

        return self.update(kind, key, change)

    def delete(self, kind: str, key: str) -> Record | None:
        with self._lock:
            record = self._records[kind].pop(key, None)
            self._save()
            return record

    def clear(self) -> None:
        with self._lock:
            self._records = {kind: {} for kind in KINDS}
            self._save()

    def all(self, kind: str) -> list[Record]:
        with self._lock:
            return copy.deepcopy(list(self._records[kind].values()))

    def keys(self, kind: str) -> Iterator[str]:
        with self._lock:
            return iter(list(self._records[kind]))
