"""The durability writer: which requests change state, group commits, the state an interrupted run was in.
The emulator-level behaviour (kill -9, restart) is pinned in tests/contract/emulator/test_crash_safety.py."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from local.emulator.durability import (
    WRITE_RETRY_DELAY,
    DurableState,
    StateWriter,
    changes_state,
    interrupted_state,
)
from local.home import StateDirectory
from tests.support.polling import wait_until


@pytest.mark.parametrize(
    ("method", "path", "headers", "body", "query", "expected"),
    [
        ("POST", "/", {"x-amz-target": "DynamoDB_20120810.PutItem"}, b"{}", {}, True),
        ("POST", "/", {"x-amz-target": "DynamoDB_20120810.GetItem"}, b"{}", {}, False),
        ("POST", "/", {"x-amz-target": "AWSStepFunctions.StartExecution"}, b"{}", {}, True),
        ("POST", "/", {"x-amz-target": "AWSStepFunctions.DescribeExecution"}, b"{}", {}, False),
        ("POST", "/", {}, b"Action=CreateStack&StackName=s", {}, True),
        ("POST", "/", {}, b"Action=DescribeStacks&StackName=s", {}, False),
        ("GET", "/", {}, b"", {"Action": ["ListQueues"]}, False),
        ("POST", "/schedules/s", {}, b"{}", {}, True),
        ("GET", "/schedules/s", {}, b"", {}, False),
        ("POST", "/2015-03-31/functions/f/invocations", {}, b"{}", {}, False),
    ],
)
def test_a_request_changes_state_unless_it_reads(
    method: str, path: str, headers: dict[str, str], body: bytes, query: dict[str, Any], expected: bool
) -> None:
    assert changes_state(method, path, headers, body, query) is expected


def test_the_interrupted_state_is_the_last_one_entered_and_a_callback_is_noticed() -> None:
    events = [
        {"type": "ExecutionStarted"},
        {"type": "TaskStateEntered", "stateEnteredEventDetails": {"name": "Train"}},
        {"type": "TaskStateExited"},
        {"type": "TaskStateEntered", "stateEnteredEventDetails": {"name": "RequestApproval"}},
        {
            "type": "TaskScheduled",
            "taskScheduledEventDetails": {"resource": "arn:aws:states:::lambda:invoke.waitForTaskToken"},
        },
    ]
    assert interrupted_state(events) == ("RequestApproval", True)
    assert interrupted_state(events[:3]) == ("Train", False)
    assert interrupted_state([]) == ("?", False)


class Store:
    """A service's state whose reads are counted and can be held, to see writes coalesce."""

    def __init__(self) -> None:
        self.value = 0
        self.reads = 0
        self.release = threading.Event()
        self.release.set()
        self.entered = threading.Event()

    def get_state(self) -> dict[str, Any]:
        self.entered.set()
        assert self.release.wait(10)
        self.reads += 1
        return {"value": self.value}


def saved(directory: Path, key: str) -> Any:
    return json.loads((directory / f"{key}.json").read_text())["payload"]


def test_marks_made_while_a_write_runs_share_the_next_write(tmp_path: Path) -> None:
    store = Store()
    writer = StateWriter(tmp_path, lambda: {"svc": store.get_state})
    writer.start()
    try:
        store.release.clear()  # the first write blocks in get_state
        writer.mark("svc")
        first = writer.flushed(["svc"])
        assert first is not None
        assert store.entered.wait(10)
        waiting = []
        for value in range(1, 6):
            store.value = value
            writer.mark("svc")
            future = writer.flushed(["svc"])
            assert future is not None
            waiting.append(future)
        store.release.set()
        first.result(10)
        for future in waiting:
            future.result(10)
        assert saved(tmp_path, "svc") == {"value": 5}
        assert store.reads == 2  # one write for the first mark, one for the five marked during it
        assert writer.flushed(["svc"]) is None  # nothing pending: a read need not wait
        assert not list(tmp_path.glob(".*"))  # no temporary file left
    finally:
        writer.stop()


def test_a_delayed_mark_is_written_at_once_when_someone_waits_and_stop_writes_the_rest(tmp_path: Path) -> None:
    store = Store()
    writer = StateWriter(tmp_path, lambda: {"svc": store.get_state, "other": lambda: {"o": 1}})
    writer.start()
    writer.mark("svc", delay=60)
    future = writer.flushed(["svc"])
    assert future is not None
    future.result(10)
    assert saved(tmp_path, "svc") == {"value": 0}
    writer.mark("other", delay=60)
    writer.stop()
    assert saved(tmp_path, "other") == {"o": 1}
    assert writer.flushed(["other"]) is None


def test_a_store_changing_while_copied_is_read_again(tmp_path: Path) -> None:
    attempts = []

    def get_state() -> dict[str, Any]:
        attempts.append(1)
        if len(attempts) < 3:
            raise RuntimeError("dictionary changed size during iteration")
        return {"ok": True}

    writer = StateWriter(tmp_path, lambda: {"svc": get_state}, fsync=False)
    writer.start()
    writer.mark("svc")
    future = writer.flushed(["svc"])
    assert future is not None
    future.result(10)
    writer.stop()
    assert saved(tmp_path, "svc") == {"ok": True} and len(attempts) == 3


def test_a_write_that_fails_is_tried_again_and_the_request_waiting_for_it_is_answered(tmp_path: Path) -> None:
    failures = ["disk full"]

    def get_state() -> dict[str, Any]:
        if failures:
            raise OSError(failures.pop())
        return {"ok": True}

    writer = StateWriter(tmp_path, lambda: {"svc": get_state}, fsync=False)
    writer.start()
    try:
        writer.mark("svc")
        future = writer.flushed(["svc"])
        assert future is not None
        future.result(10)  # answered, though its write failed
        # Before: the failed write counted as done and the change stayed in memory only, until the service
        # changed again (a Glue run's end never did: a kill -9 then found the run RUNNING and failed it).
        wait_until(lambda: (tmp_path / "svc.json").exists(), 10 + WRITE_RETRY_DELAY, "the write tried again")
        assert saved(tmp_path, "svc") == {"ok": True}
    finally:
        writer.stop()


def test_a_task_call_waits_for_every_pending_change_but_telemetry(tmp_path: Path) -> None:
    """A Glue run's end (marked by the runner's thread, coalesced) let PrepareData end; the next Task's call
    must not start a training job before that end is on disk, or a kill -9 finds the run RUNNING."""
    durable = DurableState(StateDirectory(tmp_path), fsync=False)
    getters = {
        "stepfunctions": lambda: {"h": 1},
        "glue": lambda: {"run": "SUCCEEDED"},
        "cloudwatch_logs": lambda: {"l": 1},
    }
    durable.writer = StateWriter(tmp_path, lambda: getters, fsync=False)
    durable.writer.start()
    seen: list[set[str]] = []
    try:
        for key in getters:
            durable.writer.mark(key, delay=60)  # pending, as changes off the request path are
        call = durable._history_first(lambda: seen.append({path.stem for path in tmp_path.glob("*.json")}))

        call()

        assert seen == [{"stepfunctions", "glue"}]  # the logs (telemetry) need not be waited for
    finally:
        durable.writer.stop()
