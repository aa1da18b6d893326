"""Longest file first: how `--dist loadfile` hands whole test files to the workers.

A whole-cycle file runs for minutes on a local AWS of its own, so the wall time of a parallel run is
decided by which worker gets which file, and xdist's own order decides it badly twice over:

- it queues the files by their number of tests, which says nothing about their length (twenty
  one-second stack checks come before three five-minute cycles);
- it gives a worker its next file once two tests of the current one are left, so a worker still busy
  for minutes with a file's last two cycles is committed to one more file while another worker idles.

So the files are collected longest first, by the worker-seconds each took in a recorded run
(`tests/file_costs.json`; files it does not list keep their order, after the listed ones), and the
scheduler keeps that order and commits a worker's next file only when its current file's last test is
what it holds. A worker runs a test only once it knows the next (for the fixture teardown between
them), so the last test of a file waits for the next file: that is the earliest the next file can be
given without starving the worker.

`pytest --record-file-costs` (with the environment's own arguments, e.g. `tox -e local --
--record-file-costs`) rewrites the listed costs of the files that ran. The order changes how long a
run takes, never what it tests: every file still runs whole, on one worker, with its own fixtures.

xdist has no ordering of this kind, so this is a subclass of its `LoadScopeScheduling` (pinned in
pyproject.toml) that overrides the one heuristic.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

COSTS = Path(__file__).resolve().parents[1] / "file_costs.json"
RECORD_OPTION = "--record-file-costs"


def file_of(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def read_costs(path: Path = COSTS) -> dict[str, float]:
    """Worker-seconds by test file ({} without a file: every file keeps its collection order)."""
    try:
        costs = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    return {str(name): float(seconds) for name, seconds in costs.items()}


def longest_first(items: list[pytest.Item], costs: dict[str, float]) -> list[pytest.Item]:
    """`items` with whole files reordered by cost, longest first; a file's tests keep their order, and so
    do the files of equal (or no) cost. Every worker sorts the same collection the same way."""
    files: dict[str, list[pytest.Item]] = {}
    for item in items:
        files.setdefault(file_of(item.nodeid), []).append(item)
    ordered = sorted(files, key=lambda name: -costs.get(name, 0.0))
    return [item for name in ordered for item in files[name]]


class FileCostRecorder:
    """Sums each file's setup, call and teardown durations as the reports arrive (on the controller of a
    parallel run: every worker's reports reach it) and merges them into the costs file at the end."""

    def __init__(self, path: Path = COSTS) -> None:
        self.path = path
        self.seconds: dict[str, float] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        name = file_of(report.nodeid)
        self.seconds[name] = self.seconds.get(name, 0.0) + report.duration

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if not self.seconds:
            return
        costs = read_costs(self.path) | {name: round(seconds, 1) for name, seconds in self.seconds.items()}
        text = json.dumps(dict(sorted(costs.items(), key=lambda entry: -entry[1])), indent=2)
        self.path.write_text(text + "\n", encoding="utf-8")


def make_scheduler(config: pytest.Config, log: Any) -> Any:
    """The scheduler of `--dist loadfile`: xdist's, in collection order, committing a worker's next file
    late (see the module's docstring)."""
    from xdist.scheduler import LoadScopeScheduling

    class LongestFileFirst(LoadScopeScheduling):  # type: ignore[misc]
        def _reschedule(self, node: Any) -> None:
            if node.shutting_down:
                return
            if not self.workqueue:
                node.shutdown()
                return
            # xdist's heuristic is `> 2`: one test left is the soonest a worker can take its next file.
            if self._pending_of(self.assigned_work[node]) > 1:
                return
            self._assign_work_unit(node)

    config.option.loadscopereorder = False  # keep the collection order: longest file first
    return LongestFileFirst(config, log)
