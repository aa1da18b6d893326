"""Step Functions: a closed execution's history lives in a file of its own, read when asked for.

AWS keeps a standard workflow's execution history for 90 days after the execution closes (Step Functions
developer guide, "Step Functions service quotas": "Execution history retention time: 90 days after an
execution is closed"), and a user reads it (`GetExecutionHistory`, the console, `retrain` commands). The
emulator kept every execution's events in memory for the life of the process and deep-copied them all on
each save of its state: each event carries the state's input or output, so one retrain cycle's history is
about 0.8 MB of JSON and 1.4 MB of memory (a soak of cycles, issue #17).

`ClosedHistories` writes an execution's events to `<state dir>/stepfunctions-history/` when its terminal event
(`ExecutionSucceeded`, `ExecutionFailed`, `ExecutionAborted`, `ExecutionTimedOut`) is added, and puts a
`HistoryFile` in the execution's place of them: a sequence that reads the file each time it is read (its
length is known without reading). The service's state file names the file instead of holding the events; an
execution loaded from a state file written before holds them inline and is moved to its file when loaded. A
redrive appends to a closed history: the events are read back into memory until the execution closes again,
then written to a new file. The file is written (fsynced, renamed into place) before the execution refers to
it, so a state file never names a file that is not there.

Pinned in `tests/unit/emulator/test_history_files.py`.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterator, MutableSequence
from pathlib import Path
from typing import Any, overload

from local.emulator.seam import persistence_codec, replace, require, service

logger = logging.getLogger("retrain.local")

TERMINAL_EVENTS = frozenset({"ExecutionSucceeded", "ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut"})
FOLDER = "stepfunctions-history"
_MARK = "__retrain_history_file__"


class HistoryFile(MutableSequence[dict[str, Any]]):
    """An execution's events in a file; in memory only once something changes them (a redrive)."""

    def __init__(self, path: Path, length: int) -> None:
        self.path = path
        self.length = length
        self._events: list[dict[str, Any]] | None = None  # read back to be changed

    @property
    def in_memory(self) -> bool:
        return self._events is not None

    def _read(self) -> list[dict[str, Any]]:
        if self._events is not None:
            return self._events
        events: list[dict[str, Any]] = json.loads(self.path.read_text(encoding="utf-8"))
        return events

    def _changing(self) -> list[dict[str, Any]]:
        if self._events is None:
            self._events = self._read()
        return self._events

    def __len__(self) -> int:
        return len(self._events) if self._events is not None else self.length

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...
    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        return self._read()[index]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self._read())

    def __reversed__(self) -> Iterator[dict[str, Any]]:
        return reversed(self._read())

    def __setitem__(self, index: Any, value: Any) -> None:
        self._changing()[index] = value

    def __delitem__(self, index: Any) -> None:
        del self._changing()[index]

    def insert(self, index: int, value: dict[str, Any]) -> None:
        self._changing().insert(index, value)

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        # A file is never rewritten (a new history gets a new file), so a copy of a closed history is its name.
        if self._events is None:
            return HistoryFile(self.path, self.length)
        return copy.deepcopy(self._events, memo)

    def __repr__(self) -> str:
        return f"HistoryFile({str(self.path)!r}, {len(self)})"


class ClosedHistories:
    def __init__(self, state_dir: Path) -> None:
        self.folder = state_dir / FOLDER

    def install(self) -> None:
        sfn = service("stepfunctions")
        require(sfn, "_executions")
        codec = persistence_codec()
        replace(sfn, "_add_event", self._spilling, "closed-histories")
        replace(sfn, "load_persisted_state", self._spilling_loaded, "closed-histories")
        replace(codec, "_json_default", self._encoding, "closed-histories")
        replace(codec, "_json_object_hook", self._decoding, "closed-histories")

    # --- moving a history to its file -------------------------------------------------------------

    def spill(self, execution: dict[str, Any]) -> None:
        """Write the execution's events to a new file and keep only the file's name in their place."""
        events = execution.get("events")
        if isinstance(events, HistoryFile) and not events.in_memory:
            return
        if not isinstance(events, (list, HistoryFile)):
            return
        listed = list(events)
        arn = str(execution.get("executionArn") or id(execution))
        path = self.folder / f"{hashlib.sha256(arn.encode()).hexdigest()[:32]}-{len(listed)}.json"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            with tmp.open("w", encoding="utf-8") as out:
                json.dump(listed, out)
                out.flush()
                os.fsync(out.fileno())
            tmp.replace(path)
        except OSError as error:
            logger.warning("could not write the history of %s to %s (%s); it stays in memory", arn, path, error)
            return
        execution["events"] = HistoryFile(path, len(listed))

    def _spilling(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def add_event(execution: dict[str, Any], event_type: str, *args: Any, **kwargs: Any) -> Any:
            event = original(execution, event_type, *args, **kwargs)
            if event_type in TERMINAL_EVENTS:
                self.spill(execution)
            return event

        return add_event

    def _spilling_loaded(self, original: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def load(data: Any) -> Any:
            result = original(data)
            for execution in list(service("stepfunctions")._executions.all_values()):
                if execution.get("status") not in (None, "RUNNING") and isinstance(execution.get("events"), list):
                    self.spill(execution)
            return result

        return load

    # --- the state file ---------------------------------------------------------------------------

    def _encoding(self, original: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def default(value: Any) -> Any:
            if isinstance(value, HistoryFile):
                if value.in_memory:
                    return list(value)
                return {_MARK: value.path.name, "count": value.length}
            return original(value)

        return default

    def _decoding(self, original: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def hook(value: dict[str, Any]) -> Any:
            if _MARK in value:
                return HistoryFile(self.folder / str(value[_MARK]), int(value["count"]))
            return original(value)

        return hook
