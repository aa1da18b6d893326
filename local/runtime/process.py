"""Managed scripts as local processes, and the one way a local process is stopped.

`ScriptProcess` starts a script in its own process group (so that a stop reaches what it starts: a
JVM, the children of `sh -c`, a node process), tails its output to a log file or line by line to a
callback, waits on it with a deadline and a stop request, and stops it. `terminate` is that stop:
SIGTERM, a bounded wait, SIGKILL, a bounded wait. Everything local that ends a process goes through
it: Glue job runs, SageMaker jobs and model servers, the CDK app a local deploy synthesizes, the
emulator process itself, and a job process that outlived the emulator that started it.
"""

from __future__ import annotations

import collections
import contextlib
import os
import signal
import subprocess  # runs the jobs' scripts  # nosec B404
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from enum import Enum
from pathlib import Path
from typing import IO

STOP_GRACE_SECONDS = 10.0
KILL_WAIT_SECONDS = 5.0
POLL_SECONDS = 0.2
TAIL_LINES = 200

LineSink = Callable[[str], None]


class Ending(Enum):
    """How a supervised script's run ended."""

    EXITED = "exited"
    STOPPED = "stopped"
    TIMED_OUT = "timed_out"


def terminate(
    pid: int,
    *,
    group: bool = True,
    grace: float = STOP_GRACE_SECONDS,
    kill_wait: float = KILL_WAIT_SECONDS,
    wait: Callable[[float], bool] | None = None,
    signalled: bool = False,
) -> bool:
    """End process `pid` (its whole process group when `group`); returns whether it is gone.

    SIGTERM, then up to `grace` seconds for it to exit; then SIGKILL and up to `kill_wait` seconds.
    `grace` 0 sends SIGKILL at once. `wait(seconds)` says whether it exited within that time (default:
    polls the pid); `signalled`: it got its SIGTERM already (a second one may cut its shutdown short).
    A PermissionError (not ours to signal) propagates.
    """
    send = os.killpg if group else os.kill
    wait = wait or (lambda seconds: _gone_within(pid, group, seconds))

    def deliver(signum: int) -> bool:
        try:
            send(pid, signum)
        except ProcessLookupError:
            return False
        return True

    if grace > 0:
        if not signalled and not deliver(signal.SIGTERM):
            return True
        if wait(grace):
            return True
    if not deliver(signal.SIGKILL):
        return True
    return wait(kill_wait) if kill_wait > 0 else False


def waiter(process: subprocess.Popen[str] | subprocess.Popen[bytes]) -> Callable[[float], bool]:
    """`terminate`'s `wait` for a child: reaps it, so that a zombie never looks alive."""

    def wait(seconds: float) -> bool:
        try:
            process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            return False
        return True

    return wait


def _gone_within(pid: int, group: bool, seconds: float) -> bool:
    probe = os.killpg if group else os.kill
    deadline = time.monotonic() + seconds
    while True:
        try:
            probe(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            pass  # exists, owned by someone else
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


def processes_working_under(root: Path) -> set[int]:
    """The processes (of those this user may look at) whose working directory is `root` or below it."""
    folder = str(root).rstrip(os.sep) + os.sep
    found: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
        except OSError:  # gone meanwhile, or not ours to look at
            continue
        if (cwd + os.sep).startswith(folder):
            found.add(int(entry.name))
    return found


def end_processes_working_under(root: Path) -> list[int]:
    """End (SIGKILL, whole process group) every process working under `root` (`processes_working_under`),
    except this process's own group; the groups signalled. A local AWS starting again calls it on the folders
    its killed predecessor ran job processes in: found by where they work, there is no window (as there was
    between a job's start and the record of its pid) in which a process can be missed."""
    own_group = os.getpgrp()
    groups: set[int] = set()
    for pid in processes_working_under(root):
        with contextlib.suppress(OSError):
            groups.add(os.getpgid(pid))
    groups.discard(own_group)
    for group in sorted(groups):
        with contextlib.suppress(OSError):
            terminate(group, grace=0, kill_wait=0)
    return sorted(groups)


class ScriptProcess:
    """One script run: started once, supervised, stopped."""

    def __init__(self, argv: Sequence[str], *, cwd: Path | str, env: Mapping[str, str]) -> None:
        self.argv = list(argv)
        self._cwd = cwd
        self._env = dict(env)
        self._process: subprocess.Popen[str] | subprocess.Popen[bytes] | None = None
        self._pumps: list[threading.Thread] = []
        self._stdin: IO[bytes] | None = None
        # The last lines of stderr (of the whole output when stderr goes with stdout): the failure is there.
        self.tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def returncode(self) -> int | None:
        return self._process.poll() if self._process else None

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(
        self,
        *,
        log_file: Path | None = None,
        on_stdout: LineSink | None = None,
        on_stderr: LineSink | None = None,
        on_output_end: Callable[[], None] | None = None,
        keep_stdin: bool = False,
    ) -> None:
        """Start the script (OSError when it cannot be). Its output goes to `log_file` as it is (stderr
        with stdout), or line by line to `on_stdout` and `on_stderr` (stderr with stdout when there is
        no `on_stderr`); `on_output_end` runs when stdout closes. `keep_stdin` (with `log_file`): its
        stdin is a pipe from this process, written once by `send`; otherwise /dev/null."""
        # Its own process group (`start_new_session`): a stop reaches everything it starts.
        if log_file is not None:
            with log_file.open("wb") as log:  # the child holds its own descriptor
                self._process = process_bytes = subprocess.Popen(  # argv list, no shell  # nosec B603
                    self.argv,
                    cwd=self._cwd,
                    env=self._env,
                    stdin=subprocess.PIPE if keep_stdin else subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            self._stdin = process_bytes.stdin
            return
        process = subprocess.Popen(  # argv list, no shell  # nosec B603
            self.argv,
            cwd=self._cwd,
            env=self._env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE if on_stderr is not None else subprocess.STDOUT,
            start_new_session=True,
            text=True,
            errors="replace",
            bufsize=1,
        )
        self._process = process
        streams: list[tuple[IO[str] | None, LineSink | None, bool, Callable[[], None] | None]] = [
            (process.stdout, on_stdout, on_stderr is None, on_output_end),
        ]
        if on_stderr is not None:
            streams.append((process.stderr, on_stderr, True, None))
        for stream, sink, tailed, at_end in streams:
            pump = threading.Thread(target=self._pump, args=(stream, sink, tailed, at_end), daemon=True)
            pump.start()
            self._pumps.append(pump)

    def send(self, text: str) -> None:
        """Write `text` to the script's stdin and close it (`keep_stdin`); OSError when it has exited."""
        stdin = self._stdin
        assert stdin is not None, "start(keep_stdin=True) first"
        try:
            stdin.write(text.encode())
            stdin.flush()
        finally:
            with contextlib.suppress(OSError):  # the unflushed write failed already
                stdin.close()

    def supervise(
        self,
        max_seconds: float,
        should_stop: Callable[[], bool] = lambda: False,
        *,
        grace: float = STOP_GRACE_SECONDS,
    ) -> Ending:
        """Wait for the script to exit; past `max_seconds`, or when `should_stop()`, stop it."""
        assert self._process is not None, "start() first"
        deadline = time.monotonic() + max_seconds
        while True:
            try:
                self._process.wait(timeout=POLL_SECONDS)
                return Ending.EXITED
            except subprocess.TimeoutExpired:
                pass
            if should_stop():
                self.stop(grace=grace)
                return Ending.STOPPED
            if time.monotonic() >= deadline:
                self.stop(grace=grace)
                return Ending.TIMED_OUT

    def stop(self, *, grace: float = STOP_GRACE_SECONDS, kill_wait: float = KILL_WAIT_SECONDS) -> None:
        """End the script's whole process group (nothing when it has exited)."""
        if self._process is None or self._process.poll() is not None:
            return
        terminate(self._process.pid, grace=grace, kill_wait=kill_wait, wait=waiter(self._process))

    def join_output(self, timeout: float) -> None:
        """Wait until the output is read to its end (after the script exited)."""
        for pump in self._pumps:
            pump.join(timeout)

    def _pump(
        self, stream: IO[str] | None, sink: LineSink | None, tailed: bool, at_end: Callable[[], None] | None
    ) -> None:
        assert stream is not None
        # Closed at its end: a kept ScriptProcess (a finished job's runner) must not hold the pipe open.
        with stream:
            for line in stream:
                if sink is not None:
                    sink(line)
                if tailed:
                    self.tail.append(line)
        if at_end is not None:
            at_end()
