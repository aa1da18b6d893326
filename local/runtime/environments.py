"""Isolated Python environments built from runtime profiles, cached by content for every local AWS of a user.

A managed runtime's scripts (a SageMaker job, a model server) run on the interpreter of a virtualenv that
holds the profile's `[local] requirements` and nothing else: never the project's venv, so a script sees the
image's scikit-learn 1.2.1, not the project's, and cannot import what the image lacks. Building needs the
package index once (`retrain local runtimes`, which `retrain local up` and the test environments run); after
that everything is offline. A job whose environment is missing fails naming that command rather than
building it there: a job never waits minutes on the network, and tests never reach it.

An entry's key is the hash of its pins and of the interpreter's version, so a changed profile is a new
entry. It is built in a temporary folder, checked (exactly the pinned distributions, their dependencies
consistent) and renamed into place, so a reader never sees half an environment and two sessions building
the same key race harmlessly (the loser's copy is dropped).

A profile's `[local] linked` distributions are not installed but linked (a symlink per top-level entry) from
this machine's environment into the environment's site-packages: what the managed runtime has as its platform
rather than as a package. Glue's Spark is one: PySpark on the package index is a 317 MB sdist holding Spark's
jars; building it (measured here: 2 minutes on a loaded 2-core machine, 18 s of CPU) makes a 318 MB wheel that
installs as 349 MB more per environment, a second copy of the PySpark 3.5 the project already pins. Linked, it
costs nothing, and the key holds its version and location, so another PySpark (or another venv) is another entry.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import platform
import shutil
import subprocess  # venv and pip build the environments  # nosec B404
import sys
import tempfile
import tomllib
import venv
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

from local.home import user_cache_directory
from local.runtime.isolation import canonical
from retrain.errors import RetrainError

CACHE_ENV = "RETRAIN_RUNTIME_CACHE"
BUILD_COMMAND = "retrain local runtimes"
_LAYOUT = "v2"  # bump when what an entry holds changes
_MARKER = "runtime.json"
_SEED = {"pip", "setuptools"}  # what ensurepip puts in every environment
# Prints {distribution: version} of what the environment's interpreter can import.
_INVENTORY = (
    "import importlib.metadata as m, json; "
    "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))"
)


class EnvironmentMissing(Exception):
    """A profile's environment is not built yet (the message names the command that builds it)."""


class EnvironmentBuildError(RetrainError):
    """Building or checking an environment failed (the message says how)."""


def default_cache_directory() -> Path:
    """`RETRAIN_RUNTIME_CACHE`, else the user's cache folder (XDG)."""
    return user_cache_directory(CACHE_ENV, "runtimes")


@dataclass(frozen=True)
class EnvironmentSpec:
    """What a profile's environment holds: its name, Python version and every distribution pinned."""

    name: str
    python: str
    pins: dict[str, str]  # canonical distribution name -> exact version
    # canonical name -> "version@location" of a distribution linked from this machine (`[local] linked`)
    linked: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_profile(cls, path: Path) -> EnvironmentSpec:
        try:
            document = tomllib.loads(path.read_text(encoding="utf-8"))
            name, local = document["profile"]["name"], document["local"]
            python, requirements = str(local["python"]), list(local["requirements"])
        except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError) as error:
            raise ValueError(f"runtime profile {path}: no usable [local] table ({error})") from None
        pins: dict[str, str] = {}
        for text in requirements:
            try:
                requirement = Requirement(text)
            except InvalidRequirement as error:
                raise ValueError(f"runtime profile {path}: [local] requirement {text!r}: {error}") from None
            specifiers = list(requirement.specifier)
            if len(specifiers) != 1 or specifiers[0].operator != "==" or "*" in specifiers[0].version:
                raise ValueError(f"runtime profile {path}: [local] requirement {text!r} must pin one version (==)")
            pins[canonical(requirement.name)] = specifiers[0].version
        return cls(name, python, pins, _installed_here(path, local.get("linked", [])))

    def requirements(self) -> list[str]:
        return [f"{name}=={version}" for name, version in sorted(self.pins.items())]

    def key(self) -> str:
        """The entry's key: the pins, this interpreter's full version and platform."""
        identity = json.dumps(
            [_LAYOUT, self.requirements(), platform.python_version(), sys.platform, platform.machine()]
            + ([sorted(self.linked.items())] if self.linked else [])
        )
        return hashlib.sha256(identity.encode()).hexdigest()[:16]


class RuntimeEnvironments:
    """The cache of built environments: `interpreter` finds one, `build` makes one."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or default_cache_directory()

    def location(self, spec: EnvironmentSpec) -> Path:
        return self.directory / f"{spec.name}-{spec.key()}"

    def is_built(self, spec: EnvironmentSpec) -> bool:
        return (self.location(spec) / _MARKER).is_file()

    def interpreter(self, spec: EnvironmentSpec) -> str:
        """The built environment's Python; EnvironmentMissing when it is not built."""
        entry = self.location(spec)
        if not self.is_built(spec):
            raise EnvironmentMissing(
                f"the runtime environment {spec.name} is not built (looked in {entry}); "
                f"run `{BUILD_COMMAND}` once (it needs the package index), then start the job again"
            )
        return str(entry / "bin" / "python")

    def remove_orphans(self) -> list[Path]:
        """Remove the built entries whose linked distributions are gone (the environment they were linked from was
        removed, e.g. a clone's tox environment): their key names that location, so no spec finds them again, and
        each holds its own copy of the rest (some 600 MB for Glue's). Entries still being built are left alone."""
        removed = []
        for entry in sorted(self.directory.glob("*")) if self.directory.is_dir() else []:
            if entry.name.startswith(".") or not (entry / _MARKER).is_file():
                continue
            if _links_dangle(entry):
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(entry)
        return removed

    def build(self, spec: EnvironmentSpec) -> tuple[Path, bool]:
        """The entry, built unless it already was; True when this call built it."""
        entry = self.location(spec)
        if self.is_built(spec):
            return entry, False
        running = f"{sys.version_info.major}.{sys.version_info.minor}"
        if running != spec.python:
            raise EnvironmentBuildError(
                f"{spec.name} needs Python {spec.python} and this is {running}: build it from a Python {spec.python}"
            )
        self.directory.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{entry.name}-", dir=self.directory))
        try:
            # Seeded with the interpreter's own pip (ensurepip, offline), as the image has pip and setuptools:
            # the build needs neither uv nor a pip in the project's environment.
            venv.EnvBuilder(symlinks=True, with_pip=True, clear=True).create(staging)
            python = str(staging / "bin" / "python")
            # -I: pip sees the environment alone, never PYTHONPATH or the working folder (a project there).
            pip = [python, "-I", "-m", "pip", "--disable-pip-version-check", "--no-input"]
            # --no-deps: the pins are the whole closure, so resolution cannot drift with the index's day.
            if spec.pins:
                _run([*pip, "install", "--quiet", "--only-binary=:all:", "--no-deps", *spec.requirements()], spec)
            if spec.linked:
                link_distributions(spec.linked, site_packages(staging))
            _run([*pip, "check"], spec)
            installed = json.loads(_run([python, "-I", "-c", _INVENTORY], spec))
            found = {canonical(name): version for name, version in installed.items() if canonical(name) not in _SEED}
            expected = {**spec.pins, **{name: value.split("@")[0] for name, value in spec.linked.items()}}
            if found != expected:
                raise EnvironmentBuildError(f"{spec.name}: installed {found}, the profile pins {expected}")
            marker = {"profile": spec.name, "python": platform.python_version(), "distributions": spec.pins}
            (staging / _MARKER).write_text(json.dumps(marker, indent=1, sort_keys=True), encoding="utf-8")
            try:
                staging.rename(entry)
            except OSError:  # another session built the same key first
                if not (entry / _MARKER).is_file():
                    raise
                return entry, False
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return entry, True


def _links_dangle(entry: Path) -> bool:
    """Whether a link of `entry`'s site-packages points at nothing; False when it cannot be read (another
    session's build removing the same entry at once)."""
    try:
        return any(
            item.is_symlink() and not item.exists()
            for folder in entry.glob("lib/python*/site-packages")
            for item in folder.iterdir()
        )
    except OSError:
        return False


def _run(argv: list[str], spec: EnvironmentSpec) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, check=False)  # venv/pip argv, no shell  # nosec B603
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()[-5:]
        raise EnvironmentBuildError(f"building {spec.name}: `{' '.join(argv[:6])} ...` failed: {' | '.join(detail)}")
    return result.stdout


# --- a runtime with add-ons (a Lambda runtime and the layers a function names) ------------------------------------


def combined_spec(name: str, specs: Sequence[EnvironmentSpec]) -> EnvironmentSpec:
    """One environment holding every spec's pins (a runtime's and its layers'); a version two of them disagree on,
    or two Pythons, are refused: the environment could hold only one of them."""
    pythons = {spec.python for spec in specs}
    if len(pythons) != 1:
        raise ValueError(f"runtime environment {name}: its profiles name different Pythons {sorted(pythons)}")
    pins: dict[str, str] = {}
    for spec in specs:
        for distribution, version in spec.pins.items():
            if pins.setdefault(distribution, version) != version:
                raise ValueError(
                    f"runtime environment {name}: {distribution} is pinned to {pins[distribution]} and to {version}; "
                    "pin one version in both profiles"
                )
    return EnvironmentSpec(name, pythons.pop(), pins)


def build_profiles(
    paths: Iterable[Path], report: Callable[[str], None], environments: RuntimeEnvironments | None = None
) -> list[Path]:
    """The isolated environment of each profile, each built unless it is (reported)."""
    return build_each([EnvironmentSpec.from_profile(path) for path in paths], report, environments)


def build_each(
    specs: Sequence[EnvironmentSpec], report: Callable[[str], None], environments: RuntimeEnvironments | None = None
) -> list[Path]:
    """Each spec's environment, built unless it is (reported: it needs the package index and a minute or two)."""
    environments, entries = environments or RuntimeEnvironments(), []
    for orphan in environments.remove_orphans():
        report(f"removed the runtime environment {orphan.name}: what it linked is no longer installed")
    for spec in specs:
        if not environments.is_built(spec):
            report(f"building the runtime environment {spec.name} (once; it needs the package index) ...")
        entry, built = environments.build(spec)
        if built:
            report(f"runtime environment {spec.name} built in {entry}")
        entries.append(entry)
    return entries


def site_packages(environment: Path) -> Path:
    return environment / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"


def link_distributions(names: Iterable[str], target: Path) -> list[str]:
    """Symlink into `target` every top-level entry (packages, modules, .dist-info) of the named distributions
    as installed in this interpreter's environment; those not installed here are skipped. Returns the linked."""
    target.mkdir(parents=True, exist_ok=True)
    linked = []
    for name in names:
        try:
            distribution = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        tops = {file.parts[0] for file in distribution.files or () if file.parts and file.parts[0] != ".."}
        for top in sorted(tops):
            source = Path(str(distribution.locate_file(top)))
            if source.exists() and not (target / top).exists():
                (target / top).symlink_to(source, target_is_directory=source.is_dir())
        linked.append(canonical(name))
    return linked


def _installed_here(profile: Path, names: object) -> dict[str, str]:
    if not isinstance(names, list):
        raise ValueError(f"runtime profile {profile}: [local] linked must be a list of distribution names")
    found: dict[str, str] = {}
    for name in names:
        try:
            distribution = importlib.metadata.distribution(str(name))
        except importlib.metadata.PackageNotFoundError:
            raise ValueError(
                f"runtime profile {profile}: [local] linked names {name!r}, which is not installed here; "
                f"install the project with its dependencies (pip install -e .)"
            ) from None
        found[canonical(str(name))] = f"{distribution.version}@{distribution.locate_file('')}"
    return found
