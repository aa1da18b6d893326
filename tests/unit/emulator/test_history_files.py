"""A closed Step Functions execution's history is kept in a file, not in the emulator's memory.

AWS keeps a standard execution's history for 90 days after it closes (Step Functions developer guide,
"Step Functions service quotas", execution history retention), so the history must stay readable; the
emulator held every execution's events in memory for the life of the process and deep-copied them on each
save (about 1.4 MB per retrain cycle in a soak, issue #17). Here the emulator's Step Functions runs
in-process; its handlers are called directly, as its request path calls them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local.emulator import seam
from local.emulator.history_files import ClosedHistories, HistoryFile

MACHINE = "arn:aws:states:us-east-1:000000000000:stateMachine:history-test"
PAYLOAD = json.dumps({"rows": ["x" * 100] * 100})  # ~10 kB per event, as a cycle's state carries


@pytest.fixture
def sfn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    module = seam.service("stepfunctions")
    codec = seam.persistence_codec()
    # The fix patches the emulator's module; the test's patches are undone after it.
    for target, name in ((module, "_add_event"), (module, "load_persisted_state")):
        monkeypatch.setattr(target, name, getattr(target, name))
    for name in ("_json_default", "_json_object_hook"):
        monkeypatch.setattr(codec, name, getattr(codec, name))
    module.reset()
    ClosedHistories(tmp_path / "state").install()
    yield module
    module.reset()


def run(sfn: Any, name: str, states: int = 5, end: str = "ExecutionSucceeded") -> dict[str, Any]:
    arn = f"arn:aws:states:us-east-1:000000000000:execution:history-test:{name}"
    execution: dict[str, Any] = {"executionArn": arn, "stateMachineArn": MACHINE, "name": name, "events": []}
    sfn._executions[arn] = execution
    execution["status"] = "RUNNING"
    sfn._add_event(execution, "ExecutionStarted", {"executionStartedEventDetails": {"input": PAYLOAD}})
    for n in range(states):
        sfn._add_event(execution, "PassStateEntered", {"stateEnteredEventDetails": {"name": f"S{n}", "input": PAYLOAD}})
        sfn._add_event(execution, "PassStateExited", {"stateExitedEventDetails": {"name": f"S{n}", "output": PAYLOAD}})
    execution["status"] = "SUCCEEDED" if end == "ExecutionSucceeded" else "FAILED"
    sfn._add_event(execution, end, {})
    return execution


def history(sfn: Any, execution: dict[str, Any]) -> list[dict[str, Any]]:
    response = sfn._get_execution_history({"executionArn": execution["executionArn"], "maxResults": 1000})
    return list(json.loads(response[2])["events"])


def test_closed_executions_keep_no_history_in_memory(sfn: Any) -> None:
    executions = [run(sfn, f"run-{n}") for n in range(20)]

    assert all(isinstance(e["events"], HistoryFile) and not e["events"].in_memory for e in executions)
    # The state file names the files; it does not hold the events (it held them all, rewritten on each save).
    saved = seam.encode_state("stepfunctions", sfn.get_state())
    assert PAYLOAD.encode() not in saved.replace(b'\\"', b'"')
    assert len(saved) < 20 * 2000


def test_a_closed_history_reads_back_whole_after_a_restart(sfn: Any) -> None:
    execution = run(sfn, "read-back", end="ExecutionFailed")
    first = history(sfn, execution)
    assert [e["type"] for e in first] == ["ExecutionStarted"] + ["PassStateEntered", "PassStateExited"] * 5 + [
        "ExecutionFailed"
    ]
    assert [e["id"] for e in first] == list(range(1, 13))
    assert first[1]["stateEnteredEventDetails"]["input"] == PAYLOAD

    saved = seam.encode_state("stepfunctions", sfn.get_state())
    sfn.reset()
    codec = seam.persistence_codec()
    sfn.load_persisted_state(json.loads(saved, object_hook=codec._json_object_hook)["payload"])
    assert history(sfn, execution) == first


def test_a_redriven_history_goes_on_from_its_file_and_closes_into_a_new_one(sfn: Any) -> None:
    execution = run(sfn, "redriven", end="ExecutionFailed")
    closed = execution["events"]
    execution["status"] = "RUNNING"
    sfn._add_event(execution, "ExecutionRedriven", {})
    assert execution["events"].in_memory and len(execution["events"]) == 13
    execution["status"] = "SUCCEEDED"
    sfn._add_event(execution, "ExecutionSucceeded", {})

    reopened = execution["events"]
    assert not reopened.in_memory and reopened.path != closed.path
    assert [e["type"] for e in history(sfn, execution)][-3:] == [
        "ExecutionFailed",
        "ExecutionRedriven",
        "ExecutionSucceeded",
    ]


def test_a_state_file_with_histories_inline_moves_them_to_files_when_loaded(sfn: Any) -> None:
    execution = run(sfn, "inline")
    inline = {**execution, "events": list(execution["events"])}
    sfn.reset()
    scoped = type(sfn._executions)()
    scoped[execution["executionArn"]] = inline
    sfn.load_persisted_state({"executions": scoped})

    loaded = sfn._executions[execution["executionArn"]]
    assert isinstance(loaded["events"], HistoryFile) and not loaded["events"].in_memory
    assert [e["type"] for e in history(sfn, loaded)][-1] == "ExecutionSucceeded"
