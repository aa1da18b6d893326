"""The state directory of one local AWS: everything it persists and writes lives under it.

`RETRAIN_HOME` names it (default: `.retrain/` at the project root, which is gitignored). Two homes
are two independent local AWS accounts; each runs its own emulator on its own port.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from local.clock import CLOCK_SCALE_ENV, configured_clock_scale

HOME_ENV = "RETRAIN_HOME"
DEFAULT_HOME_NAME = ".retrain"
# A project root is the nearest directory holding one of these.
_ROOT_MARKERS = ("retrain.toml", "pyproject.toml")


def user_cache_directory(override_env: str, name: str) -> Path:
    """A cache every local AWS of a user shares: `override_env` if set, else `<XDG cache>/retrain-pipeline/<name>`."""
    configured = os.environ.get(override_env)
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "retrain-pipeline" / name


def find_project_root(start: Path | None = None) -> Path:
    """The nearest ancestor of `start` (default: the working directory) holding `retrain.toml`."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if any((candidate / marker).is_file() for marker in _ROOT_MARKERS):
            return candidate
    return here


@dataclass(frozen=True)
class StateDirectory:
    """The layout of a local AWS home.

    - `emulator/state/`   service state, saved as it changes (`local.emulator.durability`) and loaded at start
    - `emulator/s3/`      S3 object bodies (written through as they are put)
    - `tmp/`              the emulator's TMPDIR: pid files, Lambda and Glue work files
    - `logs/`             the emulator's log, and one log per Glue job run under `logs/glue/`
    - `emulator/deployments/`  what `local.deploy` last deployed (fingerprints, outputs); wiped
      with the emulator's state, which it describes
    - `emulator.json`     the running emulator's pid and port, removed when it stops
    - `emulator/running`  the crash marker (`local.emulator.durability`), removed by a clean stop
    """

    root: Path

    @classmethod
    def from_environment(cls) -> StateDirectory:
        configured = os.environ.get(HOME_ENV)
        if configured:
            return cls(Path(configured).expanduser().resolve())
        return cls(find_project_root() / DEFAULT_HOME_NAME)

    @property
    def service_state(self) -> Path:
        return self.root / "emulator" / "state"

    @property
    def s3_data(self) -> Path:
        return self.root / "emulator" / "s3"

    @property
    def deployments(self) -> Path:
        return self.root / "emulator" / "deployments"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def emulator_log(self) -> Path:
        return self.logs / "emulator.log"

    @property
    def glue_logs(self) -> Path:
        return self.logs / "glue"

    @property
    def glue_scratch(self) -> Path:
        return self.tmp / "glue-runs"

    @property
    def crash_marker(self) -> Path:
        """Written while the local AWS runs, removed by a clean stop: found at a start, the last one crashed."""
        return self.root / "emulator" / "running"

    @property
    def pid_file(self) -> Path:
        return self.root / "emulator.json"

    def ensure(self) -> StateDirectory:
        for path in (self.service_state, self.s3_data, self.tmp, self.logs, self.glue_logs):
            path.mkdir(parents=True, exist_ok=True)
        return self

    def clear_previous_workers(self) -> int:
        """Remove the work folders the Lambda workers of a previous emulator on this home left in `tmp/`.

        A worker's folder goes when the emulator ends the worker; after a stop or a kill the workers end on
        their own and their folders stay (about 0.4 MB each, a few MB a restart). Only at start: no
        emulator of this home runs then. Returns how many were removed."""
        stale = [path for path in self.tmp.glob("ministack-lambda-*") if path.is_dir()]
        for path in stale:
            shutil.rmtree(path, ignore_errors=True)
        return len(stale)

    def has_state(self) -> bool:
        return any(path.exists() and any(path.iterdir()) for path in (self.service_state, self.s3_data))

    def wipe(self) -> None:
        """Delete everything the local AWS persisted (the emulator must be stopped)."""
        for path in (self.root / "emulator", self.tmp, self.logs):
            shutil.rmtree(path, ignore_errors=True)
        self.pid_file.unlink(missing_ok=True)

    def emulator_environment(self, port: int) -> dict[str, str]:
        """The environment the emulator reads at import time (it has no other configuration)."""
        return {
            "GATEWAY_PORT": str(port),
            "BIND_HOST": "127.0.0.1",
            "PERSIST_STATE": "1",
            "STATE_DIR": str(self.service_state),
            "S3_PERSIST": "1",
            "S3_DATA_DIR": str(self.s3_data),
            "TMPDIR": str(self.tmp),
            "MINISTACK_REGION": "us-east-1",
            "LAMBDA_EXECUTOR": "local",
            # Listeners on fixed extra ports would collide between two homes side by side.
            "SFTP_ENABLED": "0",
            "IOT_MTLS_ENABLED": "0",
            # SageMaker's rollout clocks (bakes, termination wait, alarm periods) in seconds, not
            # minutes, unless the caller's environment sets another scale (`local.clock`).
            CLOCK_SCALE_ENV: configured_clock_scale(),
        }
