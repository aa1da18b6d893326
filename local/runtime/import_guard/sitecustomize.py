"""Run by Python's `site` at the start of every process of a guarded runtime (this folder is first on its
`PYTHONPATH`): it installs `ImageImportGuard` from the JSON file `LOCAL_RUNTIME_IMPORT_GUARD` names.

Only the standard library here: this runs before anything else of the process, in every child of it too.
"""

from __future__ import annotations

import importlib.machinery
import json
import os
import sys
from collections.abc import Sequence
from types import ModuleType

GUARD_ENV = "LOCAL_RUNTIME_IMPORT_GUARD"


class ImageImportGuard:
    """A meta path finder that refuses the top-level modules of distributions the image lacks.

    `blocked` maps such a module to its distributions (computed by `local.runtime.isolation`). A blocked
    name is refused only when what would be imported lives outside the script's own folders (its
    directory, its `PYTHONPATH`, the working directory when it is on `sys.path`): a job's own `features.py`
    is never refused.
    """

    def __init__(self, profile: str, blocked: dict[str, list[str]], own_dirs: Sequence[str]) -> None:
        self.profile = profile
        self.blocked = blocked
        self._own_dirs = [os.path.realpath(path) for path in own_dirs if path]

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if path is not None or fullname not in self.blocked:
            return None
        spec = self._resolve(fullname)
        if spec is None or self._is_own(spec):
            return None  # not found anywhere (the usual error follows), or the script's own module
        # The very error the image's interpreter raises for a distribution it does not have.
        raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)

    def _resolve(self, fullname: str) -> importlib.machinery.ModuleSpec | None:
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, None, None)
            if spec is not None:
                return spec
        return None

    def _is_own(self, spec: importlib.machinery.ModuleSpec) -> bool:
        own_dirs = list(self._own_dirs)
        # Read at each refusal, not once: sys.argv is set after this module ran, and a warm standby process
        # (local.runtime.standby) starts as its driver and becomes the script later.
        if sys.argv and sys.argv[0] and os.path.isfile(sys.argv[0]):
            own_dirs.append(os.path.realpath(os.path.dirname(os.path.abspath(sys.argv[0]))))
        if "" in sys.path:
            own_dirs.append(os.path.realpath(os.getcwd()))
        locations = list(spec.submodule_search_locations or []) or ([spec.origin] if spec.origin else [])
        return any(
            os.path.realpath(location) == own or os.path.realpath(location).startswith(own + os.sep)
            for location in locations
            for own in own_dirs
        )


def install() -> ImageImportGuard | None:
    """Install the guard the environment names (nothing when it names none)."""
    config_file = os.environ.get(GUARD_ENV)
    if not config_file:
        return None
    with open(config_file, encoding="utf-8") as handle:
        config = json.load(handle)
    here = os.path.dirname(os.path.abspath(__file__))
    python_path = [entry for entry in os.environ.get("PYTHONPATH", "").split(os.pathsep) if entry]
    own = [entry for entry in python_path if os.path.realpath(entry) != os.path.realpath(here)]
    guard = ImageImportGuard(config["profile"], config["blocked"], own)
    sys.meta_path.insert(0, guard)
    return guard


install()
