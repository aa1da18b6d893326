"""Running a job's container command as a local process, the way SageMaker runs the container.

`ContainerPaths` maps the container's `/opt/ml/...` layout onto a work directory and the container's
Python onto the interpreter that has the project's libraries; `JobProcess` supervises the command:
output to the job's log stream, the error lines kept for `FailureReason`, `Stop*` and
`MaxRuntimeInSeconds` ending the whole process group.
"""

from __future__ import annotations

import collections
import contextlib
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from local.sagemaker.logstream import LogStream

CONTAINER_ROOT = "/opt/ml"
# `/opt/ml` as a path of its own: not inside an S3 URI or another path (`s3://b/opt/ml` stays).
_CONTAINER_PATH = re.compile(r"(?<![\w./-])/opt/ml(?=/|\b|$)")
# The container's Python, as an image names it: bare or under a usual prefix, with a version.
_PYTHON_WORD = re.compile(
    r"(?<![\w./-])(?:/usr/bin/|/usr/local/bin/|/opt/conda/bin/|/miniconda3/bin/)?python(?:3(?:\.\d+)?)?(?![\w.-])"
)
_SHELLS = {"sh", "bash", "/bin/sh", "/bin/bash", "/usr/bin/sh", "/usr/bin/bash"}
STOP_GRACE_SECONDS = 10.0


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


def last_error_lines(lines: list[str], limit: int = 700) -> str:
    """The lines that say what went wrong: a traceback's final exception, else the last lines."""
    lines = [line.rstrip() for line in lines if line.strip()]
    start = None
    for index in range(len(lines) - 1, -1, -1):
        if lines[index].startswith("Traceback (most recent call last)"):
            start = index
            break
    if start is not None:
        tail = lines[start + 1:]
        # The frames are indented; what follows the last frame is the exception and its message.
        last_frame = max((i for i, line in enumerate(tail) if line.startswith(" ")), default=-1)
        message = [line for line in tail[last_frame + 1:] if line]
    else:
        message = lines[-3:]
    text = "\n".join(message)
    return text[-limit:]


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
        self._argv = argv
        self._cwd = cwd
        self._env = env
        self._log = log
        self._max_runtime = max_runtime_seconds
        self._on_line = on_line
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=200)
        self._process: subprocess.Popen[str] | None = None
        self._stop_requested = threading.Event()
        self._started = threading.Event()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def wait_started(self, timeout: float) -> bool:
        return self._started.wait(timeout)

    def run(self) -> JobOutcome:
        command = " ".join(self._argv)
        try:
            self._process = subprocess.Popen(
                self._argv,
                cwd=self._cwd,
                env=self._env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                errors="replace",
                bufsize=1,
                start_new_session=True,  # its own process group: a stop reaches `sh -c` children
            )
        except OSError as error:
            self._started.set()
            return JobOutcome(127, False, False, f"could not start {command!r}: {error}", command)
        self._started.set()
        readers = [
            threading.Thread(target=self._pump, args=(self._process.stdout, False), daemon=True),
            threading.Thread(target=self._pump, args=(self._process.stderr, True), daemon=True),
        ]
        for reader in readers:
            reader.start()
        deadline = time.monotonic() + self._max_runtime
        timed_out = False
        while True:
            try:
                self._process.wait(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                if self._stop_requested.is_set():
                    self._terminate()
                    break
                if time.monotonic() >= deadline:
                    timed_out = True
                    self._terminate()
                    break
        self._process.wait()
        for reader in readers:
            reader.join(timeout=10)
        return JobOutcome(
            exit_code=self._process.returncode,
            stopped=self._stop_requested.is_set(),
            timed_out=timed_out,
            error_text=last_error_lines(list(self._stderr_tail)),
            command=command,
        )

    def stop(self) -> None:
        self._stop_requested.set()

    def _terminate(self) -> None:
        assert self._process is not None
        self._signal(signal.SIGTERM)
        try:
            self._process.wait(timeout=STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)

    def _signal(self, signum: int) -> None:
        assert self._process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._process.pid, signum)

    def _pump(self, stream: object, is_stderr: bool) -> None:
        for line in stream:  # type: ignore[attr-defined]
            self._log.write(line)
            if is_stderr:
                self._stderr_tail.append(line)
            if self._on_line is not None:
                self._on_line(line)


@dataclass(frozen=True)
class JobContext:
    """What every job runner needs from the local SageMaker."""

    state_dir: Path
    interpreter: str
    clients: object  # AwsClients; typed loosely to keep this module free of boto3
    ship_logs: bool = True


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
