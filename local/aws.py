"""The lifecycle of one local AWS: start it (in the background or attached), know whether it runs,
stop it cleanly, wipe it.

The emulator runs in its own process (`local.server`) so each state directory gets its own emulator
and port, and so a stop that hangs can be ended from outside: `stop` asks politely (SIGTERM, which
saves every service's state), waits a bounded time, then kills.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess  # starts the local AWS's own server  # nosec B404
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from botocore.exceptions import BotoCoreError, ClientError

from local.clients import DEFAULT_REGION, LocalClients, local_endpoint, local_port
from local.clock import ClockScale, ClockScaleError, configured_clock_scale
from local.emulator.iam import enforced
from local.home import StateDirectory
from local.runtime.process import terminate, waiter
from local.runtime.standby import configured_standbys
from retrain.errors import RetrainError

START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 30.0
_POLL_SECONDS = 0.1


class LocalAwsError(RetrainError):
    """The local AWS could not be started, reached or stopped; the message says why and what to do."""


@dataclass(frozen=True)
class EmulatorProcess:
    """A running emulator, as its pid file records it."""

    pid: int
    port: int
    started_at: float
    clock_scale: str | None = None  # SageMaker's rollout clock scale (`local.clock`); None: not recorded

    @property
    def endpoint(self) -> str:
        return local_endpoint(self.port)


def environment_line(endpoint: str, region: str = DEFAULT_REGION) -> str:
    """What a user pastes into a shell to point the AWS CLI or boto3 at the local AWS.

    boto3 and the AWS CLI v1 read the region from AWS_DEFAULT_REGION, other SDKs from AWS_REGION.
    """
    return (
        f"export AWS_ENDPOINT_URL={endpoint} AWS_ACCESS_KEY_ID=test "
        f"AWS_SECRET_ACCESS_KEY=test AWS_REGION={region} AWS_DEFAULT_REGION={region}"
    )


class LocalAws:
    """One local AWS: a state directory and the emulator process serving it."""

    def __init__(
        self,
        home: StateDirectory | None = None,
        port: int | None = None,
        environment: dict[str, str] | None = None,
    ) -> None:
        self.home = home or StateDirectory.from_environment()
        self.port = local_port() if port is None else port
        # Extra environment for the emulator process (e.g. SAGEMAKER_CLOCK_SCALE, SFN_WAIT_SCALE).
        self.environment = dict(environment or {})
        self._child: subprocess.Popen[bytes] | None = None

    # --- what runs -------------------------------------------------------------------------

    def running(self) -> EmulatorProcess | None:
        """The emulator serving this home, or None (a stale pid file is cleaned up)."""
        try:
            record = json.loads(self.home.pid_file.read_text(encoding="utf-8"))
            scale = record.get("clock_scale")
            process = EmulatorProcess(
                int(record["pid"]),
                int(record["port"]),
                float(record["started_at"]),
                str(scale) if scale is not None else None,
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if self._alive(process.pid) and self._is_our_server(process.pid):
            return process
        self.home.pid_file.unlink(missing_ok=True)
        return None

    def answers(self, process: EmulatorProcess) -> bool:
        """Whether the emulator answers a real API call."""
        try:
            LocalClients.at_port(process.port).client("sts").get_caller_identity()
            return True
        except (BotoCoreError, ClientError):
            return False

    def clients(self) -> LocalClients:
        process = self.running()
        if process is None:
            raise LocalAwsError(f"the local AWS of {self.home.root} is not running; start it with `retrain local up`")
        return LocalClients.at_port(process.port)

    # --- start -----------------------------------------------------------------------------

    def start(self, *, attach: bool = False, timeout: float = START_TIMEOUT_SECONDS) -> EmulatorProcess:
        """Start the emulator and wait until it answers.

        Detached (the default), it runs in its own session and logs to the home's `logs/`; attached,
        it shares this terminal (Ctrl-C reaches it) and logs there.
        """
        already = self.running()
        if already is not None:
            raise LocalAwsError(
                f"the local AWS of {self.home.root} already runs at {already.endpoint} (pid {already.pid}); "
                "stop it with `retrain local down`"
            )
        if self.port and not self._port_free(self.port):
            raise LocalAwsError(
                f"port {self.port} on 127.0.0.1 is in use; stop what listens there or set RETRAIN_LOCAL_PORT "
                "to a free port"
            )
        env = {**os.environ, **self.environment}
        try:
            ClockScale.parse(configured_clock_scale(env))
        except ClockScaleError as error:
            raise LocalAwsError(str(error)) from None
        try:
            enforced(env)
            configured_standbys(env)
        except ValueError as error:
            raise LocalAwsError(str(error)) from None
        self.home.ensure()
        self.home.pid_file.unlink(missing_ok=True)
        command = [sys.executable, "-m", "local.server", "--home", str(self.home.root), "--port", str(self.port)]
        log: IO[bytes] | None = None
        if attach:
            self._child = subprocess.Popen(command, env=env)  # this interpreter, fixed argv  # nosec B603
        else:
            log = self.home.emulator_log.open("ab")
            self._child = subprocess.Popen(  # this interpreter, fixed argv  # nosec B603
                command, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
            )
        try:
            process = self._wait_for_pid_file(self._child, time.monotonic() + timeout)
            self.wait_ready(process, timeout)
        except BaseException:
            self._kill_child()
            raise
        finally:
            if log is not None:
                log.close()
        return process

    def wait_ready(self, process: EmulatorProcess, timeout: float = START_TIMEOUT_SECONDS) -> None:
        """Bounded poll: first the port answers HTTP at all, then a real API call succeeds."""
        deadline = time.monotonic() + timeout
        health = f"{process.endpoint}/_ministack/health"
        while True:
            self._check_child_alive()
            try:
                with urllib.request.urlopen(health, timeout=2):  # http://127.0.0.1 only  # nosec B310
                    pass
                if self.answers(process):
                    return
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise LocalAwsError(
                    f"the local AWS did not answer at {process.endpoint} within {timeout:.0f}s; "
                    f"see {self.home.emulator_log}"
                )
            time.sleep(_POLL_SECONDS)

    def wait(self) -> int:
        """Block until an attached emulator exits; returns its exit code."""
        if self._child is None:
            raise LocalAwsError("no emulator was started by this process")
        return self._child.wait()

    # --- stop ------------------------------------------------------------------------------

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS, *, already_signalled: bool = False) -> bool:
        """Stop the emulator, saving its state; returns False when it was not running.

        SIGTERM first (the emulator saves every service's state and exits); if it is still there
        after `timeout` (a hung request can hold it), SIGKILL. `already_signalled`: it got its
        stop signal already (Ctrl-C reached it); a second one would make it quit without saving.
        """
        process = self.running()
        pid = process.pid if process else (self._child.pid if self._child and self._child.poll() is None else None)
        if pid is None:
            return False
        # The emulator alone, not its process group: attached, that group is this command's too.
        terminate(
            pid,
            group=False,
            grace=timeout,
            kill_wait=10,
            wait=lambda seconds: self._wait_gone(pid, time.monotonic() + seconds),
            signalled=already_signalled,
        )
        self.home.pid_file.unlink(missing_ok=True)
        return True

    def reset(self) -> None:
        """Wipe every resource of this local AWS (buckets, tables, stacks, executions, logs)."""
        if self.running() is not None:
            raise LocalAwsError(
                "stop the local AWS first (`retrain local down`); a running one would save its state again"
            )
        self.home.wipe()

    # --- internals -------------------------------------------------------------------------

    def _wait_for_pid_file(self, child: subprocess.Popen[bytes], deadline: float) -> EmulatorProcess:
        while True:
            self._check_child_alive()
            process = self.running()
            if process is not None and process.pid == child.pid:
                return process
            if time.monotonic() > deadline:
                raise LocalAwsError(f"the local AWS did not start; see {self.home.emulator_log}")
            time.sleep(_POLL_SECONDS)

    def _check_child_alive(self) -> None:
        if self._child is not None and self._child.poll() is not None:
            raise LocalAwsError(
                f"the local AWS exited during start (code {self._child.returncode}):\n{self._log_tail()}"
            )

    def _log_tail(self, lines: int = 15) -> str:
        try:
            text = self.home.emulator_log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def _kill_child(self) -> None:
        if self._child is not None and self._child.poll() is None:
            terminate(self._child.pid, group=False, grace=0, kill_wait=10, wait=waiter(self._child))

    def _wait_gone(self, pid: int, deadline: float) -> bool:
        while time.monotonic() < deadline:
            if self._child is not None and self._child.pid == pid:
                if self._child.poll() is not None:  # reaps it: a zombie would look alive
                    return True
            elif not self._alive(pid):
                return True
            time.sleep(_POLL_SECONDS)
        return False

    @staticmethod
    def _alive(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def _is_our_server(self, pid: int) -> bool:
        cmdline = Path(f"/proc/{pid}/cmdline")
        if not cmdline.exists():  # no procfs: trust the pid file
            return True
        try:
            arguments = cmdline.read_bytes().split(b"\0")
        except OSError:
            return False
        return b"local.server" in arguments and str(self.home.root).encode() in arguments

    @staticmethod
    def _port_free(port: int) -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                return False
        return True
