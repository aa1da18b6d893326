"""Managed scripts see their runtime's packages only: an import guard built from a runtime profile.

On AWS a Lambda function imports its zip, its layers and the runtime's boto3, and a Glue job what Glue
provides, nothing else. Locally every managed runtime now runs in an isolated environment instead
(`environments.py`: SageMaker's scripts, Lambda workers, Glue's Spark jobs); the profile reading here
serves them, and the guard remains for a check that needs no environment (benchmarks, unit tests).

The mechanism: every process of a guarded script starts with `import_guard/sitecustomize.py` first on
its `PYTHONPATH`, which installs a meta path finder refusing, with the interpreter's own
`ModuleNotFoundError: No module named 'x'`, each top-level module of an installed distribution that is
neither in the profile nor a runtime dependency of one (as installed here). The standard library and the
script's own folders are never refused. What it cannot close (versions, packages of the runtime not
installed here) is listed in docs/runtimes.md.
"""

from __future__ import annotations

import functools
import importlib.metadata
import json
import os
import re
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

from local.runtime.import_guard.sitecustomize import GUARD_ENV

GUARD_DIR = Path(__file__).with_name("import_guard")


def canonical(name: str) -> str:
    """A distribution name as packaging normalizes it (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class RuntimeProfile:
    """A managed runtime's interpreter and distributions, as its own build files give them."""

    name: str
    python: str
    packages: dict[str, str]  # distribution -> version specifier
    source: dict[str, object]

    @classmethod
    def load(cls, path: Path) -> RuntimeProfile:
        try:
            document = tomllib.loads(path.read_text(encoding="utf-8"))
            profile = document["profile"]
            return cls(profile["name"], profile["python"], dict(document["packages"]), dict(document["source"]))
        except (OSError, tomllib.TOMLDecodeError, KeyError) as error:
            raise ValueError(
                f"runtime profile {path}: unreadable ({error}); it needs [profile], [source], [packages]"
            ) from None

    def extended(self, name: str, packages: Mapping[str, str], source: Mapping[str, object]) -> RuntimeProfile:
        """This runtime with more distributions: a Lambda layer's, a Glue job's `--additional-python-modules`."""
        return RuntimeProfile(name, self.python, {**self.packages, **packages}, {**self.source, **source})

    def allowed_distributions(self) -> frozenset[str]:
        """The profile's distributions and, transitively, the runtime dependencies of those installed here."""
        return _closure(frozenset(canonical(name) for name in self.packages))

    def blocked_modules(self) -> dict[str, list[str]]:
        """Top-level module -> its installed distributions, for modules none of whose distributions is allowed."""
        return _blocked(self.allowed_distributions())


@functools.lru_cache(maxsize=8)
def _closure(names: frozenset[str]) -> frozenset[str]:
    allowed: set[str] = set()
    pending = list(names)
    while pending:
        name = pending.pop()
        if name in allowed:
            continue
        allowed.add(name)
        try:
            requirements = importlib.metadata.requires(name) or []
        except importlib.metadata.PackageNotFoundError:
            continue  # in the image, not on this machine: nothing of it can be imported here anyway
        for text in requirements:
            try:
                requirement = Requirement(text)
            except InvalidRequirement:
                continue
            # Only what the distribution needs without extras (`extra == ...` markers are optional).
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                pending.append(canonical(requirement.name))
    return frozenset(allowed)


@functools.cache
def _installed_modules() -> Mapping[str, list[str]]:
    return importlib.metadata.packages_distributions()  # ~0.4 s here: once per process, for every profile


@functools.lru_cache(maxsize=8)
def _blocked(allowed: frozenset[str]) -> dict[str, list[str]]:
    blocked: dict[str, list[str]] = {}
    for module, distributions in _installed_modules().items():
        if module in sys.stdlib_module_names or not module.isidentifier():
            continue
        if not any(canonical(distribution) in allowed for distribution in distributions):
            blocked[module] = sorted(set(distributions))
    return blocked


class ImportGuard:
    """The environment that starts a script under a profile's import guard; its config file lives in `folder`."""

    def __init__(self, profile: RuntimeProfile, folder: Path) -> None:
        self.profile = profile
        self._config = folder / f"{profile.name}.imports.json"
        self._written = False  # written once by each local AWS process: the installed packages may have changed

    def environment(self, python_path: str | None = None) -> dict[str, str]:
        """What to add to the script's environment; `python_path` is the `PYTHONPATH` it would have had."""
        if not self._written:
            self._config.parent.mkdir(parents=True, exist_ok=True)
            document = {
                "profile": self.profile.name,
                "python": self.profile.python,
                "blocked": self.profile.blocked_modules(),
            }
            partial = self._config.with_suffix(f".{os.getpid()}.tmp")
            partial.write_text(json.dumps(document, sort_keys=True), encoding="utf-8")
            partial.replace(self._config)
            self._written = True
        entries = [str(GUARD_DIR), *(entry for entry in (python_path or "").split(os.pathsep) if entry)]
        return {"PYTHONPATH": os.pathsep.join(entries), GUARD_ENV: str(self._config)}
