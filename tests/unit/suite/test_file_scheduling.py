"""The order in which `--dist loadfile` hands test files to workers (tests/support/scheduling.py): longest file
first, and a worker's next file committed only when it holds its current file's last test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.scheduling import FileCostRecorder, longest_first, read_costs

ROOT = Path(__file__).resolve().parents[3]


@dataclass
class Item:
    nodeid: str


def test_files_go_longest_first_whole_and_unlisted_files_keep_their_order_after_the_listed() -> None:
    items = [
        Item(f"{name}::{test}")
        for name, tests in (("a.py", "12"), ("b.py", "1"), ("c.py", "12"), ("d.py", "1"))
        for test in tests
    ]
    ordered = longest_first(items, {"c.py": 300.0, "b.py": 20.0})  # type: ignore[arg-type]
    assert [item.nodeid for item in ordered] == ["c.py::1", "c.py::2", "b.py::1", "a.py::1", "a.py::2", "d.py::1"]


def test_recorded_costs_sum_each_files_phases_and_keep_the_files_that_did_not_run(tmp_path: Path) -> None:
    path = tmp_path / "costs.json"
    path.write_text(json.dumps({"old.py": 50.0, "a.py": 1.0}))
    recorder = FileCostRecorder(path)
    for nodeid, seconds in (("a.py::x", 2.0), ("a.py::x", 30.0), ("b.py::y", 4.25), ("a.py::z", 0.5)):
        recorder.pytest_runtest_logreport(
            pytest.TestReport(nodeid, ("a.py", 0, "x"), {}, "passed", None, "call", duration=seconds)
        )
    recorder.pytest_sessionfinish(None)  # type: ignore[arg-type]
    assert read_costs(path) == {"old.py": 50.0, "a.py": 32.5, "b.py": 4.2}
    assert list(read_costs(path)) == ["old.py", "a.py", "b.py"]  # longest first, as a reader sees the order


def test_no_costs_file_means_no_reordering(tmp_path: Path) -> None:
    assert read_costs(tmp_path / "absent.json") == {}


# A suite that deadlocks (its bounded wait fails) if a worker is given its next file before its current file's
# last test: `long.py`'s second test waits for both short files, which the other worker must run. xdist's own
# heuristic commits `short2.py` to long's worker as soon as long's first test is done (two tests left).
SUITE = {
    "conftest.py": """
        import json, os
        from tests.support import scheduling

        def pytest_collection_modifyitems(items):
            items[:] = scheduling.longest_first(items, json.loads(os.environ["SUITE_COSTS"]))

        def pytest_xdist_make_scheduler(config, log):
            if os.environ.get("SUITE_SCHEDULER") == "longest-first":
                return scheduling.make_scheduler(config, log)
            return None
    """,
    "helpers.py": """
        import os, time
        from pathlib import Path

        MARKS = Path(os.environ["SUITE_MARKS"])

        def mark(name):
            (MARKS / name).write_text(os.environ.get("PYTEST_XDIST_WORKER", "-"))

        def wait_for(*names, timeout=60.0):
            deadline = time.monotonic() + timeout
            while not all((MARKS / name).exists() for name in names):
                assert time.monotonic() < deadline, f"{names} never ran: given to this busy worker"
                time.sleep(0.05)
    """,
    "test_long.py": """
        import os
        from helpers import mark, wait_for

        def test_1(): mark("long1")
        def test_2():
            mark("long2-waiting")  # long1's report went to the controller before this test began
            wait_for("short1", "short2", timeout=float(os.environ["SUITE_LONG_WAIT_SECONDS"]))
        def test_3(): mark("long3")
    """,
    "test_mid.py": """
        from helpers import mark, wait_for

        def test_1():
            wait_for("long2-waiting")
            mark("mid")
    """,
    "test_short1.py": "from helpers import mark\ndef test_1(): mark('short1')\n",
    "test_short2.py": "from helpers import mark\ndef test_1(): mark('short2')\n",
}
COSTS = {"test_long.py": 300, "test_mid.py": 200, "test_short1.py": 10, "test_short2.py": 10}


# `test_long`'s wait for the short files: where it ends (longest-first) it gets a bound no load reaches; where it
# cannot end (xdist's heuristic: a short file is queued behind it, on its own worker) it only has to fail, and how
# soon does not change what it shows. `test_mid`'s wait, which ends in both, keeps 60 s.
LONG_WAIT_SECONDS = {"longest-first": 60.0, "xdist": 3.0}


def run_suite(tmp_path: Path, scheduler: str) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    suite, marks = tmp_path / scheduler / "suite", tmp_path / scheduler / "marks"
    suite.mkdir(parents=True)
    marks.mkdir()
    for name, text in SUITE.items():
        (suite / name).write_text(textwrap.dedent(text), encoding="utf-8")
    (suite / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(suite)]),
        "SUITE_COSTS": json.dumps(COSTS),
        "SUITE_MARKS": str(marks),
        "SUITE_SCHEDULER": scheduler,
        "SUITE_LONG_WAIT_SECONDS": str(LONG_WAIT_SECONDS[scheduler]),
    }
    finished = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:randomly",
            "-p",
            "no:cacheprovider",
            "-n",
            "2",
            "--dist",
            "loadfile",
            "-q",
            str(suite),
        ],
        cwd=suite,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    return finished, {path.name: path.read_text() for path in marks.iterdir()}


def test_a_worker_takes_its_next_file_only_when_it_holds_its_current_files_last_test(tmp_path: Path) -> None:
    finished, workers = run_suite(tmp_path, "longest-first")
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert workers["long1"] == workers["long2-waiting"] == workers["long3"]
    assert workers["mid"] == workers["short1"] == workers["short2"] != workers["long1"]


def test_xdists_own_heuristic_gives_the_busy_worker_a_file_early_which_is_what_the_order_fixes(tmp_path: Path) -> None:
    finished, workers = run_suite(tmp_path, "xdist")
    assert finished.returncode == 1, finished.stdout + finished.stderr
    assert "('short1', 'short2') never ran: given to this busy worker" in finished.stdout
    assert workers["short2"] == workers["long1"] != workers["mid"]
