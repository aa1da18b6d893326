"""Which runtime profile a SageMaker container runs under, from its image URI.

The local SageMaker plays the SageMaker scikit-learn framework container for every job and model (it
runs the entry points, never an image). An image of that framework's repository
(`<account>.dkr.ecr.<region>.amazonaws.com/sagemaker-scikit-learn:<version>-cpu-py3`) selects the
profile of its version in `profiles/`, and a version without one is refused; any other image runs
under the default profile, the version the project deploys (retrain.toml `[training]
framework_version`), so that no container ever sees the project's own environment: it runs on the
interpreter of its profile's isolated environment (local/runtime/environments.py), which holds the
image's packages only.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from pathlib import Path

from local.runtime.environments import EnvironmentSpec, RuntimeEnvironments, build_profiles

PROFILES = Path(__file__).with_name("profiles")
DEFAULT_VERSION = "1.2-1"
_FRAMEWORK_IMAGE = re.compile(r"(?:^|/)sagemaker-scikit-learn:(?P<version>\d+\.\d+-\d+)(?:-|$)")


def build_environments(report: Callable[[str], None]) -> list[Path]:
    """The isolated environment of every profile, each built unless it is (reported: it needs the package
    index and a minute or two)."""
    return build_profiles(sorted(PROFILES.glob("sklearn-*.toml")), report)


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


class ContainerRuntimes:
    """The isolated environment of each image's profile (local/runtime/environments.py), looked up once."""

    def __init__(self, environments: RuntimeEnvironments | None = None) -> None:
        self._environments = environments or RuntimeEnvironments()
        self._interpreters: dict[Path, str] = {}
        self._lock = threading.Lock()

    def interpreter(self, image: str | None) -> str:
        """The Python a container of `image` runs on; UnknownImage when the image has no profile,
        EnvironmentMissing when its environment is not built."""
        path = profile_path(image)
        with self._lock:
            if path not in self._interpreters:
                self._interpreters[path] = self._environments.interpreter(EnvironmentSpec.from_profile(path))
            return self._interpreters[path]
