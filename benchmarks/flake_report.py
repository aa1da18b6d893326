"""Flake report: the README's test environments run N times, each in a fresh clone, per-test pass counts.

A test that passes in one run and fails in another is a flake, whatever the machine was doing. This
runs the test environments the README's test command runs (`python3 -m tox`, env_list of tox.ini),
one environment at a time so each writes its own JUnit XML, in a fresh `git clone` of the committed
HEAD per run (the way CI sees the project: no untracked files, a new tox environment). Installs are
timed apart from the tests: tox reports `setup[...]` and `cmd[...]` seconds for each environment.

    python benchmarks/flake_report.py --runs 5 [--envs unit,contract] [--keep]

Writes benchmarks/results/flakes.json: for each run, each environment's exit code and wall, setup and
command seconds; for each test, how many runs it passed, failed or was skipped in, and its mean time.
Exits 1 when any test failed in any run (a flake or a real failure: both need a cause).
"""

from __future__ import annotations

import argparse
import configparser
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "flakes.json"
# tox's closing line per environment, e.g. "  unit: OK (83.21=setup[3.10]+cmd[80.11] seconds)".
TOX_TIMING = re.compile(r"^\s*(?P<env>[\w-]+): (?P<status>OK|FAIL)\S* \((?P<total>[\d.]+)=setup\[(?P<setup>[\d.]+)\]")


def env_list() -> list[str]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ROOT / "tox.ini")
    return [name.strip() for name in parser["tox"]["env_list"].split(",") if name.strip()]


def run_environment(clone: Path, env: str, junit: Path) -> dict[str, Any]:
    start = time.monotonic()
    process = subprocess.run(
        [sys.executable, "-m", "tox", "-e", env, "--", f"--junitxml={junit}", "-p", "no:cacheprovider"],
        cwd=clone,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    wall = time.monotonic() - start
    timing = next((m for m in map(TOX_TIMING.match, process.stdout.splitlines()) if m and m["env"] == env), None)
    setup = float(timing["setup"]) if timing else None
    return {
        "env": env,
        "exit_code": process.returncode,
        "wall_seconds": round(wall, 1),
        "setup_seconds": setup,
        "test_seconds": round(wall - setup, 1) if setup is not None else None,
        "tail": process.stdout.splitlines()[-15:] if process.returncode else [],
    }


def test_outcomes(junit: Path) -> dict[str, tuple[str, float]]:
    if not junit.exists():
        return {}
    outcomes: dict[str, tuple[str, float]] = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        name = f"{case.get('classname', '')}::{case.get('name', '')}"
        if case.find("failure") is not None or case.find("error") is not None:
            outcome = "failed"
        elif case.find("skipped") is not None:
            outcome = "skipped"
        else:
            outcome = "passed"
        outcomes[name] = (outcome, float(case.get("time") or 0.0))
    return outcomes


def head_commit() -> str:
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()


def fresh_clone(into: Path, commit: str) -> Path:
    """A clone of `commit` (the HEAD when the report began: a commit made meanwhile is not run)."""
    clone = into / "project"
    subprocess.run(["git", "clone", "-q", "--no-hardlinks", str(ROOT), str(clone)], check=True)
    subprocess.run(["git", "checkout", "-q", "-B", "main", commit], cwd=clone, check=True)
    shared = ROOT.parent / "shared"  # the clone sits where CI puts it: beside a copy of shared/
    if shared.is_dir():
        (into / "shared").symlink_to(shared)
    return clone


def write_report(
    runs: list[dict[str, Any]],
    per_test: dict[str, dict[str, Any]],
    requested: int,
    envs: list[str],
    commit: str,
    earlier: list[dict[str, Any]],
) -> dict[str, Any]:
    """Write the results file as the runs so far have it (rewritten after every run: a cut-short report
    keeps the runs that finished)."""
    tests = {
        name: {
            "passed": counts["passed"],
            "failed": counts["failed"],
            "skipped": counts["skipped"],
            "mean_seconds": round(sum(counts["seconds"]) / len(counts["seconds"]), 2),
        }
        for name, counts in sorted(per_test.items())
    }
    flaky = sorted(name for name, counts in tests.items() if counts["failed"])
    report = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": len(os.sched_getaffinity(0)), "python": platform.python_version()},
        "commit": commit,
        "runs_requested": requested,
        "environments": envs,
        "green_runs": sum(run["green"] for run in runs),
        "tests": len(tests),
        "tests_that_failed_in_some_run": flaky,
        "runs": runs,
        "per_test": tests,
        "earlier_runs": earlier,
        "earlier_runs_note": EARLIER_NOTE,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


EARLIER_NOTE = (
    "the reports before this one, newest first, kept so that consecutive fresh-clone runs across commits stay on record"
)
KEPT_REPORTS = 6


def earlier_reports() -> list[dict[str, Any]]:
    """The results file's reports so far, newest first, each summarised (its runs, not its per-test counts)."""
    if not RESULTS.is_file():
        return []
    last = json.loads(RESULTS.read_text(encoding="utf-8"))
    keys = ("commit", "measured_at", "green_runs", "runs_requested", "tests", "tests_that_failed_in_some_run")
    summary = {key: last[key] for key in keys if key in last}
    summary["run_wall_seconds"] = [run["wall_seconds"] for run in last.get("runs", [])]
    return [summary, *last.get("earlier_runs", [])][:KEPT_REPORTS]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--envs", default=",".join(env_list()), help="comma-separated tox environments")
    parser.add_argument("--keep", action="store_true", help="keep the clones (to read their logs)")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    envs = [env for env in args.envs.split(",") if env]

    commit, earlier = head_commit(), earlier_reports()
    runs: list[dict[str, Any]] = []
    per_test: dict[str, dict[str, Any]] = defaultdict(lambda: {"passed": 0, "failed": 0, "skipped": 0, "seconds": []})
    for index in range(1, args.runs + 1):
        workdir = Path(tempfile.mkdtemp(prefix=f"flake-run-{index}-"))
        clone = fresh_clone(workdir, commit)
        environments = []
        for env in envs:
            junit = workdir / f"{env}.xml"
            result = run_environment(clone, env, junit)
            for name, (outcome, seconds) in test_outcomes(junit).items():
                per_test[name][outcome] += 1
                per_test[name]["seconds"].append(seconds)
            environments.append(result)
            print(f"run {index}: {env} exit {result['exit_code']} in {result['wall_seconds']} s", flush=True)
        runs.append(
            {
                "run": index,
                "green": all(env["exit_code"] == 0 for env in environments),
                "wall_seconds": round(sum(env["wall_seconds"] for env in environments), 1),
                "test_seconds": round(sum(env["test_seconds"] or 0.0 for env in environments), 1),
                "environments": environments,
            }
        )
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        report = write_report(runs, per_test, args.runs, envs, commit, earlier)

    flaky = report["tests_that_failed_in_some_run"]
    print(f"{report['green_runs']}/{args.runs} runs green; {len(flaky)} tests failed in some run; wrote {RESULTS}")
    return 1 if flaky or report["green_runs"] < args.runs else 0


if __name__ == "__main__":
    raise SystemExit(main())
