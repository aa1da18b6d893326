"""Synthesized cloud assemblies kept by their source fingerprint, shared by every local AWS of a user.

Synthesis (the app's Python, jsii and node) is the slowest step of a deploy into a fresh local AWS,
and its output depends only on what `SourceFingerprint` hashes (files, packages, context) plus the
account and region it is synthesized for. So two homes deploying the same sources (two test
sessions, `retrain local up` after a `local reset`) need it once: the second copies nothing and runs
nothing, it deploys the cached assembly. A changed source is a new key; the cache keeps the newest
few entries.

Entries are written under a temporary name and renamed into place, so a reader never sees half an
assembly and two writers of one key race harmlessly (the loser's copy is dropped). A deploy holds the
key's lock while it looks up and, on a miss, synthesizes: a second deploy of the same sources at the
same time (another local AWS, another test worker) waits for that synthesis instead of repeating it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from local.deploy.assembly import DeployError
from local.deploy.file_lock import exclusive
from local.home import user_cache_directory

CACHE_ENV = "RETRAIN_SYNTH_CACHE"
DEFAULT_KEEP = 8
_LAYOUT = "v1"  # bump when what an entry holds changes


def default_cache_directory() -> Path:
    """`RETRAIN_SYNTH_CACHE`, else the user's cache folder (XDG)."""
    return user_cache_directory(CACHE_ENV, "synth")


class SynthCache:
    """Cloud assemblies by key: `lookup` returns an entry's folder, `store` adds one."""

    def __init__(self, directory: Path, keep: int = DEFAULT_KEEP) -> None:
        self.directory = directory
        self.keep = keep

    @staticmethod
    def key(source_fingerprint: str, account: str, region: str) -> str:
        identity = f"{_LAYOUT}\0{source_fingerprint}\0{account}\0{region}"
        return hashlib.sha256(identity.encode()).hexdigest()[:32]

    @contextlib.contextmanager
    def producing(self, key: str, timeout: float) -> Iterator[None]:
        """Held while one deploy looks `key` up and, on a miss, synthesizes and stores it."""
        lock = self.directory / f".{key}.lock"

        def busy() -> DeployError:
            return DeployError(f"another deploy did not finish synthesizing within {timeout:.0f}s; {lock} is held")

        with exclusive(lock, timeout, busy):
            yield

    def lookup(self, key: str) -> Path | None:
        entry = self.directory / key
        if not (entry / "manifest.json").is_file():
            return None
        with contextlib.suppress(OSError):
            os.utime(entry)  # recently used entries survive the pruning
        return entry

    def store(self, key: str, assembly: Path) -> Path:
        """Copy a synthesized assembly folder in as `key`; return the entry (ours or a racing writer's)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        entry = self.directory / key
        staging = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=self.directory))
        try:
            shutil.copytree(assembly, staging, dirs_exist_ok=True, symlinks=True)
            try:
                staging.rename(entry)
            except OSError:  # another writer stored the same key first
                if not (entry / "manifest.json").is_file():
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        self._prune()
        return entry

    def _prune(self) -> None:
        entries = [path for path in self.directory.iterdir() if path.is_dir() and not path.name.startswith(".")]
        entries.sort(key=lambda path: path.stat().st_mtime, reverse=True)
        for stale in entries[self.keep :]:
            shutil.rmtree(stale, ignore_errors=True)
