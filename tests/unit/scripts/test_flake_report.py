"""The flake report runs the commit that was HEAD when it began, and keeps the reports before it."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).parents[3] / "benchmarks" / "flake_report.py"


@pytest.fixture
def report(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("flake_report", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "RESULTS", tmp_path / "results" / "flakes.json")
    return module


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True, timeout=60)
    return done.stdout.strip()


def test_a_run_clones_the_commit_the_report_began_on_not_one_made_meanwhile(
    report: ModuleType, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The report ran five 15-minute runs, each cloning HEAD: a commit made meanwhile was run by the later ones.
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    identity = ("-c", "user.name=t", "-c", "user.email=t@example.com")
    (repo / "f").write_text("one")
    git(repo, "add", "f")
    git(repo, *identity, "commit", "-q", "-m", "one")
    monkeypatch.setattr(report, "ROOT", repo)
    began_on = report.head_commit()
    (repo / "f").write_text("two")
    git(repo, *identity, "commit", "-q", "-am", "two")

    clone = report.fresh_clone(tmp_path / "run-1", began_on)

    assert git(clone, "rev-parse", "HEAD") == began_on
    assert (clone / "f").read_text() == "one"


def test_the_reports_before_are_kept_newest_first_and_bounded(report: ModuleType) -> None:
    assert report.earlier_reports() == []
    older = [{"commit": f"c{index}", "green_runs": 3} for index in range(report.KEPT_REPORTS)]
    summarised = {
        "commit": "abc",
        "measured_at": "2026-11-27T07:08:38+00:00",
        "green_runs": 2,
        "runs_requested": 2,
        "tests": 1555,
        "tests_that_failed_in_some_run": [],
    }
    runs = [{"run": 1, "green": True, "wall_seconds": 916.0}, {"run": 2, "green": True, "wall_seconds": 910.0}]
    last = {**summarised, "runs": runs, "per_test": {"tests/x.py::test_y": {"passed": 2}}, "earlier_runs": older}
    report.RESULTS.parent.mkdir(parents=True)
    report.RESULTS.write_text(json.dumps(last))

    kept = report.earlier_reports()

    assert kept[0] == {**summarised, "run_wall_seconds": [916.0, 910.0]}
    assert kept[1:] == older[: report.KEPT_REPORTS - 1]
