"""Runtime profiles: a managed runtime's interpreter and distributions, as its own build files give them.

On AWS a Lambda function imports its zip, its layers and the runtime's boto3, and a Glue job what Glue
provides, nothing else. Locally every managed runtime runs in an isolated environment built from its
profile (`environments.py`: SageMaker's scripts, Lambda workers, Glue's Spark jobs); this module reads the
profiles and resolves the distributions a profile allows on this machine (its own and, transitively, their
runtime dependencies as installed here). What an environment cannot close is listed in docs/runtimes.md.
"""

from __future__ import annotations

import functools
import importlib.metadata
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement


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

    def allowed_distributions(self) -> frozenset[str]:
        """The profile's distributions and, transitively, the runtime dependencies of those installed here."""
        return _closure(frozenset(canonical(name) for name in self.packages))


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
