"""Crash-safe local state: what the local AWS acknowledged survives `kill -9`.

The emulator saves its services' state only on a clean shutdown, so a killed process lost every
DynamoDB item, Step Functions execution, stack change and schedule since the last clean stop (S3
bodies and the local SageMaker write through already). `DurableState` closes that gap:

- a request that changes a service marks it dirty, and its response is sent only once that
  service's state is on disk (group commit: the requests waiting together share one write);
  a request that reads a service waits for that service's pending write too, so nothing a client
  saw can be lost;
- changes made off the request path are written within `ENGINE_DELAY` seconds, coalesced: Step
  Functions history events (the engine's threads), CloudFormation stack events (their provisioning
  touches every service), the scheduler's record of fired schedules, Glue runs (`seam.state_changed`);
- each write is atomic: the emulator's own file format, written to a temporary file, fsynced,
  renamed over `<service>.json`;
- a Task state's call (`_invoke_resource`, `_invoke_with_callback`) first waits for the execution's history
  so far, and every other change still pending but telemetry, to be on disk (the run moved on because of
  them: a Glue run's end, written by the runner's thread, is what let PrepareData end), and a write batch
  saves that history before the other services: whatever a Task changed, a kill after it finds the run in
  that Task, never in a state before it, and what the run saw before it as it saw it;
- a write that fails is tried again (`WRITE_RETRY_DELAY`), so a change is never left only in memory
  because one write of its service failed; the requests that waited for it are answered all the same;
- after a crash (the start-up finds the marker a clean stop removes), an execution that was running
  is FAILED with `Local.EmulatorCrashed`, an `ExecutionFailed` event and a cause naming the state it
  was in and how to resume; after a clean stop the emulator's `States.ServiceRestart` gets the same
  event and cause. Neither can continue in-process: the engine's threads, and a callback's task token,
  live in memory only.

Pinned by `tests/contract/emulator/test_crash_safety.py`; cost measured by `benchmarks/bench_durability.py`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import re
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any

from local.emulator.seam import (
    cloudformation_stacks,
    emulator_app,
    encode_state,
    on_state_changed,
    replace,
    require,
    service,
    service_state_keys,
    state_getters,
    wrap_service_handlers,
)
from local.home import StateDirectory

logger = logging.getLogger("retrain.local")

# `off` keeps the emulator's own behaviour (state saved at a clean stop only): for measuring the cost.
DURABLE_ENV = "RETRAIN_LOCAL_DURABLE"
CRASHED = "Local.EmulatorCrashed"
RESTARTED = "States.ServiceRestart"  # the emulator's own name for a run a clean stop ended
# Changes off the request path (engine transitions, stack events) are coalesced this long.
ENGINE_DELAY = 0.2
# Step Functions' state (executions and their history), saved before each Task state's call (`_history_first`),
# waited for at most this long.
HISTORY = "stepfunctions"
HISTORY_WAIT = 30.0
WRITE_RETRY_DELAY = 1.0
# Services that write their data through on their own (S3 object bodies and their metadata): what is left
# in their state file (bucket settings) is saved coalesced, and their requests do not wait for it.
WRITE_THROUGH = frozenset({"s3"})
# Telemetry (log events, metric data, stream records) arrives many times a second while a run goes, and each
# write rewrites its service's whole state: it is saved coalesced every TELEMETRY_DELAY seconds and its
# requests do not wait, so a kill -9 may lose the last seconds of it (never a run, an item or a stack).
TELEMETRY = frozenset({"logs", "monitoring", "kinesis", "firehose", "xray"})
TELEMETRY_DELAY = 2.0
# A stack's resources live in the services it provisions into: what it reports waits for all of them.
SPANS_SERVICES = frozenset({"cloudformation"})
_READ_ACTION = re.compile(r"^(Get|Describe|List|Query|Scan|BatchGet|TransactGet|Search|Lookup|Check|Validate)")
_FORM_ACTION = re.compile(rb"(?:^|&)Action=([A-Za-z0-9]+)")


def enabled(environ: dict[str, str] | None = None) -> bool:
    """Per-change persistence is on unless `RETRAIN_LOCAL_DURABLE=off`."""
    return (os.environ if environ is None else environ).get(DURABLE_ENV, "on").strip().lower() != "off"


def changes_state(method: str, path: str, headers: dict[str, str], body: bytes, query: dict[str, Any]) -> bool:
    """Whether a request may change its service's state: its action is not a read (JSON and query
    protocols name it), or, for a REST API, its method is not GET/HEAD and it is not an invocation."""
    # The gateway lowers header names; the engine's own SDK calls may not.
    action = (headers.get("x-amz-target") or headers.get("X-Amz-Target") or "").rpartition(".")[2]
    if not action:
        given = query.get("Action") if isinstance(query, dict) else None
        action = str(given[0] if isinstance(given, list) and given else given or "")
    if not action and isinstance(body, bytes | bytearray):
        found = _FORM_ACTION.search(bytes(body[:512]))
        action = found.group(1).decode() if found else ""
    if action:
        return not _READ_ACTION.match(action)
    return method not in ("GET", "HEAD", "OPTIONS") and not path.rstrip("/").endswith("/invocations")


class StateWriter:
    """Writes dirty services' state on its own thread; `flushed(keys)` is a future resolved once the
    marks made so far on `keys` are on disk. Marks that arrive while it writes share its next write."""

    def __init__(
        self, directory: Path, getters: Callable[[], dict[str, Callable[[], Any]]], *, fsync: bool = True
    ) -> None:
        self.directory = directory
        self.getters = getters
        self.fsync = fsync
        self.writes = 0
        self._cond = threading.Condition()
        self._marked: dict[str, int] = defaultdict(int)
        self._written: dict[str, int] = defaultdict(int)
        self._due: dict[str, float] = {}
        self._waiters: list[tuple[dict[str, int], Future[None]]] = []
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="retrain-state-writer", daemon=True)
        self._thread.start()

    def mark(self, key: str, delay: float = 0.0) -> None:
        with self._cond:
            self._marked[key] += 1
            self._due[key] = min(self._due.get(key, math.inf), time.monotonic() + delay)
            self._cond.notify()

    def mark_all(self, delay: float = 0.0) -> None:
        for key in self.getters():
            self.mark(key, delay)

    def flushed(
        self, keys: Iterable[str] | None = None, *, excluding: frozenset[str] = frozenset()
    ) -> Future[None] | None:
        """None when nothing marked on `keys` (None: on any service but those `excluding`) is waiting to be
        written."""
        with self._cond:
            keys = [key for key in self._marked if key not in excluding] if keys is None else keys
            pending = {key: self._marked[key] for key in keys if self._marked[key] > self._written[key]}
            if not pending or self._thread is None or self._stopping:
                return None
            now = time.monotonic()
            for key in pending:
                self._due[key] = now
            future: Future[None] = Future()
            self._waiters.append((pending, future))
            self._cond.notify()
            return future

    def stop(self, timeout: float = 30.0) -> None:
        """Write what is pending, then end the thread (before the emulator's own shutdown save)."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout)

    def _next_batch(self) -> dict[str, int] | None:
        with self._cond:
            while True:
                now = time.monotonic()
                ready = [key for key, due in self._due.items() if due <= now or self._stopping]
                if ready:
                    for key in ready:
                        del self._due[key]
                    return {key: self._marked[key] for key in ready}
                if self._stopping:
                    return None
                self._cond.wait(min(self._due.values()) - now if self._due else None)

    def _run(self) -> None:
        while (batch := self._next_batch()) is not None:
            getters = self.getters()
            failed = []
            # The history first: a change a Task made is never on disk without the history that made it.
            for key in sorted(batch, key=lambda key: key != HISTORY):
                try:
                    self._write(key, getters.get(key))
                except Exception:  # a failed write must not stop the writer nor hang a request
                    logger.exception("could not save the local AWS's %s state; trying again", key)
                    failed.append(key)
            if self.fsync:
                self._sync_directory()
            with self._cond:
                for key, generation in batch.items():
                    self._written[key] = max(self._written[key], generation)
                done = [entry for entry in self._waiters if all(self._written[k] >= g for k, g in entry[0].items())]
                self._waiters = [entry for entry in self._waiters if entry not in done]
            for _, future in done:
                future.set_result(None)
            for key in failed:  # its changes are still only in memory: write them again
                self.mark(key, WRITE_RETRY_DELAY)
        with self._cond:
            waiters, self._waiters = self._waiters, []
        for _, future in waiters:
            future.set_result(None)

    def _write(self, key: str, get_state: Callable[[], Any] | None) -> None:
        if get_state is None:
            return
        for attempt in range(5):
            try:
                state = get_state()
                break
            except RuntimeError:  # a store changed size while it was copied (an engine thread): again
                if attempt == 4:
                    raise
        if state is None:
            return
        data = encode_state(key, state)
        target = self.directory / f"{key}.json"
        temporary = self.directory / f".{key}.json.writing"
        with open(temporary, "wb") as file:
            file.write(data)
            if self.fsync:
                file.flush()
                os.fsync(file.fileno())
        os.replace(temporary, target)
        self.writes += 1

    def _sync_directory(self) -> None:
        descriptor = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


class DurableState:
    """Installs the writer, its marks and the restart handling; `install()` runs before the state loads."""

    def __init__(self, home: StateDirectory, *, fsync: bool = True) -> None:
        self.home = home
        # Present while an emulator runs on this home; a clean stop removes it.
        self.marker = home.crash_marker
        self.writer = StateWriter(home.service_state, state_getters, fsync=fsync)
        self.crashed = False
        # What a Task's call need not wait for: telemetry is saved coalesced, and may lose its last seconds.
        self.telemetry_keys = frozenset(key for name in TELEMETRY for key in service_state_keys(name))

    def install(self) -> None:
        self.home.service_state.mkdir(parents=True, exist_ok=True)
        self.crashed = self.marker.exists()
        self.marker.write_text(str(os.getpid()), encoding="utf-8")
        if self.crashed:
            logger.warning("the local AWS under %s was not stopped cleanly: restoring what it saved", self.home.root)
        wrap_service_handlers(self._durable_handler, "durable-state")
        sfn = service("stepfunctions")
        replace(sfn, "_add_event", lambda original: self._marking(original, "stepfunctions"), "durable-state")
        replace(sfn, "load_persisted_state", self._end_interrupted_executions, "durable-state")
        for call in ("_invoke_resource", "_invoke_with_callback"):
            replace(sfn, call, self._history_first, "durable-state")
        replace(cloudformation_stacks(), "_add_event", self._marking_everything, "durable-state")
        scheduler = service("scheduler")
        require(scheduler, "_schedule_last_fired")
        replace(scheduler, "_tick_schedules", self._marking_fired_schedules, "durable-state")
        replace(emulator_app(), "save_all", self._clean_stop, "durable-state")
        on_state_changed(lambda key: self.writer.mark(key, ENGINE_DELAY))
        self.writer.start()

    def _durable_handler(self, name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        keys = service_state_keys(name)
        writer = self.writer
        delay = ENGINE_DELAY if name in WRITE_THROUGH else TELEMETRY_DELAY if name in TELEMETRY else 0.0
        unwaited = name in WRITE_THROUGH or name in TELEMETRY
        wait: tuple[str, ...] | None = () if unwaited else None if name in SPANS_SERVICES else keys

        async def handle(method: str, path: str, headers: dict[str, str], body: bytes, query: dict[str, Any]) -> Any:
            response = await original(method, path, headers, body, query)
            if keys and changes_state(method, path, headers, body, query):
                for key in keys:
                    writer.mark(key, delay)
            written = writer.flushed(wait)
            if written is not None:
                await asyncio.wrap_future(written)
            return response

        return handle

    def _marking(self, original: Callable[..., Any], key: str) -> Callable[..., Any]:
        writer = self.writer

        def add_event(*args: Any, **kwargs: Any) -> Any:
            event = original(*args, **kwargs)
            writer.mark(key, ENGINE_DELAY)
            return event

        return add_event

    def _history_first(self, original: Callable[..., Any]) -> Callable[..., Any]:
        """A Task state's call (a Lambda, a job, an item) waits for the execution's history so far, and every
        other pending change but telemetry, to be on disk: whatever the call changes, a kill after it finds the
        run in that state, never in an earlier one (which a redrive would run again: a second Glue run, a
        second training job), and what the run saw before it (a Glue run SUCCEEDED) as it saw it, not as it
        was when last saved (RUNNING, which the restart then fails)."""
        writer = self.writer
        telemetry = self.telemetry_keys

        def invoke(*args: Any, **kwargs: Any) -> Any:
            written = writer.flushed(excluding=telemetry)
            if written is not None:
                try:
                    written.result(timeout=HISTORY_WAIT)
                except FutureTimeout:
                    logger.warning("the Step Functions history took over %ss to save; calling the Task", HISTORY_WAIT)
            return original(*args, **kwargs)

        return invoke

    def _marking_everything(self, original: Callable[..., Any]) -> Callable[..., Any]:
        writer = self.writer

        def add_event(*args: Any, **kwargs: Any) -> Any:
            event = original(*args, **kwargs)
            writer.mark_all(ENGINE_DELAY)  # a stack's resources live in every service it provisions
            return event

        return add_event

    def _marking_fired_schedules(self, original: Callable[[], Any]) -> Callable[[], Any]:
        writer = self.writer

        def tick() -> Any:
            fired = service("scheduler")._schedule_last_fired
            before = dict(fired)
            try:
                return original()
            finally:
                if dict(fired) != before:
                    writer.mark("scheduler", ENGINE_DELAY)

        return tick

    def _clean_stop(self, original: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def save_all(services: Any) -> Any:
            self.writer.stop()
            result = original(services)
            self.marker.unlink(missing_ok=True)
            return result

        return save_all

    def _end_interrupted_executions(self, original: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def load(data: Any) -> Any:
            stored: Any = (data or {}).get("executions") or {}
            values = stored.all_values() if hasattr(stored, "all_values") else list(stored.values())
            running = [execution for execution in values if execution.get("status") == "RUNNING"]
            result = original(data)
            for execution in running:
                end_interrupted(execution, crashed=self.crashed)
            if running:
                self.writer.mark("stepfunctions")
            return result

        return load


def interrupted_state(events: list[dict[str, Any]]) -> tuple[str, bool]:
    """The state an execution was in (the last one entered) and whether it waited for a task token."""
    callback = False
    for event in reversed(events):
        resource = str((event.get("taskScheduledEventDetails") or {}).get("resource") or "")
        callback = callback or resource.endswith(".waitForTaskToken")
        details = event.get("stateEnteredEventDetails")
        if details:
            return str(details.get("name") or "?"), callback
    return "?", callback


def end_interrupted(execution: dict[str, Any], *, crashed: bool) -> None:
    """FAILED, with an `ExecutionFailed` event and a cause naming the state and how to go on."""
    state, callback = interrupted_state(execution.get("events") or [])
    how = "was killed" if crashed else "was stopped"
    waited = " waiting for its task token, which is gone with it" if callback else ""
    cause = (
        f"The local AWS {how} while this execution was in state '{state}'{waited}; on AWS it would go on, "
        f"locally it cannot continue. Resume it there with `retrain redrive {execution.get('name') or 'RUN'}`, or "
        "start a new run with `retrain run`."
    )
    error = CRASHED if crashed else RESTARTED
    sfn = service("stepfunctions")
    execution.update(status="FAILED", error=error, cause=cause, output=json.dumps({"Error": error, "Cause": cause}))
    execution["stopDate"] = execution.get("stopDate") or require(sfn, "now_iso")()
    sfn._add_event(execution, "ExecutionFailed", {"executionFailedEventDetails": {"error": error, "cause": cause}})
