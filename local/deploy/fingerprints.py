"""Fingerprints of a deploy, and the records of the last one, so an unchanged deploy can be skipped.

`SourceFingerprint` hashes what an app's synthesis depends on without running it (files, packages,
context); `StackFingerprint` is what a synthesized stack is deployed from (template, asset keys,
parameters). `DeploymentRecords` keeps both for the last successful deploy of each app into one local
AWS (a JSON file per app under its state directory) and a file lock that keeps two deploys of one
app from interleaving.
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from local.deploy.assembly import CdkApp, DeployError, StackArtifact
from local.deploy.file_lock import exclusive


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def canonical_template_sha256(template: Any) -> str:
    """A template's hash independent of key order and whitespace (GetTemplate reformats it)."""
    document = json.loads(template) if isinstance(template, str) else template
    return _sha256(json.dumps(document, sort_keys=True, separators=(",", ":")).encode())


@dataclass(frozen=True)
class StackFingerprint:
    """What a stack is deployed from: its template, the objects of its assets and its parameters.

    Asset object keys are content hashes (CDK names them so), so the keys stand for the bytes.
    """

    stack_name: str
    template_sha256: str
    assets: tuple[tuple[str, str], ...]
    parameters: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, stack: StackArtifact) -> StackFingerprint:
        return cls(
            stack_name=stack.stack_name,
            template_sha256=canonical_template_sha256(stack.template.read_text(encoding="utf-8")),
            assets=tuple(sorted({(asset.bucket, asset.key) for asset in stack.assets})),
            parameters=tuple(sorted(stack.parameters.items())),
        )

    def as_record(self) -> dict[str, Any]:
        return {
            "stack_name": self.stack_name,
            "template_sha256": self.template_sha256,
            "assets": [list(asset) for asset in self.assets],
            "parameters": [list(parameter) for parameter in self.parameters],
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> StackFingerprint:
        return cls(
            stack_name=str(record["stack_name"]),
            template_sha256=str(record["template_sha256"]),
            assets=tuple((str(bucket), str(key)) for bucket, key in record.get("assets", [])),
            parameters=tuple((str(name), str(value)) for name, value in record.get("parameters", [])),
        )


@dataclass(frozen=True)
class SourceFingerprint:
    """What an app's synthesized output depends on, hashed without running the app: the files it
    reads (glob patterns relative to its root), the packages that synthesize it, and the context.

    Equal fingerprints let a deploy skip synthesis (seconds of node and jsii); anything the
    patterns miss only costs a synthesis, because the templates are compared again after it.
    """

    root: Path
    patterns: tuple[str, ...]
    distributions: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()  # fnmatch patterns of relative paths (`*` spans folders)
    extra_files: tuple[Path, ...] = ()  # absolute paths of files outside the root it reads too
    ignored_parts: tuple[str, ...] = ("__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache")

    def files(self) -> list[Path]:
        found: set[Path] = set()
        for pattern in self.patterns:
            for path in self.root.glob(pattern):
                relative = path.relative_to(self.root)
                if not path.is_file() or set(relative.parts) & set(self.ignored_parts):
                    continue
                if any(fnmatch.fnmatchcase(relative.as_posix(), exclude) for exclude in self.excludes):
                    continue
                found.add(path)
        return sorted(found)

    def compute(self, context: dict[str, Any]) -> str:
        digest = hashlib.sha256()
        for path in self.files():
            digest.update(path.relative_to(self.root).as_posix().encode() + b"\0")
            digest.update(_sha256(path.read_bytes()).encode() + b"\n")
        for path in self.extra_files:
            digest.update(str(path).encode() + b"\0")
            digest.update(_sha256(path.read_bytes()).encode() + b"\n")
        for name in self.distributions:
            try:
                found = version(name)
            except PackageNotFoundError:
                found = "absent"
            digest.update(f"{name}=={found}\n".encode())
        digest.update(f"python {sys.version_info[:3]}\n".encode())
        digest.update(json.dumps(context, sort_keys=True).encode())
        return digest.hexdigest()


class DeploymentRecords:
    """The fingerprints of what was last deployed into one local AWS, one JSON file per app,
    under its state directory, and a lock that keeps two deploys of one app from interleaving."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, app: CdkApp) -> Path:
        identity = json.dumps(
            {"app": str(app.directory.resolve()), "entry": app.entry, "context": app.context}, sort_keys=True
        )
        return self.directory / f"app-{_sha256(identity.encode())[:16]}.json"

    def load(self, app: CdkApp) -> dict[str, Any] | None:
        try:
            record = json.loads(self.path(app).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return record if isinstance(record, dict) else None

    def save(self, app: CdkApp, record: dict[str, Any]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.path(app)
        scratch = target.with_suffix(".tmp")
        scratch.write_text(json.dumps(record, indent=2, sort_keys=True), encoding="utf-8")
        scratch.replace(target)

    def forget(self, app: CdkApp) -> None:
        self.path(app).unlink(missing_ok=True)

    @contextlib.contextmanager
    def locked(self, app: CdkApp, timeout: float) -> Iterator[None]:
        lock = self.path(app).with_suffix(".lock")

        def busy() -> DeployError:
            return DeployError(
                f"another deploy of {app.directory / app.entry} into this local AWS did not finish "
                f"within {timeout:.0f}s; if none is running, delete {lock}"
            )

        with exclusive(lock, timeout, busy):
            yield
