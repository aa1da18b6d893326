"""Which runtime profile a SageMaker container runs under, from its image URI.

The local SageMaker plays the SageMaker scikit-learn framework container for every job and model (it
runs the entry points, never an image). An image of that framework's repository
(`<account>.dkr.ecr.<region>.amazonaws.com/sagemaker-scikit-learn:<version>-cpu-py3`) selects the
profile of its version in `profiles/`, and a version without one is refused; any other image runs
under the default profile, the version the project deploys (retrain.toml `[training]
framework_version`), so that no container ever sees the project's own environment.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

from local.runtime.isolation import ImportGuard, RuntimeProfile

PROFILES = Path(__file__).with_name("profiles")
DEFAULT_VERSION = "1.2-1"
_FRAMEWORK_IMAGE = re.compile(r"(?:^|/)sagemaker-scikit-learn:(?P<version>\d+\.\d+-\d+)(?:-|$)")


class UnknownImage(Exception):
    """An image of the scikit-learn framework whose version has no local runtime profile."""


def framework_version(image: str | None) -> str:
    match = _FRAMEWORK_IMAGE.search(image or "")
    return match.group("version") if match else DEFAULT_VERSION


def profile_path(image: str | None) -> Path:
    version = framework_version(image)
    path = PROFILES / f"sklearn-{version}.toml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem.removeprefix("sklearn-") for p in PROFILES.glob("sklearn-*.toml")))
        raise UnknownImage(
            f"the local SageMaker has no runtime profile for scikit-learn {version} (image {image}); "
            f"use a framework_version it has a profile for ({known}) or add "
            f"local/sagemaker/profiles/sklearn-{version}.toml"
        )
    return path


class ImportGuards:
    """One import guard per profile, its config kept under the local SageMaker's state directory."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._guards: dict[Path, ImportGuard] = {}
        self._lock = threading.Lock()

    def environment(self, image: str | None, python_path: str | None) -> dict[str, str]:
        """What starts a container's process under its image's guard (`PYTHONPATH` included); UnknownImage
        when the image has no profile."""
        path = profile_path(image)
        with self._lock:  # one writer of a profile's config at a time
            if path not in self._guards:
                self._guards[path] = ImportGuard(RuntimeProfile.load(path), self._folder)
            return self._guards[path].environment(python_path)
