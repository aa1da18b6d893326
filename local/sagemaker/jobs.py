"""Running a job's container command as a local process, the way SageMaker runs the container.

`ContainerPaths` maps the container's `/opt/ml/...` layout onto a work directory and the container's
Python onto the interpreter of its image's isolated environment; `JobProcess` runs the command as a
`local.runtime` script process: output to the job's log stream, the error lines kept for
`FailureReason`, `Stop*` and `MaxRuntimeInSeconds` ending the whole process group.
"""

from __future__ import annotations

import os
import re
import signal
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from local.runtime.failures import read_failure
from local.runtime.process import Ending, ScriptProcess
from local.sagemaker.execution_role import Roles
from local.sagemaker.images import ContainerRuntimes
from local.sagemaker.logstream import LogStream

CONTAINER_ROOT = "/opt/ml"
# `/opt/ml` as a path of its own: not inside an S3 URI or another path (`s3://b/opt/ml` stays).
_CONTAINER_PATH = re.compile(r"(?<![\w./-])/opt/ml(?=/|\b|$)")
# The container's Python, as an image names it: bare or under a usual prefix, with a version.
_PYTHON_WORD = re.compile(
    r"(?<![\w./-])(?:/usr/bin/|/usr/local/bin/|/opt/conda/bin/|/miniconda3/bin/)?python(?:3(?:\.\d+)?)?(?![\w.-])"
)
_SHELLS = {"sh", "bash", "/bin/sh", "/bin/bash", "/usr/bin/sh", "/usr/bin/bash"}


class ContainerPaths:
    def __init__(self, work_dir: Path, interpreter: str) -> None:
        self.work_dir = work_dir
        self.interpreter = interpreter

    @property
    def root(self) -> Path:
        return self.work_dir / "opt" / "ml"

    def host(self, container_path: str) -> Path:
        """`/opt/ml/processing/input` -> `<work>/opt/ml/processing/input`."""
        if not (container_path == CONTAINER_ROOT or container_path.startswith(CONTAINER_ROOT + "/")):
            raise ValueError(f"{container_path!r} is not under {CONTAINER_ROOT}")
        return self.work_dir / container_path.lstrip("/")

    def map_text(self, text: str) -> str:
        return _CONTAINER_PATH.sub(str(self.root), text)

    def map_command(self, argv: list[str]) -> list[str]:
        """The container command with its paths and its Python mapped onto this machine."""
        mapped = [self.map_text(arg) for arg in argv]
        if not mapped:
            return mapped
        if _PYTHON_WORD.fullmatch(mapped[0]):
            mapped[0] = self.interpreter
        if mapped[0] in _SHELLS:
            # `sh -c "python3 evaluate.py ..."`: the command string names the Python too.
            mapped = [mapped[0]] + [_PYTHON_WORD.sub(self.interpreter, arg) for arg in mapped[1:]]
        return mapped


def last_error_lines(lines: Iterable[str], limit: int = 700) -> str:
    """The lines that say what went wrong: a traceback's final exception, else the last lines."""
    failure = read_failure(lines)
    return "\n".join(failure.exception or failure.lines[-3:])[-limit:]


@dataclass(frozen=True)
class JobOutcome:
    exit_code: int
    stopped: bool
    timed_out: bool
    error_text: str
    command: str


class JobProcess:
    def __init__(
        self,
        argv: list[str],
        cwd: Path,
        env: dict[str, str],
        log: LogStream,
        max_runtime_seconds: float,
        on_line: Callable[[str], None] | None = None,
    ) -> None:
        self._process = ScriptProcess(argv, cwd=cwd, env=env)
        self._log = log
        self._max_runtime = max_runtime_seconds
        self._on_line = on_line
        self._stop_requested = threading.Event()

    def run(self) -> JobOutcome:
        command = " ".join(self._process.argv)
        try:
            # Its own process group: a stop reaches the children of `sh -c` too.
            self._process.start(on_stdout=self._line, on_stderr=self._line)
        except OSError as error:
            return JobOutcome(127, False, False, f"could not start {command!r}: {error}", command)
        ending = self._process.supervise(self._max_runtime, self._stop_requested.is_set)
        self._process.join_output(timeout=10)
        exit_code = self._process.returncode
        return JobOutcome(
            exit_code=-signal.SIGKILL if exit_code is None else exit_code,
            stopped=self._stop_requested.is_set(),
            timed_out=ending is Ending.TIMED_OUT,
            error_text=last_error_lines(list(self._process.tail)),
            command=command,
        )

    def stop(self) -> None:
        self._stop_requested.set()

    def _line(self, line: str) -> None:
        self._log.write(line)
        if self._on_line is not None:
            self._on_line(line)


@dataclass(frozen=True)
class JobContext:
    """What every job runner needs from the local SageMaker."""

    state_dir: Path
    clients: object  # local.clients.LocalClients; typed loosely to keep this module free of boto3
    runtimes: ContainerRuntimes  # the interpreter each image's jobs run on
    ship_logs: bool = True
    roles: Roles | None = None  # the execution roles' trust and policies (None: not checked)


def base_environment(interpreter: str, aws: dict[str, str]) -> dict[str, str]:
    """The process environment of a job: this machine's basics, the container's Python first."""
    keep = ("HOME", "LANG", "LC_ALL", "TMPDIR", "TZ", "JAVA_HOME", "SPARK_HOME", "HADOOP_HOME")
    env = {name: os.environ[name] for name in keep if name in os.environ}
    interpreter_dir = str(Path(interpreter).parent)
    env["PATH"] = os.pathsep.join([interpreter_dir, os.environ.get("PATH", "/usr/bin:/bin")])
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(aws)
    return env
